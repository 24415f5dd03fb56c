"""Runs a recipe: prompts -> generate -> annotate -> build -> train -> evaluate -> report.

The Runner is the loops: the policy's iterations (iteration k+1 aligns the model trained in
iteration k) and the reward-model loop. The stages it runs, with their keys and reuse, are in
`stages.py`; models are loaded and cached by `models/cache.py`; training starts in `launch.py`
(this process or launched workers); recipe.yaml, report.json, details.json and report.html are
written by `report.py`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alignkit.cards import write_model_cards
from alignkit.data.store import Stage
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.methods import ONLINE
from alignkit.models.reward import RewardModel
from alignkit.recipe import Recipe
from alignkit.report import audit_flags, policy_sections, write_html, write_recipe, write_report
from alignkit.stages import Stages, _key, eval_label, model_dir_name, stage_name
from alignkit.tracking import Tracker

# the stage and model names and the audit's verdict, where scripts and tests have always found them
__all__ = ["Runner", "audit_flags", "eval_label", "model_dir_name", "run_recipe", "stage_name"]


class Runner(Stages):
    """Runs a recipe's stages in order, `recipe.iterations` times, and writes the run's report."""

    def __init__(self, recipe: Recipe, out: str | Path, recipe_name: str | None = None, log=print):
        super().__init__(recipe, out, log)
        self.recipe_name = recipe_name or recipe.name
        self.seconds: dict[str, float] = {}  # wall time per stage in this invocation
        self.tracker = Tracker([], self.out, self.recipe_name)  # run() opens train.report_to's trackers
        self.command: str | None = None  # how the run was started, for report.json (default: sys.argv)

    def _timed(self, name: str, fn, *args):
        t = time.time()
        try:
            return fn(*args)
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.time() - t, 1)

    def run(self) -> dict:
        r = self.recipe
        write_recipe(self.out, r)
        with Tracker(r.train.report_to, self.out, self.recipe_name, r.model_dump(mode="json")) as self.tracker:
            report = self._run()
        write_html(self.out, r)
        write_model_cards(self.out)  # README.md in every saved model/, from the files written above
        return report

    def _run(self) -> dict:
        from alignkit.evaluate.breakdown import run_breakdown
        from alignkit.evaluate.stats import paired_summary

        t0, r, iterated = time.time(), self.recipe, self.recipe.iterations > 1
        prompts = self.prompts() if r.signals else None  # first, so bad prompt files fail before any model work
        audit = self._timed("audit", self.audit)
        if r.train.method == "reward":
            return self._run_reward(prompts, t0, audit)
        before = self._timed("eval_before", self.evaluate, r.model, "before", _key(self.base_key))
        in_context = None  # the training-free baseline: the base model with evaluate.in_context before each prompt
        if r.evaluate.in_context:
            in_context = self._timed("eval_in_context", self.evaluate, r.model, "in_context", _key(self.base_key),
                                     r.evaluate.in_context)
        after, model_name, iterations = before, r.model, []
        if r.train.method == "none" and in_context is not None:
            after = in_context  # an in-context recipe: its "after" is the model aligned by its context
        for self.iteration in range(1, r.iterations + 1):
            if prompts is not None and r.prompts.reseed and self.iteration > 1:
                prompts = self.prompts(self.iteration)  # fresh requests for this round
            if r.train.method in ONLINE or not r.signals:  # online RL generates and scores inside training;
                # an in-context recipe (no signals) generates nothing
                built, info = prompts, {"iteration": self.iteration, "signal": {}, "dataset_rows": None}
            else:
                generated = self._timed("generate", self.generate, prompts)
                annotated = self._timed("annotate", self.annotate, generated)
                built = self._timed("build", self.build, annotated)
                info = {"iteration": self.iteration, "signal": annotated.read_json("stats.json"),
                        "dataset_rows": built.manifest().get("rows")}
            if r.train.method != "none":
                trained, model_dir = self._timed("train", self.train, built)
                self.models.clear()
                label = eval_label(self.iteration, iterated)
                previous, after = after, self._timed("eval_after", self.evaluate, model_dir, label, trained.key)
                self.models.policy, self.policy_key, model_name = model_dir, trained.key, model_dir
                info.update(model=model_dir, train=trained.read_json("train.json"),
                            benchmarks={name: paired_summary(previous[name], after[name], r.seed)
                                        for name in r.evaluate.benchmarks})
            iterations.append(info)
        benchmarks = {name: {**paired_summary(before[name], after[name], r.seed), "split": BENCHMARKS[name].split}
                      for name in r.evaluate.benchmarks}
        if in_context is not None and r.train.method != "none":
            for name, b in benchmarks.items():  # the trained model against the baseline it has to beat
                vs = paired_summary(in_context[name], after[name], r.seed)
                b["in_context"] = {"context": r.evaluate.in_context, "score": vs["before"], "delta": vs["delta"],
                                   "ci95": vs["ci95"]}
        wall = time.time() - t0
        # answer lengths and per-constraint changes behind each number (issue 24), final model against the base
        final = (eval_label(r.iterations, iterated) if r.train.method != "none"
                 else "in_context" if in_context is not None else "before")
        breakdown = run_breakdown(self.out, r.evaluate.benchmarks, final, n=r.evaluate.n,
                                  prompt_seed=r.evaluate.seed, seed=r.seed)
        return self._report(model_name, wall, benchmarks, audit, iterations, breakdown=breakdown,
                            sections=policy_sections(iterations, iterated))

    def _run_reward(self, prompts: Stage, t0: float, audit: dict | None) -> dict:
        """Train a scalar reward model on the signal's preference pairs, keeping a share of the
        prompts out, and measure it there (pair accuracy, best-of-N) instead of a policy benchmark."""
        from alignkit.evaluate.reward_eval import evaluate_reward_model, heldout_ids, root_id

        r = self.recipe
        generated = self._timed("generate", self.generate, prompts)
        annotated = self._timed("annotate", self.annotate, generated)
        built = self._timed("build", self.build, annotated)
        groups = annotated.read_groups()
        held = heldout_ids(groups, r.train.heldout_fraction, r.seed)
        heldout = [g for g in groups if root_id(g) in held]
        trained, model_dir = self._timed("train", self.train, built, {g.id for g in heldout})
        self.log(f"measuring the reward model on {len(heldout)} held-out prompts")
        benchmarks = self._timed("eval_after", evaluate_reward_model, RewardModel(model_dir), heldout,
                                 r.build.signal, r.seed)
        info = {"iteration": 1, "signal": annotated.read_json("stats.json"),
                "dataset_rows": built.manifest().get("rows"), "train": trained.read_json("train.json")}
        return self._report(model_dir, time.time() - t0, benchmarks, audit, [info],
                            details={"heldout_prompts": len(heldout)})

    def _report(self, model: str, wall: float, benchmarks: dict, audit: dict | None, iterations: list[dict],
                **sections: Any) -> dict:
        return write_report(self.out, self.recipe, self.recipe_name, self.command, self.tracker, model=model,
                            wall_seconds=wall, benchmarks=benchmarks, audit=audit, iterations=iterations,
                            stage_seconds=self.seconds, **sections)


def run_recipe(recipe: Recipe, out: str | Path, recipe_name: str | None = None) -> dict:
    return Runner(recipe, out, recipe_name).run()
