"""Broad training prompts (real requests, Magpie), their deduplication against every evaluation set,
and the out-of-distribution IFEval benchmark with its fixed dev/test partition."""

from __future__ import annotations

import glob

import pytest

from alignkit.data import broad
from alignkit.data.dedup import EvalIndex, evaluation_texts
from alignkit.errors import AlignkitError
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.recipe import PromptsConfig


def test_eval_index_catches_copies_containment_and_shared_word_runs():
    ix = EvalIndex.build(["Write a haiku about autumn leaves falling slowly in the quiet park at dusk."])
    assert ix.overlaps("write a HAIKU about autumn leaves falling slowly in the quiet park at dusk")  # a copy
    assert ix.overlaps("Please: write a haiku about autumn leaves falling slowly, and make it sad.")  # 8-word run
    assert not ix.overlaps("Write a haiku about winter snow.")
    short = EvalIndex.build(["Describe a snowy morning."])
    assert short.overlaps("describe a snowy morning") and not short.overlaps("Describe a snowy evening.")


def test_every_evaluation_set_is_indexed():
    texts = evaluation_texts()
    assert len(texts["ifeval"]) == 541 and len(texts["mtbench"]) == 160 and texts["ifeval_heldout"]
    assert texts["ifbench"] and texts["humaneval"]


def test_real_requests_overlapping_an_evaluation_prompt_are_dropped():
    kept = broad.requests(["alpaca_eval", "arena_hard"])
    index = EvalIndex.build()
    assert len(kept) > 500 and not any(index.overlaps(t) for _, t in kept)
    # AlpacaEval's Vicuna questions include MT-Bench's: they must not reach training
    mt = "Compose an engaging travel blog post about a recent trip to Hawaii"
    assert not any(t.startswith(mt) for _, t in kept)
    assert all(len(t.split()) <= 60 and sum(c.isascii() for c in t) >= 0.98 * len(t) for _, t in kept)


def test_the_technical_pool_holds_arena_hards_other_category():
    technical, creative = ({t for _, t in broad.requests([pool])} for pool in ("arena_hard_technical", "arena_hard"))
    assert len(technical) > 100 and not technical & creative
    assert any("python" in t.lower() for t in technical)  # code requests, which the creative pool lacks


def test_balance_gives_each_pool_an_equal_share():
    def shares(balance: bool) -> dict[str, int]:
        cfg = PromptsConfig(source="broad_instructions", requests=["alpaca_eval", "arena_hard_technical"], n=40,
                            balance=balance)
        return {pool: sum(p.meta["source"].endswith(pool) for p in broad.synthesize(cfg))
                for pool in ("alpaca_eval", "arena_hard_technical")}

    assert shares(True) == {"alpaca_eval": 20, "arena_hard_technical": 20}
    assert shares(False)["arena_hard_technical"] < 15  # 165 of about 900 requests: drawn in proportion
    assert broad.interleave([("a", "1"), ("a", "2"), ("a", "3"), ("b", "x")]) == [
        ("a", "1"), ("b", "x"), ("a", "2"), ("a", "3")]


def test_broad_prompts_carry_checkable_constraints_from_the_training_pairs():
    from alignkit.data.instructions import split_pairs

    cfg = PromptsConfig(source="broad_instructions", n=40, seed=3)
    prompts = broad.synthesize(cfg)
    assert len(prompts) == 40 and len({p.text for p in prompts}) == 40
    heldout_pairs = {frozenset(p) for p in split_pairs()["heldout"]}
    for p in prompts:
        ids = [c["id"] for c in p.meta["constraints"]]
        assert 1 <= len(ids) <= 2 and p.meta["split"] == "train"
        assert p.text.startswith(p.meta["base_task"])
        assert frozenset(ids) not in heldout_pairs or len(ids) == 1
    assert broad.synthesize(cfg)[0].text == prompts[0].text  # seeded


def test_request_pools_are_validated():
    with pytest.raises(AlignkitError, match="prompts.path"):
        broad.synthesize(PromptsConfig(source="broad_instructions", requests=["file"], n=2))
    with pytest.raises(ValueError):
        PromptsConfig(source="broad_instructions", requests=["wikipedia"])


def test_file_requests(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text('{"prompt": "Write a friendly note to my neighbour about the garden fence."}\n'
                 '{"prompt": "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting '
                 'cultural experiences and must-see attractions."}\n')
    prompts = broad.synthesize(PromptsConfig(source="broad_instructions", requests=["file"], path=str(f), n=3))
    assert {p.meta["base_task"] for p in prompts} == {"Write a friendly note to my neighbour about the garden fence."}


def test_magpie_writes_requests_from_the_bare_template(tiny):
    prefix = broad.magpie_prefix(tiny.tokenizer)
    assert prefix.endswith("<|im_start|>user\n") and "<|im_start|>assistant" not in prefix
    outs = tiny.complete([prefix] * 2, __import__("alignkit.models.base", fromlist=["Sampling"]).Sampling(
        n=1, temperature=1.0, max_new_tokens=8))
    assert len(outs) == 2 and all(isinstance(o[0], str) for o in outs)
    # a random tiny model writes noise: the filters keep none of it, and the list stays well-formed
    assert all(broad.clean_request(r) for r in broad.magpie(tiny, 4, max_new_tokens=8))


def test_ifeval_ood_test_and_both_dev_sets_partition_googles_541_prompts():
    names = ("ifeval_ood", "ifeval_ood_dev", "ifeval_ood_dev2")
    parts = {name: BENCHMARKS[name].prompts(1000, 0) for name in names}
    assert [len(parts[n]) for n in names] == [BENCHMARKS[n].size for n in names] == [200, 217, 124]
    keys = [{p.meta["key"] for p in parts[n]} for n in names]
    assert len(set().union(*keys)) == 541  # disjoint, and together all of IFEval
    assert [BENCHMARKS[n].split for n in names] == ["ood", "dev", "dev"]
    # the reported test set is still the first 200 of the test part, as every documented result used
    assert [p.id for p in parts["ifeval_ood"]] == [p.id for p in BENCHMARKS["ifeval_ood"].prompts(200, 0)]


def test_ifeval_ood_is_scored_by_the_checkers():
    bench = BENCHMARKS["ifeval_ood_dev"]
    item = next(p for p in bench.prompts(1000, 0)
                if [c["id"] for c in p.meta["constraints"]] == ["change_case:english_lowercase"])
    assert bench.score(item, "all of this answer is in lowercase letters.") == 1.0
    assert bench.score(item, "This answer has Capitals.") == 0.0


def test_new_recipe_fields_leave_existing_stage_keys_unchanged():
    from pydantic_core import to_jsonable_python

    from alignkit.pipeline import _key
    from alignkit.recipe import load_recipe
    from alignkit.types import content_hash

    # every field added after the stage keys were fixed (sessions 10-23: issues 22, 23, 24 and 25)
    late = {"requests", "max_request_words", "rephrase", "budgets", "bf16", "group_by_length", "prompt_column",
            "messages_column", "meta_columns", "shuffle", "report_to", "qlora", "engine", "in_context", "interpolate",
            "reseed", "ld_alpha", "balance"}
    for path in glob.glob("recipes/*.yaml"):
        r = load_recipe(path)
        for part in (r.prompts, r.evaluate, r.generate, r.train):
            if any(getattr(part, f, None) != type(part).model_fields[f].default for f in late & set(part.model_fields)):
                continue  # a recipe that sets a new field has a new key, as it should
            old = to_jsonable_python([part])[0]
            for f in late:
                old.pop(f, None)
            assert _key(part) == content_hash([old]), (path, type(part).__name__)


def test_the_vllm_engine_is_part_of_the_generation_key_and_is_refused_on_ray():
    from alignkit.models import engine_spec
    from alignkit.pipeline import _key
    from alignkit.recipe import load_recipe

    hf, vllm = (load_recipe("recipes/verifiable_instructions.yaml", [f"generate.engine={e}"]) for e in ("hf", "vllm"))
    assert _key(hf.generate) != _key(vllm.generate)  # vLLM samples other texts than transformers
    assert _key(hf.evaluate) != _key(load_recipe("recipes/verifiable_instructions.yaml",
                                                 ["evaluate.engine=vllm"]).evaluate)
    assert engine_spec("embedded", "vllm") == "vllm:embedded" and engine_spec("embedded", "hf") == "embedded"
    assert engine_spec("openai:m@http://x", "vllm") == "openai:m@http://x"  # a spec that names its backend keeps it
    with pytest.raises(AlignkitError, match="executor: local"):
        load_recipe("recipes/verifiable_instructions.yaml", ["generate.engine=vllm", "executor=ray"])


def test_the_audit_is_keyed_by_the_weights_dtype_and_float32_keeps_the_earlier_key(tmp_path):
    from alignkit.pipeline import _key
    from alignkit.recipe import load_recipe
    from alignkit.stages import Stages

    fp32, bf16 = (Stages(load_recipe("recipes/verifiable_instructions.yaml", [f"dtype={dt}"]), tmp_path,
                         log=lambda *_: None) for dt in ("float32", "bfloat16"))
    # an audit answered in bf16 is not reused for a float32 run
    assert bf16.audit_key("ifeval_heldout") != fp32.audit_key("ifeval_heldout")
    # float32: the key of the code before the dtype was keyed, so earlier audits are reused
    r = fp32.recipe
    old = _key("audit", fp32.base_key, r.signals, r.audit.model_dump(mode="json", exclude={"source"}),
               "ifeval_heldout", r.generate.max_new_tokens)
    assert fp32.audit_key("ifeval_heldout") == old


def test_every_broad_constraint_has_other_wordings_that_keep_its_parameters():
    import random

    from alignkit.checks import constraints as C
    from alignkit.data.phrasings import PHRASINGS, rephrase

    assert set(PHRASINGS) == set(C.BROAD_TYPES)
    rng = random.Random(0)
    for cid in C.BROAD_TYPES:
        for _ in range(5):
            _, con = C.describe(cid, rng, prompt="Tell me about cats.")
            text = rephrase(cid, con.kwargs, rng)
            assert text and "{" not in text, cid
            for v in con.kwargs.values():  # the parameters the checker will verify are spelled out
                if isinstance(v, (int, str)) and cid != "combination:repeat_prompt":
                    assert str(v) in text, (cid, v, text)


def test_rephrased_prompts_keep_heldout_untouched_and_repeat_the_whole_request():
    import random

    from alignkit.data.instructions import compose

    p = compose("Tell me about cats.", ["combination:repeat_prompt", "punctuation:no_comma"], random.Random(1),
                "train", rephrase=1.0)
    repeat = next(c for c in p.meta["constraints"] if c["id"] == "combination:repeat_prompt")
    # the request to repeat is everything before the repeat instruction, other constraints included
    assert repeat["kwargs"]["prompt_to_repeat"].startswith("Tell me about cats. ")
    assert p.text.startswith(repeat["kwargs"]["prompt_to_repeat"]) and p.meta["rephrase"] == 1.0
    plain = compose("Tell me about cats.", ["punctuation:no_comma"], random.Random(1), "train")
    assert "rephrase" not in plain.meta and "refrain from the use of any commas" in plain.text


def test_the_broad_recipe_end_to_end_on_the_tiny_model(tiny_model_dir, tmp_path):
    """The broad recipe as shipped (broad prompts, bf16, both benchmarks with their budgets), shrunk."""
    from conftest import REPO

    from alignkit.data.store import Stage
    from alignkit.pipeline import Runner
    from alignkit.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "verifiable_instructions_broad.yaml", [
        f"model={tiny_model_dir}", "prompts.n=4", "generate.max_new_tokens=8", "build.min_score=0.0",
        "train.max_length=128", "evaluate.n=3", "evaluate.max_new_tokens=8", "evaluate.budgets.ifeval_ood=12"])
    report = Runner(recipe, tmp_path, log=lambda *_: None).run()
    b = report["benchmarks"]
    assert b["ifeval_ood"]["split"] == "ood" and b["ifeval_heldout"]["split"] == "test"
    assert b["ifeval_ood"]["n"] == 3 and b["ifeval_heldout"]["n"] == 3
    metas = [g.prompt.meta for g in Stage.existing(tmp_path, "prompts").read_groups()]
    assert len(metas) == 4 and all(m["source"].startswith("alignkit.broad:") for m in metas)
    assert all(m["constraint_types"] == "broad" and m["rephrase"] == 0.7 for m in metas)
    assert "ifeval_ood" in report["breakdown"] and "constraints" in report["breakdown"]["ifeval_ood"]


def test_a_misspelled_or_empty_budget_is_a_recipe_error(tmp_path):
    from conftest import REPO

    from alignkit.recipe import load_recipe

    path = REPO / "recipes" / "verifiable_instructions.yaml"
    assert load_recipe(path).evaluate.budget("ifeval_ood") == 256
    with pytest.raises(AlignkitError, match="ifeval_od"):
        load_recipe(path, ["evaluate.budgets.ifeval_od=256"])
    with pytest.raises(AlignkitError, match="budgets"):
        load_recipe(path, ["evaluate.budgets.ifeval_ood=0"])
