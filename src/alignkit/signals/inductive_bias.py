"""Inductive bias: the model's own regularities are the signal, with no external judge.

- self_consistency (Huang et al. 2022): majority vote over sampled answers.
- self_judge (Yuan et al. 2024, self-rewarding): the policy grades its own candidates.
- self_refine (Madaan et al. 2023): the policy critiques and revises its own answers.
- context_distillation (Askell et al. 2021; RLCD, Yang et al. 2023): answers written
  under a system prompt of principles become the target without it.
- self_play (SPIN, Chen et al. 2024): reference answers beat the policy's own.
- debate (Du et al. 2023): samples read each other's answers and converge.

Prompt templates quote candidate text inside tags that the text cannot close.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field

from alignkit.data.arithmetic import extract_answer
from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling, choice_logprobs
from alignkit.signals.base import Signal, SignalParams, SignalRef, register
from alignkit.signals.judging import RUBRIC, SCORE_ASK, SCORES, expected_score, parse_score
from alignkit.signals.prompting import (
    JudgeParams,
    SamplingParams,
    TeacherSamplingParams,
    Template,
    critique_and_revise,
    max_new_tokens_field,
    quote,
    sampling_from,
    temperature_field,
    user,
    with_ask,
)
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

    class Params(SignalParams):
        min_agreement: float = Field(0.5, ge=0, le=1, description="share of the k samples the majority must win")
        require_complete: bool = Field(True, description="an answer cut off at the token limit abstains")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        min_agreement, require_complete = self.p.min_agreement, self.p.require_complete
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


# -- self-judge (self-rewarding) ------------------------------------------------------------

@register
class SelfJudge(Signal):
    name = "self_judge"
    source = "inductive_bias"
    kind = "score"
    uses_model = True
    description = (
        "Self-rewarding (Yuan et al. 2024): the policy grades each of its own candidates with an additive "
        "0-5 rubric (LLM-as-a-judge). scoring: logprob (default; one forward pass, expected score under the "
        "model's probabilities of the digits 0-5) or generate (a short justification ending 'Score: N', "
        "averaged over `samples`). Param judge names another model instead of the policy."
    )

    class Params(SamplingParams, JudgeParams):
        scoring: Literal["logprob", "generate"] = Field("logprob", description="logprob: expected score under the "
                                                        "judge's probabilities of the digits 0-5 (one forward "
                                                        "pass); generate: a short justification ending 'Score: N'")
        judge: str = Field("policy", description="the judge model (default the policy)")
        rubric: Template("question", "response") = Field(RUBRIC, description="the judge's prompt, with {question} "
                                                         "and {response}")
        samples: int = Field(1, ge=1, description="scoring: generate: judgments averaged per candidate")
        n: int | None = Field(None, ge=1, description="scoring: generate: judgments sampled; unset: samples")
        temperature: float | None = Field(None, ge=0, description="scoring: generate: sampling temperature; unset: "
                                          "0.7 when samples > 1, else 0 (greedy)")
        max_new_tokens: int = max_new_tokens_field(96)

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        mode, judge_spec, rubric = self.p.scoring, self.p.judge, self.p.rubric
        pairs = [(g, c) for g in groups for c in g.candidates]
        if not pairs:
            return groups
        convs = [user(with_ask(self.p.ask_position, rubric.format(question=quote(g.prompt.text, "question"),
                                                          response=quote(c.text, "response")), SCORE_ASK[mode]))
                 for g, c in pairs]
        judge = self.model(judge_spec)
        prov = {"signal": self.name, "judge": getattr(judge, "name", judge_spec), "scoring": mode,
                "template": "yuan2024-additive-v1",
                "ask_position": self.p.ask_position}
        if mode == "logprob":
            for (_, c), logps in zip(pairs, choice_logprobs(judge, convs, list(SCORES))):
                score, probs = expected_score(logps)
                why = "P(0..5) = " + " ".join(f"{p:.2f}" for p in probs)
                c.annotations.append(Annotation(self.name, "score", score, why, prov))
            return groups
        samples = self.p.samples
        sampling = sampling_from(self.p, n=samples, temperature=0.7 if samples > 1 else 0.0)
        for (_, c), outs in zip(pairs, judge.generate(convs, sampling)):
            found = [s for s in (parse_score(o) for o in outs) if s is not None]
            score = sum(found) / len(found) if found else None
            why = f"scores {found} from {len(outs)} judgments" + ("" if found else "; none parseable")
            c.annotations.append(Annotation(self.name, "score", score, why + f"; first: {outs[0][:300]}", prov))
        return groups


# -- self-refine ----------------------------------------------------------------------------

CRITIQUE = "List briefly what the draft gets wrong or leaves out. Check every instruction in the request."
REVISE = "Rewrite the draft so that it fully answers the request and fixes the problems named in the feedback."


@register
class SelfRefine(Signal):
    name = "self_refine"
    source = "inductive_bias"
    kind = "critique"
    uses_model = True
    description = (
        "Self-refine (Madaan et al. 2023): the policy writes feedback on each of its answers, then revises the "
        "answer using that feedback. A scorer signal (param scorer: {name, params}; default self_judge) scores "
        "originals and revisions; a revision is kept only when it scores strictly better than its original. "
        "The self_refine annotation carries the scorer's value, so best-vs-worst pairs are (revision, original)."
    )

    class Params(SamplingParams):
        scorer: SignalRef = Field(SignalRef.model_construct(name="self_judge"), description="the signal that "
                                  "decides whether a revision is better: a name or {name, params}")
        model: str = Field("policy", description="the model that writes feedback and revisions")
        feedback_tokens: int = Field(64, ge=1, description="most tokens of the feedback (when max_new_tokens is "
                                     "unset)")
        max_new_tokens: int | None = Field(None, ge=1, description="most tokens of the revision and, when set, of "
                                           "the feedback too; unset: 128 for the revision")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        spec = self.p.scorer
        scorer = spec.build(self._resolve)
        policy = self.model(self.p.model)
        sampling = sampling_from(self.p, max_new_tokens=128)
        fb_sampling = sampling_from(self.p, max_new_tokens=self.p.feedback_tokens)
        todo = [(g, i, c) for g in groups for i, c in enumerate(g.candidates) if c.text.strip()]
        done = critique_and_revise(policy, [(g.prompt.text, c.text, CRITIQUE, REVISE) for g, _, c in todo],
                                   fb_sampling, sampling)
        news: dict[int, list[tuple[int, Candidate]]] = {}
        for (g, i, _), (f, text, finish) in zip(todo, done):
            origin = {"signal": self.name, "model": policy.name, "revised_from": i, "feedback": f,
                      "finish_reason": finish, **sampling.as_origin()}
            news.setdefault(id(g), []).append((i, Candidate(text, origin)))
        for g in groups:
            g.candidates.extend(c for _, c in news.get(id(g), []))
        scorer.annotate(groups)
        prov = {"signal": self.name, "scorer": spec.name, "model": policy.name}
        for g in groups:
            originals = [c for c in g.candidates if c.origin.get("signal") != self.name]
            kept = []
            for c in g.candidates:
                if c.origin.get("signal") != self.name:
                    continue
                before, after = originals[c.origin["revised_from"]].value(spec.name), c.value(spec.name)
                if c.text.strip() and before is not None and after is not None and after > before:
                    c.annotations.append(Annotation(self.name, "score", float(after),
                                                    f"revision scores {after:g} > original {before:g}", prov))
                    kept.append(c)
            for c in originals:
                if c.value(spec.name) is not None:
                    c.annotations.append(Annotation(self.name, "score", float(c.value(spec.name)),
                                                    "original answer", prov))
            g.candidates = originals + kept
        return groups


# -- context distillation -------------------------------------------------------------------

PRINCIPLES = ("You are a careful assistant. Before you answer, read every instruction in the request: "
              "words to use or avoid, letter case, length, punctuation, format, and how to begin or end. "
              "Follow each of them exactly. Keep the answer short and finish it.")
NEGATIVE = ("You are a careless assistant. Ignore the formatting, case, length and punctuation "
            "instructions in the request and answer at length in whatever style you like.")


@register
class ContextDistillation(Signal):
    name = "context_distillation"
    source = "inductive_bias"
    kind = "score"
    uses_model = True
    description = (
        "Context distillation (Askell et al. 2021) with RLCD's contrastive variant (Yang et al. 2023): the "
        "policy answers with a system prompt of principles (score 1.0) and, unless negative is null, with an "
        "opposing system prompt (score 0.0). Training rows drop the system prompt, so the model learns to "
        "behave as if prompted. Params: principles, negative, n, temperature, max_new_tokens."
    )

    class Params(SamplingParams):
        model: str = Field("policy", description="the model that answers under the system prompts")
        principles: str = Field(PRINCIPLES, description="the positive system prompt (its answers score 1.0)")
        negative: str | None = Field(NEGATIVE, description="the opposing system prompt (its answers score 0.0); "
                                     "null: plain context distillation")
        temperature: float = temperature_field(0.7)

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        policy = self.model(self.p.model)
        sampling = sampling_from(self.p)
        sides = [("positive", self.p.principles, 1.0)]
        if self.p.negative:
            sides.append(("negative", self.p.negative, 0.0))
        for polarity, system, score in sides:
            convs = [[{"role": "system", "content": system}] + g.prompt.messages for g in groups]
            prov = {"signal": self.name, "model": policy.name, "polarity": polarity}
            for g, outs in zip(groups, policy.generate(convs, sampling, details=True)):
                for k, (text, finish) in enumerate(outs):
                    origin = {"signal": self.name, "model": policy.name, "system_prompt": system,
                              "polarity": polarity, "sample": k, "finish_reason": finish, **sampling.as_origin()}
                    g.candidates.append(Candidate(text, origin, [Annotation(
                        self.name, "score", score, f"written under the {polarity} system prompt", prov)]))
        return groups


# -- self-play (SPIN) -----------------------------------------------------------------------

@register
class SelfPlay(Signal):
    name = "self_play"
    source = "inductive_bias"
    kind = "score"
    uses_model = True
    description = (
        "SPIN (Chen et al. 2024): a reference answer (from prompt meta[reference_key], default 'reference', or "
        "written by a teacher model given as param teacher) scores 1.0 and the policy's own candidates 0.0 "
        "(1.0 when identical to the reference), so preference pairs are (reference, own). Iterate the recipe "
        "(iterations: k) to play against each newly trained model."
    )

    class Params(TeacherSamplingParams):
        reference_key: str = Field("reference", description="the prompt meta field holding the reference answer")
        teacher: str | None = Field(None, description="a model that writes the references instead (with the "
                                    "teacher_ sampling parameters)")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        key, teacher = self.p.reference_key, self.p.teacher
        if teacher:
            backend = self.model(teacher)
            sampling = sampling_from(self.p, prefix="teacher_")
            refs = [o[0] for o in backend.generate([g.prompt.messages for g in groups], sampling)]
            origin = {"signal": self.name, "role": "reference", "model": backend.name, **sampling.as_origin()}
        else:
            missing = [g.id for g in groups if not isinstance(g.prompt.meta.get(key), str)]
            if missing:
                raise AlignkitError(f"prompt {missing[0]} has no reference answer in meta[{key!r}] "
                                    f"({len(missing)} of {len(groups)} in this batch lack one)",
                                    where="signals.params.reference_key",
                                    fix="give prompts a meta reference (e.g. prompts.references: true for "
                                    "arithmetic) or set params.teacher to a model that writes them")
            refs = [g.prompt.meta[key] for g in groups]
            origin = {"signal": self.name, "role": "reference", "source": f"meta.{key}"}
        prov = {"signal": self.name, "reference": origin.get("model", origin.get("source"))}
        for g, ref in zip(groups, refs):
            for c in g.candidates:
                same = c.text.strip() == ref.strip()
                c.annotations.append(Annotation(self.name, "score", float(same),
                                                "identical to the reference" if same else "policy's own answer", prov))
            g.candidates.append(Candidate(ref, dict(origin), [Annotation(self.name, "score", 1.0, "reference", prov)]))
        return groups


# -- multi-agent debate ---------------------------------------------------------------------

DEBATE = """These are the answers of other agents to the same question:

{others}

Using their reasoning as additional advice, give an updated answer to the question. {hint}"""


def debate_messages(question: list[dict[str, str]], own: str, others: list[str], hint: str = "") -> list[dict]:
    """One agent's turn in a debate round: the question, its own last answer, the others' answers."""
    shown = "\n\n".join(quote(o, f"agent_{j + 1}") for j, o in enumerate(others))
    return question + [{"role": "assistant", "content": own},
                       {"role": "user", "content": DEBATE.format(others=shown, hint=hint).strip()}]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


@register
class Debate(Signal):
    name = "debate"
    source = "inductive_bias"
    kind = "score"
    uses_model = True
    description = (
        "Multi-agent debate (Du et al. 2023): the group's first `agents` samples (default 3) are the agents' "
        "opening answers; for `rounds` rounds (default 2) each agent reads the others' latest answers and "
        "updates its own. The final answers are added as candidates; those matching the majority (final "
        "number with answer: number, else the normalised text) score 1.0, the rest 0.0. Openings stay unscored."
    )

    class Params(SamplingParams):
        agents: int = Field(3, ge=2, description="how many of the group's samples debate")
        rounds: int = Field(2, ge=1, description="debate rounds")
        answer: Literal["number", "text"] = Field("number", description="what the final vote compares: the final "
                                                  "number, or the normalised text")
        hint: str = Field("End with your final answer.", description="appended to each round's message")
        model: str = Field("policy", description="the model playing every agent")
        temperature: float = temperature_field(0.7)
        max_new_tokens: int = max_new_tokens_field(96)

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        agents, rounds = self.p.agents, self.p.rounds
        extract = extract_answer if self.p.answer == "number" else _normalise
        hint = self.p.hint
        policy = self.model(self.p.model)
        sampling = sampling_from(self.p)
        live = [g for g in groups if len(g.candidates) >= agents]
        history = {id(g): [[c.text] for c in g.candidates[:agents]] for g in live}
        finish: dict[int, list[str]] = {}
        for r in range(1, rounds + 1):
            convs = [debate_messages(g.prompt.messages, history[id(g)][i][-1],
                                     [history[id(g)][j][-1] for j in range(agents) if j != i], hint)
                     for g in live for i in range(agents)]
            outs = iter(policy.generate(convs, Sampling(**{**sampling.as_origin(), "seed": sampling.seed + r}),
                                        details=True))
            for g in live:
                finish[id(g)] = []
                for i in range(agents):
                    (text, reason), = next(outs)
                    history[id(g)][i].append(text)
                    finish[id(g)].append(reason)
        prov = {"signal": self.name, "model": policy.name, "agents": agents, "rounds": rounds}
        for g in live:
            finals = [h[-1] for h in history[id(g)]]
            answers = [extract(t) if reason != "length" else None for t, reason in zip(finals, finish[id(g)])]
            modal, votes = majority(answers)
            vote = f"consensus {modal} ({votes}/{agents})" if modal is not None else "no consensus"
            for i, (text, ans) in enumerate(zip(finals, answers)):
                origin = {"signal": self.name, "model": policy.name, "agent": i, "round": rounds,
                          "previous": history[id(g)][i][:-1], "finish_reason": finish[id(g)][i],
                          **sampling.as_origin()}
                score = float(modal is not None and ans == modal)
                g.candidates.append(Candidate(text, origin, [
                    Annotation(self.name, "score", score, f"{vote}; agent {i} answered {ans}", prov),
                    Annotation(f"{self.name}.agreement", "score", votes / agents, vote, prov)]))
        return groups
