"""The stages of a run: prompts, audit, generate, annotate, build, train, evaluate.

Each stage reads its input from the run store and writes its output there, keyed by the hash
of its config and its inputs' keys (docs/architecture.md has the table): a re-run skips
finished stages, and a killed run resumes (generation shard by shard, training from TRL's last
checkpoint). A stage holds its key and its reuse; the work is done elsewhere: generation and
annotation in `executors.py` (here or on Ray), training in `launch.py`, benchmarks and the
audit in `evaluate/`, models through `models/cache.py`. The loops over them are `pipeline.py`'s.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from alignkit.build import build
from alignkit.config import _Strict
from alignkit.data.prompts import load_prompts
from alignkit.data.store import RunStore, Stage, atomic_write_json, eval_stage
from alignkit.evaluate.benchmarks import EvalContext, items, run_benchmark
from alignkit.executors import RayExecutor, annotate_all, generate_shards
from alignkit.in_context import ContextBackend, load_context
from alignkit.methods import ONLINE
from alignkit.models import engine_spec
from alignkit.models.base import Sampling
from alignkit.models.cache import ModelCache
from alignkit.models.context import check_prompt_lengths
from alignkit.models.templates import chat_template_text
from alignkit.recipe import Recipe
from alignkit.rewards import signal_reward
from alignkit.signals.base import get_signal
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


def _key(*parts: Any) -> str:
    return content_hash(to_jsonable_python([p.key_view() if isinstance(p, _Strict) else p for p in parts]))


def _model_key(recipe: Recipe) -> Any:
    """The recipe's model in stage keys: its name, and the load options that change its outputs once any is
    set (the name alone otherwise, so runs keyed before the options existed are reused). device_map only
    places the weights, so it stays out."""
    opts = {k: v for k, v in recipe.model_options.model_dump(mode="json").items()
            if v is not None and k != "device_map"}
    if "chat_template" in opts:  # the template's text: an edited template file is a new run
        opts["chat_template"] = chat_template_text(opts["chat_template"])
    return [recipe.model, opts] if opts else recipe.model


class Stages:
    """The stages of one run of `recipe` in `out`: each reads its input stage, is keyed by its config
    and its inputs' keys, is skipped when finished, and otherwise does its work and writes its output.
    `iteration`, `policy_key` and `models.policy` say which iteration the next stages belong to
    (the Runner advances them)."""

    def __init__(self, recipe: Recipe, out: str | Path, log=print):
        self.recipe = recipe
        self.out = Path(out)
        self.store = RunStore(self.out)
        self.log = log
        opts = recipe.model_options
        # "policy" is the model being aligned: the recipe's model, then the last trained one (models.policy)
        self.models = ModelCache(recipe.model, recipe.generate.batch_size, dtype=recipe.load_dtype,
                                 device_map=opts.device_map, chat_template=opts.chat_template, log=log)
        self.iteration = 1
        self.base_key = _model_key(recipe)  # the base model in stage keys
        self.policy_key = self.base_key  # what stage keys depend on: the spec, then the train stage's key

    def _name(self, stage: str) -> str:
        return stage_name(stage, self.iteration)

    def _ray(self):
        """The Ray executor when the recipe asks for one (`executor: ray`), else None."""
        cfg = self.recipe.ray
        return RayExecutor(cfg.actors, cfg.cpus_per_actor, cfg.address) if self.recipe.executor == "ray" else None

    def _dtype_key(self) -> tuple:
        """The weights' dtype in generation and evaluation keys (nothing for float32, so runs keyed
        before the option existed are reused)."""
        return () if self.recipe.load_dtype == "float32" else ("dtype", self.recipe.load_dtype)

    def prompts(self, iteration: int = 1) -> Stage:
        """The prompts of `iteration`: with prompts.reseed, iteration k > 1 draws its own with the
        prompts' seed + k - 1; otherwise every iteration uses the first one's."""
        cfg = self.recipe.prompts
        if iteration > 1:
            cfg = cfg.model_copy(update={"seed": cfg.seed + iteration - 1})
        stage = self.store.stage(stage_name("prompts", iteration), _key("prompts", cfg))
        if not stage.done():
            prompts = load_prompts(cfg)
            stage.write_groups([Group(p) for p in prompts])
            stage.finish(rows=len(prompts))
        # every run (the model may have changed since the stage was written): before any model work
        check_prompt_lengths([g.prompt for g in stage.read_groups()], self.recipe.model,
                             self.recipe.generate.max_new_tokens, self.recipe.prompts.path or "prompts")
        return stage

    def generate(self, prompts: Stage) -> Stage:
        cfg = self.recipe.generate
        seed = self.recipe.seed + self.iteration - 1
        stage = self.store.stage(self._name("generate"), _key("generate", prompts.key, self.policy_key, cfg, seed,
                                                             *self._dtype_key()))
        if stage.done():
            return stage
        groups = prompts.read_groups()
        shards = [groups[i : i + cfg.shard_size] for i in range(0, len(groups), cfg.shard_size)]
        todo = [(i, shards[i]) for i in range(len(shards)) if not stage.has_shard(i)]
        if cfg.n == 0:  # nothing to sample: the prompts pass through
            for i, shard in todo:
                stage.write_shard(i, shard)
        elif todo:
            sampling = Sampling(n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                                max_new_tokens=cfg.max_new_tokens, seed=seed)
            spec = engine_spec(self.models.policy, cfg.engine)
            generate_shards(todo, sampling, cfg.system_prompt, spec, lambda: self.models.get(spec, cfg.batch_size),
                            self._ray(), cfg.batch_size, stage.write_shard)
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
        r = self.recipe
        stage = self.store.stage(self._name("annotate"),
                                 _key("annotate", generated.key, self.policy_key, r.signals, *self._dtype_key()))
        if not stage.done():
            # built one by one as their turn comes: a signal may read a file the one before wrote
            signals = (get_signal(s.name)(**self.signal_params(s.params)).bind(self.models) for s in r.signals)
            groups, stats = annotate_all(signals, generated.read_groups(), self._ray(), self.models.policy,
                                         r.generate.batch_size, r.build.signal, self.log)
            stage.write_groups(groups)
            stage.write_json("stats.json", stats)
            stage.finish(rows=len(groups), **stats)
        return stage

    def build(self, annotated: Stage) -> Stage:
        cfg = self.recipe.build
        stage = self.store.stage(self._name("build"), _key("build", annotated.key, cfg))
        if not stage.done():
            rows = build(cfg.kind, annotated.read_groups(), cfg.signal, min_score=cfg.min_score,
                         max_per_prompt=cfg.max_per_prompt, tiebreak=cfg.tiebreak)
            stage.write_json("rows.json", rows)  # what training reads (`alignkit export` writes it as Parquet)
            stage.finish(rows=len(rows), kind=cfg.kind)
        return stage

    def train(self, built: Stage, exclude: set[str] | None = None) -> tuple[Stage, str]:
        """Returns the stage and the path of the trained model. Rows of groups in `exclude`
        (held-out prompt ids) are not trained on."""
        from alignkit.launch import model_damage, train_model, train_rows

        r = self.recipe
        online = r.train.method in ONLINE  # trains on prompts; the signals are the reward
        extra = [r.signals, r.generate, r.build.signal] if online else []
        extra += [sorted(exclude)] if exclude else []
        stage = self.store.stage(self._name("train"), _key("train", built.key, self.policy_key, r.train, *extra))
        model_dir = self.out / model_dir_name(self.iteration, r.iterations > 1)
        if stage.done():
            if (damage := model_damage(stage, model_dir)) is None:
                return stage, str(model_dir)
            self.log(f"the trained model is damaged ({damage}): training again (from the last complete checkpoint)")
            stage.manifest_path.unlink(missing_ok=True)
        reward = None
        if online:
            reward = signal_reward(r.signals, r.build.signal, self.models, set(), r.generate.max_new_tokens)
        rows, policy = train_rows(built, online, exclude), self.models.policy
        self.models.clear()  # free the generation models before training
        train_model(r, rows, policy, self.iteration, stage, model_dir, online=online, reward=reward, log=self.log)
        return stage, str(model_dir)

    def evaluate(self, model: str, label: str, upstream_key: str, context: str | None = None) -> dict[str, list[float]]:
        """Each benchmark's per-item scores for `model`, answering with `context` before every
        prompt when given (in-context alignment, `alignkit.in_context`)."""
        # the in-context setting keys only the evaluation that uses it
        cfg = self.recipe.evaluate.model_copy(update={"in_context": None})
        # judged benchmarks compare with the base model, judged by cfg.judge (default the base model)
        ctx = EvalContext(lambda spec: self.models.get(spec, cfg.batch_size), baseline=self.recipe.model,
                          judge=cfg.judge or self.recipe.model)
        extra = ()
        if context is not None:
            loaded = load_context(context)
            extra = ({k: v for k, v in asdict(loaded).items() if k != "path"},)  # the text, not where it lives
        scores = {}
        for name in cfg.benchmarks:
            stage = self.store.stage(eval_stage(label, name),
                                     _key("eval", upstream_key, name, cfg, *self._dtype_key(), *extra))
            if not stage.done():
                self.log(f"evaluating {label} on {name} (n={cfg.n})")
                backend = self.models.get(engine_spec(model, cfg.engine), cfg.batch_size)
                if context is not None:
                    backend = ContextBackend(backend, loaded)
                res = run_benchmark(backend, name, cfg.n, seed=cfg.seed, max_new_tokens=cfg.budget(name), ctx=ctx)
                stage.write_json("items.json", items(res))
                stage.finish(n=len(res.scores), mean=res.mean)
            scores[name] = [item["score"] for item in stage.read_json("items.json")]
        return scores

    def audit_key(self, bench: str, prompts_key: str | None = None) -> str:
        """The audit stage's key: the base model, the signals, the audit's settings, the probe (`bench`,
        and the training prompts' key when they are the probe), the generation budget, engine and dtype."""
        r, cfg = self.recipe, self.recipe.audit
        # the default source stays out of the key, so audits from before the field existed are reused
        what = cfg.model_dump(mode="json", exclude={"source"} if cfg.source == "benchmark" else set())
        upstream = (prompts_key,) if prompts_key is not None else ()
        # the probe is answered on the generation engine in the run's dtype; each is keyed only when not
        # the default, so earlier keys hold
        engine = (r.generate.engine,) if r.generate.engine != "hf" else ()
        return _key("audit", self.base_key, r.signals, what, bench, r.generate.max_new_tokens, *upstream, *engine,
                    *self._dtype_key())

    def audit(self) -> dict | None:
        """The signal audit on a labelled probe set, before any training: audit.json in the run."""
        from alignkit.evaluate.audit import flag_lines, probe_bench, run_audit

        r, cfg = self.recipe, self.recipe.audit
        if not cfg.enabled or not r.signals:  # an in-context recipe has no signal to audit
            return None
        prompts = self.prompts() if cfg.source == "training" else None  # the probe: the training prompts
        bench = "training" if prompts is not None else probe_bench(cfg.bench, r.evaluate.benchmarks)
        if bench is None:
            self.log("audit skipped: no evaluated benchmark has per-answer ground truth (set audit.bench)")
            return None
        stage = self.store.stage("audit", self.audit_key(bench, prompts.key if prompts is not None else None))
        if not stage.done():
            training = [g.prompt for g in prompts.read_groups()] if prompts is not None else None
            self.log(f"auditing {len(r.signals)} signal(s) on {cfg.n} prompts of {bench}")
            result = run_audit([(s.name, self.signal_params(s.params)) for s in r.signals], bench,
                               self.models.get(engine_spec(r.model, r.generate.engine)), self.models, n=cfg.n,
                               k=cfg.k, seed=r.seed + 1000,
                               max_new_tokens=r.generate.max_new_tokens, temperature=cfg.temperature,
                               training=training)
            stage.write_json("audit.json", result)
            stage.finish(signals=len(result["signals"]))
        result = stage.read_json("audit.json")
        atomic_write_json(self.out / "audit.json", result)
        for line in flag_lines(result):
            self.log(f"audit: {line}")
        return result
