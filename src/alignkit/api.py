"""The Python API: `alignkit.run`, `alignkit.load_recipe` (and `alignkit.evaluate`, in evaluate/scores.py).

    import alignkit
    report = alignkit.run("recipes/verifiable_instructions.yaml", out="runs/vi", overrides={"prompts.n": 16})
    report.benchmarks["ifeval_heldout"].delta

Errors are `alignkit.errors.AlignkitError`, with the same message, place and fix the CLI prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.recipe import Recipe, apply_overrides
from alignkit.recipe import load_recipe as _load

if TYPE_CHECKING:
    from alignkit.recipe import Recipe

Overrides = dict[str, Any] | list[str] | None


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark, the base model against the aligned one, on the same items (paired)."""

    name: str
    before: float
    after: float
    delta: float
    ci95: tuple[float, float]  # paired bootstrap 95% CI of the delta
    n: int
    split: str | None = None  # dev, test or ood (docs/evaluation.md)


@dataclass(frozen=True)
class RunReport:
    """report.json of a run, typed. `raw` is the whole file (breakdown, iterations, ...)."""

    out: Path
    model: str
    recipe: str
    wall_seconds: float
    benchmarks: dict[str, BenchmarkResult]
    audit: dict[str, Any] | None = None
    signals: Any = None
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def html(self) -> Path:
        return self.out / "report.html"

    @classmethod
    def from_dict(cls, report: dict[str, Any], out: str | Path) -> RunReport:
        # paired before/after entries; a reward model's figures (pair accuracy, ...) stay in raw
        benches = {name: BenchmarkResult(name, b["before"], b["after"], b["delta"], tuple(b["ci95"]), b["n"],
                                         b.get("split"))
                   for name, b in report.get("benchmarks", {}).items() if isinstance(b, dict) and "delta" in b}
        return cls(Path(out), report["model"], report["recipe"], report["wall_seconds"], benches,
                   report.get("audit"), report.get("signals"), report.get("provenance", {}), report)

    @classmethod
    def load(cls, out: str | Path) -> RunReport:
        """The report of a finished run directory."""
        return cls.from_dict(json.loads((Path(out) / "report.json").read_text()), out)


def _as_sets(overrides: Overrides) -> list[str]:
    """Overrides as `--set` lines: a dict's values are written as JSON, which YAML reads back as is."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    return list(overrides)


def load_recipe(path: str | Path, overrides: Overrides = None) -> Recipe:
    """A recipe YAML, validated, with `overrides` applied first: {"prompts.n": 16, "train.lora.r": 8}
    (dotted paths, as `--set`), or a list of `key=value` strings."""
    return _load(path, _as_sets(overrides))


def run(recipe: str | Path | Recipe, out: str | Path, overrides: Overrides = None, *,
        log: Callable[[str], Any] = print) -> RunReport:
    """Run a recipe (a YAML path or a loaded `Recipe`) into the run directory `out`, as `alignkit run`
    does: finished stages there are reused. Returns the run's report."""
    from alignkit.pipeline import Runner

    if isinstance(recipe, Recipe):
        loaded = Recipe.model_validate(apply_overrides(recipe.model_dump(), _as_sets(overrides))) if overrides \
            else recipe
        name = recipe.name
    else:
        loaded, name = load_recipe(recipe, overrides), Path(recipe).stem
    runner = Runner(loaded, out, name, log=log)
    runner.command = f"alignkit.run({str(recipe) if not isinstance(recipe, Recipe) else name!r}, " \
                     f"out={str(out)!r}, overrides={overrides!r})"
    return RunReport.from_dict(runner.run(), out)
