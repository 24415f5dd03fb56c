"""Environment feedback: the world grades. Here: verifiable instruction checks."""

from __future__ import annotations

from alignkit.signals import constraints as C
from alignkit.signals.base import Signal, register
from alignkit.types import Annotation, Group


@register
class VerifiableInstructions(Signal):
    name = "verifiable_instructions"
    source = "environment_feedback"
    kind = "score"
    description = (
        "Checks each candidate against the prompt's IFEval-style constraints (lm-eval's checkers): "
        "score 1.0 when all are followed, else 0.0; a second annotation gives the fraction followed. "
        "With require_complete, an answer cut off at the token limit fails."
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
        "and adds the revision as a new candidate only if every constraint now passes."
    )

    def annotate(self, groups: list[Group]) -> list[Group]:
        from alignkit.signals.repairs import repair, trim_unfinished
        from alignkit.types import Candidate

        checker = VerifiableInstructions()
        limit = int(self.params.get("max_per_group", 1))
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
                if not cand.text.strip() or cand.origin.get("signal") == self.name:
                    continue
                text = cand.text
                if cand.origin.get("finish_reason") == "length":
                    text = trim_unfinished(text)  # an answer cut off mid-sentence ends at its last full one
                    if text is None:
                        continue
                elif all(C.check(c, text, base) for c in cons):
                    continue
                failed = [s for s, c in zip(specs, cons) if not C.check(c, text, base)]
                text = repair(text, failed, base)
                if text is None or text in existing or not C.score(cons, text, base)[0]:
                    continue
                critique = "fixed: " + ", ".join([s["id"] for s in failed] or ["unfinished answer"])
                cand.annotations.append(Annotation(self.name, "critique", critique, critique, {"signal": self.name}))
                new = Candidate(text, {"signal": self.name, "revised_from": k, **{
                    key: v for key, v in cand.origin.items() if key == "model"}})
                group.candidates.append(new)
                existing.add(text)
                added += 1
            checker.annotate([Group(group.prompt, [c for c in group.candidates if not c.annotations])])
        return groups
