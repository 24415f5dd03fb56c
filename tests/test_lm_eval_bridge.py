"""The lm-eval bridge: a trained checkpoint evaluated by lm-eval's own hf model on a local task."""

from __future__ import annotations

import json

from conftest import run_cli


def test_lm_eval_on_the_shipped_local_task(tiny_model_dir, tmp_path):
    res = run_cli("lm-eval", "--model", str(tiny_model_dir), "--tasks", "alignkit_arithmetic_truth", "--limit", "6",
                  "--out", str(tmp_path), cwd=tmp_path)  # from elsewhere: the task must still find its data
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads((tmp_path / "lm_eval.json").read_text())
    metrics = out["results"]["alignkit_arithmetic_truth"]
    assert out["n"]["alignkit_arithmetic_truth"] == 6
    assert 0.0 <= metrics["acc,none"] <= 1.0 and metrics["acc_stderr,none"] > 0


def test_lm_eval_on_a_user_task_folder(tiny_model_dir, tmp_path):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "data.jsonl").write_text("".join(json.dumps({"q": f"{i} is even?", "label": int(i % 2 == 0)}) + "\n"
                                              for i in range(8)))
    (tasks / "even.yaml").write_text(
        "task: user_even\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: data.jsonl\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{q}}'\ndoc_to_choice: [' no', ' yes']\n"
        "doc_to_target: label\nmetric_list:\n  - metric: acc\n")
    res = run_cli("lm-eval", "--model", str(tiny_model_dir), "--tasks", "user_even", "--include-path", str(tasks),
                  "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads((tmp_path / "out" / "lm_eval.json").read_text())
    assert out["n"]["user_even"] == 8 and 0.0 <= out["results"]["user_even"]["acc,none"] <= 1.0


def test_lm_eval_unknown_task_is_a_clear_error(tiny_model_dir, tmp_path):
    res = run_cli("lm-eval", "--model", str(tiny_model_dir), "--tasks", "no_such_task", "--out", str(tmp_path))
    assert res.returncode != 0 and "no_such_task" in res.stderr and "--include-path" in res.stderr
