"""scripts/pick_stats.py: a best-of-N pick audited against the ground truth, from an annotate stage."""

import sys
from pathlib import Path

import pytest

from alignkit.data.store import Stage
from alignkit.types import Annotation, Candidate, Group, Prompt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from pick_stats import pick_stats  # noqa: E402


def _cand(text, reward, right, finish="stop"):
    return Candidate(text, {"finish_reason": finish},
                     [Annotation("reward_model", "score", reward, ""),
                      Annotation("answer_match", "score", float(right), "")])


def test_pick_against_random_and_best(tmp_path):
    groups = [  # the judge picks the right answer in the first group, a wrong one in the second
        [_cand("It is 42.", 0.9, 1), _cand("It is 41 and more words here", -0.2, 0, "length")],
        [_cand("Seven", 0.5, 0), _cand("It is eight", 0.1, 1), _cand("nine", -1.0, 0, "length")],
    ]
    Stage(tmp_path, "annotate", "k").write_groups([Group(Prompt(messages=[{"role": "user", "content": q}]), c)
                                                   for q, c in zip(["a?", "b?"], groups)])
    s = pick_stats(tmp_path, "reward_model", "answer_match")
    assert s["prompts"] == 2
    assert s["pick_right"] == 0.5 and s["best_right"] == 1.0
    assert s["random_right"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert s["pick_cut_off"] == 0.0 and s["all_cut_off"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert s["pick_words"] == 2.0  # "It is 42." and "Seven"
    with pytest.raises(SystemExit, match="no candidate carries"):
        pick_stats(tmp_path, "self_judge", "answer_match")
