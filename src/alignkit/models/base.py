"""The backend protocol every model is reached through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters; temperature 0 means greedy decoding."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    seed: int = 0

    def as_origin(self) -> dict:
        return {"n": self.n, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed}


class Backend(Protocol):
    """What signals, generators and evaluators may ask of a model."""

    name: str

    def generate(self, conversations: list[Messages], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        """Return `sampling.n` completions for each conversation; with `details`,
        `(text, finish_reason)` pairs where the reason is "stop" or "length"."""
        ...

    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        """Return the summed log-probability of each completion given its conversation."""
        ...


FLOOR = -100.0  # log-probability given to a choice outside a server's top alternatives


def choices_from_top(top: list[tuple[str, float]], choices: list[str]) -> list[float]:
    """Log-probability of each one-token choice from a position's top (token, logprob)
    alternatives, matching tokens without surrounding whitespace; FLOOR when absent."""
    best: dict[str, float] = {}
    for token, logprob in top:
        key = (token or "").strip()
        best[key] = max(best.get(key, FLOOR), logprob)
    return [best.get(c.strip(), FLOOR) for c in choices]


def choice_logprobs(backend: Backend, conversations: list[Messages], choices: list[str]) -> list[list[float]]:
    """Log-probability of each choice as the reply to each conversation. Uses the backend's
    one-pass `choice_logprobs` when it has one, else scores every choice with `logprobs`."""
    fast = getattr(backend, "choice_logprobs", None)
    if fast is not None:
        try:
            return fast(conversations, choices)
        except ValueError:
            pass  # multi-token choices: fall through to the general path
    flat = backend.logprobs([c for c in conversations for _ in choices], list(choices) * len(conversations))
    k = len(choices)
    return [flat[i * k : (i + 1) * k] for i in range(len(conversations))]
