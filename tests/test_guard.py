"""The capability guard: score, answer length, loops and glued fences of a candidate against the base,
on hand-written answers whose verdicts are known."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO

from alignkit.evaluate.guard import GuardRule, answer_form, glued_fence, guard, unglue_fences

WORKED = "First 12 + 30 = 42, then 42 - 2 = 40 apples are left in the basket. The answer is 40."
LOOP = "the answer is the answer is the answer is " * 4
GLUED = "```def cube(n):\n    return n ** 3\n```"
FENCED = "```python\ndef cube(n):\n    return n ** 3\n```"


def _items(responses: list[str], scores: list[float]) -> list[dict]:
    return [{"id": f"p{i}", "response": r, "score": s} for i, (r, s) in enumerate(zip(responses, scores))]


def test_glued_fences_are_found_and_rewritten():
    assert glued_fence(GLUED) and glued_fence("```python def f(x):\n  return x\n```")
    assert not glued_fence(FENCED) and not glued_fence("no code here")
    assert unglue_fences(GLUED) == FENCED


def test_answer_form_counts_words_loops_and_fences():
    form = answer_form([WORKED, LOOP, GLUED])
    assert form == {"n": 3, "mean_words": (len(WORKED.split()) + len(LOOP.split()) + 7) / 3, "loops": 1,
                    "glued_fences": 1}


def test_an_unchanged_model_passes():
    base = _items([WORKED] * 20, [1.0] * 10 + [0.0] * 10)
    res = guard(base, list(reversed(base)))  # order does not matter: items pair by id
    assert res["passed"] and res["failed"] == [] and res["delta"] == 0.0


def test_shrinking_answers_fail_with_an_unchanged_score():
    base = _items([WORKED] * 20, [0.0] * 20)
    short = _items(["40."] * 20, [0.0] * 20)
    res = guard(base, short)
    assert not res["passed"] and len(res["failed"]) == 1 and "answers shrink" in res["failed"][0]
    assert guard(base, short, GuardRule(min_length_ratio=0.0))["passed"]


def test_a_code_benchmark_measures_the_code_not_the_prose_around_it():
    explained = FENCED + "\n\nThis function raises n to the third power with Python's ** operator and returns it."
    base = _items([explained] * 20, [1.0] * 20)
    code_only = _items([FENCED] * 20, [1.0] * 20)  # the prompt asked for the code only: prose dropped
    assert "answers shrink" in guard(base, code_only)["failed"][0]
    res = guard(base, code_only, code=True)
    assert res["passed"] and res["form_after"]["mean_code_words"] == res["form_before"]["mean_code_words"] == 6
    stub = _items(["```python\ndef cube(n):\n```"] * 20, [1.0] * 20)  # the code itself shrinks: still fails
    assert guard(base, stub, code=True)["failed"] == ["the answers' code shrinks: 6 -> 2 words (below 0.75 of the "
                                                      "base's)"]



def test_the_code_benchmarks_are_the_ones_scored_by_running_code():
    from alignkit.evaluate.benchmarks import BENCHMARKS, scores_code

    assert {n for n in BENCHMARKS if scores_code(n)} == {"functions_heldout", "functions_dev", "humaneval"}
    assert not scores_code("no_such_benchmark")

def test_loops_and_glued_fences_fail_beyond_their_allowance():
    base = _items([FENCED] * 20, [1.0] * 20)
    glued = _items([GLUED] + [FENCED] * 19, [1.0] * 20)
    assert guard(base, glued)["failed"] == ["more glued fences: 0 -> 1 (allowed +0)"]
    assert guard(base, glued, GuardRule(max_new_glued=1))["passed"]
    looping = _items([FENCED + "\n" + LOOP] * 2 + [FENCED] * 18, [1.0] * 20)
    assert guard(base, looping, GuardRule(max_new_loops=1))["failed"] == ["more answers loop: 0 -> 2 (allowed +1)"]
    assert guard(base, looping, GuardRule(max_new_loops=2, min_length_ratio=0.0))["passed"]


def test_a_significant_score_loss_fails():
    base = _items([FENCED] * 40, [1.0] * 40)
    res = guard(base, _items([FENCED] * 40, [0.0] * 20 + [1.0] * 20))
    assert not res["passed"] and res["failed"][0].startswith("score loses significantly: 1.000 -> 0.500")
    assert res["ci95"][1] < 0


def test_evaluations_of_different_items_are_refused():
    with pytest.raises(ValueError, match="same items"):
        guard(_items([WORKED] * 3, [0.0] * 3), _items([WORKED] * 2, [0.0] * 2))


def test_the_script_exits_nonzero_on_a_failing_candidate(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "cand").mkdir()
    (tmp_path / "base" / "functions_dev.items.json").write_text(json.dumps(_items([FENCED] * 20, [1.0] * 20)))
    (tmp_path / "cand" / "functions_dev.items.json").write_text(json.dumps(_items([GLUED] * 20, [0.0] * 20)))
    cmd = [sys.executable, str(REPO / "scripts" / "capability_guard.py"), "--bench", "functions_dev"]
    bad = subprocess.run(cmd + ["--before", str(tmp_path / "base"), "--after", str(tmp_path / "cand")],
                         capture_output=True, text=True)
    assert bad.returncode == 1, bad.stderr
    row = json.loads(bad.stdout)
    assert row["benchmark"] == "functions_dev" and row["form_after"]["glued_fences"] == 20 and not row["passed"]
    same = subprocess.run(cmd + ["--before", str(tmp_path / "base"), "--after", str(tmp_path / "base")],
                          capture_output=True, text=True)
    assert same.returncode == 0 and json.loads(same.stdout)["passed"]
    missing = subprocess.run(cmd + ["--before", str(tmp_path / "base"), "--after", str(tmp_path / "none")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no evaluation of functions_dev" in missing.stderr
