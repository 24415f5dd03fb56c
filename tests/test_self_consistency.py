"""Self-consistency (inductive bias) on synthesised arithmetic: no model, seconds."""

import re

import pytest
from conftest import REPO

from alignkit.build import build_sft
from alignkit.data.arithmetic import TEMPLATES, extract_answer, split_of, synthesize
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.signals.base import describe_signals, get_signal
from alignkit.signals.inductive_bias import majority
from alignkit.types import Candidate, Group, Prompt


def _group(texts, answer=68, finish=None):
    prompt = Prompt(messages=[{"role": "user", "content": "Tom has 23 apples and buys 45 more. How many? "
                               "Answer with the number."}],
                    meta={"task": "arithmetic", "split": "train", "answer": answer, "source": "test"})
    finish = finish or ["stop"] * len(texts)
    origin = {"model": "m", "n": len(texts), "temperature": 0.7, "top_p": 1.0, "max_new_tokens": 48, "seed": 0}
    return Group(prompt, [Candidate(t, dict(origin, sample=i, finish_reason=f))
                          for i, (t, f) in enumerate(zip(texts, finish))])


def _annotate(group, **params):
    return get_signal("self_consistency")(**params).annotate([group])[0]


def _scores(group):
    return [c.value("self_consistency") for c in group.candidates]


@pytest.mark.parametrize("text, want", [
    ("23 + 45 = 68", "68"), ("The answer is **68**.", "68"), ("68.", "68"), ("= 68", "68"),
    ("He has 1,234 apples", "1234"), ("68.0", "68"), ("2.50 dollars", "2.5"), ("23 - 45 = -22", "-22"),
    ("pages 10-12", "12"), ("no number here", None), ("", None), ("Step 1: 23+45\nStep 2: 68\n", "68"),
])
def test_extract_answer(text, want):
    assert extract_answer(text) == want


def test_majority_vote_picks_the_modal_answer_and_marks_it():
    g = _annotate(_group(["23+45 = 68", "68", "It is 67.", "**68**", "I think 68."]))
    assert _scores(g) == [1.0, 1.0, 0.0, 1.0, 1.0]
    ann = g.candidates[0].annotations[0]
    assert ann.kind == "score" and "majority 68 with 4/5 votes" in ann.rationale
    assert g.candidates[0].value("self_consistency.agreement") == pytest.approx(0.8)
    assert ann.provenance["signal"] == "self_consistency" and ann.provenance["min_agreement"] == 0.5
    assert ann.provenance["extractor"].endswith("extract_answer")
    assert ann.provenance["model"] == "m" and ann.provenance["temperature"] == 0.7
    assert majority(["1", "2", "2", None]) == ("2", 2)


def test_tie_for_top_count_gives_no_positive():
    g = _annotate(_group(["68", "68", "67", "67"]), min_agreement=0.0)
    assert _scores(g) == [0.0] * 4
    assert "no majority" in g.candidates[0].annotations[0].rationale


def test_min_agreement_filters_low_agreement_groups():
    texts = ["68", "68", "68", "67", "66", "65", "64", "63"]  # 3/8 agree
    assert _scores(_annotate(_group(texts))) == [0.0] * 8
    assert _scores(_annotate(_group(texts), min_agreement=0.375)) == [1.0] * 3 + [0.0] * 5


def test_abstentions_do_not_vote_but_count_in_k():
    g = _annotate(_group(["68", "68", "I don't know", "no idea", "hmm"]))
    assert _scores(g) == [0.0] * 5  # 2/5 < 0.5
    assert "abstained" in g.candidates[2].annotations[0].rationale
    # A cut-off answer abstains unless require_complete is false.
    texts, finish = ["68", "68", "23 + 45"], ["stop", "stop", "length"]
    assert _scores(_annotate(_group(texts, finish=finish))) == [1.0, 1.0, 0.0]
    loose = _annotate(_group(["68", "45", "23 + 45"], finish=finish), require_complete=False)
    assert _scores(loose) == [0.0, 1.0, 1.0]
    assert _scores(_annotate(_group([]))) == []


class _NoPeeking(dict):
    def __getitem__(self, key):
        assert key != "answer", "a training signal read the ground truth"
        return super().__getitem__(key)

    def get(self, key, default=None):
        assert key != "answer", "a training signal read the ground truth"
        return super().get(key, default)


def test_signal_ignores_ground_truth():
    g = _annotate(_group(["70", "70", "70", "68"], answer=68))
    assert _scores(g) == [1.0, 1.0, 1.0, 0.0]  # the majority wins even though it is wrong
    guarded = _group(["70", "70", "68"])
    guarded.prompt.meta = _NoPeeking(guarded.prompt.meta)
    assert _scores(_annotate(guarded)) == [1.0, 1.0, 0.0]


def test_build_sft_keeps_one_majority_answer():
    g = _annotate(_group(["It is 67.", "23 + 45 = 68", "68", "68"]))
    rows = build_sft([g], "self_consistency", min_score=1.0, max_per_prompt=1)
    assert len(rows) == 1
    assert rows[0]["completion"] == [{"role": "assistant", "content": "23 + 45 = 68"}]
    assert rows[0]["prompt"] == g.prompt.messages
    assert build_sft([_annotate(_group(["68", "67"]))], "self_consistency") == []


def test_splits_are_disjoint_and_deterministic():
    train, held = synthesize("train", 300), synthesize("heldout", 300)
    assert [p.id for p in train] == [p.id for p in synthesize("train", 300)]
    assert [p.id for p in train] != [p.id for p in synthesize("train", 300, seed=1)]
    assert len({p.id for p in train}) == 300

    def triple(p):
        return p.meta["op"], *(int(x) for x in _numbers(p.text))

    assert not {triple(p) for p in train} & {triple(p) for p in held}
    used = {split: {_template_of(p) for p in ps} for split, ps in (("train", train), ("heldout", held))}
    assert used["train"] and used["heldout"] and not used["train"] & used["heldout"]
    for p in train + held:
        op, a, b = triple(p)
        assert split_of(op, a, b) == p.meta["split"]
        assert p.meta["answer"] == (a + b if op == "+" else a - b) >= 0
        assert p.meta["task"] == "arithmetic" and p.meta["source"] == "alignkit.arithmetic"
        assert p.text.endswith("Answer with the number.")


def test_operand_range_draws_easier_problems_of_the_same_split():
    easy = synthesize("train", 80, operands=(1, 9))
    assert len({p.id for p in easy}) == 80
    for p in easy:
        a, b = (int(x) for x in _numbers(p.text))
        assert 1 <= a <= 9 and 1 <= b <= 9 and split_of(p.meta["op"], a, b) == "train"
    # the default is the benchmarks' 2-digit range, drawn exactly as before the option existed
    assert [p.id for p in synthesize("train", 50)] == [p.id for p in synthesize("train", 50, operands=(10, 99))]
    assert {len(x) for p in synthesize("heldout", 50) for x in _numbers(p.text)} == {2}


def test_too_few_distinct_problems_in_the_range_is_an_error_not_a_hang():
    from alignkit.errors import AlignkitError

    # operands 1-2 give at most 3 (op, a, b) triples x 600 wordings: 5,000 cannot be drawn
    with pytest.raises(AlignkitError, match="distinct problems with operands 1-2") as err:
        synthesize("train", 5000, operands=(1, 2))
    assert err.value.where == "prompts.operands" and "prompts.n" in err.value.fix


def test_recipe_rejects_an_empty_operand_range():
    from alignkit.errors import AlignkitError
    from alignkit.recipe import load_recipe

    with pytest.raises(AlignkitError, match="operands"):
        load_recipe(REPO / "recipes" / "self_consistency.yaml", ["prompts.operands=[9, 1]"])


def _numbers(text):
    return re.findall(r"\d+", text)


def _template_of(prompt):
    """The one template (of either split) the prompt's text was made from."""
    found = [t for split in TEMPLATES.values() for ts in split.values() for t in ts
             if re.fullmatch(re.escape(t).replace(r"\{n\}", r"\w+").replace(r"\{x\}", r"\w+")
                             .replace(r"\{a\}", r"\d+").replace(r"\{b\}", r"\d+") + " Answer with the number.",
                             prompt.text)]
    assert len(found) == 1, prompt.text
    return found[0]


def test_benchmark_scores_by_last_number():
    bench = BENCHMARKS["arithmetic_heldout"]
    p = bench.prompts(3, 0)[0]
    assert p.meta["split"] == "heldout"
    answer = p.meta["answer"]
    assert bench.score(p, f"The total is **{answer}**.") == 1.0
    assert bench.score(p, f"{answer} ... so {answer + 1}") == 0.0
    assert bench.score(p, "I cannot tell.") == 0.0


def test_signal_is_registered_with_its_source():
    rows = {r["name"]: r for r in describe_signals()}
    assert rows["self_consistency"]["source"] == "inductive_bias"
    assert rows["self_consistency"]["kind"] == "score"


def test_recipe_loads_and_its_prompt_source_is_arithmetic():
    from alignkit.data.prompts import load_prompts
    from alignkit.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "self_consistency.yaml", ["prompts.n=5"])
    assert recipe.build.signal == "self_consistency" and recipe.build.tiebreak is None
    assert recipe.evaluate.benchmarks == ["arithmetic_heldout"]
    prompts = load_prompts(recipe.prompts)
    assert len(prompts) == 5 and all(p.meta["split"] == "train" for p in prompts)
    # easy-to-hard: single-digit training problems, the 2-digit benchmark untouched
    assert recipe.prompts.operands == (1, 9)
    assert all(int(x) < 10 for p in prompts for x in _numbers(p.text))
    # the audit probes those training problems with as many samples as the vote uses
    assert recipe.audit.source == "training" and recipe.audit.k == recipe.generate.n
