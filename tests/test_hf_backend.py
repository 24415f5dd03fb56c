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


def _unshared(backend):
    """The same weights with prefix sharing off (a constructor argument: no module state to patch)."""
    return HFBackend(backend.name, model=backend.model, tokenizer=backend.tokenizer, batch_size=backend.batch_size,
                     shared_prefix_min=10**9)


RUBRIC = "Judge the answer below. " * 8
QUESTIONS = ["What is the sum of twelve and thirty, written out as a number in digits please?",
             "Name the colour you get when you mix blue and yellow paint together in a bucket."]


def _judge_convs():
    """A rubric all rows share, questions each shared by several answers, one lone row."""
    answers = ["42", "It is 42 for sure, no doubt.", "41?", "Green.", "green, probably", "Yes"]
    convs = [[{"role": "user", "content": f"{RUBRIC}{q}\nAnswer: {a}"}]
             for q, group in zip(QUESTIONS, (answers[:3], answers[3:5])) for a in group]
    return convs + [[{"role": "user", "content": RUBRIC + "Is 2 + 2 = 4 a correct statement, in your view?"}]]


def test_choice_logprobs_with_shared_prefixes_match_full_forward_passes(sharp):
    """The rubric runs once, each question once for its answers; every row must score exactly as
    if it ran alone (batch size 3 < rows, so groups and tails span several batches)."""
    import alignkit.models.hf as hf
    from alignkit.models.prefix import plan

    backend, convs = sharp, _judge_convs()
    seqs = [backend.tokenizer(backend._render(c), add_special_tokens=False).input_ids for c in convs]
    p = plan(seqs, [len(s) - 1 for s in seqs], hf.SHARED_PREFIX_MIN)
    assert p.root >= hf.SHARED_PREFIX_MIN and sorted(len(r) for e, r in p.groups if e) == [2, 3]  # fast paths taken
    shared = backend.choice_logprobs(convs, ["Yes", "No"])
    unshared = _unshared(backend)
    assert plan(seqs, [len(s) - 1 for s in seqs], unshared.shared_prefix_min).root == 0
    plain = unshared.choice_logprobs(convs, ["Yes", "No"])
    alone = [backend.choice_logprobs([c], ["Yes", "No"])[0] for c in convs]
    flat = [v for row in shared for v in row]
    assert max(flat) - min(flat) > 0.5  # the rows really differ
    assert flat == pytest.approx([v for row in plain for v in row], abs=1e-3)
    assert flat == pytest.approx([v for row in alone for v in row], abs=1e-3)


def test_logprobs_with_shared_prompts_match_full_forward_passes(sharp):
    """Completions of one prompt share it (cached once); the sums must equal a plain forward pass."""
    tok, model = sharp.tokenizer, sharp.model
    convs = [c for c in _judge_convs() for _ in range(2)]
    comps = ["Yes", "No, that is wrong.", "Fine", "A much longer completion with several more tokens."] * 3 + ["x", ""]
    got = sharp.logprobs(convs, comps)
    for conv, comp, value in zip(convs, comps, got):
        prompt = tok(sharp._render(conv), add_special_tokens=False).input_ids
        ids = prompt + tok(comp, add_special_tokens=False).input_ids
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        expected = sum(float(logp[i - 1, ids[i]]) for i in range(len(prompt), len(ids)))
        assert value == pytest.approx(expected, abs=1e-3, rel=1e-4)
    assert len({round(v, 3) for v in got}) > 8  # distinct values: a mixed-up row would show


def test_logprobs_with_prompt_groups_but_no_common_root(sharp):
    """Prompts that share nothing (different system turns), each scored for several completions:
    groups without a root run from scratch, and must still equal full forward passes."""
    import alignkit.models.hf as hf
    from alignkit.models.prefix import plan

    convs = [[{"role": "system", "content": f"{name} " * 6}, {"role": "user", "content": "Say something brief."}]
             for name in ("Alpha", "Zulu", "Kilo")]
    convs = [c for c in convs for _ in range(3)]
    comps = ["Yes.", "No, never.", "Perhaps later, when it is done."] * 3
    seqs = [sharp.tokenizer(sharp._render(c), add_special_tokens=False).input_ids for c in convs]
    p = plan(seqs, [len(s) - 1 for s in seqs], hf.SHARED_PREFIX_MIN)
    assert p.root == 0 and sum(1 for ext, _ in p.groups if ext) == 3
    got = sharp.logprobs(convs, comps)
    assert got == pytest.approx(_unshared(sharp).logprobs(convs, comps), abs=1e-3, rel=1e-4)


def test_base_model_stops_are_written_once_and_end_generation(tiny_model_dir, tmp_path):
    """A converted base model's turn ends at any of several one-token stops (the Gemma teacher's
    newline and blank line): the generation config is updated in place, and `generate` stops on
    any id of the list and reports it as "stop"."""
    import shutil

    from transformers import GenerationConfig

    from alignkit.errors import AlignkitError
    from alignkit.models.embedded import _set_stops

    path = shutil.copytree(tiny_model_dir, tmp_path / "base")
    backend = HFBackend(str(path))
    ids = [backend.tokenizer(s, add_special_tokens=False).input_ids[0] for s in ("\n", "\n\n")]
    _set_stops(path, ("\n", "\n\n"))
    assert GenerationConfig.from_pretrained(path).eos_token_id == ids + [backend.tokenizer.eos_token_id]
    with pytest.raises(AlignkitError, match="one token"):
        _set_stops(path, ("two words",))

    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=6)
    assert backend.generate(CONVS[:1], greedy, details=True)[0][0][1] == "length"  # random: never stops
    prompt = backend.tokenizer(backend._render(CONVS[0]), return_tensors="pt", add_special_tokens=False)
    first = int(backend.model(**prompt).logits[0, -1].argmax())  # the greedy first token
    backend.model.generation_config.eos_token_id = [ids[0], first]  # a list, as a converted base model has
    assert backend.generate(CONVS[:1], greedy, details=True)[0] == [("", "stop")]


def _context_convs():
    """Conversations behind one long shared context (an in-context alignment prompt), of
    different lengths, so batches pad between the shared part and each row's own tokens."""
    system = "You are a careful assistant. Answer briefly and follow every instruction. " * 6
    asks = ["Say hi.", "Name a colour you like and say why in one short sentence.", "2 + 2?",
            "Write three words about the sea, each on its own line, all in lowercase letters.", "Why?"]
    return [[{"role": "system", "content": system}, {"role": "user", "content": a}] for a in asks]


def test_generation_runs_a_shared_context_once_with_the_same_answers(sharp):
    """The shared context is computed once and each batch continues copies of its cache; greedy and
    seeded sampled answers must equal those of plain left-padded generation (batch 3 < 5 rows)."""
    import alignkit.models.hf as hf

    convs = _context_convs()
    ids = [sharp.tokenizer(sharp._render(c), add_special_tokens=False).input_ids for c in convs]
    root = hf._shared_root(ids, sharp.generate_prefix_min)
    assert root >= hf.GENERATE_PREFIX_MIN  # the fast path is taken
    prefix = sharp._forward(None, [], [ids[0][:root]], cache=True)
    assert hf._cache_kw(sharp.model) in sharp._generation_inputs(ids[:3], root, prefix)
    plain = HFBackend(sharp.name, model=sharp.model, tokenizer=sharp.tokenizer, batch_size=sharp.batch_size,
                      generate_prefix_min=10**9)
    for sampling in (Sampling(n=1, temperature=0.0, max_new_tokens=12), Sampling(n=2, temperature=1.0,
                                                                                  max_new_tokens=12, seed=3)):
        got = sharp.generate(convs, sampling, details=True)
        assert got == plain.generate(convs, sampling, details=True)
        assert len({text for row in got for text, _ in row}) > 3  # the rows really differ


def test_shared_root_leaves_each_row_a_token_and_ignores_short_prefixes():
    import alignkit.models.hf as hf

    assert hf._shared_root([[1, 2, 3, 4], [1, 2, 3, 4, 5]], 2) == 3  # the shorter row keeps token 4
    assert hf._shared_root([[1, 2, 3, 9], [1, 2, 3, 4, 5]], 2) == 3
    assert hf._shared_root([[1, 2, 3, 9], [1, 2, 3, 4, 5]], 4) == 0  # too short to be worth a cache
    assert hf._shared_root([[7, 2], [1, 2]], 1) == 0


def test_continuous_batching_gives_the_static_batches_greedy_answers(sharp, monkeypatch):
    """transformers' continuous batching (a finished answer's slot refilled at once; prompts sharing
    a context share its cache pages) must give the same greedy answers and finish reasons as
    alignkit's static left-padded batches, with more prompts than slots."""
    convs = CONVS + _context_convs()
    fast = HFBackend(sharp.name, model=sharp.model, tokenizer=sharp.tokenizer, batch_size=sharp.batch_size,
                     continuous=True)
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=12)
    calls = []
    real = sharp.model.generate_batch
    monkeypatch.setattr(sharp.model, "generate_batch", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = fast.generate(convs, greedy, details=True)
    assert calls == [1]  # the continuous path ran (the real generate_batch, counted)
    assert got == sharp.generate(convs, greedy, details=True)
    assert len({text for row in got for text, _ in row}) > 3  # the rows really differ
    sampled = Sampling(n=2, temperature=1.0, max_new_tokens=6, seed=3)  # sampling keeps the static path
    assert fast.generate(convs, sampled) == sharp.generate(convs, sampled)
    assert calls == [1]
