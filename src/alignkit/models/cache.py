"""The one model cache: backends by spec, each loaded once with one set of load options.

The Runner, the Ray actors (`executors.py`), `alignkit eval` / `alignkit audit`,
`evaluate/scores.py`, the prompt generators of `data/synthesis.py` and `data/broad.py`, and the
bench and scripts all reach models through it. "policy" names the model being aligned: the
Runner moves `policy` to the last trained model after each iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alignkit.models import load_backend
from alignkit.models.vllm import shutdown


class ModelCache:
    """Backends by spec. `__call__` maps "policy" to `self.policy` (a signal's `judge: policy`);
    `get` takes the spec as written. `chat_template` applies to the base model only (`base`,
    default the first policy): a trained model saves its template with its weights."""

    def __init__(self, policy: str | None = None, batch_size: int = 32, *, dtype: str = "float32",
                 device_map: str | dict | None = None, chat_template: str | None = None,
                 log: Callable[[str], None] | None = None):
        self.policy, self.base, self.batch_size = policy, policy, batch_size
        self.dtype, self.device_map, self.chat_template, self.log = dtype, device_map, chat_template, log
        self.backends: dict[str, Any] = {}

    def __call__(self, spec: str, batch_size: int | None = None) -> Any:
        """The backend for `spec`, "policy" meaning the model being aligned."""
        return self.get(self.policy if spec == "policy" and self.policy else spec, batch_size)

    def get(self, spec: str, batch_size: int | None = None) -> Any:
        """The backend for `spec`, loaded on first use; its batch size set to `batch_size` (default
        the cache's), since one loaded model serves stages with different batch sizes."""
        if spec not in self.backends:
            if self.log:
                self.log(f"loading model {spec}")
            self.backends[spec] = load_backend(spec, self.batch_size, self.dtype, self.device_map,
                                               self.chat_template if spec == self.base else None)
        backend = self.backends[spec]
        backend.batch_size = batch_size or self.batch_size
        return backend

    def clear(self) -> None:
        """Drop every backend (before training, so the generation models' memory is free); vLLM's
        engines run in their own processes, which are stopped."""
        if any(spec.startswith("vllm:") for spec in self.backends):
            shutdown()
        self.backends.clear()
