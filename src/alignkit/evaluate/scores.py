"""`alignkit.evaluate(model, benchmarks)`: a model's score on built-in benchmarks, with 95% bootstrap
CIs, from Python (the library side of `alignkit eval`, without its files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.evaluate.benchmarks import BENCHMARKS, EvalContext, run_benchmark
from alignkit.in_context import ContextBackend, load_context
from alignkit.models.cache import ModelCache


@dataclass(frozen=True)
class Score:
    """A model's mean score on one benchmark, with its 95% bootstrap CI and per-item scores."""

    benchmark: str
    mean: float
    ci95: tuple[float, float]
    n: int
    split: str
    higher_is_better: bool = True
    scores: list[float] = field(default_factory=list, repr=False)
    responses: list[str] = field(default_factory=list, repr=False)


def evaluate(model: Any, benchmarks: str | list[str], *, n: int = 100, seed: int = 0, max_new_tokens: int = 128,
             batch_size: int = 32, dtype: str = "float32", baseline: str = "embedded",
             judge: str = "embedded", context: str | None = None) -> dict[str, Score]:
    """Greedy answers of `model` (a spec: `embedded`, a checkpoint directory, a hub id, `openai:NAME@URL`;
    or a backend from `alignkit.models.load_backend`) to `n` items of each benchmark, scored item by item.
    Judged benchmarks (mtbench) compare with `baseline`, judged by `judge`. `context` (a built-in context
    such as `urial`, or a context file) aligns the model in context: it goes before every prompt."""
    from alignkit.evaluate.stats import bootstrap_ci

    names = [benchmarks] if isinstance(benchmarks, str) else list(benchmarks)
    for name in names:
        if name not in BENCHMARKS:
            raise AlignkitError(f"unknown benchmark {name!r}", where="benchmarks",
                                fix=f"choose from: {', '.join(sorted(BENCHMARKS))}")
    if context is not None:
        loaded = load_context(context, where="context")  # before any model is loaded
    resolve = ModelCache(batch_size=batch_size, dtype=dtype).get
    backend = resolve(model) if isinstance(model, str) else model
    if context is not None:
        backend = ContextBackend(backend, loaded)
    ctx = EvalContext(resolve, baseline=baseline, judge=judge)
    out = {}
    for name in names:
        res = run_benchmark(backend, name, n, seed=seed, max_new_tokens=max_new_tokens, ctx=ctx)
        lo, hi = bootstrap_ci(res.scores, seed=seed)
        out[name] = Score(name, res.mean, (lo, hi), len(res.scores), BENCHMARKS[name].split,
                          BENCHMARKS[name].higher_is_better, list(res.scores), list(res.responses))
    return out
