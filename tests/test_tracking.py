"""Experiment tracking (train.report_to) and a run's provenance, on one tiny run: TRL's loss and
alignkit's own stage metrics land in tensorboard event files, read back with tensorboard's reader;
report.json and report.html carry the versions, commit, command, recipe, hardware and seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe

RECIPE = REPO / "recipes" / "verifiable_instructions.yaml"
SMALL = ["prompts.n=6", "generate.n=2", "generate.max_new_tokens=8", "build.min_score=0.0", "train.epochs=4",
         "train.batch_size=2", "train.max_length=128", "evaluate.n=4", "evaluate.max_new_tokens=8",
         "evaluate.budgets={}", "evaluate.benchmarks=[ifeval_heldout]", "audit.n=4"]


@pytest.fixture(scope="module")
def tracked_run(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("tensorboard")
    out = tmp_path_factory.mktemp("tracked")
    recipe = load_recipe(RECIPE, [f"model={tiny_model_dir}", *SMALL, "train.report_to=tensorboard"])
    runner = Runner(recipe, out, log=lambda *_: None)
    runner.command = "alignkit run recipes/verifiable_instructions.yaml --set train.report_to=tensorboard"
    return out, runner.run(), recipe


def _scalars(logdir) -> dict[str, list]:
    """Every scalar in the event files under `logdir`, by tag, with tensorboard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, list] = {}
    for events in {p.parent for p in logdir.rglob("events.out.tfevents.*")}:
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            tags.setdefault(tag, []).extend(acc.Scalars(tag))
    return tags


def test_tensorboard_has_the_training_loss_and_the_benchmark_delta(tracked_run):
    out, report, _ = tracked_run
    scalars = _scalars(out / "tensorboard")
    # TRL's own callback: the loss every logging_steps (5) of the 12 steps, and the run's mean
    assert [e.step for e in scalars["train/loss"]] == [5, 10] and all(e.value > 0 for e in scalars["train/loss"])
    assert scalars["train/train_loss"][0].value == pytest.approx(report_train_loss(out))
    delta = scalars["alignkit/benchmark/ifeval_heldout/delta"]
    assert delta[0].value == pytest.approx(report["benchmarks"]["ifeval_heldout"]["delta"], abs=1e-6)
    before = scalars["alignkit/benchmark/ifeval_heldout/before"][0].value
    assert before == pytest.approx(report["benchmarks"]["ifeval_heldout"]["before"], abs=1e-6)
    # signal tallies of iteration 1 and the audit's figures
    stats = json.loads(next((out / "stages").glob("annotate/stats.json")).read_text())
    assert scalars["alignkit/signal/candidates"][0].value == stats["candidates"]
    assert scalars["alignkit/signal/candidates"][0].step == 1
    assert "alignkit/audit/verifiable_instructions/scored" in scalars


def report_train_loss(out) -> float:
    return json.loads((out / "stages" / "train" / "train.json").read_text())["train_loss"]


def test_report_to_is_not_part_of_the_train_key(tiny_model_dir):
    a = load_recipe(RECIPE, [f"model={tiny_model_dir}", "train.report_to=tensorboard"]).train
    b = load_recipe(RECIPE, [f"model={tiny_model_dir}"]).train
    assert a.report_to == ["tensorboard"] and b.report_to == []
    assert a.key_view() == b.key_view()  # a tracked re-run reuses the trained model


def test_an_unknown_tracker_is_an_error_at_its_line(tmp_path):
    from alignkit.errors import AlignkitError

    bad = tmp_path / "r.yaml"
    bad.write_text(RECIPE.read_text().replace("  method: sft\n", "  method: sft\n  report_to: tensorbored\n"))
    with pytest.raises(AlignkitError) as err:
        load_recipe(bad)
    text = str(err.value)
    assert "train.report_to.0" in text and "'tensorboard', 'wandb', 'mlflow' or 'trackio'" in text
    assert f"{bad}:" in text  # the file and line


def test_report_json_records_provenance(tracked_run):
    import torch
    import transformers

    out, report, recipe = tracked_run
    prov = json.loads((out / "report.json").read_text())["provenance"]
    assert prov["versions"]["torch"] == torch.__version__
    assert prov["versions"]["transformers"] == transformers.__version__
    assert {"alignkit", "trl", "peft", "datasets", "vllm"} <= set(prov["versions"])
    assert prov["command"] == "alignkit run recipes/verifiable_instructions.yaml --set train.report_to=tensorboard"
    assert prov["recipe"] == recipe.model_dump(mode="json") and prov["recipe"]["model"] == str(recipe.model)
    assert prov["recipe"]["prompts"]["n"] == 6  # after the overrides
    git = prov["git"]  # this test runs from a git checkout
    assert git is not None and len(git["commit"]) == 40
    hw = prov["hardware"]
    assert hw["cpu"] and hw["cores"] >= 1 and isinstance(hw["gpus"], list)
    assert prov["seeds"] == {"recipe": 0, "prompts": 0, "generate": [0], "train": 0, "evaluate": 0, "audit": 1000,
                             "bootstrap": 0}
    html = (out / "report.html").read_text()
    assert "<h2>Provenance</h2>" in html and git["commit"] in html and f"torch {torch.__version__}" in html
    assert "train.report_to=tensorboard" in html and hw["cpu"] in html


@pytest.mark.parametrize("tracker", ["wandb", "mlflow"])
def test_wandb_and_mlflow_offline_get_the_stage_metrics(tracker, tmp_path, monkeypatch):
    """The stage metrics reach wandb (offline mode) and mlflow (a local file store); no server."""
    pytest.importorskip(tracker)
    from alignkit.tracking import Tracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    report = {"benchmarks": {"ifeval_heldout": {"before": 0.2, "after": 0.3, "delta": 0.1, "ci95": [0.0, 0.2], "n": 4}},
              "wall_seconds": 1.0}
    with Tracker([tracker], tmp_path, "t") as t:
        t.log_run(report, None, [{"candidates": 8, "mean_score": 0.5}])
        if tracker == "wandb":  # wandb 0.31 keeps offline runs in a binary log only its service reads
            import wandb

            summary = dict(wandb.run.summary)
    if tracker == "mlflow":
        import mlflow

        run = mlflow.search_runs(experiment_names=["alignkit"], output_format="list")[0]
        assert run.data.metrics["alignkit/benchmark/ifeval_heldout/delta"] == pytest.approx(0.1)
        assert run.data.metrics["alignkit/signal/candidates"] == 8
    else:
        assert summary["alignkit/benchmark/ifeval_heldout/delta"] == pytest.approx(0.1)
        assert summary["alignkit/signal/candidates"] == 8
        assert next(tmp_path.glob("wandb/offline-run-*/run-*.wandb")).stat().st_size > 0  # in the run directory


def test_the_command_line_is_recorded_as_typed(monkeypatch):
    from alignkit import provenance

    monkeypatch.setattr("sys.argv", [str(REPO / "src/alignkit/__main__.py"), "demo", "--out", "runs/my demo"])
    assert provenance._command_line() == "python -m alignkit demo --out 'runs/my demo'"
    monkeypatch.setattr("sys.argv", ["/venv/bin/alignkit", "run", "r.yaml", "--set", "train.report_to=[wandb]"])
    assert provenance._command_line() == "alignkit run r.yaml --set 'train.report_to=[wandb]'"


def test_trackio_gets_the_stage_metrics(tmp_path):
    """trackio's local store (a SQLite file under TRACKIO_DIR, which trackio reads when imported:
    hence a fresh process) holds the stage metrics under the run's name."""
    pytest.importorskip("trackio")
    code = """
import json
from alignkit.tracking import Tracker
report = {"benchmarks": {"ifeval_heldout": {"before": 0.2, "after": 0.3, "delta": 0.1, "ci95": [0.0, 0.2], "n": 4}},
          "wall_seconds": 1.0}
with Tracker(["trackio"], ".", "t") as t:
    t.log_run(report, None, [{"candidates": 8, "mean_score": 0.5}])
from trackio.sqlite_storage import SQLiteStorage
runs, logs = SQLiteStorage.get_runs("alignkit"), SQLiteStorage.get_logs("alignkit", "t-alignkit")
print(json.dumps({"runs": runs, "logs": logs}))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio")})
    assert res.returncode == 0, res.stderr[-2000:]
    found = json.loads(res.stdout.strip().splitlines()[-1])
    assert found["runs"] == ["t-alignkit"] and (tmp_path / "trackio" / "alignkit.db").is_file()
    merged = {k: v for row in found["logs"] for k, v in row.items()}
    assert merged["alignkit/benchmark/ifeval_heldout/delta"] == pytest.approx(0.1)
    assert merged["alignkit/signal/candidates"] == 8
