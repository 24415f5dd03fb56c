"""alignkit: align language models without human labels.

    import alignkit
    recipe = alignkit.load_recipe("recipes/verifiable_instructions.yaml", overrides={"prompts.n": 16})
    report = alignkit.run(recipe, out="runs/vi")
    scores = alignkit.evaluate(report.model, ["ifeval_heldout"], n=50)

The names are loaded on first use, so `import alignkit` imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["run", "load_recipe", "evaluate", "RunReport", "BenchmarkResult", "Score", "AlignkitError"]
# name -> the module defining it (by string: the root package sits below them all in the import graph)
_LAZY = {"run": "alignkit.api", "load_recipe": "alignkit.api", "RunReport": "alignkit.api",
         "BenchmarkResult": "alignkit.api", "Score": "alignkit.evaluate.scores", "AlignkitError": "alignkit.errors"}


def __getattr__(name: str) -> Any:
    if name == "evaluate":  # the subpackage, which is callable (evaluate/__init__.py)
        return importlib.import_module("alignkit.evaluate")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alignkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
