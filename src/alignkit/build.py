"""Groups -> training sets in TRL's own column conventions.

- sft:        prompt / completion (conversational), best candidates at or above `min_score`
- preference: prompt / chosen / rejected, best vs worst candidate of a group
- kto:        prompt / completion / label
Prompts keep their original messages: a generation-time system prompt (context
distillation) is not part of the training row.
"""

from __future__ import annotations

from alignkit.types import Candidate, Group


def _key(cand: Candidate, signal: str, tiebreak: str | None) -> tuple[float, float]:
    main = cand.value(signal)
    tie = cand.value(tiebreak) if tiebreak else None
    return (float(main) if main is not None else float("-inf"), float(tie) if tie is not None else 0.0)


def _ranked(group: Group, signal: str, tiebreak: str | None) -> list[Candidate]:
    """Distinct non-empty candidates that carry the signal, best first (stable)."""
    seen, cands = set(), []
    for c in group.candidates:
        if c.text.strip() and c.text not in seen and c.value(signal) is not None:
            seen.add(c.text)
            cands.append(c)
    return sorted(cands, key=lambda c: _key(c, signal, tiebreak), reverse=True)


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def build_sft(groups: list[Group], signal: str, min_score: float = 1.0, max_per_prompt: int = 1,
              tiebreak: str | None = None) -> list[dict]:
    rows = []
    for g in groups:
        kept = [c for c in _ranked(g, signal, tiebreak) if float(c.value(signal)) >= min_score]
        for c in kept[:max_per_prompt]:
            rows.append({"id": g.id, "prompt": g.prompt.messages, "completion": _assistant(c.text)})
    return rows


def build_preference(groups: list[Group], signal: str, tiebreak: str | None = None,
                     min_score: float | None = None, max_per_prompt: int = 1) -> list[dict]:
    """Up to `max_per_prompt` pairs per group: the best candidate against the worst, the second
    best against the second worst, and so on, while the two differ. With `min_score`, a chosen
    one must reach it."""
    rows = []
    for g in groups:
        ranked = _ranked(g, signal, tiebreak)
        for i in range(min(max_per_prompt, len(ranked) // 2)):
            best, worst = ranked[i], ranked[-1 - i]
            if _key(best, signal, tiebreak) <= _key(worst, signal, tiebreak):
                break
            if min_score is not None and float(best.value(signal)) < min_score:
                break
            rows.append({"id": g.id, "prompt": g.prompt.messages,
                         "chosen": _assistant(best.text), "rejected": _assistant(worst.text)})
    return rows


def build_kto(groups: list[Group], signal: str, min_score: float = 1.0) -> list[dict]:
    rows = []
    for g in groups:
        for c in _ranked(g, signal, None):
            rows.append({"id": g.id, "prompt": g.prompt.messages, "completion": _assistant(c.text),
                         "label": float(c.value(signal)) >= min_score})
    return rows


def build(kind: str, groups: list[Group], signal: str, *, min_score: float = 1.0, max_per_prompt: int = 1,
          tiebreak: str | None = None) -> list[dict]:
    if kind == "sft":
        return build_sft(groups, signal, min_score, max_per_prompt, tiebreak)
    if kind == "preference":
        return build_preference(groups, signal, tiebreak, max_per_prompt=max_per_prompt)
    if kind == "kto":
        return build_kto(groups, signal, min_score)
    raise ValueError(f"unknown dataset kind {kind!r}")
