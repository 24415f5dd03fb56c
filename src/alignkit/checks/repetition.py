"""Repetition loops: a small model decoding greedily often repeats a phrase until the token limit.
They are found without a reference: a run of `n` words (case and punctuation ignored) that occurs
`times` or more in one answer. A loop is cut where it starts, which keeps its first occurrence."""

from __future__ import annotations

import re

from alignkit.checks.repairs import trim_unfinished

_WORD = re.compile(r"\S+")
LOOP_WORDS, LOOP_TIMES = 6, 3


def loop_start(text: str, n: int = LOOP_WORDS, times: int = LOOP_TIMES) -> int | None:
    """Character offset where `text` starts repeating itself: the second occurrence of the earliest
    n-word run that occurs at least `times` times; None when nothing repeats that often."""
    spans = [(m.start(), m.group().lower().strip(".,;:!?\"'()[]*-")) for m in _WORD.finditer(text)]
    seen: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(spans) - n + 1):
        seen.setdefault(tuple(w for _, w in spans[i : i + n]), []).append(i)
    repeats = [at[1] for at in seen.values() if len(at) >= times]
    return spans[min(repeats)][0] if repeats else None


def loops(text: str) -> bool:
    return loop_start(text) is not None


def cut_loop(text: str) -> str | None:
    """`text` up to where its loop starts, ended at the last complete sentence or line before it;
    `text` itself when it does not loop; None when fewer than three words would be left."""
    start = loop_start(text)
    if start is None:
        return text
    kept = text[:start].rstrip()
    kept = (trim_unfinished(kept, min_keep=0.0) or kept) if kept and kept[-1] not in ".!?\"')" else kept
    return kept if len(kept.split()) >= 3 else None
