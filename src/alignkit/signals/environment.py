"""Environment feedback: the world grades. Here: verifiable instruction checks, checker-guided
revision, and code execution against unit tests (in the sandbox only)."""

from __future__ import annotations

import re

from alignkit.signals import constraints as C
from alignkit.signals.base import Signal, register
from alignkit.types import Annotation, Group


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
        "(under two words, or mostly repeated lines) always fails."
    )

    def annotate(self, groups: list[Group]) -> list[Group]:
        loose = bool(self.params.get("loose", False))
        require_complete = bool(self.params.get("require_complete", False))
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

    def annotate(self, groups: list[Group]) -> list[Group]:
        from alignkit.signals.repairs import trim_unfinished
        from alignkit.types import Candidate

        checker = VerifiableInstructions()
        limit = int(self.params.get("max_per_group", 1))
        relabel = int(self.params.get("relabel", 0))
        max_sentences = self.params.get("max_sentences")
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
                text = cand.text
                if cand.origin.get("finish_reason") == "length":
                    text = trim_unfinished(text)  # an answer cut off mid-sentence ends at its last full one
                    if text is None:
                        continue
                elif all(C.check(c, text, base) for c in cons):
                    continue
                failed = [s["id"] for s, c in zip(specs, cons) if not C.check(c, text, base)]
                text = _revise(text, specs, cons, base, max_sentences)
                if text is None or text in existing:
                    continue
                critique = "fixed: " + ", ".join(failed or ["unfinished answer"])
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
            out.extend(checker.annotate(self._relabel(group, relabel, max_sentences)))
        return out

    def _relabel(self, group: Group, k: int, max_sentences: int | None) -> list[Group]:
        """New groups: the same task under k other constraint sets of its split, each holding the
        group's first model-written answer edited to comply, and the same answer unedited."""
        import random

        from alignkit.data.instructions import SPLITS, compose, draw_constraints
        from alignkit.signals.repairs import REPAIRS, trim_unfinished
        from alignkit.types import Candidate

        split, task = group.prompt.meta.get("split"), group.prompt.meta.get("base_task")
        source = next((c for c in group.candidates if "signal" not in c.origin and not degenerate(c.text)), None)
        if split not in SPLITS or not task or source is None:
            return []
        text = source.text
        if source.origin.get("finish_reason") == "length":
            text = trim_unfinished(text)
            if text is None:
                return []
        out, seen = [], {group.prompt.text}
        for j in range(k):
            rng = random.Random(f"relabel:{group.prompt.id}:{j}")
            prompt = compose(task, draw_constraints(split, rng, allowed=set(REPAIRS)), rng, split,
                             relabeled_from=group.prompt.id)
            cons = [C.Constraint(c["id"], c["kwargs"]) for c in prompt.meta["constraints"]]
            fixed = _revise(text, prompt.meta["constraints"], cons, task, max_sentences)
            if prompt.text in seen or fixed is None:
                continue
            seen.add(prompt.text)
            origin = {"signal": self.name, "relabeled_from": group.prompt.id,
                      **{key: v for key, v in source.origin.items() if key == "model"}}
            unedited = Candidate(text, dict(source.origin, relabeled_from=group.prompt.id))
            out.append(Group(prompt, [Candidate(fixed, origin), unedited]))  # a pair differing only in form
        return out


def _revise(text: str, specs: list[dict], cons: list[C.Constraint], task: str, max_sentences: int | None) -> str | None:
    """Repair `text` for the constraints it fails and return it if the checker now passes it; with
    max_sentences, first try its opening sentences only (a concise answer finishes within budget)."""
    from alignkit.signals.repairs import repair, shorten

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
        "sandbox: own uid, no network, CPU/memory/file/process limits, timeout. Score: the fraction of tests "
        "passed; `code_execution.status` says passed / failed / timeout / error. Params: timeout (s, default 5), "
        "memory_mb (512), workers (parallel sandboxes, default the CPU count)."
    )

    def annotate(self, groups: list[Group]) -> list[Group]:
        import os
        from concurrent.futures import ThreadPoolExecutor

        from alignkit.sandbox import Limits, run_tests

        limits = Limits(timeout=float(self.params.get("timeout", 5.0)),
                        cpu_seconds=int(self.params.get("timeout", 5.0)) + 1,
                        memory_mb=int(self.params.get("memory_mb", 512)))
        jobs = [(g, c) for g in groups for c in g.candidates if g.prompt.meta.get("tests")]
        programs = [g.prompt.meta.get("prelude", "") + extract_code(c.text) for g, c in jobs]
        workers = int(self.params.get("workers", os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # each run is its own process
            results = list(pool.map(lambda job: run_tests(job[0], job[1], limits),
                                    [(p, g.prompt.meta["tests"]) for p, (g, _) in zip(programs, jobs)]))
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
