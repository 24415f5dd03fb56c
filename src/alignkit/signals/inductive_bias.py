"""Inductive bias: the model's own consistency is the signal. Here: self-consistency
(Huang et al. 2022, "Large Language Models Can Self-Improve"): sample k answers, take
the majority vote, and trust it only when the model agrees with itself enough."""

from __future__ import annotations

from collections import Counter

from alignkit.data.arithmetic import extract_answer
from alignkit.signals.base import Signal, register
from alignkit.types import Annotation, Candidate, Group

_ORIGIN_KEYS = ("model", "n", "temperature", "top_p", "max_new_tokens", "seed")


def majority(answers: list[str | None]) -> tuple[str | None, int]:
    """The modal answer among the non-None ones and its vote count; (None, top count) when the
    top count is tied (no majority) or nobody answered."""
    top = Counter(a for a in answers if a is not None).most_common(2)
    if not top:
        return None, 0
    if len(top) == 2 and top[0][1] == top[1][1]:
        return None, top[0][1]
    return top[0]


@register
class SelfConsistency(Signal):
    name = "self_consistency"
    source = "inductive_bias"
    kind = "score"
    description = (
        "Majority vote over a group's sampled answers (final number of each; no ground truth): score 1.0 for "
        "candidates that give the modal answer when it won at least min_agreement (default 0.5) of the k "
        "samples, else 0.0. A tie for the top count means no majority (all 0.0). Answers with no number, "
        "or cut off at the token limit (unless require_complete is false), abstain but count in k. "
        "A second annotation, self_consistency.agreement, gives the group's agreement (votes/k)."
    )

    def annotate(self, groups: list[Group]) -> list[Group]:
        min_agreement = float(self.params.get("min_agreement", 0.5))
        require_complete = bool(self.params.get("require_complete", True))
        base = {"signal": self.name, "extractor": "alignkit.data.arithmetic.extract_answer",
                "min_agreement": min_agreement, "require_complete": require_complete}
        for group in groups:
            k = len(group.candidates)
            if not k:
                continue
            answers = [self._answer(c, require_complete) for c in group.candidates]
            modal, votes = majority(answers)
            agreement = votes / k
            trusted = modal is not None and agreement >= min_agreement
            if modal is None:
                vote = f"no majority (top count {votes}/{k} tied)" if votes else f"no answers among {k}"
            else:
                vote = f"majority {modal} with {votes}/{k} votes" + ("" if trusted else f" (< {min_agreement:g})")
            for cand, ans in zip(group.candidates, answers):
                prov = dict(base, **{key: cand.origin[key] for key in _ORIGIN_KEYS if key in cand.origin})
                score = float(trusted and ans == modal)
                mine = "abstained" if ans is None else f"answered {ans}"
                cand.annotations.append(Annotation(self.name, "score", score, f"{vote}; {mine}", prov))
                cand.annotations.append(Annotation(f"{self.name}.agreement", "score", agreement, vote, prov))
        return groups

    @staticmethod
    def _answer(cand: Candidate, require_complete: bool) -> str | None:
        if require_complete and cand.origin.get("finish_reason") == "length":
            return None  # cut off: the last number is not its final answer
        return extract_answer(cand.text)
