"""The Python API: the README's example runs as written, on the tiny model (the overrides that
make it tiny are added to each `overrides={...}` it passes)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_on_the_tiny_model(tiny_model_dir, tmp_path, monkeypatch):
    import alignkit
    from alignkit.api import BenchmarkResult, RunReport
    from alignkit.evaluate.scores import Score

    code = _readme_example()
    assert "alignkit.run(" in code and "alignkit.evaluate(" in code and "alignkit.load_recipe(" in code
    tiny = {"model": str(tiny_model_dir), "generate.max_new_tokens": 8, "evaluate.max_new_tokens": 8,
            "evaluate.budgets": {}, "build.min_score": 0.0, "train.max_length": 128}
    code = code.replace("overrides={", "overrides={**TINY, ").replace('"recipes/', f'"{REPO}/recipes/')
    monkeypatch.chdir(tmp_path)
    scope = {"TINY": tiny}
    exec(compile(code, "README.md (Python API)", "exec"), scope)  # noqa: S102  (the documented example)
    report, scores = scope["report"], scope["scores"]
    assert isinstance(report, RunReport) and report.out == Path("runs/api")
    result = report.benchmarks["ifeval_heldout"]
    assert isinstance(result, BenchmarkResult) and result.n == 20 and result.split == "test"
    on_disk = json.loads((tmp_path / "runs/api/report.json").read_text())
    assert result.delta == on_disk["benchmarks"]["ifeval_heldout"]["delta"]
    assert result.delta == pytest.approx(result.after - result.before)
    assert report.provenance["command"].startswith("alignkit.run(") and report.raw == on_disk
    assert (tmp_path / report.html).is_file()
    score = scores["ifeval_heldout"]
    assert isinstance(score, Score) and score.n == 20 and score.ci95[0] <= score.mean <= score.ci95[1]
    assert scope["recipe"].prompts.n == 16 and alignkit.load_recipe is scope["alignkit"].load_recipe


def test_import_alignkit_is_cheap():
    code = ("import sys, alignkit; alignkit.load_recipe, alignkit.run; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "[]"


def test_api_errors_are_alignkit_errors_naming_the_field(tmp_path):
    import alignkit

    with pytest.raises(alignkit.AlignkitError) as err:
        alignkit.load_recipe(REPO / "recipes/verifiable_instructions.yaml", overrides={"train.epochs": -1})
    assert "train.epochs" in str(err.value)
    with pytest.raises(alignkit.AlignkitError, match="unknown benchmark 'nope'"):
        alignkit.evaluate("embedded", ["nope"])
