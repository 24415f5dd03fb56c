from alignkit.build import build_kto, build_preference, build_sft
from alignkit.signals.base import describe_signals, get_signal
from alignkit.types import Candidate, Group, Prompt


def _prompt():
    text = ("Describe a cat. Wrap your entire response with double quotation marks. "
            "In your entire response, refrain from the use of any commas.")
    return Prompt(messages=[{"role": "user", "content": text}],
                  meta={"base_task": "Describe a cat.", "constraints": [
                      {"id": "startend:quotation", "kwargs": {}}, {"id": "punctuation:no_comma", "kwargs": {}}]})


def _annotated(texts):
    g = Group(_prompt(), [Candidate(t) for t in texts])
    return get_signal("verifiable_instructions")().annotate([g])[0]


def test_signal_scores_candidates_with_partial_credit():
    g = _annotated(['"A cat purrs softly"', "A cat, purring", "A cat purrs"])
    assert [c.value("verifiable_instructions") for c in g.candidates] == [1.0, 0.0, 0.0]
    assert [c.value("verifiable_instructions.partial") for c in g.candidates] == [1.0, 0.0, 0.5]
    assert "startend:quotation" in g.candidates[2].annotations[0].rationale
    prov = g.candidates[0].annotations[0].provenance
    assert prov["signal"] == "verifiable_instructions"


def test_signal_is_registered_with_its_source():
    rows = {r["name"]: r for r in describe_signals()}
    assert rows["verifiable_instructions"]["source"] == "environment_feedback"


def test_sft_keeps_only_compliant_best_and_strips_generation_context():
    g = _annotated(["A cat, purring", '"A cat purrs softly"', '"A cat purrs softly"'])
    rows = build_sft([g], "verifiable_instructions", min_score=1.0, max_per_prompt=3)
    assert len(rows) == 1  # duplicates dropped
    assert rows[0]["completion"] == [{"role": "assistant", "content": '"A cat purrs softly"'}]
    assert rows[0]["prompt"] == g.prompt.messages
    none = build_sft([_annotated(["A cat, purring"])], "verifiable_instructions")
    assert none == []


def test_preference_pairs_best_against_worst_with_tiebreak():
    g = _annotated(["A cat, purring", "A cat purrs", '"A cat purrs softly"'])
    rows = build_preference([g], "verifiable_instructions", tiebreak="verifiable_instructions.partial")
    assert rows[0]["chosen"][0]["content"] == '"A cat purrs softly"'
    assert rows[0]["rejected"][0]["content"] == "A cat, purring"  # partial 0.0 is below 0.5
    # The tiebreak alone orders two failing candidates.
    g2 = _annotated(["A cat, purring", "A cat purrs"])
    rows2 = build_preference([g2], "verifiable_instructions", tiebreak="verifiable_instructions.partial")
    assert rows2[0]["chosen"][0]["content"] == "A cat purrs"
    # No difference at all: no pair.
    assert build_preference([_annotated(["A, b", "C, d"])], "verifiable_instructions",
                            tiebreak="verifiable_instructions.partial") == []


def test_preference_pairs_up_to_max_per_prompt_ranked_inward():
    g = _annotated(['"A cat purrs"', "A cat, purring", '"A cat naps"', "A cat, napping", "A cat naps"])
    one = build_preference([g], "verifiable_instructions", tiebreak="verifiable_instructions.partial")
    assert len(one) == 1  # the default keeps one pair per prompt
    rows = build_preference([g], "verifiable_instructions", tiebreak="verifiable_instructions.partial",
                            max_per_prompt=4)
    # best vs worst, second best vs second worst; 5 candidates hold 2 disjoint pairs
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows] == [
        ('"A cat purrs"', "A cat, napping"), ('"A cat naps"', "A cat, purring")]
    # a pair whose two sides score the same is not made: here the second pair would tie
    tied = _annotated(['"A cat purrs"', "A, cat", "A cat, naps", "A, dog"])
    assert len(build_preference([tied], "verifiable_instructions", max_per_prompt=2)) == 1


def test_kto_labels():
    g = _annotated(['"ok then"', "no, quotes"])
    rows = build_kto([g], "verifiable_instructions")
    assert [r["label"] for r in rows] == [True, False]


def test_degenerate_answers_fail_even_when_constraints_pass():
    g = _annotated(['"```\n```\n```"', '"fine words here"'])
    assert [c.value("verifiable_instructions") for c in g.candidates] == [0.0, 1.0]
    assert "degenerate" in g.candidates[0].annotations[0].rationale
