"""WiSE-FT: a trained model moved part-way back to the model its training started from, by the
recipe (train.interpolate) and by `alignkit interpolate`."""

import json

import pytest
from conftest import REPO, build_tiny_llama, run_cli, tiny_spin_recipe

from alignkit.errors import AlignkitError
from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe
from alignkit.train import interpolate


def _params(path):
    from transformers import AutoModelForCausalLM

    return dict(AutoModelForCausalLM.from_pretrained(path).named_parameters())


def _perturbed(src, dst):
    """A copy of the tiny model (tokenizer too) whose every weight moved by a random step: the
    result of training, made without training."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(src)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    shutil.copytree(src, dst)
    model.save_pretrained(dst)
    return dst


def test_weights_move_part_way_and_the_rest_is_kept(tiny_model_dir, tmp_path):
    import torch

    trained = tmp_path / "trained"
    _perturbed(tiny_model_dir, trained)
    full = _params(trained)
    interpolate(str(tiny_model_dir), trained, 0.25)
    start, mixed = _params(tiny_model_dir), _params(trained)
    for name, p in mixed.items():
        torch.testing.assert_close(p, start[name] + 0.25 * (full[name] - start[name]), atol=1e-6, rtol=1e-5)
    assert not torch.equal(mixed["model.layers.0.mlp.up_proj.weight"], full["model.layers.0.mlp.up_proj.weight"])
    assert (trained / "tokenizer.json").is_file() and not trained.with_name("trained.interpolated").exists()


def test_a_model_of_another_shape_is_refused(tiny_model_dir, embedded_dir, tmp_path):
    other = build_tiny_llama(tmp_path / "other", embedded_dir, hidden_size=64, intermediate_size=128)
    with pytest.raises(AlignkitError, match="cannot interpolate") as err:
        interpolate(str(tiny_model_dir), other, 0.5)
    assert err.value.where == "train.interpolate"


def test_the_recipe_option_interpolates_the_trained_model(tiny_model_dir, tmp_path):
    import torch

    for name, extra in (("full", []), ("half", ["train.interpolate=0.5"])):
        Runner(tiny_spin_recipe(tiny_model_dir, "train.learning_rate=0.01", *extra), tmp_path / name,
               log=lambda *_: None).run()
    start, full, half = (_params(p) for p in (tiny_model_dir, tmp_path / "full" / "model", tmp_path / "half" / "model"))
    moved = [n for n in full if not torch.equal(full[n], start[n])]
    assert moved  # training changed the model, so the check below means something
    for name in moved:
        torch.testing.assert_close(half[name], start[name] + 0.5 * (full[name] - start[name]), atol=1e-5, rtol=1e-4)
    info = json.loads((tmp_path / "half" / "stages" / "train" / "train.json").read_text())
    assert info["interpolate"] == 0.5


def test_the_default_leaves_stage_keys_alone():
    recipe = load_recipe(REPO / "recipes" / "verifiable_instructions.yaml")
    assert "interpolate" not in recipe.train.key_view()
    assert load_recipe(REPO / "recipes" / "verifiable_instructions.yaml",
                       ["train.interpolate=0.75"]).train.key_view()["interpolate"] == 0.75


def test_a_reward_model_cannot_be_interpolated(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text((REPO / "recipes" / "reward_model.yaml").read_text() + "\n")
    res = run_cli("validate", str(bad), "--set", "train.interpolate=0.5")
    assert res.returncode != 0 and "Traceback" not in res.stdout + res.stderr
    assert "train.interpolate" in res.stdout + res.stderr and "head is new" in res.stdout + res.stderr


def test_the_command_writes_one_model_per_alpha(tiny_model_dir, tmp_path):
    import torch

    trained = tmp_path / "trained"
    _perturbed(tiny_model_dir, trained)
    res = run_cli("interpolate", "--model", str(trained), "--start", str(tiny_model_dir), "--alpha", "0.5,1",
                  "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    start, full = _params(tiny_model_dir), _params(trained)
    half, same = _params(tmp_path / "out" / "a0.5"), _params(tmp_path / "out" / "a1")
    name = "model.layers.1.self_attn.q_proj.weight"
    torch.testing.assert_close(half[name], (start[name] + full[name]) / 2, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(same[name], full[name])
    again = run_cli("interpolate", "--model", str(trained), "--alpha", "3", "--out", str(tmp_path / "x"))
    assert again.returncode != 0 and "outside (0, 2]" in again.stdout + again.stderr


def test_a_soup_is_the_weighted_mean_and_keeps_the_first_models_files(tiny_model_dir, tmp_path):
    import torch

    from alignkit.train import soup

    a = _perturbed(tiny_model_dir, tmp_path / "a")
    b = tmp_path / "b"
    interpolate(str(tiny_model_dir), a, -1.0, b)  # the mirror image of a around the start
    used = soup([a, b, tiny_model_dir], tmp_path / "s", [1, 1, 2])
    assert used == [0.25, 0.25, 0.5]
    start, mixed, pa = _params(tiny_model_dir), _params(tmp_path / "s"), _params(a)
    for name, p in mixed.items():  # a and its mirror cancel: the soup is the start
        torch.testing.assert_close(p, start[name], atol=1e-5, rtol=1e-4)
    assert not torch.equal(pa["model.layers.0.mlp.up_proj.weight"], start["model.layers.0.mlp.up_proj.weight"])
    equal = soup([a, tiny_model_dir], tmp_path / "e")
    assert equal == [0.5, 0.5]
    name = "model.layers.1.self_attn.q_proj.weight"
    torch.testing.assert_close(_params(tmp_path / "e")[name], (pa[name] + start[name]) / 2, atol=1e-6, rtol=1e-5)
    assert (tmp_path / "e" / "tokenizer.json").is_file() and not (tmp_path / "e.soup").exists()


def test_a_soup_refuses_one_model_and_another_shape(tiny_model_dir, embedded_dir, tmp_path):
    from alignkit.train import soup

    other = build_tiny_llama(tmp_path / "other", embedded_dir, hidden_size=64, intermediate_size=128)
    with pytest.raises(AlignkitError, match="cannot average") as err:
        soup([tiny_model_dir, other], tmp_path / "s")
    assert err.value.where == "soup" and not (tmp_path / "s").exists()
    with pytest.raises(AlignkitError, match="two or more models"):
        soup([tiny_model_dir], tmp_path / "s")
    res = run_cli("soup", "--model", str(tiny_model_dir), "--model", str(tiny_model_dir), "--weights", "1,x",
                  "--out", str(tmp_path / "t"))
    assert res.returncode != 0 and "--weights" in res.stdout + res.stderr and "Traceback" not in res.stderr


def test_the_soup_command_writes_the_mean(tiny_model_dir, tmp_path):
    import torch

    a = _perturbed(tiny_model_dir, tmp_path / "a")
    res = run_cli("soup", "--model", str(a), "--model", str(tiny_model_dir), "--weights", "3,1",
                  "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "0.75 x" in res.stdout
    start, pa, mixed = _params(tiny_model_dir), _params(a), _params(tmp_path / "out")
    name = "model.layers.0.self_attn.v_proj.weight"
    torch.testing.assert_close(mixed[name], 0.75 * pa[name] + 0.25 * start[name], atol=1e-6, rtol=1e-5)
