"""Bootstrap confidence intervals."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np


def bootstrap_ci(scores: list[float], *, n_boot: int = 10_000, seed: int = 0, alpha: float = 0.05) -> list[float]:
    """Percentile bootstrap CI of the mean."""
    x = np.asarray(scores, dtype=float)
    if len(x) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return [float(lo), float(hi)]


def bootstrap_statistic_ci(statistic: Callable[[list[int]], float | None], n: int, *, n_boot: int = 1000,
                           seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95% CI of any statistic of n paired items (e.g. an AUROC over scores and
    labels): `statistic(indices)` on each resample, None where it is undefined there (one class only).
    None when over half the resamples are undefined. The signal audit's CI: its own resampler (Python's
    `random`, nearest-rank percentiles), kept so audit.json's published numbers reproduce."""
    rng = random.Random(seed)
    vals = []
    for _ in range(n_boot):
        v = statistic([rng.randrange(n) for _ in range(n)])
        if v is not None:
            vals.append(v)
    if len(vals) < n_boot // 2:
        return None
    vals.sort()
    return [vals[int(0.025 * len(vals))], vals[int(0.975 * len(vals)) - 1]]


def paired_bootstrap_ci(before: list[float], after: list[float], **kw) -> list[float]:
    """CI of mean(after - before) resampling items, so each item stays paired."""
    if len(before) != len(after):
        raise ValueError("paired scores must have the same length")
    return bootstrap_ci([a - b for a, b in zip(after, before)], **kw)


def paired_summary(before: list[float], after: list[float], seed: int = 0) -> dict[str, Any]:
    """Paired before/after summary of per-item scores: means, their difference, its 95% CI, n."""
    mb, ma = sum(before) / len(before), sum(after) / len(after)
    return {"before": mb, "after": ma, "delta": ma - mb, "ci95": paired_bootstrap_ci(before, after, seed=seed),
            "n": len(before)}
