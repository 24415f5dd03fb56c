"""Measure a trained reward model on prompts kept out of its training set, against the
signal its preference pairs came from (ground truth when that signal is a checker).

- pair accuracy: how often it scores the held-out chosen answer above the rejected one;
- best-of-N: the signal's value of the candidate it picks among a group's sampled answers,
  paired against a random pick (the group mean) and the best possible pick (the oracle).
"""

from __future__ import annotations

import hashlib
from typing import Any

from alignkit.build import build_preference
from alignkit.evaluate.agreement import auroc
from alignkit.evaluate.stats import bootstrap_ci, paired_bootstrap_ci
from alignkit.types import Group


def root_id(group: Group) -> str:
    """Relabelled copies of a prompt share their source's id, so a split never puts the same
    answer on both sides."""
    return str(group.prompt.meta.get("relabeled_from") or group.id)


def heldout_ids(groups: list[Group], fraction: float, seed: int) -> set[str]:
    """A deterministic `fraction` of root ids, chosen by hash."""
    def u(rid: str) -> float:
        return int(hashlib.sha256(f"{seed}:{rid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    return {root_id(g) for g in groups if u(root_id(g)) < fraction}


def best_of_n(scores: list[float], values: list[float]) -> tuple[int, float, float, float]:
    """Best-of-N in one group: the selector's top candidate by `scores` (the first on a tie), and
    the `values` of a random pick (their mean), of that candidate, and of the best one (the oracle)."""
    top = max(range(len(scores)), key=scores.__getitem__)
    return top, sum(values) / len(values), values[top], max(values)


def evaluate_reward_model(scorer: Any, groups: list[Group], signal: str, seed: int = 0) -> dict[str, dict]:
    """`scorer.score(conversations) -> rewards` on held-out groups; returns report benchmarks."""
    out: dict[str, dict] = {}
    pairs = build_preference(groups, signal)
    if pairs:
        chosen = scorer.score([r["prompt"] + r["chosen"] for r in pairs])
        rejected = scorer.score([r["prompt"] + r["rejected"] for r in pairs])
        right = [1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected)]
        out["reward_pairs_heldout"] = {"score": sum(right) / len(right), "ci95": bootstrap_ci(right, seed=seed),
                                       "n": len(right)}
    sampled = []  # groups' own samples (not revisions) that the signal scored
    for g in groups:
        cands = [c for c in g.candidates if "signal" not in c.origin and c.value(signal) is not None]
        if len(cands) >= 2:
            sampled.append((g, cands))
    if sampled:
        convs = [g.prompt.messages + [{"role": "assistant", "content": c.text}] for g, cs in sampled for c in cs]
        rewards, k = scorer.score(convs), 0
        rand, pick, best, values, truth = [], [], [], [], []
        for _, cands in sampled:
            vals = [float(c.value(signal)) for c in cands]
            rs = rewards[k : k + len(cands)]
            k += len(cands)
            _, r, p, b = best_of_n(rs, vals)
            rand.append(r)
            pick.append(p)
            best.append(b)
            values.extend(rs)
            truth.extend(v >= 1.0 for v in vals)
        n_cands = sorted({len(cs) for _, cs in sampled})
        out["best_of_n_heldout"] = {
            "before": sum(rand) / len(rand), "after": sum(pick) / len(pick),
            "delta": (sum(pick) - sum(rand)) / len(pick), "ci95": paired_bootstrap_ci(rand, pick, seed=seed),
            "n": len(pick), "oracle": sum(best) / len(best), "candidates_per_group": n_cands,
            "auroc": auroc(values, truth)}
    return out
