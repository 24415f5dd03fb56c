"""Crash safety: a real recipe runs in a subprocess (the `alignkit` CLI) and is killed with
SIGKILL at random points in each stage, then restarted with the same command. The final
datasets (per prompt id), evaluation items, report and model must equal an uninterrupted
run's, and the restart must not redo a stage that had finished."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from alignkit.data.checkpoints import FAULT_POINTS, is_complete
from alignkit.data.store import RunStore

KILLS = 10
# (what to wait for inside the run directory, the stage then in progress)
TRIGGERS = [("stages/eval_before_ifeval_heldout", "evaluate before"), ("stages/generate", "generate"),
            ("stages/generate/shard-00001.parquet", "generate"), ("stages/annotate", "annotate"),
            ("stages/build", "build"), ("stages/train", "train"), ("stages/train/checkpoints/checkpoint-10", "train"),
            ("model", "evaluate after")]


def _command(model, out):
    return [sys.executable, "-m", "alignkit", "run", str(REPO / "recipes" / "verifiable_instructions.yaml"),
            "--out", str(out), "--set", f"model={model}", "--set", "prompts.n=16", "--set", "generate.n=2",
            "--set", "generate.shard_size=4", "--set", "generate.max_new_tokens=12",
            "--set", "generate.temperature=1.0",
            "--set", "build.min_score=0.0", "--set", "build.max_per_prompt=2", "--set", "train.epochs=1",
            "--set", "train.batch_size=2", "--set", "train.max_length=128", "--set", "evaluate.n=8",
            "--set", "evaluate.max_new_tokens=8", "--set", "evaluate.budgets={}", "--set", "audit.n=8"]


def _finish(cmd) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout + res.stderr


def _assert_same(state: dict, ref: dict, label: str) -> None:
    for part in ref:
        if part == "weights":
            assert state[part].keys() == ref[part].keys()
            assert all(abs(state[part][n] - ref[part][n]) < 1e-4 for n in ref[part]), f"{label}: weights differ"
        else:
            assert state[part] == ref[part], f"{label}: {part} differs"


def _state(out: Path) -> dict:
    """Everything a run produces that must not depend on crashes."""
    def groups(name):
        key = json.loads((out / "stages" / name / "manifest.json").read_text())["key"]
        return {g.id: g.to_row() for g in RunStore(out).stage(name, key).read_groups()}

    from safetensors.torch import load_file

    weights = load_file(out / "model" / "model.safetensors")
    report = json.loads((out / "report.json").read_text())
    return {
        "generate": groups("generate"), "annotate": groups("annotate"),
        "rows": sorted(json.dumps(r, sort_keys=True) for r in json.loads((out / "stages/build/rows.json").read_text())),
        "eval": {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("stages/eval_*/items.json"))},
        "benchmarks": report["benchmarks"],
        "weights": {k: v.double().sum().item() for k, v in weights.items()},
    }


def _finished_stages(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("stages/*/manifest.json")}


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("crash") / "reference"
    _finish(_command(tiny_model_dir, out))
    assert (out / "stages/train/checkpoints").is_dir()
    return out, _state(out)


def test_killed_runs_resume_to_the_same_result(reference, tiny_model_dir, tmp_path):
    ref_out, ref = reference
    rng = random.Random(20261123)
    hit = []
    for k in range(KILLS):
        trigger, stage = TRIGGERS[k % len(TRIGGERS)]
        out = tmp_path / f"kill{k}"
        cmd = _command(tiny_model_dir, out)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 300
        while not (out / trigger).exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            hit.append(stage)
        proc.wait()
        finished = _finished_stages(out)
        _finish(cmd)  # restart: the same command
        after = _finished_stages(out)
        redone = [name for name, mtime in finished.items() if after.get(name) != mtime]
        assert not redone, f"kill {k} ({stage}): finished stages redone: {redone}"
        _assert_same(_state(out), ref, f"kill {k} ({stage})")
    assert len(hit) >= 10 and {"generate", "annotate", "train", "evaluate before", "evaluate after"} <= set(hit), hit


def test_a_corrupted_shard_is_detected_and_recomputed(reference, tmp_path, tiny_model_dir):
    import shutil

    ref_out, ref = reference
    out = tmp_path / "corrupt"
    shutil.copytree(ref_out, out)
    shard = out / "stages/generate/shard-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip a byte inside the data pages; the footer still reads
    shard.write_bytes(bytes(data))
    _finish(_command(tiny_model_dir, out))
    assert shard.read_bytes() != bytes(data)  # recomputed, not reused
    assert _state(out)["generate"] == ref["generate"] and _state(out)["rows"] == ref["rows"]


# -- kills inside TRL's checkpoint write --------------------------------------------------------
# The write takes milliseconds, so these kills come from the named fault-injection hook
# (ALIGNKIT_FAULT, data/checkpoints.py): the training process SIGKILLs itself at that point of its
# first checkpoint write, leaving the files a kill there leaves (that file half-written, later ones
# missing). Everything else is real: the CLI, TRL, the restart.
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_kill_during_a_checkpoint_write_resumes_to_the_same_result(point, reference, tiny_model_dir, tmp_path):
    ref_out, ref = reference
    out = tmp_path / point
    shutil.copytree(ref_out, out)  # the run as it stood before training: its later stages are keyed on it
    shutil.rmtree(out / "stages/train")
    shutil.rmtree(out / "model")
    cmd = _command(tiny_model_dir, out)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "ALIGNKIT_FAULT": f"checkpoint-write:{point}"})
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
    ckpt = out / "stages/train/checkpoints/checkpoint-10"
    assert ckpt.is_dir() and not is_complete(ckpt)  # what the kill left: a checkpoint TRL would pick and fail on
    log = _finish(cmd)
    assert "skipping the half-written checkpoint" in log and not (out / "model.tmp").exists()
    _assert_same(_state(out), ref, f"kill while writing the checkpoint's {point}")


def test_a_truncated_trained_model_is_detected_and_retrained(reference, tiny_model_dir, tmp_path):
    ref_out, ref = reference
    out = tmp_path / "truncated"
    shutil.copytree(ref_out, out)
    weights = out / "model" / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    log = _finish(_command(tiny_model_dir, out))
    assert "the trained model is damaged" in log and "model.safetensors is changed" in log
    _assert_same(_state(out), ref, "truncated model")


# -- iterated runs and online RL, on a smaller run -----------------------------------------------
def _small(model, out, *extra) -> list[str]:
    """A smaller run: 8 prompts, 12 training steps with a checkpoint at step 10, one benchmark."""
    cmd = _command(model, out)[:9] + [  # python -m alignkit run RECIPE --out OUT --set model=M
        "--set", "prompts.n=8", "--set", "generate.n=2", "--set", "generate.shard_size=4",
        "--set", "generate.max_new_tokens=8", "--set", "generate.temperature=1.0", "--set", "build.min_score=0.0",
        "--set", "build.max_per_prompt=2", "--set", "train.max_steps=12", "--set", "train.batch_size=2",
        "--set", "train.max_length=96", "--set", "evaluate.n=4", "--set", "evaluate.max_new_tokens=4",
        "--set", "evaluate.benchmarks=[ifeval_heldout]", "--set", "evaluate.budgets={}",
        "--set", "audit.enabled=false", "--set", "signals=[{name: verifiable_instructions}]"]
    for item in extra:
        cmd += ["--set", item]
    return cmd


def _small_state(out: Path, model_dir: str, stages: list[str]) -> dict:
    from safetensors.torch import load_file

    def groups(name):
        key = json.loads((out / "stages" / name / "manifest.json").read_text())["key"]
        return {g.id: g.to_row() for g in RunStore(out).stage(name, key).read_groups()}

    report = json.loads((out / "report.json").read_text())
    weights = load_file(out / model_dir / "model.safetensors")
    # the trained model's path names the run directory (candidates' origin, the report's iterations):
    # two runs in two directories differ there and nowhere else
    return _in_run(out, {**{s: groups(s) for s in stages},
            "eval": {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("stages/eval_*/items.json"))},
            "benchmarks": report["benchmarks"], "iterations": report.get("iterations"),
            "train": {p.parent.name: {k: v for k, v in json.loads(p.read_text()).items()
                                      if k in ("steps", "rows", "reward_first", "reward_last")}
                      for p in sorted(out.glob("stages/train*/manifest.json"))},
            "weights": {k: v.double().sum().item() for k, v in weights.items()}})


def _in_run(out: Path, state: dict) -> dict:
    """`state` with the run directory's path written as RUN."""
    return json.loads(json.dumps(state).replace(str(out), "RUN"))


def _kill_when(cmd, trigger: Path) -> bool:
    """Start `cmd`, SIGKILL its process group once `trigger` exists; True if it was killed mid-run."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 400
    while not trigger.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return killed


def test_iterated_runs_resume_to_the_same_result(tiny_model_dir, tmp_path):
    ref_out = tmp_path / "reference"
    stages = ["generate", "annotate", "generate_it2", "annotate_it2"]
    _finish(_small(tiny_model_dir, ref_out, "iterations=2"))
    ref = _small_state(ref_out, "model_it2", stages)
    assert ref["iterations"] and len(ref["iterations"]) == 2
    # in the second iteration: its generation, then its training after its checkpoint
    for k, trigger in enumerate(["stages/generate_it2/shard-00001.parquet",
                                 "stages/train_it2/checkpoints/checkpoint-10/alignkit-complete.json"]):
        out = tmp_path / f"kill{k}"
        cmd = _small(tiny_model_dir, out, "iterations=2")
        assert _kill_when(cmd, out / trigger), trigger
        finished = _finished_stages(out)
        _finish(cmd)
        after = _finished_stages(out)
        assert not [n for n, t in finished.items() if after.get(n) != t], f"{trigger}: finished stages redone"
        _assert_same(_small_state(out, "model_it2", stages), ref, f"iterated run killed at {trigger}")


def test_grpo_killed_after_its_checkpoint_equals_the_uninterrupted_run(tiny_model_dir, tmp_path):
    """GRPO resumed from its step-10 checkpoint (in its 6th epoch: 4 prompts, 2 a step) equals the
    uninterrupted run: TRL's sampler would replay epoch 0's prompt order there (online.py)."""
    grpo = ["train.method=grpo", "prompts.n=4", "train.batch_size=2", "generate.n=2"]
    ref_out = tmp_path / "reference"
    _finish(_small(tiny_model_dir, ref_out, *grpo))
    ref = _small_state(ref_out, "model", [])
    assert ref["train"]["train"]["steps"] == 12
    out = tmp_path / "killed"
    cmd = _small(tiny_model_dir, out, *grpo)
    assert _kill_when(cmd, out / "stages/train/checkpoints/checkpoint-10/alignkit-complete.json")
    log = _finish(cmd)
    assert "grpo: resuming from" in log and "checkpoint-10" in log and "not resuming" not in log
    _assert_same(_small_state(out, "model", []), ref, "grpo killed after its checkpoint")
