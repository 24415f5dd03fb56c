"""Uncertainty filtering (inductive bias): how sure the model is of each candidate is the signal.

confidence: the candidate's log-likelihood under a model (by default the policy that wrote it),
divided by its length, so a long answer is not penalised for having more tokens. Best-of-N on it
keeps the answer the model is surest of, with no judge prompt and no ground truth: the
uncertainty-filtering half of self-consistency, for answers that have no final number to vote on.
Kang et al. 2025 ("Scalable Best-of-N Selection via Self-Certainty") select by the distance of
each token's distribution from uniform; backends expose the log-probabilities of a text, not whole
distributions, so this signal uses the likelihood itself (Kadavath et al. 2022 study how well it
is calibrated).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alignkit.signals.base import Signal, SignalParams, register
from alignkit.types import Annotation, Group


@register
class Confidence(Signal):
    name = "confidence"
    source = "inductive_bias"
    kind = "score"
    uses_model = True
    description = (
        "Uncertainty filtering: each candidate's log-likelihood under a model (param model, default the policy "
        "that wrote it), per character of the answer (normalize: chars, as lm-eval's acc_norm; words; or none, "
        "the sum). Higher is surer, so build.kind sft keeps the answer the model is most confident of (best-of-N "
        "without a judge), and preference pairs are surest against least sure. An answer cut off at the token "
        "limit abstains (no score) unless require_complete is false."
    )

    class Params(SignalParams):
        model: str = Field("policy", description="the model whose likelihood is the confidence (policy: the one "
                           "being aligned)")
        normalize: Literal["chars", "words", "none"] = Field("chars", description="divide the log-likelihood by "
                                                            "the answer's characters, words, or not at all")
        require_complete: bool = Field(True, description="an answer cut off at the token limit abstains")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        todo = [(g, c) for g in groups for c in g.candidates if c.text.strip()
                and not (self.p.require_complete and c.origin.get("finish_reason") == "length")]
        if not todo:
            return groups
        model = self.model(self.p.model)
        logps = model.logprobs([g.prompt.messages for g, _ in todo], [c.text for _, c in todo])
        prov = {"signal": self.name, "model": getattr(model, "name", self.p.model), "normalize": self.p.normalize}
        for (_, c), logp in zip(todo, logps):
            unit = self.p.normalize
            size = {"chars": len(c.text), "words": len(c.text.split()), "none": 1}[unit]
            why = f"log-likelihood {logp:.2f}" + ("" if unit == "none" else f" over {size} {unit}")
            c.annotations.append(Annotation(self.name, "score", logp / size, why, prov))
        return groups
