"""A capability guard that reads the answers, not only the score (issue 24).

At a small model's accuracy (arithmetic 5-8%) a benchmark's score is too coarse to see a capability
drifting away: sessions 24 and 26 saw `arithmetic_dev` keep its score while its answers shrank from
worked solutions to one-line guesses, and `functions_dev` gain while a third of its answers glued the
code to the fence. The guard compares a candidate's answers with the base's on the same items and
fails on any of:

- a significant score loss: the paired 95% CI of (after - before) entirely below zero;
- answers shrinking: mean words below `min_length_ratio` of the base's; for a benchmark scored by the
  code a reply holds (`code=True`: its prompts ask for the code only), the words of that code, so that
  dropping the prose the prompt forbade is not read as a loss (session 30: V30's functions_dev replies
  went 33 -> 12 words while their code went 8.2 -> 7.2 and the score rose);
- more looping answers (`checks.repetition.loops`) than the base's plus `max_new_loops`;
- more glued fences (```def f(...): on the fence's own line, which code extraction reads as a
  language tag) than the base's plus `max_new_glued`.

The thresholds are the rule sessions 26 and 27 declared before their runs; change them before looking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from alignkit.checks.repetition import loops
from alignkit.evaluate.stats import paired_summary
from alignkit.signals.environment import extract_code

_GLUED = re.compile(r"```(?:python|py)?[ \t]*(?=def )")


def glued_fence(text: str) -> bool:
    """True when a code fence opens on the code's own line (```def f(x): or ```python def f(x):)."""
    return bool(_GLUED.search(text))


def unglue_fences(text: str) -> str:
    """Each glued fence rewritten to ```python and a line break: a diagnostic of how much a quirk costs."""
    return _GLUED.sub("```python\n", text)


def answer_form(responses: list[str], code: bool = False) -> dict[str, Any]:
    """Mean words per answer, and how many answers loop or glue a fence to their code; with `code`, also
    the mean words of the code each answer holds (`extract_code`: what a code benchmark runs)."""
    n = len(responses)
    form = {"n": n, "mean_words": sum(len(r.split()) for r in responses) / n if n else 0.0,
            "loops": sum(map(loops, responses)), "glued_fences": sum(map(glued_fence, responses))}
    if code:
        form["mean_code_words"] = sum(len(extract_code(r).split()) for r in responses) / n if n else 0.0
    return form


@dataclass(frozen=True)
class GuardRule:
    min_length_ratio: float = 0.75
    max_new_loops: int = 10
    max_new_glued: int = 0


def guard(before: list[dict], after: list[dict], rule: GuardRule = GuardRule(), *, seed: int = 0,
          code: bool = False) -> dict[str, Any]:
    """Compare two evaluations of the same items (`alignkit eval`'s BENCH.items.json rows: id, response,
    score), paired by id. Returns the scores, both answer forms, `passed` and the failed checks. `code`:
    the benchmark scores the code in each reply, and the length check reads that code."""
    if not before:
        raise ValueError("the first evaluation holds no items")
    by_id = {it["id"]: it for it in before}
    missing = [it["id"] for it in after if it["id"] not in by_id]
    if missing or len(after) != len(before):
        raise ValueError(f"the two evaluations do not hold the same items ({len(before)} against {len(after)}, "
                         f"{len(missing)} ids of the second not in the first): evaluate both with the same "
                         "--bench, --n and --seed")
    pairs = [(by_id[it["id"]], it) for it in after]
    score = paired_summary([float(b["score"]) for b, _ in pairs], [float(a["score"]) for _, a in pairs], seed)
    f0, f1 = (answer_form([it["response"] for it in side], code) for side in zip(*pairs))
    ci = score["ci95"]
    failed = []
    if ci[1] < 0:
        failed.append(f"score loses significantly: {score['before']:.3f} -> {score['after']:.3f}, "
                      f"95% CI [{ci[0]:+.3f}, {ci[1]:+.3f}]")
    words, what = ("mean_code_words", "the answers' code shrinks") if code else ("mean_words", "answers shrink")
    if f0[words] and f1[words] < rule.min_length_ratio * f0[words]:
        failed.append(f"{what}: {f0[words]:.0f} -> {f1[words]:.0f} words "
                      f"(below {rule.min_length_ratio:g} of the base's)")
    if f1["loops"] > f0["loops"] + rule.max_new_loops:
        failed.append(f"more answers loop: {f0['loops']} -> {f1['loops']} (allowed +{rule.max_new_loops})")
    if f1["glued_fences"] > f0["glued_fences"] + rule.max_new_glued:
        failed.append(f"more glued fences: {f0['glued_fences']} -> {f1['glued_fences']} "
                      f"(allowed +{rule.max_new_glued})")
    return {**score, "form_before": f0, "form_after": f1, "passed": not failed, "failed": failed}
