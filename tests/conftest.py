"""Shared fixtures: a tiny random Llama built locally from a config, with the embedded
model's real tokenizer, so unit tests run in seconds without any download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    from alignkit.models.embedded import embedded_model_dir

    return embedded_model_dir()


def build_tiny_llama(path: Path, embedded_dir: Path, **sizes) -> Path:
    """A random Llama with the embedded model's tokenizer, saved to `path`; `sizes` override the
    tiny default shape (vLLM's CPU attention needs head_dim 64, for example)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(embedded_dir)
    shape = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2) | sizes
    cfg = LlamaConfig(vocab_size=len(tok), max_position_embeddings=1024, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True,
                      **shape)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def tiny_spin_recipe(model, *extra):
    """recipes/spin.yaml shrunk for the tiny model: one iteration, 6 prompts, 8-token answers. SPIN's
    data (reference answers beat the policy's own) gives every prompt a pair, so it always trains."""
    from alignkit.recipe import load_recipe

    return load_recipe(REPO / "recipes" / "spin.yaml", [
        f"model={model}", "iterations=1", "prompts.n=6", "generate.n=2", "generate.temperature=1.0",
        "generate.max_new_tokens=8", "train.epochs=1", "train.batch_size=4", "train.max_length=128",
        "evaluate.n=2", "evaluate.max_new_tokens=4", *extra])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, request) -> Path:
    """The tiny model, with the tokenizer of the embedded model, or of ALIGNKIT_TEST_TOKENIZER (a
    folder with its tokenizer files: a GPU machine without the model package, tests/test_cuda.py)."""
    tokenizer = os.environ.get("ALIGNKIT_TEST_TOKENIZER")
    source = Path(tokenizer) if tokenizer else request.getfixturevalue("embedded_dir")
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), source)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """The tiny random model behind the real HF backend (one per test module)."""
    from alignkit.models.hf import HFBackend

    return HFBackend(str(tiny_model_dir), batch_size=8)


class Recorder:
    """The real backend, recording what a signal asks of it: `specs` (the model specs it was resolved
    for, when bound as the resolver itself: `signal.bind(rec)`), `calls` (conversations continued
    with `generate`) and `scored` (conversations scored with `choice_logprobs`)."""

    def __init__(self, backend, name: str | None = None):
        self.backend, self.name = backend, name or backend.name
        self.specs, self.calls, self.scored = [], [], []

    def __call__(self, spec):
        self.specs.append(spec)
        return self

    def generate(self, conversations, sampling, **kw):
        self.calls.append(conversations)
        return self.backend.generate(conversations, sampling, **kw)

    def logprobs(self, conversations, completions):
        return self.backend.logprobs(conversations, completions)

    def choice_logprobs(self, conversations, choices):
        self.scored.append(conversations)
        return self.backend.choice_logprobs(conversations, choices)


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `alignkit` CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "alignkit", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=timeout)
