"""Benchmarks, the signal audit, statistics and reports.

The package is also the function `alignkit.evaluate(model, benchmarks, ...)` (`evaluate/scores.py`):
`import alignkit.evaluate.benchmarks` binds this package to the name `alignkit.evaluate`, so a plain
function of that name could not live beside it; a callable module keeps both spellings working.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, model: Any, benchmarks: str | list[str], **kwargs: Any) -> Any:
        from alignkit.evaluate.scores import evaluate

        return evaluate(model, benchmarks, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
