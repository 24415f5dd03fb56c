"""How far a signal agrees with ground truth on the candidates of a finished run: the first
piece of the signal audit. The truth is another signal that reads ground truth (the
verifiable-instruction checker on constraint prompts, answer matching on arithmetic)."""

from __future__ import annotations

import math

from alignkit.types import Group


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _pearson(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3:
        return None
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return None if sx == 0 or sy == 0 else sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy)


def agreement(groups: list[Group], signal: str, truth: str) -> dict:
    """AUROC of `signal` against `truth` >= 1 over all candidates; within-group pairwise accuracy
    (of pairs where the truth differs, how often the signal ranks the right one higher; ties
    half); and the correlation of the signal with answer length among candidates the truth
    passes and among those it fails (length bias at equal correctness)."""
    scores, labels, lengths = [], [], []
    right = pairs = 0.0
    for g in groups:
        cands = [c for c in g.candidates if c.value(signal) is not None and c.value(truth) is not None]
        for c in cands:
            scores.append(float(c.value(signal)))
            labels.append(float(c.value(truth)) >= 1.0)
            lengths.append(len(c.text.split()))
        for i, a in enumerate(cands):
            for b in cands[i + 1 :]:
                ta, tb = float(a.value(truth)), float(b.value(truth))
                if ta == tb:
                    continue
                sa, sb = float(a.value(signal)), float(b.value(signal))
                pairs += 1
                right += 0.5 if sa == sb else float((sa > sb) == (ta > tb))
    by_truth = {flag: ([s for s, y in zip(scores, labels) if y == flag],
                       [float(n) for n, y in zip(lengths, labels) if y == flag]) for flag in (True, False)}
    return {"signal": signal, "truth": truth, "candidates": len(scores), "positives": sum(labels),
            "auroc": auroc(scores, labels), "pairwise_accuracy": right / pairs if pairs else None,
            "pairs": int(pairs),
            "length_corr_passing": _pearson(*by_truth[True]), "length_corr_failing": _pearson(*by_truth[False])}
