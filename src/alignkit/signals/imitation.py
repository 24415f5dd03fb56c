"""Behavior imitation: a (stronger) teacher's behavior is the signal.

- teacher_demonstrations (strong-to-weak distillation; Alpaca/Vicuna-style SFT on a teacher's
  answers): the teacher writes answers, optionally under a system prompt and worked examples,
  optionally kept only when a checker signal accepts them. Teacher answers score 1.0 and the
  student's own candidates 0.0, so build.kind sft distils the demonstrations and build.kind
  preference gives the "teacher = chosen, student = rejected" pairs.
- preference_distillation (UltraFeedback, Cui et al. 2023; Zephyr's dDPO, Tunstall et al. 2023):
  the teacher rates each of the student's candidates 1-5 on several aspects; the mean rating
  ranks the group, best vs worst become preference pairs.

The teacher is any model spec (`embedded`, a local path, `openai:MODEL@URL`, `vllm:MODEL`),
reached through the backend protocol. Weak-to-strong generalization lives in
`alignkit.experiments.weak_to_strong` (it trains classifiers, which a signal may not do).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alignkit.errors import AlignkitError
from alignkit.models.base import choice_logprobs
from alignkit.signals.base import Signal, SignalRef, register
from alignkit.signals.judging import expected_score, parse_score
from alignkit.signals.prompting import (
    JudgeParams,
    SamplingParams,
    TeacherSamplingParams,
    Template,
    max_new_tokens_field,
    quote,
    sampling_from,
    user,
    with_ask,
)
from alignkit.types import Annotation, Candidate, Group

TEACHER = "the teacher model: `embedded`, a local model directory, `openai:MODEL@URL` or `vllm:MODEL`"


class Shot(BaseModel):
    """A worked example shown to the teacher before the question."""

    model_config = ConfigDict(extra="forbid")

    user: str
    assistant: str


def shots_messages(shots: Any) -> list[dict[str, str]]:
    """Worked examples ([{user, assistant}, ...]) as prior conversation turns."""
    if not shots:
        return []
    if not isinstance(shots, list) or not all(isinstance(s, dict) and isinstance(s.get("user"), str)
                                              and isinstance(s.get("assistant"), str) for s in shots):
        raise AlignkitError("teacher_shots must be a list of {user: ..., assistant: ...} examples",
                            where="signals.params.teacher_shots",
                            fix='write e.g. [{user: "2 + 3?", assistant: "2 + 3 = 5. The answer is 5."}]')
    return [m for s in shots for m in ({"role": "user", "content": s["user"]},
                                       {"role": "assistant", "content": s["assistant"]})]


@register
class TeacherDemonstrations(Signal):
    name = "teacher_demonstrations"
    source = "behavior_imitation"
    kind = "score"
    uses_model = True
    description = (
        "Strong-to-weak distillation: a teacher model (param teacher: any model spec) writes teacher_n answers "
        "per prompt (teacher_temperature, teacher_max_new_tokens), optionally under teacher_system and worked "
        "examples teacher_shots ([{user, assistant}]). With param filter ({name, params} of a checker signal, "
        "e.g. self_consistency), only teacher answers the checker scores >= filter_min (default 1.0) count. "
        "Kept teacher answers score 1.0, the rest and the student's own candidates 0.0: build.kind sft distils "
        "the demonstrations; build.kind preference pairs teacher (chosen) against student (rejected)."
    )

    class Params(TeacherSamplingParams):
        teacher: str = Field(min_length=1, description=TEACHER)
        teacher_system: str | None = Field(None, description="a system prompt for the teacher")
        teacher_shots: list[Shot] | None = Field(None, description="worked examples shown to the teacher as prior "
                                                 "turns: [{user, assistant}, ...]")
        filter: SignalRef | None = Field(None, description="a checker signal (a name or {name, params}, e.g. "
                                         "self_consistency) that must accept a teacher answer")
        filter_min: float = Field(1.0, description="the filter's score a teacher answer needs")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        teacher = self.model(self.p.teacher)
        sampling = sampling_from(self.p, prefix="teacher_")
        system = self.p.teacher_system
        context = ([{"role": "system", "content": system}] if system else []) + shots_messages(
            [shot.model_dump() for shot in self.p.teacher_shots or []])
        outs = teacher.generate([context + g.prompt.messages for g in groups], sampling, details=True)
        demos: list[list[Candidate]] = []
        for answers in outs:
            demos.append([Candidate(text, {"signal": self.name, "role": "teacher", "model": teacher.name,
                                           "sample": k, "finish_reason": finish, "system_prompt": system,
                                           "shots": len(context) // 2, **sampling.as_origin()})
                          for k, (text, finish) in enumerate(answers)])
        kept = self._filter(groups, demos)
        prov = {"signal": self.name, "teacher": teacher.name,
                "filter": self.p.filter.as_written() if self.p.filter else None}
        for g, teach, ok in zip(groups, demos, kept):
            accepted = {c.text.strip() for c, good in zip(teach, ok) if good}
            for c in g.candidates:
                same = c.text.strip() in accepted
                c.annotations.append(Annotation(self.name, "score", float(same), "identical to an accepted teacher "
                                                "answer" if same else "the student's own answer", prov))
            for c, good in zip(teach, ok):
                self.counts.update(teacher=1, accepted=int(good))
                why = "teacher answer" + ("" if good else ", rejected by the filter")
                c.annotations.append(Annotation(self.name, "score", float(good), why, prov))
            g.candidates.extend(teach)
        return groups

    def _filter(self, groups: list[Group], demos: list[list[Candidate]]) -> list[list[bool]]:
        """Which teacher answers the filter accepts (all non-empty ones without a filter). The checker
        sees each group with the teacher's answers only, so e.g. a majority vote is among them."""
        spec = self.p.filter
        if not spec:
            return [[bool(c.text.strip()) for c in teach] for teach in demos]
        name, scorer = spec.name, spec.build(self._resolve)
        minimum = self.p.filter_min
        scorer.annotate([Group(g.prompt, teach) for g, teach in zip(groups, demos)])
        return [[bool(c.text.strip()) and (c.value(name) or 0.0) >= minimum for c in teach] for teach in demos]

    def summary(self) -> dict:
        n = self.counts["teacher"]
        return {"teacher_answers": n, "accepted_rate": self.counts["accepted"] / n if n else None}


# -- preference distillation (UltraFeedback-style) -------------------------------------------

# UltraFeedback's four aspects (Cui et al. 2023), each rated 1-5, condensed.
ASPECTS: dict[str, str] = {
    "instruction_following": "How well does the response follow the question's instructions (task, format, "
                             "length, constraints)? 1 = ignores them, 5 = follows every one.",
    "helpfulness": "How helpful and informative is the response? 1 = useless or wrong, 5 = correct, complete "
                   "and concise.",
    "truthfulness": "Is the response free of factual and calculation errors and made-up content? 1 = severely "
                    "wrong, 5 = no errors.",
    "honesty": "Is the response appropriately confident, expressing uncertainty only when it is unsure? "
               "1 = confidently wrong, 5 = confident and correct, or honestly uncertain.",
}
RATE = """Rate the response to the question on one aspect.

Aspect: {aspect}

{question}
{response}
"""
_ASK = {"logprob": "Reply with the rating only: a single digit from 1 to 5.",
        "generate": 'Explain briefly, then end with "Rating: <1-5>".'}
_RATINGS = ("1", "2", "3", "4", "5")


@register
class PreferenceDistillation(Signal):
    name = "preference_distillation"
    source = "behavior_imitation"
    kind = "score"
    uses_model = True
    description = (
        "Preference distillation (UltraFeedback, Cui et al. 2023; Zephyr dDPO): a teacher model (param teacher) "
        "rates every student candidate 1-5 on each aspect (param aspects; default instruction_following, "
        "helpfulness, truthfulness, honesty). scoring: logprob (default; expected rating under the teacher's "
        "probabilities of 1-5) or generate ('Rating: N'). Score: the mean over aspects; "
        "preference_distillation.<aspect> keeps each. build.kind preference pairs the best against the worst."
    )

    class Params(SamplingParams, JudgeParams):
        teacher: str = Field(min_length=1, description=TEACHER)
        scoring: Literal["logprob", "generate"] = Field("logprob", description="logprob: expected rating under the "
                                                        "teacher's probabilities of 1-5; generate: 'Rating: N'")
        aspects: list[str] = Field(list(ASPECTS), description="the aspects rated, of: " + ", ".join(ASPECTS))
        template: Template("aspect", "question", "response") = Field(RATE, description="the rating prompt, with "
                                                                     "{aspect}, {question} and {response}")
        max_new_tokens: int = max_new_tokens_field(96)

        @field_validator("aspects")
        @classmethod
        def _known(cls, aspects: list[str]) -> list[str]:
            unknown = [a for a in aspects if a not in ASPECTS]
            if unknown:
                raise ValueError(f"unknown aspect(s) {unknown}; choose from {', '.join(ASPECTS)}")
            return aspects

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        mode, aspects, rubric = self.p.scoring, self.p.aspects, self.p.template
        teacher = self.model(self.p.teacher)
        pairs = [(g, c) for g in groups for c in g.candidates if c.text.strip()]
        jobs = [(g, c, a) for g, c in pairs for a in aspects]
        convs = [user(with_ask(self.p.ask_position, rubric.format(
            aspect=ASPECTS[a], question=quote(g.prompt.text, "question"), response=quote(c.text, "response")),
            _ASK[mode])) for g, c, a in jobs]
        ratings = self._ratings(teacher, convs, mode) if jobs else []
        prov = {"signal": self.name, "teacher": teacher.name, "scoring": mode, "template": "ultrafeedback-v1",
                "ask_position": self.p.ask_position}
        by_cand: dict[int, dict[str, float]] = {}
        for (_, c, a), r in zip(jobs, ratings):
            if r is not None:
                by_cand.setdefault(id(c), {})[a] = r
                c.annotations.append(Annotation(f"{self.name}.{a}", "score", r, f"{a} rating", prov))
        for _, c in pairs:
            got = by_cand.get(id(c), {})
            mean = sum(got.values()) / len(got) if got else None
            self.counts.update(rated=1, unparsed=int(not got))
            why = ", ".join(f"{a} {r:.2f}" for a, r in got.items()) or "no parseable rating"
            c.annotations.append(Annotation(self.name, "score", mean, why, prov))
        return groups

    def _ratings(self, teacher, convs: list[list[dict]], mode: str) -> list[float | None]:
        if mode == "logprob":
            return [1.0 + expected_score(lps)[0] for lps in choice_logprobs(teacher, convs, list(_RATINGS))]
        outs = teacher.generate(convs, sampling_from(self.p))
        found = [parse_score(o[0].replace("Rating", "Score").replace("rating", "score")) for o in outs]
        return [float(s) if s is not None and s >= 1 else None for s in found]

    def summary(self) -> dict:
        n = self.counts["rated"]
        return {"rated": n, "unparsed_rate": self.counts["unparsed"] / n if n else None}
