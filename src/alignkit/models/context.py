"""A model's context length, and prompts checked against it before any model work: a prompt
longer than the model can read is a clear error, not an attention matrix of 44 GB."""

from __future__ import annotations

from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models import BACKEND_PREFIXES
from alignkit.types import Prompt

_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


def context_length(spec: str) -> tuple[int, Any] | None:
    """(positions the model reads, its tokenizer) for a local model spec; None where this cannot
    be known without loading it (an API model, vLLM, an unreachable hub id): the backend decides."""
    if spec.startswith(BACKEND_PREFIXES):
        return None
    try:
        from transformers import AutoConfig, AutoTokenizer

        from alignkit.models.embedded import resolve_model_path

        path = resolve_model_path(spec)
        config = AutoConfig.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception:  # noqa: BLE001  (loading the model later reports what is wrong with it)
        return None
    n = next((getattr(config, k) for k in _KEYS if isinstance(getattr(config, k, None), int)), None)
    return (n, tokenizer) if n else None


def prompt_tokens(tokenizer: Any, prompt: Prompt) -> int:
    """Tokens of `prompt` as the model sees it (its chat template when it has one)."""
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(prompt.messages, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        return len(ids)
    return len(tokenizer("\n".join(m["content"] for m in prompt.messages))["input_ids"])


def check_prompt_lengths(prompts: list[Prompt], spec: str, max_new_tokens: int, where: str) -> None:
    """Raise if a prompt and `max_new_tokens` do not fit in the context of model `spec`."""
    known = context_length(spec)
    if known is None:
        return
    positions, tokenizer = known
    room = positions - max_new_tokens
    for i, prompt in enumerate(prompts):
        chars = sum(len(m["content"]) for m in prompt.messages)
        # a token covers at most a few dozen characters: a prompt this long cannot fit, so skip tokenizing it
        n = prompt_tokens(tokenizer, prompt) if chars <= 64 * positions else None
        if n is None or n > room:
            size = f"{n:,} tokens" if n is not None else f"{chars:,} characters"
            raise AlignkitError(
                f"prompt {i + 1} is {size}; model {spec!r} reads at most {positions:,} positions, of which "
                f"generate.max_new_tokens takes {max_new_tokens:,}, leaving {max(room, 0):,} for the prompt",
                where=where, fix="shorten or drop that prompt (prompts longer than the model's context cannot be "
                "answered), or lower generate.max_new_tokens")
