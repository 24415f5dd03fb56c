"""Every optimizer the recipe offers runs TRL's own trainer on a tiny model and changes it."""

import json

import pytest
from conftest import tiny_spin_recipe

from alignkit.errors import AlignkitError
from alignkit.pipeline import Runner


@pytest.mark.parametrize("method, kind", [("kto", "kto"), ("orpo", "preference"), ("simpo", "preference")])
def test_optimizer_trains_with_trl(tiny_model_dir, tmp_path, method, kind):
    import torch
    from transformers import AutoModelForCausalLM

    Runner(tiny_spin_recipe(tiny_model_dir, f"build.kind={kind}", f"train.method={method}"), tmp_path,
           log=lambda *_: None).run()
    info = json.loads((tmp_path / "stages" / "train" / "train.json").read_text())
    assert info["method"] == method and info["steps"] >= 1 and info["rows"] >= 1
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))


def test_optimizer_and_dataset_kind_must_match(tiny_model_dir, tmp_path):
    with pytest.raises(AlignkitError, match="set build.kind: preference for orpo"):
        Runner(tiny_spin_recipe(tiny_model_dir, "train.method=orpo", "build.kind=kto"), tmp_path,
               log=lambda *_: None).run()
