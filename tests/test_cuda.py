"""On a CUDA GPU: the transformers backend placed with device_map and TRL training through
alignkit's `train`, on the tiny random model. Skipped without CUDA (CI has none); run on a GPU
machine with `python -m pytest tests/test_cuda.py` (docs/benchmarks.md, "GPU checks")."""

import pytest
import torch

from alignkit.config import TrainConfig
from alignkit.models.base import Sampling
from alignkit.models.hf import HFBackend
from alignkit.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CONVS = [[{"role": "user", "content": "Hi"}],
         [{"role": "user", "content": "Tell me a longer story about a cat who lived in a lighthouse."}],
         [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]]
WORDS = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "yuzu"]
SFT = [{"prompt": [{"role": "user", "content": f"Say {w}."}],
        "completion": [{"role": "assistant", "content": f"{w} {w} {w}."}]} for w in WORDS]
DPO = [{"prompt": [{"role": "user", "content": f"Say {w}."}],
        "chosen": [{"role": "assistant", "content": f"{w}."}],
        "rejected": [{"role": "assistant", "content": "No."}]} for w in WORDS]


@pytest.fixture(autouse=True)
def exact_matmuls():
    """float32 on the GPU without TF32, so it can be compared with the CPU; the flags come back after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_backend_on_cuda_matches_the_cpu(tiny_model_dir):
    cpu = HFBackend(str(tiny_model_dir), batch_size=2)
    gpu = HFBackend(str(tiny_model_dir), batch_size=2, device_map="cuda:0")
    assert next(gpu.model.parameters()).device.type == "cuda"
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=8)
    assert gpu.generate(CONVS, greedy, details=True) == cpu.generate(CONVS, greedy, details=True)
    answers = ["Hello there", "A cat.", "Because"]
    for a, b in zip(gpu.logprobs(CONVS, answers), cpu.logprobs(CONVS, answers)):
        assert a == pytest.approx(b, abs=1e-3)
    for a, b in zip(gpu.choice_logprobs(CONVS, ["A", "B"]), cpu.choice_logprobs(CONVS, ["A", "B"])):
        assert a == pytest.approx(b, abs=1e-3)
    sampled = Sampling(n=2, temperature=1.0, max_new_tokens=6, seed=5)
    assert gpu.generate(CONVS, sampled) == gpu.generate(CONVS, sampled)  # seeded on the GPU too
    half = HFBackend(str(tiny_model_dir), batch_size=2, device_map="cuda:0", dtype="bfloat16")
    assert next(half.model.parameters()).dtype == torch.bfloat16 and len(half.generate(CONVS, greedy)) == 3


@pytest.mark.parametrize("method, rows, bf16", [("sft", SFT, True), ("sft", SFT, False), ("dpo", DPO, True)])
def test_training_runs_on_the_gpu_and_changes_the_model(tiny_model_dir, tmp_path, method, rows, bf16):
    from transformers import AutoModelForCausalLM

    torch.cuda.reset_peak_memory_stats()
    cfg = TrainConfig(method=method, epochs=1, batch_size=4, max_length=64, learning_rate=1e-2, bf16=bf16)
    info = train(method, rows, cfg, str(tiny_model_dir), tmp_path / "work", tmp_path / "model")
    assert torch.cuda.max_memory_allocated() > 0  # the trainer put the model on the GPU
    assert info["steps"] == 2 and info["train_loss"] == info["train_loss"]  # not NaN
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))
    assert not any("lora" in k for k in tuned.state_dict())  # the adapter was merged
