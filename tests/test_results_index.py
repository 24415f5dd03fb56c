"""docs/results.jsonl, the machine-readable results index: the committed file passes its check, a
broken one fails naming the line, and `append` indexes a run's report with the family of the
recipe the run stored."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "scripts" / "results_index.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_committed_index_passes_its_check():
    res = _run("check")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in (REPO / "docs" / "results.jsonl").read_text().splitlines()]
    demo = next(e for e in lines if e["command"] == "python3 -m alignkit demo --out runs/demo")
    assert demo["split"] == "test" and demo["note"] == "settings e1-e4 were chosen on this benchmark"
    assert {e["split"] for e in lines if e["benchmark"] == "humaneval"} == {"ood"}


def test_broken_index_fails_naming_the_line(tmp_path):
    good = (REPO / "docs" / "results.jsonl").read_text().splitlines()[0]
    entry = json.loads(good)
    broken = [good,
              json.dumps({**entry, "delta": entry["delta"] + 0.01}),  # line 2: delta disagrees with after - before
              json.dumps({**entry, "split": "validation"}),  # line 3
              json.dumps({**entry, "ci95": [0.2, 0.1]}),  # line 4
              json.dumps({k: v for k, v in entry.items() if k != "command"}),  # line 5
              "{not json",  # line 6
              json.dumps({**entry, "date": "23.11.2026", "n": "200"})]  # line 7
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(broken) + "\n")
    res = _run("check", "--index", str(path))
    assert res.returncode == 1
    err = res.stderr
    assert f"{path}:1:" not in err
    assert f"{path}:2: after - before = +0.1200 but delta is +0.1300" in err
    assert f"{path}:3: split 'validation'" in err
    assert f"{path}:4: ci95 is not ordered" in err
    assert f"{path}:5: missing key 'command'" in err
    assert f"{path}:6: not JSON" in err
    assert f"{path}:7: n is not a positive integer" in err
    assert "6 bad line(s) of 7" in err


def test_append_indexes_a_run_with_its_recipes_family(tmp_path):
    from alignkit.evaluate.report_html import render

    run = tmp_path / "run"
    run.mkdir()
    report = {"model": "m", "recipe": "my_recipe", "wall_seconds": 1.0, "benchmarks": {
        "ifeval_ood": {"before": 0.2, "after": 0.31, "delta": 0.11, "ci95": [0.05, 0.17], "n": 324, "split": "ood"},
        "arithmetic_heldout": {"before": 0.05, "after": 0.04, "delta": -0.01, "ci95": [-0.03, 0.01], "n": 200,
                               "split": "test"}}}
    (run / "report.json").write_text(json.dumps(report))
    recipe = "name: my_recipe\nsignals:\n- name: self_consistency\n  params: {}\n- name: verifiable_instructions\n"
    (run / "report.html").write_text(render(report, recipe_text=recipe))
    index = tmp_path / "results.jsonl"
    index.write_text((REPO / "docs" / "results.jsonl").read_text().splitlines()[0] + "\n")
    res = _run("append", str(run), "--command", "python3 -m alignkit run my_recipe.yaml", "--date", "2026-12-01",
               "--note", "a test", "--index", str(index))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in index.read_text().splitlines()]
    assert len(lines) == 3
    ood = lines[1]
    assert ood == {"recipe": "my_recipe", "family": "inductive_bias", "benchmark": "ifeval_ood", "split": "ood",
                   "n": 324, "before": 0.2, "after": 0.31, "delta": 0.11, "ci95": [0.05, 0.17],
                   "command": "python3 -m alignkit run my_recipe.yaml", "date": "2026-12-01", "note": "a test"}
    assert lines[2]["benchmark"] == "arithmetic_heldout" and lines[2]["split"] == "test"
    assert _run("check", "--index", str(index)).returncode == 0
    again = _run("append", str(run), "--command", "python3 -m alignkit run my_recipe.yaml", "--index", str(index))
    assert again.returncode == 0 and "already indexed" in again.stderr
    assert len(index.read_text().splitlines()) == 3
    (run / "report.html").unlink()  # no stored recipe and no recipes/my_recipe.yaml: the family must be given
    res = _run("append", str(run), "--command", "x", "--index", str(index))
    assert res.returncode != 0 and "give --family" in res.stderr
