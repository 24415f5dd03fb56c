"""Behavior-imitation signals on the tiny random model: teacher demonstrations (with and without a
checker filter, SFT and teacher-vs-student pairs) and UltraFeedback-style preference distillation."""

import pytest
from conftest import Recorder

from alignkit.build import build_preference, build_sft
from alignkit.errors import AlignkitError
from alignkit.signals.base import describe_signals, get_signal
from alignkit.signals.imitation import ASPECTS, shots_messages
from alignkit.types import Candidate, Group, Prompt

QUESTION = "Tom has 23 apples and buys 45 more. How many apples does Tom have? Answer with the number."


def _groups(k=2, texts=("I think 60.", "68")):
    return [Group(Prompt(messages=[{"role": "user", "content": f"{QUESTION} ({i})"}]),
                  [Candidate(t, {"model": "student", "sample": j}) for j, t in enumerate(texts)]) for i in range(k)]


def test_imitation_signals_are_listed_with_their_source():
    names = {s["name"] for s in describe_signals() if s["source"] == "behavior_imitation"}
    assert names >= {"teacher_demonstrations", "preference_distillation"}


def test_teacher_is_required_and_named_in_the_error():
    for name in ("teacher_demonstrations", "preference_distillation"):  # when the signal is built (or validated)
        with pytest.raises(AlignkitError, match="needs params.teacher") as err:
            get_signal(name)()
        assert err.value.where == "signals.params.teacher" and "openai:MODEL@URL" in err.value.message


def test_teacher_demonstrations_sft_and_teacher_vs_student_pairs(tiny):
    rec = Recorder(tiny, "teacher-x")
    shots = [{"user": "2 + 3?", "assistant": "2 + 3 = 5. The answer is 5."}]
    sig = get_signal("teacher_demonstrations")(teacher="my-teacher", teacher_n=2, teacher_temperature=1.0,
                                               teacher_max_new_tokens=8, teacher_system="Be exact.",
                                               teacher_shots=shots).bind(rec)
    groups = sig.annotate(_groups())
    assert rec.specs == ["my-teacher"]
    conv = rec.calls[0][0]  # system prompt, then the worked example as turns, then the question
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user"]
    assert conv[0]["content"] == "Be exact." and conv[2]["content"].endswith("is 5.")
    for g in groups:
        teach = [c for c in g.candidates if c.origin.get("role") == "teacher"]
        own = [c for c in g.candidates if c.origin.get("model") == "student"]
        assert len(teach) == 2 and len(own) == 2
        assert all(c.origin["model"] == "teacher-x" for c in teach)
        assert all(c.value("teacher_demonstrations") == float(bool(c.text.strip())) for c in teach)
        assert all(c.value("teacher_demonstrations") == 0.0 for c in own)
    sft = build_sft(groups, "teacher_demonstrations")
    assert sft and all(r["completion"][0]["content"] in {c.text for g in groups for c in g.candidates
                                                         if c.origin.get("role") == "teacher"} for r in sft)
    pairs = build_preference(groups, "teacher_demonstrations")
    assert pairs and all(r["rejected"][0]["content"] in ("I think 60.", "68") for r in pairs)
    assert sig.summary()["teacher_answers"] == 4


def test_filter_keeps_only_teacher_answers_the_checker_accepts(tiny):
    """A majority-vote filter over the teacher's own samples: 'The answer is 68.' x2 beats a lone 60."""

    class Fixed(Recorder):
        def generate(self, conversations, sampling, **kw):
            outs = [("The answer is 68.", "stop"), ("The answer is 68.", "stop"), ("It is 60.", "stop")]
            return [outs[: sampling.n] for _ in conversations]

    sig = get_signal("teacher_demonstrations")(teacher="t", teacher_n=3, filter={"name": "self_consistency"})
    groups = sig.bind(Fixed(tiny)).annotate(_groups(k=1))
    teach = [c for c in groups[0].candidates if c.origin.get("role") == "teacher"]
    assert [c.value("teacher_demonstrations") for c in teach] == [1.0, 1.0, 0.0]
    assert sig.summary()["accepted_rate"] == pytest.approx(2 / 3)
    with pytest.raises(AlignkitError, match="unknown signal 'nope'") as err:  # found when the signal is built
        get_signal("teacher_demonstrations")(teacher="t", filter={"name": "nope"})
    assert err.value.where == "signals.params.filter.name"


def test_shots_are_checked():
    assert shots_messages(None) == []
    with pytest.raises(AlignkitError, match="teacher_shots"):
        shots_messages([{"user": "x"}])


def test_preference_distillation_rates_every_aspect_and_ranks(tiny):
    rec = Recorder(tiny, "teacher-x")
    sig = get_signal("preference_distillation")(teacher="judge-model", aspects=["helpfulness", "truthfulness"])
    groups = sig.bind(rec).annotate(_groups(k=2))
    assert rec.specs == ["judge-model"] and len(rec.scored[0]) == 2 * 2 * 2  # groups x candidates x aspects
    assert ASPECTS["truthfulness"] in rec.scored[0][1][0]["content"] or ASPECTS["truthfulness"] in \
        rec.scored[0][0][0]["content"]
    for g in groups:
        for c in g.candidates:
            h, t = c.value("preference_distillation.helpfulness"), c.value("preference_distillation.truthfulness")
            assert 1.0 <= h <= 5.0 and 1.0 <= t <= 5.0
            assert c.value("preference_distillation") == pytest.approx((h + t) / 2)
    pairs = build_preference(groups, "preference_distillation")
    for g, row in zip(groups, pairs):
        best = max(g.candidates, key=lambda c: c.value("preference_distillation"))
        assert row["chosen"][0]["content"] == best.text
    with pytest.raises(AlignkitError, match="unknown aspect"):
        get_signal("preference_distillation")(teacher="t", aspects=["style"]).bind(rec).annotate(_groups())
