"""The confidence signal (uncertainty filtering) on the tiny model: the policy's own greedy answer is
the one it is surest of, a cut-off answer abstains, and best-of-N keeps the surest."""

import pytest

from alignkit.build import build_preference, build_sft
from alignkit.signals.base import get_signal
from alignkit.types import Candidate, Group, Prompt


def test_confidence_is_the_per_character_likelihood_and_abstains_when_cut_off(tiny):
    prompt = Prompt(messages=[{"role": "user", "content": "Name three colours."}])
    texts = ["Red, green and blue.", "zebra quantum 17 17 17", "Red."]
    group = Group(prompt, [Candidate(t) for t in texts] + [Candidate("Red, green", {"finish_reason": "length"})])
    [g] = get_signal("confidence")().bind(lambda spec: tiny).annotate([group])
    assert g.candidates[3].value("confidence") is None  # a cut-off answer's last tokens are not its ending
    # the log-likelihood of the answer after the prompt (the backend's sum), per character
    expected = [lp / len(t) for lp, t in zip(tiny.logprobs([prompt.messages] * 3, texts), texts)]
    got = [c.value("confidence") for c in g.candidates[:3]]
    assert got == pytest.approx(expected, rel=1e-4)
    assert len({round(v, 4) for v in got}) == 3
    best, worst = texts[got.index(max(got))], texts[got.index(min(got))]
    assert build_sft([g], "confidence", min_score=-1e9)[0]["completion"][0]["content"] == best
    pair = build_preference([g], "confidence")[0]
    assert (pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == (best, worst)
    # normalize: words divides the same sums by the answers' word counts
    [w] = get_signal("confidence")(normalize="words").bind(lambda spec: tiny).annotate(
        [Group(prompt, [Candidate(t) for t in texts])])
    assert [c.value("confidence") * len(t.split()) for c, t in zip(w.candidates, texts)] == pytest.approx(
        [e * len(t) for e, t in zip(expected, texts)], rel=1e-4)


def test_confidence_params_are_checked():
    with pytest.raises(Exception, match="normalize"):
        get_signal("confidence")(normalize="tokens")
    raw = get_signal("confidence")(normalize="none", require_complete=False)
    assert raw.p.normalize == "none" and raw.p.require_complete is False
