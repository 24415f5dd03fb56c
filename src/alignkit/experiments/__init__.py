"""Experiments: methods of the taxonomy that are not a signal feeding the recipe pipeline, each a
module run as `python3 -m alignkit.experiments.NAME` (weak-to-strong trains classifiers, which a
signal may not do). A module here declares `METHOD` (name, source, description) and is listed by
`alignkit signals` with no edit elsewhere."""

from __future__ import annotations

import importlib
import pkgutil


def describe_experiments() -> list[dict[str, str]]:
    """Each experiment module's METHOD, with kind "experiment", sorted by name."""
    rows = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")  # the modules import nothing heavy at the top
        if hasattr(module, "METHOD"):
            rows.append({**module.METHOD, "kind": "experiment"})
    return sorted(rows, key=lambda r: r["name"])
