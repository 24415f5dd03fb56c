"""HF backend on a tiny random model with the embedded tokenizer."""

import pytest
import torch

from alignkit.models.base import Sampling
from alignkit.models.hf import HFBackend

CONVS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Tell me a much longer story about a cat who lived in a lighthouse by the sea."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}],
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(str(tiny_model_dir), batch_size=2)


def test_n_samples_per_prompt(backend):
    out = backend.generate(CONVS, Sampling(n=3, temperature=1.0, max_new_tokens=5, seed=1))
    assert len(out) == 3 and all(len(o) == 3 for o in out)
    assert all(isinstance(t, str) for o in out for t in o)


def test_left_padded_batches_match_one_at_a_time(backend):
    """Greedy output must not depend on what a prompt is batched with (padding side, masks)."""
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=8)
    batched = backend.generate(CONVS, greedy)
    single = [backend.generate([c], greedy)[0] for c in CONVS]
    assert batched == single
    assert backend.tokenizer.padding_side == "left"


def test_sampling_is_reproducible_for_a_seed(backend):
    s = Sampling(n=2, temperature=1.0, max_new_tokens=6, seed=5)
    assert backend.generate(CONVS, s) == backend.generate(CONVS, s)
    other = backend.generate(CONVS, Sampling(n=2, temperature=1.0, max_new_tokens=6, seed=6))
    assert other != backend.generate(CONVS, s)


def test_logprobs_match_a_direct_forward_pass(backend):
    tok, model = backend.tokenizer, backend.model
    comps = ["Hello there", "A cat.", "Because"]
    got = backend.logprobs(CONVS, comps)
    for conv, comp, value in zip(CONVS, comps, got):
        prompt = tok(tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True),
                     add_special_tokens=False).input_ids
        ids = prompt + tok(comp, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        logp = torch.log_softmax(logits, -1)
        expected = sum(float(logp[i - 1, ids[i]]) for i in range(len(prompt), len(ids)))
        assert value == pytest.approx(expected, abs=1e-3)
    assert all(v < 0 for v in got)


def test_missing_model_path_is_a_clear_error(tmp_path):
    from alignkit.errors import AlignkitError

    with pytest.raises(AlignkitError, match="does not exist"):
        HFBackend(str(tmp_path / "nope"))


@pytest.fixture(scope="module")
def sharp(backend):
    """A tiny random model with large weights: its logits move visibly with every position and
    mask change, so a cache or position slip cannot hide under a tolerance."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**{**backend.model.config.to_dict(), "initializer_range": 0.5})
    torch.manual_seed(0)
    return HFBackend("sharp-tiny", model=LlamaForCausalLM(cfg).eval(), tokenizer=backend.tokenizer, batch_size=3)


def test_choice_logprobs_with_a_shared_prefix_match_full_forward_passes(sharp, monkeypatch):
    """A long common prefix (rubric) is run once and its cache reused; suffixes of different
    lengths must score exactly as if each conversation ran alone."""
    import alignkit.models.hf as hf

    backend = sharp
    rubric = "Judge the answer below. " * 8
    convs = [[{"role": "user", "content": rubric + tail}]
             for tail in ("Yes?", "Is 2 + 2 = 4 a correct statement, in your view?", "No.", "Answer: 5")]
    seqs = [backend.tokenizer(backend._render(c), add_special_tokens=False).input_ids for c in convs]
    assert backend._shared_prefix(seqs)[0] >= hf.SHARED_PREFIX_MIN  # the fast path is taken
    shared = backend.choice_logprobs(convs, ["Yes", "No"])
    monkeypatch.setattr(hf, "SHARED_PREFIX_MIN", 10**9)
    assert backend._shared_prefix(seqs) is None
    plain = backend.choice_logprobs(convs, ["Yes", "No"])
    alone = [backend.choice_logprobs([c], ["Yes", "No"])[0] for c in convs]
    flat = [v for row in shared for v in row]
    assert max(flat) - min(flat) > 0.5  # the rows really differ
    assert flat == pytest.approx([v for row in plain for v in row], abs=1e-3)
    assert flat == pytest.approx([v for row in alone for v in row], abs=1e-3)
