"""Artefacts out (issue 22, item 3): the model card a run writes in model/, `alignkit export` in its
three formats with its dataset card, `--push-to-hub` up to the upload call, and the GGUF round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, run_cli

from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe

RECIPE = REPO / "recipes" / "verifiable_instructions.yaml"


@pytest.fixture(scope="module")
def finished_run(tiny_model_dir, tmp_path_factory):
    recipe = load_recipe(RECIPE, [
        f"model={tiny_model_dir}", "prompts.n=6", "generate.n=2", "generate.max_new_tokens=8", "generate.shard_size=4",
        "build.min_score=0.0", "train.epochs=1", "train.batch_size=4", "train.max_length=128", "audit.n=4",
        "evaluate.n=4", "evaluate.max_new_tokens=8", "evaluate.budgets={}", "evaluate.benchmarks=[ifeval_heldout]"])
    out = tmp_path_factory.mktemp("run") / "tiny-sft"
    report = Runner(recipe, out, log=lambda *_: None).run()
    return out, report


def _env(tmp_path, **extra) -> dict[str, str]:
    """The CLI's environment with no stored Hub token and the Hub not switched off."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE")}
    return {**env, "HF_HOME": str(tmp_path / "hf-home"), "PYTHONPATH": str(REPO / "src"), **extra}


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alignkit", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)


def test_model_card_has_base_recipe_data_benchmarks_audit_and_loading(finished_run, tiny_model_dir):
    from huggingface_hub import ModelCard

    out, report = finished_run
    assert load_recipe(out / "recipe.yaml").model == str(tiny_model_dir)  # the recipe after overrides
    card = ModelCard.load(out / "model" / "README.md")
    assert card.data.library_name == "transformers" and "sft" in card.data.tags
    assert card.data.base_model is None  # a local path is not a Hub id
    text = card.text
    assert f"**Base model:** {tiny_model_dir}" in text and "`verifiable_instructions`" in text
    b = report["benchmarks"]["ifeval_heldout"]
    row = (f"| ifeval_heldout | test | 4 | {b['before']:.3f} | {b['after']:.3f} | {b['delta']:+.3f} | "
           f"[{b['ci95'][0]:+.3f}, {b['ci95'][1]:+.3f}] |")
    assert row in text
    ic = b["in_context"]  # the recipe's in-context baseline, with the paired difference to it
    assert (f"| ifeval_heldout | {ic['score']:.3f} | {b['after']:.3f} | {ic['delta']:+.3f} | "
            f"[{ic['ci95'][0]:+.3f}, {ic['ci95'][1]:+.3f}] |") in text and "`urial` context" in text
    rows = len(json.loads((out / "stages" / "build" / "rows.json").read_text()))
    assert f"Training rows: {rows} (sft)" in text
    for flag in report["audit"]["signals"]["verifiable_instructions"].get("flags") or ["no flags"]:
        assert flag in text
    assert "AutoModelForCausalLM.from_pretrained" in text and "prompts: ifeval_synth" in text
    assert yaml.safe_load(text.split("```yaml\n")[1].split("```")[0])["train"]["method"] == "sft"


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_files_load_by_their_card_with_annotations_and_trl_columns(finished_run, tmp_path, fmt):
    from datasets import load_dataset
    from trl.data_utils import is_conversational

    from alignkit.data.store import Stage
    from alignkit.export import export_run

    out, _ = finished_run
    export_run(out, fmt, tmp_path / "ds")
    # load_dataset finds the files through the card's `configs` front matter
    cands = load_dataset(str(tmp_path / "ds"), "candidates", split="train")
    sft = load_dataset(str(tmp_path / "ds"), "sft", split="train")
    groups = Stage.existing(out, "annotate").read_groups()
    assert len(cands) == sum(len(g.candidates) for g in groups) == 12
    first = cands[0]
    assert json.loads(first["origin"])  # which model wrote it, with what sampling
    signals = {a["signal"] for a in first["annotations"]}
    assert "verifiable_instructions" in signals
    ann = next(a for a in first["annotations"] if a["signal"] == "verifiable_instructions")
    assert isinstance(json.loads(ann["provenance"]), dict) and json.loads(ann["value"]) is not None
    built = json.loads((out / "stages" / "build" / "rows.json").read_text())
    assert sft.column_names == ["prompt", "completion"] and len(sft) == len(built)
    assert sft[0]["completion"] == built[0]["completion"] and is_conversational(sft[0])
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "| source | licence |" in card and "apache-2.0" in card and "- candidates: 12" in card
    assert f"- training rows (sft): {len(built)}" in card and "`checker_revision`" in card


def test_export_hf_format_through_the_cli(finished_run, tmp_path):
    from datasets import load_from_disk

    out, _ = finished_run
    res = run_cli("export", str(out), "--format", "hf", "--to", str(tmp_path / "hf"))
    assert res.returncode == 0, res.stderr
    sft = load_from_disk(str(tmp_path / "hf" / "sft"))["train"]
    assert sft.column_names == ["prompt", "completion"]
    assert len(load_from_disk(str(tmp_path / "hf" / "candidates"))["train"]) == 12
    assert "load_from_disk" in (tmp_path / "hf" / "README.md").read_text()
    again = run_cli("export", str(out), "--format", "hf", "--to", str(tmp_path / "hf"))  # no overwrite
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr
    bad = run_cli("export", str(out), "--format", "csv", "--to", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--format" in bad.stderr and "hf, parquet, jsonl" in bad.stderr


def test_push_to_hub_stops_with_a_clear_error_without_token_network_or_online_mode(finished_run, tmp_path):
    out, _ = finished_run
    args = ("export", str(out), "--format", "parquet", "--push-to-hub", "me/tiny-sft-data")
    no_token = _cli(_env(tmp_path), *args, "--to", str(tmp_path / "a"))
    assert no_token.returncode == 2 and "Traceback" not in no_token.stderr
    assert "no Hugging Face token" in no_token.stderr and "HF_TOKEN" in no_token.stderr
    assert (tmp_path / "a" / "README.md").is_file() and (tmp_path / "a" / "sft.parquet").is_file()  # ready to upload
    # a token, but the Hub's address does not answer: the upload call itself fails
    no_net = _cli(_env(tmp_path, HF_TOKEN="hf_fake", HF_ENDPOINT="http://127.0.0.1:9"), *args, "--to",
                  str(tmp_path / "b"))
    assert no_net.returncode == 2 and "Traceback" not in no_net.stderr
    assert "cannot reach the Hub at http://127.0.0.1:9" in no_net.stderr
    offline = _cli(_env(tmp_path, HF_TOKEN="hf_fake", HF_HUB_OFFLINE="1"), *args, "--to", str(tmp_path / "c"))
    assert offline.returncode == 2 and "HF_HUB_OFFLINE is set" in offline.stderr
    # `run --push-to-hub` checks before it trains
    run = _cli(_env(tmp_path), "run", str(RECIPE), "--out", str(tmp_path / "r"), "--push-to-hub", "me/m")
    assert run.returncode == 2 and "no Hugging Face token" in run.stderr and not (tmp_path / "r").exists()


def test_gguf_export_loads_back_in_transformers_with_the_same_greedy_text(finished_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = finished_run
    res = run_cli("export-gguf", str(out), "--outtype", "f32", "--to", str(tmp_path / "tiny.gguf"))
    assert res.returncode == 0, res.stderr + res.stdout
    assert (tmp_path / "Modelfile").read_text() == "FROM ./tiny.gguf\n"
    tok = AutoTokenizer.from_pretrained(out / "model")
    ref = AutoModelForCausalLM.from_pretrained(out / "model")
    gguf_tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file="tiny.gguf")
    gguf = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="tiny.gguf", dtype=torch.float32)
    for prompt in ("Write a haiku about rivers.", "List three colours."):
        chat = [{"role": "user", "content": prompt}]
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        text = tok.decode(ids["input_ids"][0])
        assert gguf_tok(text, add_special_tokens=False)["input_ids"] == ids["input_ids"][0].tolist()
        with torch.no_grad():  # f32: the same weights, so the same logits
            assert torch.allclose(ref(**ids).logits, gguf(**ids).logits, atol=1e-4)
        a = ref.generate(**ids, max_new_tokens=12, do_sample=False)
        b = gguf.generate(**ids, max_new_tokens=12, do_sample=False)
        assert a[0, ids["input_ids"].shape[1]:].tolist() == b[0, ids["input_ids"].shape[1]:].tolist()
    from alignkit.errors import AlignkitError
    from alignkit.export_gguf import export_gguf

    with pytest.raises(AlignkitError, match="holds no trained model"):
        export_gguf(tmp_path)
