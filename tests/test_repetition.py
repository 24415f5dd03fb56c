"""Repetition loops: found without a reference, cut where they start, failed by the checker and
kept out of checker_revision's chosen answers."""

from alignkit.checks import constraints as C
from alignkit.checks.repetition import cut_loop, loop_start, loops
from alignkit.data.instructions import synthesize
from alignkit.signals.base import get_signal
from alignkit.types import Candidate, Group, Prompt

FIRST = "Cats are small curious animals that sleep a lot."
LOOP = FIRST + " I'm here to help you with your cat. " + " ".join(["I'm here to help you with your cat."] * 6)
PLAIN = ("Cats are small, curious animals. They sleep for most of the day. Many people keep them as pets. "
         "A cat purrs when it is happy. Some cats love to climb trees. They groom themselves often.")


def test_loop_starts_at_the_second_occurrence_of_a_run_repeated_three_times():
    second = LOOP.index("I'm here", LOOP.index("I'm here") + 1)
    assert loop_start(LOOP) == second
    assert cut_loop(LOOP) == FIRST + " I'm here to help you with your cat."  # the first occurrence stays
    assert not loops(PLAIN) and cut_loop(PLAIN) == PLAIN


def test_loop_ignores_case_and_punctuation_and_needs_three_occurrences():
    twice = "The cat sat on the warm mat. " * 2 + "Then it left."
    assert loop_start(twice) is None  # a phrase said twice is not a loop
    mixed = "The cat sat on the warm mat. the cat sat on the warm mat, THE CAT SAT ON THE WARM MAT!"
    assert loop_start(mixed) == mixed.index("the cat")


def test_cut_loop_ends_at_a_full_sentence_and_gives_up_on_nothing_left():
    text = "Here is a plan for you. We go north and then " + "we go north and then " * 5
    assert cut_loop(text) == "Here is a plan for you."
    assert cut_loop("polite, " * 20) is None


def test_checker_fails_a_looping_answer_only_with_loops():
    prompt = Prompt(messages=[{"role": "user", "content": "Describe a cat. Use only lowercase letters."}],
                    meta={"constraints": [{"id": "change_case:english_lowercase", "kwargs": {}}]})
    answer = LOOP.lower()
    assert C.check(C.Constraint("change_case:english_lowercase", {}), answer, "Describe a cat.")
    for flag, want in ((False, 1.0), (True, 0.0)):
        g = Group(prompt, [Candidate(answer)])
        get_signal("verifiable_instructions")(loops=flag).annotate([g])
        assert g.candidates[0].value("verifiable_instructions") == want


def test_unloop_repairs_the_cut_answer_and_keeps_the_loop_as_the_rejected_one():
    prompt = synthesize("train", 1, seed=3)[0]
    make = lambda: Group(prompt, [Candidate(LOOP, {"finish_reason": "length", "model": "m"})])  # noqa: E731
    out = get_signal("checker_revision")(relabel=3, contrast=True, unloop=True).annotate([make()])
    revised = [c for c in out[0].candidates if c.origin.get("signal") == "checker_revision"]
    assert revised and not loops(revised[0].text) and revised[0].value("verifiable_instructions") == 1.0
    assert out[0].candidates[0].annotations[-1].value.startswith("fixed: loop")
    assert len(out) > 1
    for h in out[1:]:
        chosen, unedited = h.candidates
        assert not loops(chosen.text) and chosen.value("verifiable_instructions") == 1.0
        assert loops(unedited.text) and unedited.value("verifiable_instructions") == 0.0
    plain = get_signal("checker_revision")(relabel=3).annotate([make()])
    assert any(loops(c.text) for h in plain[1:] for c in h.candidates[:1])  # without unloop, chosen answers loop
