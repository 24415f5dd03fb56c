"""What a run writes beside its stages: recipe.yaml first, then report.json, details.json and
report.html at the end. One writer serves both loops (a policy's iterations and a reward
model's); none of these files is part of a stage key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from alignkit.data.store import atomic_write_bytes, atomic_write_json
from alignkit.evaluate.report_html import write_run_report
from alignkit.provenance import provenance
from alignkit.recipe import Recipe
from alignkit.tracking import Tracker


def write_recipe(out: Path, recipe: Recipe) -> None:
    """RUN/recipe.yaml: the recipe after overrides, in full (the cards and `alignkit export` read it)."""
    atomic_write_bytes(out / "recipe.yaml", yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False).encode())


def write_html(out: Path, recipe: Recipe) -> None:
    """RUN/report.html, with the recipe's non-default settings."""
    write_run_report(out, recipe_text=yaml.safe_dump(recipe.model_dump(exclude_defaults=True), sort_keys=False))


def audit_flags(audit: dict) -> dict[str, Any]:
    """The audit's verdict per signal for report.json (the full table is in audit.json)."""
    keys = ("auroc", "flags", "undecided", "error")
    return {"bench": audit["bench"], "signals": {r["signal"]: {k: r.get(k) for k in keys if r.get(k) is not None}
                                                 for r in audit["signals"]}}


def policy_sections(iterations: list[dict], iterated: bool) -> dict[str, Any]:
    """report.json's sections after the audit in the policy loop: the signals' summaries (e.g. a
    pairwise judge's position consistency) and, in an iterated run, each iteration's benchmarks."""
    out: dict[str, Any] = {}
    summaries = [it["signal"]["summaries"] for it in iterations if "summaries" in it["signal"]]
    if summaries:
        out["signals"] = summaries[-1] if len(summaries) == 1 else summaries
    if iterated:
        out["iterations"] = [{"iteration": it["iteration"], "model": it.get("model"),
                              "benchmarks": it.get("benchmarks", {})} for it in iterations]
    return out


def write_report(out: Path, recipe: Recipe, name: str, command: str | None, tracker: Tracker, *, model: str,
                 wall_seconds: float, benchmarks: dict, audit: dict | None, iterations: list[dict],
                 stage_seconds: dict[str, float], breakdown: dict | None = None, sections: dict | None = None,
                 details: dict | None = None) -> dict:
    """Write report.json (the numbers; provenance, which is in no stage key) and details.json (the
    last iteration's signal statistics, dataset size and training info, the stage times), and log
    the run to the trackers. `iterations` holds one entry per iteration: `signal` (annotate's
    stats.json), `dataset_rows`, and `train` once trained; `details` adds fields (held-out prompts)."""
    report: dict[str, Any] = {"model": model, "recipe": name, "wall_seconds": wall_seconds, "benchmarks": benchmarks}
    if breakdown is not None:
        report["breakdown"] = breakdown
    if audit:
        report["audit"] = audit_flags(audit)
    report.update(sections or {})
    report["provenance"] = provenance(recipe, command)
    atomic_write_json(out / "report.json", report)
    tracker.log_run(report, audit, [it["signal"] for it in iterations])
    last = iterations[-1]
    info = {"base_model": recipe.model, "signal": last["signal"], "dataset_rows": last["dataset_rows"],
            **(details or {}), "stage_seconds": stage_seconds}
    if "train" in last:
        info["train"] = last["train"]
    if len(iterations) > 1:
        info["iterations"] = iterations
    atomic_write_json(out / "details.json", info)
    return report
