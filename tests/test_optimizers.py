"""Every optimizer the recipe offers runs TRL's own trainer on a tiny model and changes it."""

import json

import pytest
from conftest import REPO

from alignkit.errors import AlignkitError
from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe


def _recipe(model, *extra):
    # SPIN's data: reference answers beat the policy's own, so every prompt gives a pair / labels
    return load_recipe(REPO / "recipes" / "spin.yaml", [
        f"model={model}", "iterations=1", "prompts.n=6", "generate.n=2", "generate.temperature=1.0",
        "generate.max_new_tokens=8", "train.epochs=1", "train.batch_size=4", "train.max_length=128",
        "evaluate.n=2", "evaluate.max_new_tokens=4", *extra])


@pytest.mark.parametrize("method, kind", [("kto", "kto"), ("orpo", "preference"), ("simpo", "preference")])
def test_optimizer_trains_with_trl(tiny_model_dir, tmp_path, method, kind):
    import torch
    from transformers import AutoModelForCausalLM

    Runner(_recipe(tiny_model_dir, f"build.kind={kind}", f"train.method={method}"), tmp_path,
           log=lambda *_: None).run()
    info = json.loads((tmp_path / "stages" / "train" / "train.json").read_text())
    assert info["method"] == method and info["steps"] >= 1 and info["rows"] >= 1
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))


def test_optimizer_and_dataset_kind_must_match(tiny_model_dir, tmp_path):
    with pytest.raises(AlignkitError, match="set build.kind: preference for orpo"):
        Runner(_recipe(tiny_model_dir, "train.method=orpo", "build.kind=kto"), tmp_path, log=lambda *_: None).run()
