"""Runs a recipe: prompts -> generate -> annotate -> build -> train -> evaluate -> report.

Each stage reads its input from the run store and writes its output there, keyed by
the hash of its config and its inputs' keys: a re-run skips finished stages, and a
killed run resumes (generation resumes shard by shard, training from TRL's last
checkpoint).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from alignkit.data.store import RunStore, Stage, atomic_write_json
from alignkit.provenance import provenance
from alignkit.recipe import Recipe
from alignkit.tracking import Tracker
from alignkit.types import Group, content_hash


def stage_name(stage: str, iteration: int) -> str:
    """A stage's name in iteration `iteration` of a run (iteration 1 keeps the bare name)."""
    return stage if iteration == 1 else f"{stage}_it{iteration}"


def eval_label(iteration: int, iterated: bool) -> str:
    """The label of the evaluation after `iteration` (0: of the base model) in a run with one
    iteration or several (`iterated`): before, after; before, it1, it2, ..."""
    return "before" if iteration == 0 else f"it{iteration}" if iterated else "after"


def model_dir_name(iteration: int, iterated: bool) -> str:
    """The run subdirectory of the model trained in `iteration`."""
    return f"model_it{iteration}" if iterated else "model"


# written into model/ after training (cards.py): not part of the trained model's record
MODEL_CARD = frozenset({"README.md"})


def _key(*parts: Any) -> str:
    from pydantic_core import to_jsonable_python

    from alignkit.recipe import _Strict

    return content_hash(to_jsonable_python([p.key_view() if isinstance(p, _Strict) else p for p in parts]))


def _model_key(recipe: Recipe) -> Any:
    """The recipe's model in stage keys: its name, and the load options that change its outputs once any is
    set (the name alone otherwise, so runs keyed before the options existed are reused). device_map only
    places the weights, so it stays out."""
    from alignkit.models.templates import chat_template_text

    opts = {k: v for k, v in recipe.model_options.model_dump(mode="json").items()
            if v is not None and k != "device_map"}
    if "chat_template" in opts:  # the template's text: an edited template file is a new run
        opts["chat_template"] = chat_template_text(opts["chat_template"])
    return [recipe.model, opts] if opts else recipe.model


class Runner:
    def __init__(self, recipe: Recipe, out: str | Path, recipe_name: str | None = None, log=print):
        self.recipe = recipe
        self.out = Path(out)
        self.store = RunStore(self.out)
        self.recipe_name = recipe_name or recipe.name
        self.log = log
        self._backends: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}  # wall time per stage in this invocation
        self.iteration = 1
        self.policy = recipe.model  # the model being aligned: the last trained one after iteration 1
        self.base_key = _model_key(recipe)  # the base model in stage keys
        self.policy_key = self.base_key  # what stage keys depend on: the spec, then the train stage's key
        self.tracker = Tracker([], self.out, self.recipe_name)  # run() opens train.report_to's trackers
        self.command: str | None = None  # how the run was started, for report.json (default: sys.argv)

    def _name(self, stage: str) -> str:
        return stage_name(stage, self.iteration)

    def _model_dir(self) -> Path:
        return self.out / model_dir_name(self.iteration, self.recipe.iterations > 1)

    def _ray(self):
        from alignkit.executors import RayExecutor

        cfg = self.recipe.ray
        return RayExecutor(cfg.actors, cfg.cpus_per_actor, cfg.address)

    def resolve(self, spec: str):
        """Backend for a model spec; "policy" is the model being aligned in this iteration."""
        return self.backend(self.policy if spec == "policy" else spec, self.recipe.generate.batch_size)

    def _timed(self, name: str, fn, *args):
        t = time.time()
        try:
            return fn(*args)
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.time() - t, 1)

    # -- models ---------------------------------------------------------------------------
    def _dtype_key(self) -> tuple:
        """The weights' dtype in generation and evaluation keys (nothing for float32, so runs keyed
        before the option existed are reused)."""
        return () if self.recipe.load_dtype == "float32" else ("dtype", self.recipe.load_dtype)

    def backend(self, spec: str, batch_size: int = 32):
        if spec not in self._backends:
            self.log(f"loading model {spec}")
            from alignkit.models import load_backend

            opts = self.recipe.model_options  # the template is the base model's (trained ones save it)
            self._backends[spec] = load_backend(spec, batch_size, self.recipe.load_dtype, opts.device_map,
                                                opts.chat_template if spec == self.recipe.model else None)
        b = self._backends[spec]
        b.batch_size = batch_size
        return b

    # -- stages ---------------------------------------------------------------------------
    def prompts(self) -> Stage:
        from alignkit.data.prompts import load_prompts

        stage = self.store.stage("prompts", _key("prompts", self.recipe.prompts))
        if not stage.done():
            prompts = load_prompts(self.recipe.prompts)
            stage.write_groups([Group(p) for p in prompts])
            stage.finish(rows=len(prompts))
        from alignkit.models.context import check_prompt_lengths

        # every run (the model may have changed since the stage was written): before any model work
        check_prompt_lengths([g.prompt for g in stage.read_groups()], self.recipe.model,
                             self.recipe.generate.max_new_tokens, self.recipe.prompts.path or "prompts")
        return stage

    def generate(self, prompts: Stage) -> Stage:
        from alignkit.models.base import Sampling

        cfg = self.recipe.generate
        seed = self.recipe.seed + self.iteration - 1
        stage = self.store.stage(self._name("generate"), _key("generate", prompts.key, self.policy_key, cfg, seed,
                                                             *self._dtype_key()))
        if stage.done():
            return stage
        groups = prompts.read_groups()
        shards = [groups[i : i + cfg.shard_size] for i in range(0, len(groups), cfg.shard_size)]
        todo = [i for i in range(len(shards)) if not stage.has_shard(i)]
        sampling = Sampling(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_new_tokens=cfg.max_new_tokens, seed=seed)
        if todo and cfg.n > 0:
            from alignkit.executors import generate_shard

            total = sum(len(shards[i]) for i in todo) * cfg.n
            with tqdm(total=total, desc="generate", unit="sample") as bar:
                if self.recipe.executor == "ray":
                    pieces = self._ray().generate([(i, shards[i]) for i in todo], self.policy, cfg.batch_size,
                                                  sampling, cfg.system_prompt)
                    for i, shard in pieces:
                        stage.write_shard(i, shard)
                        bar.update(len(shard) * cfg.n)
                else:
                    backend = self.backend(self.policy, cfg.batch_size)
                    for i in todo:
                        stage.write_shard(i, generate_shard(backend, shards[i], sampling, cfg.system_prompt,
                                                            self.policy, progress=bar.update))
        for i in todo if cfg.n == 0 else []:
            stage.write_shard(i, shards[i])
        stage.finish(rows=len(groups), shards=len(shards))
        return stage

    def signal_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """A signal's params with `{run}` in any string (or list of strings) replaced by the run's
        directory, so files a signal writes (a collective constitution) belong to this run. The
        stage keys hash the params as written, so a copied run is still reused."""
        def fill(v: Any) -> Any:
            if isinstance(v, str):
                return v.replace("{run}", str(self.out))
            return [fill(x) for x in v] if isinstance(v, list) else v
        return {k: fill(v) for k, v in params.items()}

    def annotate(self, generated: Stage) -> Stage:
        from alignkit.executors import annotation_step
        from alignkit.signals.base import get_signal

        stage = self.store.stage(self._name("annotate"),
                                 _key("annotate", generated.key, self.policy_key, self.recipe.signals,
                                      *self._dtype_key()))
        if stage.done():
            return stage
        groups = generated.read_groups()
        summaries = {}
        for scfg in self.recipe.signals:
            signal = get_signal(scfg.name)(**self.signal_params(scfg.params)).bind(self.resolve)
            step = annotation_step(signal)
            chunks = [groups[i : i + step] for i in range(0, len(groups), step)]
            if self.recipe.executor == "ray":
                self.log(f"annotate:{scfg.name}: {len(chunks)} chunks on Ray")
                groups = self._ray().annotate(signal, chunks, self.policy, self.recipe.generate.batch_size)
            else:
                groups = [g for chunk in tqdm(chunks, desc=f"annotate:{scfg.name}", unit="batch")
                          for g in signal.annotate(chunk)]
            if summary := signal.summary():
                summaries[scfg.name] = summary
        stage.write_groups(groups)
        stats = _signal_stats(groups, self.recipe.build.signal)
        if summaries:
            stats["summaries"] = summaries  # e.g. a pairwise judge's position consistency
        stage.write_json("stats.json", stats)
        stage.finish(rows=len(groups), **stats)
        return stage

    def build(self, annotated: Stage) -> Stage:
        from alignkit.build import build

        cfg = self.recipe.build
        stage = self.store.stage(self._name("build"), _key("build", annotated.key, cfg))
        if stage.done():
            return stage
        rows = build(cfg.kind, annotated.read_groups(), cfg.signal, min_score=cfg.min_score,
                     max_per_prompt=cfg.max_per_prompt, tiebreak=cfg.tiebreak)
        from datasets import Dataset

        if rows:
            tmp = stage.path / ".train.parquet.tmp"
            Dataset.from_list(rows).to_parquet(str(tmp))
            tmp.replace(stage.path / "train.parquet")
        stage.write_json("rows.json", rows)
        stage.finish(rows=len(rows), kind=cfg.kind)
        return stage

    def train(self, built: Stage, exclude: set[str] | None = None) -> tuple[Stage, str]:
        """Returns the stage and the path of the trained model. Rows of groups in `exclude`
        (held-out prompt ids) are not trained on."""
        from alignkit.errors import AlignkitError
        from alignkit.models.embedded import resolve_model_path
        from alignkit.train import DATASET_KIND, ONLINE, train

        cfg, method = self.recipe.train, self.recipe.train.method
        online = method in ONLINE  # trains on prompts; the signals are the reward
        extra = [self.recipe.signals, self.recipe.generate, self.recipe.build.signal] if online else []
        extra += [sorted(exclude)] if exclude else []
        stage = self.store.stage(self._name("train"), _key("train", built.key, self.policy_key, cfg, *extra))
        model_dir = self._model_dir()
        if stage.done():
            # the trained model's files are in the stage's record (model.json); runs from before it
            # existed fall back to the old check
            damage = (stage.dir_damage("model.json", model_dir, MODEL_CARD) if (stage.path / "model.json").is_file()
                      else None if (model_dir / "config.json").is_file() else f"{model_dir} is missing")
            if damage is None:
                return stage, str(model_dir)
            self.log(f"the trained model is damaged ({damage}): training again (from the last complete checkpoint)")
            stage.manifest_path.unlink(missing_ok=True)
        reward = None
        if online:
            import json

            from alignkit.rewards import signal_reward

            rows = [{"prompt": g.prompt.messages, "meta": json.dumps(g.prompt.meta, sort_keys=True)}
                    for g in built.read_groups()]
            reward = signal_reward(self.recipe.signals, self.recipe.build.signal, self.resolve, set(),
                                   self.recipe.generate.max_new_tokens)
        else:
            rows = [row for row in built.read_json("rows.json") if row["id"] not in (exclude or ())]
            needed = DATASET_KIND[method]
            if self.recipe.build.kind != needed:
                raise AlignkitError(f"train.method {method!r} cannot use a {self.recipe.build.kind!r} dataset",
                                    where="train.method", fix=f"set build.kind: {needed} for {method} (sft: sft; "
                                    "dpo, orpo, simpo, reward: preference; kto: kto)")
        if not rows:
            raise AlignkitError("the signal kept no training rows, so there is nothing to train on",
                                where="build", fix="generate more samples (generate.n), more prompts (prompts.n), "
                                "or lower build.min_score")
        if str(self.policy).startswith("openai:"):
            raise AlignkitError(f"cannot train {self.policy!r}: a model behind an API has no weights here",
                                where="model", fix="align a local model (a path, a hub id or `embedded`); an "
                                "openai: model can generate, judge, critique or teach, and evaluate")
        self.log(f"training ({method}, {len(rows)} rows)")
        self._backends.clear()  # free the generation model before training
        base = resolve_model_path(self.policy) if self.iteration == 1 else self.policy
        if cfg.launcher != "none":
            info = self._launch(method, rows, base, stage, model_dir)
        else:
            info = train(method, rows, cfg, base, stage.path, model_dir, reward=reward,
                         generation=self.recipe.generate, **self._train_load())
        stage.write_json("train.json", info)
        stage.record_dir("model.json", model_dir)  # the model in the manifest: damage is detected on reuse
        stage.finish(**info)
        return stage, str(model_dir)

    def _train_load(self) -> dict[str, Any]:
        """How training loads the model: the recipe's model.dtype and chat_template."""
        opts = self.recipe.model_options
        return {"dtype": opts.dtype, "chat_template": opts.chat_template}

    def evaluate(self, model: str, label: str, upstream_key: str) -> dict[str, list[float]]:
        from alignkit.evaluate.benchmarks import EvalContext, items, run_benchmark

        cfg = self.recipe.evaluate
        # judged benchmarks compare with the base model, judged by cfg.judge (default the base model)
        ctx = EvalContext(lambda spec: self.backend(spec, cfg.batch_size), baseline=self.recipe.model,
                          judge=cfg.judge or self.recipe.model)
        scores = {}
        for name in cfg.benchmarks:
            stage = self.store.stage(f"eval_{label}_{name}", _key("eval", upstream_key, name, cfg, *self._dtype_key()))
            if not stage.done():
                self.log(f"evaluating {label} on {name} (n={cfg.n})")
                res = run_benchmark(self.backend(model, cfg.batch_size), name, cfg.n, seed=cfg.seed,
                                    max_new_tokens=cfg.budget(name), ctx=ctx)
                stage.write_json("items.json", items(res))
                stage.finish(n=len(res.scores), mean=res.mean)
            scores[name] = [item["score"] for item in stage.read_json("items.json")]
        return scores

    def audit(self) -> dict | None:
        """The signal audit on a labelled probe set, before any training: audit.json in the run."""
        from alignkit.errors import AlignkitError
        from alignkit.evaluate.audit import run_audit
        from alignkit.evaluate.benchmarks import BENCHMARKS

        cfg = self.recipe.audit
        if not cfg.enabled:
            return None
        prompts = self.prompts() if cfg.source == "training" else None  # the probe: the training prompts
        if prompts is not None:
            bench = "training"
        else:
            bench = cfg.bench or next((b for b in self.recipe.evaluate.benchmarks if BENCHMARKS[b].score), None)
        if bench is None:
            self.log("audit skipped: no evaluated benchmark has per-answer ground truth (set audit.bench)")
            return None
        if prompts is None and bench not in BENCHMARKS:
            raise AlignkitError(f"unknown audit benchmark {bench!r}", where="audit.bench",
                                fix=f"choose from: {', '.join(sorted(BENCHMARKS))}")
        # the default source stays out of the key, so audits from before the field existed are reused
        what = cfg.model_dump(mode="json", exclude={"source"} if cfg.source == "benchmark" else set())
        upstream = (prompts.key,) if prompts is not None else ()
        stage = self.store.stage("audit", _key("audit", self.base_key, self.recipe.signals, what, bench,
                                               self.recipe.generate.max_new_tokens, *upstream))
        if not stage.done():
            training = [g.prompt for g in prompts.read_groups()] if prompts is not None else None
            self.log(f"auditing {len(self.recipe.signals)} signal(s) on {cfg.n} prompts of {bench}")
            result = run_audit([(s.name, self.signal_params(s.params)) for s in self.recipe.signals], bench,
                               self.backend(self.recipe.model, self.recipe.generate.batch_size), self.resolve,
                               n=cfg.n, k=cfg.k, seed=self.recipe.seed + 1000,
                               max_new_tokens=self.recipe.generate.max_new_tokens, temperature=cfg.temperature,
                               training=training)
            stage.write_json("audit.json", result)
            stage.finish(signals=len(result["signals"]))
        result = stage.read_json("audit.json")
        atomic_write_json(self.out / "audit.json", result)
        for row in result["signals"]:
            for flag in row.get("flags", []) + ([row["undecided"]] if "undecided" in row else []):
                self.log(f"audit: {row['signal']}: {flag}")
        return result

    # -- the whole loop ---------------------------------------------------------------------
    def run(self) -> dict:
        r = self.recipe
        self.write_recipe()
        with Tracker(r.train.report_to, self.out, self.recipe_name, r.model_dump(mode="json")) as self.tracker:
            report = self._run()
        self.write_html()
        from alignkit.cards import write_model_cards

        write_model_cards(self.out)  # README.md in every saved model/, from the files written above
        return report

    def write_recipe(self) -> None:
        """RUN/recipe.yaml: the recipe after overrides, in full (the cards and `alignkit export` read it)."""
        import yaml

        from alignkit.data.store import atomic_write_bytes

        text = yaml.safe_dump(self.recipe.model_dump(mode="json"), sort_keys=False)
        atomic_write_bytes(self.out / "recipe.yaml", text.encode())

    def write_html(self) -> None:
        import yaml

        from alignkit.evaluate.report_html import write_run_report

        text = yaml.safe_dump(self.recipe.model_dump(exclude_defaults=True), sort_keys=False)
        write_run_report(self.out, recipe_text=text)

    def _run(self) -> dict:
        from alignkit.evaluate.stats import paired_summary

        t0 = time.time()
        r = self.recipe
        prompts = self.prompts()  # first, so bad prompt files fail before any model work
        audit = self._timed("audit", self.audit)
        if r.train.method == "reward":
            return self._run_reward(prompts, t0, audit)
        before = self._timed("eval_before", self.evaluate, r.model, "before", _key(self.base_key))
        after, model_name, iterations = before, r.model, []
        from alignkit.train import ONLINE

        for self.iteration in range(1, r.iterations + 1):
            if r.train.method in ONLINE:  # online RL generates and scores inside training
                built, info = prompts, {"iteration": self.iteration, "signal": {}, "dataset_rows": None}
            else:
                generated = self._timed("generate", self.generate, prompts)
                annotated = self._timed("annotate", self.annotate, generated)
                built = self._timed("build", self.build, annotated)
                info = {"iteration": self.iteration, "signal": annotated.read_json("stats.json"),
                        "dataset_rows": built.manifest().get("rows")}
            if r.train.method != "none":
                trained, model_dir = self._timed("train", self.train, built)
                self._backends.clear()
                label = eval_label(self.iteration, r.iterations > 1)
                previous, after = after, self._timed("eval_after", self.evaluate, model_dir, label, trained.key)
                self.policy, self.policy_key, model_name = model_dir, trained.key, model_dir
                info["model"] = model_dir
                info["train"] = self.store.stage(self._name("train"), trained.key).read_json("train.json")
                info["benchmarks"] = {name: paired_summary(previous[name], after[name], r.seed)
                                      for name in r.evaluate.benchmarks}
            iterations.append(info)
        from alignkit.evaluate.benchmarks import BENCHMARKS

        benchmarks = {name: {**paired_summary(before[name], after[name], r.seed),
                             "split": BENCHMARKS[name].split} for name in r.evaluate.benchmarks}
        report = {"model": model_name, "recipe": self.recipe_name, "wall_seconds": time.time() - t0,
                  "benchmarks": benchmarks}
        from alignkit.evaluate.breakdown import run_breakdown

        # answer lengths and per-constraint changes behind each number (issue 24), final model against the base
        final = eval_label(r.iterations, r.iterations > 1) if r.train.method != "none" else "before"
        report["breakdown"] = run_breakdown(self.out, r.evaluate.benchmarks, final, n=r.evaluate.n,
                                            prompt_seed=r.evaluate.seed, seed=r.seed)
        if audit:
            report["audit"] = audit_flags(audit)
        summaries = [it["signal"]["summaries"] for it in iterations if "summaries" in it["signal"]]
        if summaries:
            report["signals"] = summaries[-1] if len(summaries) == 1 else summaries
        if r.iterations > 1:
            report["iterations"] = [{"iteration": it["iteration"], "model": it.get("model"),
                                     "benchmarks": it.get("benchmarks", {})} for it in iterations]
        report["provenance"] = provenance(r, self.command)  # report-only: in no stage key
        atomic_write_json(self.out / "report.json", report)
        self.tracker.log_run(report, audit, [it["signal"] for it in iterations])
        last = iterations[-1]
        details = {"base_model": r.model, "signal": last["signal"], "dataset_rows": last["dataset_rows"],
                   "stage_seconds": self.seconds}
        if "train" in last:
            details["train"] = last["train"]
        if r.iterations > 1:
            details["iterations"] = iterations
        atomic_write_json(self.out / "details.json", details)
        return report

    def _launch(self, method: str, rows: list[dict], base: str, stage: Stage, model_dir: Path) -> dict:
        """Train in launched processes: `accelerate launch` (DDP, FSDP, DeepSpeed: the config
        decides) or `torchrun` (DDP with train.processes processes)."""
        import os
        import subprocess
        import sys

        import torch

        from alignkit.errors import AlignkitError
        from alignkit.train import ONLINE

        cfg = self.recipe.train
        if method in ONLINE:
            raise AlignkitError(f"train.launcher: {cfg.launcher} does not run {method} yet", where="train.launcher",
                                fix="use launcher: none for online RL, or an offline method")
        if cfg.launcher == "accelerate" and (not cfg.accelerate_config or not Path(cfg.accelerate_config).is_file()):
            raise AlignkitError(f"accelerate config {cfg.accelerate_config!r} not found",
                                where="train.accelerate_config",
                                fix="give a file from configs/accelerate/ (cpu, ddp, fsdp, zero2, zero3) or "
                                "one written by `accelerate config`")
        stage.write_json("rows.json", rows)
        stage.write_json("job.json", {
            "method": method, "rows": str(stage.path / "rows.json"), "cfg": cfg.model_dump(), "model": base,
            "work_dir": str(stage.path), "out_dir": str(model_dir), "info": str(stage.path / "launch_info.json"),
            "load": self._train_load()})
        if cfg.launcher == "accelerate":
            cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", cfg.accelerate_config]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={cfg.processes}"]
        cmd += ["-m", "alignkit.train_worker", str(stage.path / "job.json")]
        self.log("launching: " + " ".join(cmd))
        env = dict(os.environ)
        if not torch.cuda.is_available():  # CPU processes: accelerate then uses DDP over gloo
            env["ACCELERATE_USE_CPU"] = "true"
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        (stage.path / "launch.log").write_text(proc.stdout)
        if proc.returncode != 0:
            tail = "\n    ".join(proc.stdout.strip().splitlines()[-8:])
            raise AlignkitError(f"distributed training failed (exit {proc.returncode}); last lines:\n    {tail}",
                                where="train.launcher", fix=f"read {stage.path / 'launch.log'}; check the "
                                "accelerate config against your machine (process count, GPUs, deepspeed installed)")
        return stage.read_json("launch_info.json")

    def _run_reward(self, prompts: Stage, t0: float, audit: dict | None) -> dict:
        """Train a scalar reward model on the signal's preference pairs, keeping a share of the
        prompts out, and measure it there (pair accuracy, best-of-N) instead of a policy benchmark."""
        from alignkit.evaluate.reward_eval import evaluate_reward_model, heldout_ids, root_id
        from alignkit.models.reward import RewardModel

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
        report = {"model": model_dir, "recipe": self.recipe_name, "wall_seconds": time.time() - t0,
                  "benchmarks": benchmarks}
        if audit:
            report["audit"] = audit_flags(audit)
        report["provenance"] = provenance(r, self.command)
        atomic_write_json(self.out / "report.json", report)
        self.tracker.log_run(report, audit, [annotated.read_json("stats.json")])
        atomic_write_json(self.out / "details.json", {
            "base_model": r.model, "signal": annotated.read_json("stats.json"),
            "dataset_rows": built.manifest().get("rows"), "heldout_prompts": len(heldout),
            "stage_seconds": self.seconds, "train": trained.read_json("train.json")})
        return report


def audit_flags(audit: dict) -> dict[str, Any]:
    """The audit's verdict per signal for report.json (the full table is in audit.json)."""
    keys = ("auroc", "flags", "undecided", "error")
    return {"bench": audit["bench"], "signals": {r["signal"]: {k: r.get(k) for k in keys if r.get(k) is not None}
                                                 for r in audit["signals"]}}



def _signal_stats(groups: list[Group], signal: str) -> dict[str, Any]:
    """How often the signal fired: mean score over candidates and the share of groups
    with at least one candidate at the top score."""
    values = [c.value(signal) for g in groups for c in g.candidates if c.value(signal) is not None]
    hit = sum(1 for g in groups if any((c.value(signal) or 0) >= 1.0 for c in g.candidates))
    return {"signal": signal, "candidates": len(values),
            "mean_score": sum(values) / len(values) if values else None,
            "groups_with_positive": hit, "groups": len(groups)}


def run_recipe(recipe: Recipe, out: str | Path, recipe_name: str | None = None) -> dict:
    return Runner(recipe, out, recipe_name).run()
