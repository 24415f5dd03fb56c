"""Training in launched processes: a real 2-process data-parallel run on CPU (torchrun, gloo),
the `accelerate launch` path on one CPU process, the shipped multi-GPU configs parse with
accelerate's own loader, and misuse fails clearly."""

import json

import pytest
from conftest import REPO

from alignkit.errors import AlignkitError
from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe

CONFIGS = REPO / "configs" / "accelerate"


def _recipe(model, *extra):
    return load_recipe(REPO / "recipes" / "verifiable_instructions.yaml", [
        f"model={model}", "prompts.n=8", "generate.n=2", "generate.max_new_tokens=8", "build.min_score=0.0",
        "build.max_per_prompt=2", "train.epochs=1", "train.batch_size=2", "train.max_length=128", "evaluate.n=2",
        "evaluate.max_new_tokens=4", "evaluate.budgets={}", "audit.n=8", *extra])


def test_sft_trains_in_two_data_parallel_processes(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    Runner(_recipe(tiny_model_dir, "train.launcher=torchrun", "train.processes=2"), tmp_path,
           log=lambda *_: None).run()
    info = json.loads((tmp_path / "stages" / "train" / "train.json").read_text())
    rows = len(json.loads((tmp_path / "stages" / "build" / "rows.json").read_text()))
    assert info["processes"] == 2 and info["rows"] == rows
    assert info["steps"] == -(-rows // (2 * 2))  # each step: batch 2 on each of 2 processes
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))


def test_accelerate_launch_trains_and_saves(tiny_model_dir, tmp_path):
    recipe = _recipe(tiny_model_dir, "train.launcher=accelerate", f"train.accelerate_config={CONFIGS / 'cpu.yaml'}")
    Runner(recipe, tmp_path, log=lambda *_: None).run()
    info = json.loads((tmp_path / "stages" / "train" / "train.json").read_text())
    assert info["processes"] == 1 and info["steps"] >= 1 and (tmp_path / "model" / "config.json").is_file()


@pytest.mark.parametrize("name, kind", [("cpu", "NO"), ("ddp", "MULTI_GPU"), ("fsdp", "FSDP"),
                                        ("zero2", "DEEPSPEED"), ("zero3", "DEEPSPEED")])
def test_shipped_accelerate_configs_load(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert str(cfg.distributed_type).endswith(kind)
    if name.startswith("zero"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])


def test_launcher_misuse_is_a_clear_error(tiny_model_dir, tmp_path):
    with pytest.raises(AlignkitError, match="accelerate config 'nope.yaml' not found"):
        Runner(_recipe(tiny_model_dir, "train.launcher=accelerate", "train.accelerate_config=nope.yaml"),
               tmp_path / "a", log=lambda *_: None).run()
    grpo = load_recipe(REPO / "recipes" / "grpo.yaml", [f"model={tiny_model_dir}", "train.launcher=accelerate",
                                                         f"train.accelerate_config={CONFIGS / 'cpu.yaml'}",
                                                         "prompts.n=2", "evaluate.n=2", "evaluate.max_new_tokens=4",
                                                         "evaluate.budgets={}"])
    with pytest.raises(AlignkitError, match="does not run grpo yet"):
        Runner(grpo, tmp_path / "b", log=lambda *_: None).run()
