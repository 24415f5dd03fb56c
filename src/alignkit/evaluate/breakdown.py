"""What a benchmark's single number hides: answer lengths and, for instruction benchmarks, every
constraint type before and after training.

A gain in prompt-level compliance can come from answers getting shorter (end-position constraints
are easier to meet in a finished answer) while constraints that need content (keywords,
placeholders, bullet lists, length minimums) quietly get worse (issue 24). The breakdown makes
both visible: the answer-length distribution in words, and per constraint type the items carrying
it, how many followed it before and after, and a paired bootstrap CI of the change, flagged when
the whole CI is below zero.

Items are the ones a run stored (`stages/eval_<label>_<bench>/items.json`: id, prompt, response,
score); the constraints come from the benchmark's prompts regenerated with the run's n and seed
and matched by prompt id (a content hash, so a match is the very prompt that was scored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alignkit.checks.constraints import Constraint, check
from alignkit.checks.repetition import loops
from alignkit.evaluate.benchmarks import BENCHMARKS, scores_code
from alignkit.evaluate.guard import guard
from alignkit.evaluate.stats import paired_summary
from alignkit.types import Prompt

LONG_ANSWER_WORDS = 150  # the share of answers at least this long: a collapse to short answers shows here
# Benchmarks whose prompts carry meta["constraints"]; only these get the per-constraint table
# (regenerating other benchmarks' prompts would cost time, and some need optional packages).
CONSTRAINT_BENCHMARKS = ("ifeval_heldout", "ifeval_ood", "ifeval_ood_dev", "ifeval_ood_dev2")


def words(text: str) -> int:
    return len(text.split())


def length_stats(responses: list[str]) -> dict[str, Any]:
    """The distribution of answer lengths in words, and the share of answers that loop (repeat a run
    of words until they stop: the other way a small model degenerates)."""
    n = np.asarray([words(r) for r in responses], dtype=float)
    if len(n) == 0:
        return {"n": 0}
    p10, p25, median, p75, p90 = (float(v) for v in np.percentile(n, [10, 25, 50, 75, 90]))
    return {"n": len(n), "mean": float(n.mean()), "median": median, "p10": p10, "p25": p25, "p75": p75,
            "p90": p90, f"share_ge_{LONG_ANSWER_WORDS}": float((n >= LONG_ANSWER_WORDS).mean()),
            "share_looping": float(np.mean([loops(r) for r in responses]))}


def lost_direction(changes: list[tuple[int, bool]]) -> dict[str, int]:
    """Of the items that stopped following a type (each: its answer's change in words, and whether
    the new answer loops), how many answers got longer, how many shorter, and how many loop: a loss
    with longer answers is an upper bound or a form ignored (session 36: mostly by answers that run
    on in a loop), one with shorter answers is content cut."""
    return {"lost": len(changes), "lost_longer": sum(d > 0 for d, _ in changes),
            "lost_shorter": sum(d < 0 for d, _ in changes), "lost_looping": sum(loop for _, loop in changes)}


def lost_note(t: dict[str, Any]) -> str:
    """"lost 5: 4 longer, 1 shorter, 3 looping" for a type with items that stopped following it; ""
    otherwise (and for reports written before session 36, which lack the counts)."""
    if not t.get("lost"):
        return ""
    return f"lost {t['lost']}: {t['lost_longer']} longer, {t['lost_shorter']} shorter, {t['lost_looping']} looping"


def constraint_table(prompts: dict[str, Prompt], before: list[dict], after: list[dict], *,
                     seed: int = 0) -> dict[str, Any]:
    """Per constraint type, strict: items carrying it, followed before and after, the change in
    follow rate with its paired CI and `significant_loss` (CI's upper end below 0); and the
    instruction-level and prompt-level accuracy with theirs. An item counts as following a type
    when it follows every instance of that type its prompt carries."""
    after_by_id = {it["id"]: it for it in after}
    pairs = [(prompts[it["id"]], it, after_by_id[it["id"]]) for it in before
             if it["id"] in prompts and it["id"] in after_by_id]
    per_type: dict[str, tuple[list[float], list[float]]] = {}
    lost: dict[str, list[tuple[int, bool]]] = {}  # per type, each answer that stopped following it: its
    # change in words, and whether it now loops
    inst_b, inst_a, prompt_b, prompt_a = [], [], [], []
    for prompt, b, a in pairs:
        task = prompt.meta.get("base_task", prompt.text)
        followed: dict[str, list[tuple[bool, bool]]] = {}
        for c in prompt.meta["constraints"]:
            con = Constraint(c["id"], c.get("kwargs") or {})
            followed.setdefault(c["id"], []).append((check(con, b["response"], task), check(con, a["response"], task)))
        results = [r for rs in followed.values() for r in rs]
        inst_b += [float(x) for x, _ in results]
        inst_a += [float(y) for _, y in results]
        prompt_b.append(float(all(x for x, _ in results)))
        prompt_a.append(float(all(y for _, y in results)))
        for cid, rs in followed.items():
            tb, ta = per_type.setdefault(cid, ([], []))
            tb.append(float(all(x for x, _ in rs)))
            ta.append(float(all(y for _, y in rs)))
            if tb[-1] and not ta[-1]:
                lost.setdefault(cid, []).append((words(a["response"]) - words(b["response"]), loops(a["response"])))
    types = {}
    for cid, (tb, ta) in sorted(per_type.items(), key=lambda kv: (-len(kv[1][0]), kv[0])):
        p = paired_summary(tb, ta, seed)
        types[cid] = {"items": len(tb), "followed_before": int(sum(tb)), "followed_after": int(sum(ta)),
                      "delta": p["delta"], "ci95": p["ci95"], "significant_loss": p["ci95"][1] < 0,
                      "significant_gain": p["ci95"][0] > 0, **lost_direction(lost.get(cid, []))}
    out: dict[str, Any] = {"matched_items": len(pairs), "unmatched_items": len(before) - len(pairs), "types": types,
                           "significant_losses": [cid for cid, t in types.items() if t["significant_loss"]]}
    if pairs:
        out["instruction_level"] = paired_summary(inst_b, inst_a, seed)
        out["prompt_level"] = paired_summary(prompt_b, prompt_a, seed)
    return out


def bench_breakdown(name: str, before: list[dict], after: list[dict], *, prompts: list[Prompt] | None = None,
                    n: int | None = None, prompt_seed: int = 0, seed: int = 0) -> dict[str, Any]:
    """One benchmark's breakdown: `length` and `guard` always; `constraints` when its prompts carry constraints.
    The prompts are `prompts`, or for the benchmarks in CONSTRAINT_BENCHMARKS regenerated with the
    evaluation's `n` (default: the number of items) and `prompt_seed`; they are matched to the
    items by id."""
    out: dict[str, Any] = {"length": {"before": length_stats([it["response"] for it in before]),
                                      "after": length_stats([it["response"] for it in after])}}
    g = guard(before, after, seed=seed, code=scores_code(name))  # the answers' form: what accuracy hides
    out["guard"] = {k: g[k] for k in ("passed", "failed", "form_before", "form_after")}
    if prompts is None and name in CONSTRAINT_BENCHMARKS:
        prompts = BENCHMARKS[name].prompts(n or len(before), prompt_seed)
    by_id = {p.id: p for p in prompts or [] if "constraints" in p.meta}
    if by_id:
        out["constraints"] = constraint_table(by_id, before, after, seed=seed)
    return out


def run_breakdown(run: str | Path, benchmarks: list[str], after_label: str, *, n: int | None = None,
                  prompt_seed: int = 0, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The breakdown of every benchmark a finished run evaluated: its stored `before` items against
    those labelled `after_label` (after, or itK for the last of K iterations), with the prompts
    regenerated as the run's evaluation drew them (`n`, default the number of items; `prompt_seed`)."""
    from alignkit.data.store import Stage, eval_stage

    return {name: bench_breakdown(name, Stage.existing(run, eval_stage("before", name)).read_json("items.json"),
                                  Stage.existing(run, eval_stage(after_label, name)).read_json("items.json"),
                                  n=n, prompt_seed=prompt_seed, seed=seed)
            for name in benchmarks}


def summary_line(name: str, bd: dict[str, Any]) -> str:
    """One line for the console: mean answer length before -> after, the constraint types with a
    significant loss, and what the capability guard (`evaluate.guard`) failed on."""
    lb, la = bd["length"]["before"], bd["length"]["after"]
    text = f"{name}: mean answer length {lb.get('mean', 0):.0f} -> {la.get('mean', 0):.0f} words"
    if "constraints" in bd:
        types = bd["constraints"]["types"]
        losses = [cid + (f" ({note})" if (note := lost_note(types[cid])) else "")
                  for cid in bd["constraints"]["significant_losses"]]
        text += "; constraint types with a significant loss: " + (", ".join(losses) if losses else "none")
    if bd.get("guard", {}).get("failed"):  # absent in reports written before session 27
        text += "; capability guard fails: " + "; ".join(bd["guard"]["failed"])
    return text


def markdown(name: str, bd: dict[str, Any], split: str | None = None) -> str:
    """The breakdown as markdown tables (for docs/results.md)."""
    lines = [f"### {name}" + (f" ({split})" if split else ""), "", "Answer length in words:", "",
             f"| | n | mean | p10 | p25 | median | p75 | p90 | share ≥ {LONG_ANSWER_WORDS} words | share looping |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label in ("before", "after"):
        s = bd["length"][label]
        if not s.get("n"):
            lines.append(f"| {label} | 0 | | | | | | | | |")
            continue
        looping = f"{s['share_looping']:.3f}" if "share_looping" in s else ""  # absent in older reports
        lines.append(f"| {label} | {s['n']} | {s['mean']:.1f} | {s['p10']:.0f} | {s['p25']:.0f} | {s['median']:.0f} "
                     f"| {s['p75']:.0f} | {s['p90']:.0f} | {s[f'share_ge_{LONG_ANSWER_WORDS}']:.3f} | {looping} |")
    c = bd.get("constraints")
    if c and not c["matched_items"]:
        lines += ["", f"No item matched the benchmark's regenerated prompts ({c['unmatched_items']} items): no "
                  "per-constraint table (were the prompts drawn with another n or seed?)."]
    elif c:
        lines += ["", f"Per constraint type, strict ({c['matched_items']} items matched to their prompts"
                  + (f", {c['unmatched_items']} not" if c["unmatched_items"] else "") + "; **loss**: the paired "
                  "95% CI of the change is below 0):", "",
                  "| constraint | items | followed before | followed after | delta | 95% CI | |",
                  "|---|---|---|---|---|---|---|"]
        for cid, t in c["types"].items():
            mark = "; ".join(x for x in ("**loss**" if t["significant_loss"] else "gain" if t["significant_gain"]
                                         else "", lost_note(t)) if x)
            lines.append(f"| `{cid}` | {t['items']} | {t['followed_before']} | {t['followed_after']} | "
                         f"{t['delta']:+.3f} | [{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}] | {mark} |")
        for level in ("instruction_level", "prompt_level"):
            if level in c:
                p = c[level]
                lines.append(f"| *{level.replace('_', '-')}* | {p['n']} | {p['before']:.3f} | {p['after']:.3f} | "
                             f"{p['delta']:+.3f} | [{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}] | |")
    return "\n".join(lines) + "\n"
