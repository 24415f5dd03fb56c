"""checker_revision: the environment's minimal edits, always re-verified by the checker."""

import random

import pytest

from alignkit.checks import constraints as C
from alignkit.checks.repairs import REPAIRS, halve, overrun, repair, trim_unfinished
from alignkit.checks.repetition import loops
from alignkit.signals.base import get_signal
from alignkit.types import Candidate, Group, Prompt

TEXT = ("Cats are small, curious animals. They sleep for most of the day. Many people keep them as pets. "
        "A cat purrs when it is happy. Some cats love to climb trees. They groom themselves often.")
GARDEN = ("Gardens need water every morning. Tomatoes grow best in full sun. Basil likes warm soil. "
          "Mulch keeps the roots cool. Prune the tomatoes weekly. Harvest when the fruit is red.")


@pytest.mark.parametrize("cid", sorted(REPAIRS))
def test_every_repair_makes_its_constraint_pass(cid):
    """For many random parameter draws, the edited text passes lm-eval's own check."""
    rng = random.Random(cid)
    for _ in range(10):
        _, con = C.describe(cid, rng, prompt="Describe a cat.")
        fixed = repair(TEXT, [con.as_dict()], "Describe a cat.")
        if cid == "length_constraints:number_sentences" and con.kwargs["relation"] == "at least":
            continue  # "at least N" cannot be met by an edit; the signal then keeps nothing
        if cid == "length_constraints:number_words" and con.kwargs["relation"] == "at least":
            continue
        assert C.check(con, fixed, "Describe a cat."), (con, fixed)


def test_types_without_a_safe_edit_are_not_repaired():
    assert repair(TEXT, [{"id": "keywords:letter_frequency", "kwargs": {}}], "x") is None


def test_trim_unfinished_keeps_whole_sentences_or_lines():
    assert trim_unfinished("One. Two! Three is cut") == "One. Two!"
    assert trim_unfinished("* a\n* b\n* c is cu") == "* a\n* b"
    assert trim_unfinished("no sentence end at all") is None
    assert trim_unfinished("Short. " + "x" * 100) is None  # would keep too little


def test_halve_keeps_the_first_half_of_the_sentences_or_lines():
    assert halve(GARDEN) == ("Gardens need water every morning. Tomatoes grow best in full sun. "
                             "Basil likes warm soil.")
    assert halve("* one a\n* two b\n* three c\n* four d\n") == "* one a\n* two b"  # line structure kept
    assert halve("One. Two.") is None  # under three parts: too short to halve
    assert halve("The first sentence holds nearly every word of this answer. B. C. D.") is None  # keeps > 70%


def _group(texts, finish=None):
    task = "Describe a cat."
    cons = [{"id": "change_case:english_lowercase", "kwargs": {}}, {"id": "punctuation:no_comma", "kwargs": {}}]
    text = task + " Your entire response should be in English, and in all lowercase letters."
    p = Prompt([{"role": "user", "content": text}], {"base_task": task, "constraints": cons})
    return Group(p, [Candidate(t, {"finish_reason": finish or "stop"}) for t in texts])


def test_revision_is_added_only_when_it_passes_and_is_annotated():
    g = _group([TEXT])
    get_signal("verifiable_instructions")().annotate([g])
    get_signal("checker_revision")().annotate([g])
    assert len(g.candidates) == 2
    orig, rev = g.candidates
    assert orig.value("verifiable_instructions") == 0.0
    assert rev.value("verifiable_instructions") == 1.0
    assert rev.origin["signal"] == "checker_revision" and rev.origin["revised_from"] == 0
    assert rev.text == rev.text.lower() and "," not in rev.text
    assert "fixed:" in orig.value("checker_revision")


def test_passing_candidates_are_left_alone():
    g = _group(["cats are small animals. they sleep a lot and purr when happy."])
    get_signal("checker_revision")().annotate([g])
    assert len(g.candidates) == 1


def test_cut_off_answer_fails_when_complete_answers_are_required_and_is_trimmed():
    cut = "cats are small animals that sleep most of the day in the sun. they sleep a lot and purr when hap"
    g = _group([cut], finish="length")
    get_signal("verifiable_instructions")(require_complete=True).annotate([g])
    assert g.candidates[0].value("verifiable_instructions") == 0.0
    assert "unfinished" in g.candidates[0].annotations[0].rationale
    get_signal("checker_revision")().annotate([g])
    assert g.candidates[1].text == "cats are small animals that sleep most of the day in the sun."
    assert g.candidates[1].value("verifiable_instructions") == 1.0
    lenient = _group([cut], finish="length")
    get_signal("verifiable_instructions")().annotate([lenient])
    assert lenient.candidates[0].value("verifiable_instructions") == 1.0


def test_relabel_answers_the_same_task_under_other_constraints_of_its_split():
    from alignkit.data.instructions import split_pairs, synthesize

    prompt = synthesize("train", 1, seed=3)[0]
    g = Group(prompt, [Candidate(TEXT, {"finish_reason": "stop", "model": "m"})])
    out = get_signal("checker_revision")(relabel=3).annotate([g])
    assert out[0] is g
    new = out[1:]
    assert 1 <= len(new) <= 3
    train_types = {t for pair in split_pairs()["train"] for t in pair} | set(C.SYNTH_TYPES)
    for h in new:
        assert h.prompt.meta["base_task"] == prompt.meta["base_task"]
        assert h.prompt.meta["relabeled_from"] == prompt.id and h.prompt.text != prompt.text
        ids = [c["id"] for c in h.prompt.meta["constraints"]]
        assert set(ids) <= train_types and all(i in REPAIRS for i in ids)
        if len(ids) == 2:
            assert tuple(ids) in split_pairs()["train"]  # never a held-out combination
        cand, unedited = h.candidates
        assert cand.origin == {"signal": "checker_revision", "relabeled_from": prompt.id, "model": "m"}
        assert cand.value("verifiable_instructions") == 1.0
        assert unedited.text == TEXT and unedited.value("verifiable_instructions") is not None
    again = get_signal("checker_revision")(relabel=3).annotate([Group(prompt, [Candidate(TEXT)])])
    assert [h.prompt.text for h in again[1:]] == [h.prompt.text for h in new]  # deterministic


def test_relabel_skips_degenerate_answers():
    from alignkit.data.instructions import synthesize

    g = Group(synthesize("train", 1)[0], [Candidate("```\n```\n```\n```")])
    assert get_signal("checker_revision")(relabel=2).annotate([g]) == [g]


def test_synthesizer_never_asks_for_a_paragraph_past_the_last():
    rng = random.Random(0)
    for _ in range(200):
        _, con = C.describe("length_constraints:nth_paragraph_first_word", rng)
        assert con.kwargs["nth_paragraph"] <= con.kwargs["num_paragraphs"]


def test_contrast_adds_a_pair_that_rewards_leaving_out_words_the_answer_uses():
    from alignkit.checks.repairs import answer_words
    from alignkit.data.instructions import synthesize

    answer = GARDEN
    prompt = synthesize("train", 1, seed=3)[0]
    g = Group(prompt, [Candidate(answer, {"finish_reason": "stop", "model": "m"})])
    plain = get_signal("checker_revision")(relabel=1).annotate([g])
    out = get_signal("checker_revision")(relabel=1, contrast=True).annotate(
        [Group(prompt, [Candidate(answer, {"finish_reason": "stop", "model": "m"})])])
    assert len(out) == len(plain) + 1  # one contrast pair per answer, after its relabelled pairs
    pair = out[-1]
    (con,) = pair.prompt.meta["constraints"]
    words = answer_words(answer)
    assert con == {"id": "keywords:forbidden_words", "kwargs": {"forbidden_words": sorted(words)}}
    assert words == ["basil", "fruit"]  # the most used words that sit in under a third of the sentences
    assert pair.prompt.text.startswith(prompt.meta["base_task"]) and all(w in pair.prompt.text for w in words)
    chosen, unedited = pair.candidates
    assert unedited.text == answer and unedited.value("verifiable_instructions") == 0.0
    assert chosen.value("verifiable_instructions") == 1.0 and chosen.origin["contrast"] == "forbidden_words"
    assert chosen.text == ("Gardens need water every morning. Tomatoes grow best in full sun. "
                           "Mulch keeps the roots cool. Prune the tomatoes weekly.")  # whole sentences dropped


def test_contrast_skips_an_answer_whose_every_word_fills_a_third_of_it():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=3)[0]
    answer = "Kittens sleep quietly. Kittens purr loudly."
    plain = get_signal("checker_revision")(relabel=1).annotate([Group(prompt, [Candidate(answer)])])
    out = get_signal("checker_revision")(relabel=1, contrast=True).annotate([Group(prompt, [Candidate(answer)])])
    assert len(out) == len(plain)  # dropping any word's sentences would leave under half the answer


def test_unasked_adds_a_pair_that_rewards_leaving_a_form_out_when_not_asked():
    from alignkit.build import build_preference
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=4)[0]  # P.P.S and lowercase: the answer follows neither
    fresh = lambda: [Group(prompt, [Candidate(GARDEN, {"finish_reason": "stop", "model": "m"})])]  # noqa: E731
    plain = get_signal("checker_revision")(relabel=3).annotate(fresh())
    out = get_signal("checker_revision")(relabel=3, unasked=True).annotate(fresh())
    assert len(out) == len(plain) + 1  # one counter pair per answer, after its relabelled pairs
    pair = out[-1]
    assert pair.prompt.text == prompt.meta["base_task"] and pair.prompt.meta["constraints"] == []
    kept, added = pair.candidates
    assert kept.text == GARDEN and kept.value("verifiable_instructions") == 1.0
    source = next(g for g in out[1:-1] if g.candidates[0].text == added.text)  # one of the relabelled answers
    assert added.text != GARDEN and added.value("verifiable_instructions") == 0.0
    assert added.origin["unasked"] == [c["id"] for c in source.prompt.meta["constraints"]]
    (row,) = build_preference([pair], "verifiable_instructions", "verifiable_instructions.partial")
    assert row["chosen"][0]["content"] == GARDEN and row["rejected"][0]["content"] == added.text
    again = get_signal("checker_revision")(relabel=3, unasked=True).annotate(fresh())
    assert again[-1].candidates[1].text == added.text  # the drawn version is deterministic


def test_unasked_pick_nearest_rejects_the_edited_version_closest_in_length():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=16)[0]  # a random pick rejects a version 18 words longer
    fresh = lambda: [Group(prompt, [Candidate(GARDEN, {"finish_reason": "stop"})])]  # noqa: E731
    out = get_signal("checker_revision")(relabel=6, unasked=True, unasked_pick="nearest").annotate(fresh())
    words = lambda t: len(t.split())  # noqa: E731
    edited = [g.candidates[0].text for g in out[1:-1] if g.candidates[0].text != GARDEN]
    gaps = sorted({abs(words(t) - words(GARDEN)) for t in edited})
    assert len(gaps) > 1  # the relabelled versions differ in length, so the pick matters
    assert abs(words(out[-1].candidates[1].text) - words(GARDEN)) == gaps[0]
    drawn = get_signal("checker_revision")(relabel=6, unasked=True).annotate(fresh())[-1].candidates[1].text
    assert abs(words(drawn) - words(GARDEN)) > gaps[0]  # this prompt's random draw is not the nearest
    assert get_signal("checker_revision")(relabel=6, unasked=True, unasked_pick="random").annotate(
        fresh())[-1].candidates[1].text == drawn  # "random" is the default, as drawn before the option


def test_unasked_skips_an_answer_that_follows_a_constraint_of_its_own_prompt():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=3)[0]  # its forbidden words are absent from the answer: followed
    fresh = lambda: [Group(prompt, [Candidate(GARDEN, {"finish_reason": "stop"})])]  # noqa: E731
    plain = get_signal("checker_revision")(relabel=3).annotate(fresh())
    assert len(get_signal("checker_revision")(relabel=3, unasked=True).annotate(fresh())) == len(plain)


def test_overrun_repeats_the_last_line_after_the_answer():
    code = "Here it is:\n```python\ndef f(x):\n    return x\n```\n"
    assert overrun(code) == "Here it is:\n```python\ndef f(x):\n    return x\n```" + "\n\n```" * 3  # empty fences
    assert overrun("One line.\n\nLast one here.", times=2) == "One line.\n\nLast one here." + "\n\nLast one here." * 2
    assert loops(overrun(GARDEN))  # the loop check sees a run-on answer as a loop
    assert overrun(" \n ") is None


@pytest.mark.parametrize("option, edit, form", [("unasked_short", halve, "shortened"),
                                                 ("unasked_tail", overrun, "ran_on")])
def test_length_counter_pair_rewards_the_whole_answer_over_its_edit(option, edit, form):
    """unasked_short: the whole answer over its first half; unasked_tail: over it running on past its end."""
    from alignkit.build import build_preference
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=4)[0]  # P.P.S and lowercase: the answer follows neither
    fresh = lambda reason="stop": [Group(prompt, [Candidate(GARDEN, {"finish_reason": reason, "model": "m"})])]  # noqa: E731
    plain = get_signal("checker_revision")(relabel=3).annotate(fresh())
    out = get_signal("checker_revision")(relabel=3, **{option: True}).annotate(fresh())
    assert len(out) == len(plain) + 1
    pair = out[-1]
    assert pair.prompt.text == prompt.meta["base_task"] and pair.prompt.meta["constraints"] == []
    whole, edited = pair.candidates
    assert whole.text == GARDEN and whole.value("verifiable_instructions") == 1.0
    assert edited.text == edit(GARDEN) and edited.value("verifiable_instructions") == 0.0
    assert edited.origin["unasked"] == [form] and edited.origin["model"] == "m"
    (row,) = build_preference([pair], "verifiable_instructions", "verifiable_instructions.partial")
    assert row["chosen"][0]["content"] == GARDEN and row["rejected"][0]["content"] == edit(GARDEN)
    # an answer the token limit cut is not whole and has no end to stop at: no pair
    assert len(get_signal("checker_revision")(relabel=3, **{option: True}).annotate(fresh("length"))) == len(
        get_signal("checker_revision")(relabel=3).annotate(fresh("length")))


def test_counter_pairs_come_after_the_relabels_in_a_fixed_order():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=4)[0]
    fresh = lambda: [Group(prompt, [Candidate(GARDEN, {"finish_reason": "stop", "model": "m"})])]  # noqa: E731
    plain = get_signal("checker_revision")(relabel=3).annotate(fresh())
    both = get_signal("checker_revision")(relabel=3, unasked=True, unasked_short=True).annotate(fresh())
    assert len(both) == len(plain) + 2 and both[-1].candidates[1].text == halve(GARDEN)
    every = get_signal("checker_revision")(relabel=3, unasked=True, unasked_short=True, unasked_tail=True)
    assert [g.candidates[1].text for g in every.annotate(fresh())[-2:]] == [halve(GARDEN), overrun(GARDEN)]


def test_unasked_short_skips_an_answer_that_follows_a_constraint_of_its_own_prompt():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=3)[0]  # its forbidden words are absent from the answer: followed
    fresh = lambda: [Group(prompt, [Candidate(GARDEN, {"finish_reason": "stop"})])]  # noqa: E731
    plain = get_signal("checker_revision")(relabel=3).annotate(fresh())
    assert len(get_signal("checker_revision")(relabel=3, unasked_short=True).annotate(fresh())) == len(plain)


def test_relabel_rephrase_overrides_the_source_prompts_wording_mix():
    from alignkit.data.instructions import synthesize

    prompt = synthesize("train", 1, seed=3)[0]  # written in lm-eval's wording (rephrase 0)
    canonical = get_signal("checker_revision")(relabel=4).annotate([Group(prompt, [Candidate(TEXT)])])[1:]
    reworded = get_signal("checker_revision")(relabel=4, rephrase=1.0).annotate([Group(prompt, [Candidate(TEXT)])])[1:]
    assert [h.prompt.meta["base_task"] for h in reworded] == [h.prompt.meta["base_task"] for h in canonical]
    assert all(h.prompt.meta.get("rephrase") == 1.0 for h in reworded)
    assert {h.prompt.text for h in reworded}.isdisjoint(h.prompt.text for h in canonical)


def test_a_constraint_lm_eval_redraws_at_random_is_checked_the_same_way_every_time():
    # IFEval's own data asks for the letter "#"; lm-eval swaps a rejected letter for a random one
    con = C.Constraint("keywords:letter_frequency", {"let_relation": "at least", "letter": "#", "let_frequency": 4})
    text = "#playboy'stwitter " * 30
    results = {C.check(con, text) for _ in range(40)}
    assert len(results) == 1
    random.seed(1)
    first = random.random()
    random.seed(1)
    C.check(con, text)
    assert random.random() == first  # the caller's global generator is left as it was
