"""The constraint library: lm-eval's IFEval registry behind alignkit's interface."""

import random

import pytest

from alignkit.checks import constraints as C
from alignkit.data.instructions import HELDOUT_TASKS, TRAIN_TASKS, split_pairs, synthesize


def test_at_least_twenty_constraint_types_each_writes_and_checks():
    assert len(C.all_types()) >= 20
    assert len(C.SYNTH_TYPES) >= 20
    rng = random.Random(0)
    for cid in C.SYNTH_TYPES:
        text, con = C.describe(cid, rng, prompt="Describe a cat.")
        assert text.strip() and con.id == cid
        assert C.check(con, "") is False  # an empty answer never passes


def test_describe_is_deterministic_and_leaves_global_random_alone():
    random.seed(42)
    expected_next = random.random()
    random.seed(42)
    a = [C.describe(t, random.Random(7)) for t in C.SYNTH_TYPES]
    assert random.random() == expected_next
    b = [C.describe(t, random.Random(7)) for t in C.SYNTH_TYPES]
    assert a == b


CASES = [
    ("change_case:english_lowercase", {}, "the cat sat on the warm mat and slept all afternoon in the sun.", True),
    ("change_case:english_lowercase", {}, "The cat sat on the warm mat and slept all afternoon in the sun.", False),
    ("change_case:english_capital", {}, "THE CAT SAT ON THE WARM MAT AND SLEPT ALL AFTERNOON IN THE SUN.", True),
    ("punctuation:no_comma", {}, "No commas here at all.", True),
    ("punctuation:no_comma", {}, "Well, there is one.", False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Cats purr. Any other questions?", True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Cats purr.", False),
    ("startend:quotation", {}, '"A quoted answer."', True),
    ("startend:quotation", {}, "Not quoted.", False),
    ("detectable_format:json_format", {}, '{"answer": "cats"}', True),
    ("detectable_format:json_format", {}, "answer: cats", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n* three", False),
    ("detectable_format:title", {}, "<<Cats>>\nThey purr.", True),
    ("keywords:existence", {"keywords": ["purr"]}, "Cats purr loudly.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["dog"]}, "A dog barks.", False),
    ("length_constraints:number_words", {"num_words": 5, "relation": "less than"}, "Two words", True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"}, "One. Two. Three.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\nP.S. bye", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* and *b*", True),
]


@pytest.mark.parametrize("cid,kwargs,response,expected", CASES)
def test_checks_agree_with_lm_eval_reference(cid, kwargs, response, expected):
    """Same verdict as lm-eval's own IFEval scoring entry point on shared cases."""
    C.registry()
    from lm_eval.tasks.ifeval.utils import InputExample, test_instruction_following_strict

    ref = test_instruction_following_strict(InputExample(0, [cid], "Describe a cat.", [kwargs]), response)
    ours = C.check(C.Constraint(cid, kwargs), response, "Describe a cat.")
    assert ours == ref.follow_all_instructions == expected


def test_partial_credit_counts_constraints_met():
    cons = [C.Constraint("punctuation:no_comma", {}), C.Constraint("startend:quotation", {})]
    ok, frac, per = C.score(cons, "no commas but no quotes either")
    assert (ok, frac, per) == (False, 0.5, [True, False])
    ok, frac, _ = C.score(cons, '"no commas and quoted"')
    assert ok and frac == 1.0


def test_loose_check_forgives_a_preamble_line():
    con = C.Constraint("startend:quotation", {})
    text = 'Sure, here it is:\n"A quoted answer."'
    assert not C.check(con, text)
    assert C.check(con, text, loose=True)


def test_heldout_split_is_disjoint_from_training():
    assert not set(TRAIN_TASKS) & set(HELDOUT_TASKS)
    pairs = split_pairs()
    assert not {frozenset(p) for p in pairs["train"]} & {frozenset(p) for p in pairs["heldout"]}
    train = synthesize("train", 60)
    held = synthesize("heldout", 60)
    train_pairs = {frozenset(c["id"] for c in p.meta["constraints"]) for p in train if len(p.meta["constraints"]) == 2}
    held_pairs = {frozenset(c["id"] for c in p.meta["constraints"]) for p in held if len(p.meta["constraints"]) == 2}
    assert held_pairs and not train_pairs & held_pairs
    assert {p.meta["base_task"] for p in held} <= set(HELDOUT_TASKS)


def test_synthesis_is_deterministic_and_pairs_never_conflict():
    a, b = synthesize("train", 30, seed=3), synthesize("train", 30, seed=3)
    assert [p.id for p in a] == [p.id for p in b]
    assert len({p.id for p in a}) == 30
    for p in a:
        ids = [c["id"] for c in p.meta["constraints"]]
        assert 1 <= len(ids) <= 2
        if len(ids) == 2:
            assert not C.conflicts(*ids)
