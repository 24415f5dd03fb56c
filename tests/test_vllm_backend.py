"""The vLLM backend on a GPU, against the transformers backend on the same tiny model. Skips
cleanly without vllm or a CUDA GPU (CI has neither); without vllm, the spec fails clearly."""

import importlib.util

import pytest

from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling

CONVS = [[{"role": "user", "content": "Say hi."}], [{"role": "user", "content": "Count to three."}]]
HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_without_vllm_the_spec_says_what_to_install():
    from alignkit.models import load_backend

    with pytest.raises(AlignkitError, match="needs the vllm package"):
        load_backend("vllm:embedded")


@pytest.mark.skipif(not HAS_VLLM or not _cuda(), reason="needs vllm and a CUDA GPU")
def test_vllm_backend_matches_the_transformers_backend(tiny_model_dir):
    from alignkit.models.hf import HFBackend
    from alignkit.models.vllm import VLLMBackend

    v = VLLMBackend(f"vllm:{tiny_model_dir}", gpu_memory_utilization=0.2, enforce_eager=True)
    hf = HFBackend(str(tiny_model_dir))
    out = v.generate(CONVS, Sampling(n=3, temperature=1.0, max_new_tokens=8), details=True)
    assert [len(r) for r in out] == [3, 3] and all(f in ("stop", "length") for r in out for _, f in r)
    comp = ["Hello there", "One two three"]
    assert v.logprobs(CONVS, comp) == pytest.approx(hf.logprobs(CONVS, comp), abs=0.05)
    top = hf.token_logprobs(CONVS[0], "", top_k=2)[0]["top_logprobs"]
    choices = [t["token"] for t in top]
    assert v.choice_logprobs(CONVS[:1], choices)[0] == pytest.approx([t["logprob"] for t in top], abs=0.05)
