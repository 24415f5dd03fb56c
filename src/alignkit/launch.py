"""The train stage's work: what it trains on (`train_rows`), what it cannot start from
(`check_trainable`), whether a finished stage's model is intact (`model_damage`), and starting
the training (`train_model`): in this process (`train.train`) or in launched processes, beside
the worker they run (`train_worker.py`): `accelerate launch` (DDP, FSDP, DeepSpeed: its config
decides) or `torchrun` (DDP with `train.processes` processes). The job goes to the workers as a
file in the train stage (job.json: method, rows, the train config, the model and how to load
it); the main worker writes launch_info.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignkit.config import TrainConfig
from alignkit.data.store import Stage
from alignkit.errors import AlignkitError
from alignkit.methods import DATASET_KIND, ONLINE, kinds_text
from alignkit.models.embedded import resolve_model_path
from alignkit.recipe import Recipe
from alignkit.train import interpolate, train

# written into model/ after training (cards.py): not part of the trained model's record
MODEL_CARD = frozenset({"README.md"})


def model_damage(stage: Stage, model_dir: Path) -> str | None:
    """None if a finished train stage's model is intact, else what is wrong. The model's files are
    in the stage's record (model.json); runs from before the record existed fall back to config.json."""
    if (stage.path / "model.json").is_file():
        return stage.dir_damage("model.json", model_dir, MODEL_CARD)
    return None if (model_dir / "config.json").is_file() else f"{model_dir} is missing"


def train_rows(built: Stage, online: bool, exclude: set[str] | None = None) -> list[dict]:
    """What training reads: the build stage's rows less those of `exclude` (held-out prompt ids);
    for online RL, the prompts (chat messages, meta as JSON) the trainer generates from."""
    if online:
        return [{"prompt": g.prompt.messages, "meta": json.dumps(g.prompt.meta, sort_keys=True)}
                for g in built.read_groups()]
    return [row for row in built.read_json("rows.json") if row["id"] not in (exclude or ())]


def train_model(recipe: Recipe, rows: list[dict], policy: str, iteration: int, stage: Stage, model_dir: Path, *,
                online: bool, reward: Any = None, log: Callable[[str], None] = print) -> dict:
    """Train `policy` (the recipe's model in iteration 1, the last trained one after) on `rows` into
    `model_dir`, then record train.json and the model's files (model.json) and finish the stage."""
    method = recipe.train.method
    check_trainable(method, recipe.build.kind, rows, policy, online)
    log(f"training ({method}, {len(rows)} rows)")
    base = resolve_model_path(policy) if iteration == 1 else policy
    load = {"dtype": recipe.model_options.dtype, "chat_template": recipe.model_options.chat_template}
    info = start_training(method, rows, recipe.train, base, stage, model_dir, load, reward=reward,
                          generation=recipe.generate, log=log)
    if (alpha := recipe.train.interpolate) != 1:  # after every save, so a resumed stage interpolates once
        log(f"interpolating: start + {alpha:g} x (trained - start)")
        interpolate(base, model_dir, alpha)
        info["interpolate"] = alpha
    stage.write_json("train.json", info)
    stage.record_dir("model.json", model_dir)  # the model in the manifest: damage is detected on reuse
    stage.finish(**info)
    return info


def check_trainable(method: str, build_kind: str, rows: list[dict], policy: str, online: bool) -> None:
    """What training cannot start from: a dataset of the wrong kind, no rows, a model without weights."""
    needed = DATASET_KIND[method]
    if not online and build_kind != needed:
        raise AlignkitError(f"train.method {method!r} cannot use a {build_kind!r} dataset",
                            where="train.method", fix=f"set build.kind: {needed} for {method} ({kinds_text()})")
    if not rows:
        raise AlignkitError("the signal kept no training rows, so there is nothing to train on",
                            where="build", fix="generate more samples (generate.n), more prompts (prompts.n), "
                            "or lower build.min_score")
    if str(policy).startswith("openai:"):
        raise AlignkitError(f"cannot train {policy!r}: a model behind an API has no weights here",
                            where="model", fix="align a local model (a path, a hub id or `embedded`); an "
                            "openai: model can generate, judge, critique or teach, and evaluate")


def start_training(method: str, rows: list[dict], cfg: TrainConfig, base: str, stage: Stage, model_dir: Path,
                   load: dict[str, Any], *, reward: Any = None, generation: Any = None,
                   log: Callable[[str], None] = print) -> dict:
    """Train `base` on `rows` into `model_dir`, here (`train.launcher: none`) or launched; returns
    the training info (train.json). `reward` and `generation` are online RL's."""
    if cfg.launcher != "none":
        return launch(method, rows, base, cfg, load, stage, model_dir, log)

    return train(method, rows, cfg, base, stage.path, model_dir, reward=reward, generation=generation, **load)


def check_launcher(cfg: TrainConfig, method: str) -> None:
    """What the launcher cannot run, before any work: online RL, a missing accelerate config."""
    if method in ONLINE:
        raise AlignkitError(f"train.launcher: {cfg.launcher} does not run {method} yet", where="train.launcher",
                            fix="use launcher: none for online RL, or an offline method")
    if cfg.launcher == "accelerate" and (not cfg.accelerate_config or not Path(cfg.accelerate_config).is_file()):
        raise AlignkitError(f"accelerate config {cfg.accelerate_config!r} not found",
                            where="train.accelerate_config",
                            fix="give a file from configs/accelerate/ (cpu, ddp, fsdp, zero2, zero3) or "
                            "one written by `accelerate config`")


def launch(method: str, rows: list[dict], base: str, cfg: TrainConfig, load: dict[str, Any], stage: Stage,
           model_dir: Path, log: Callable[[str], None] = print) -> dict:
    """Train `base` on `rows` in launched processes (`cfg.launcher`); returns the main worker's
    training info. `load` is how the workers load the model (dtype, chat_template)."""
    import torch

    check_launcher(cfg, method)
    stage.write_json("rows.json", rows)
    stage.write_json("job.json", {
        "method": method, "rows": str(stage.path / "rows.json"), "cfg": cfg.model_dump(), "model": base,
        "work_dir": str(stage.path), "out_dir": str(model_dir), "info": str(stage.path / "launch_info.json"),
        "load": load})
    if cfg.launcher == "accelerate":
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", cfg.accelerate_config]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={cfg.processes}"]
    cmd += ["-m", "alignkit.train_worker", str(stage.path / "job.json")]
    log("launching: " + " ".join(cmd))
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
