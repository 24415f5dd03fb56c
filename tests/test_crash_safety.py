"""Crash safety: a real recipe runs in a subprocess (the `alignkit` CLI) and is killed with
SIGKILL at random points in each stage, then restarted with the same command. The final
datasets (per prompt id), evaluation items, report and model must equal an uninterrupted
run's, and the restart must not redo a stage that had finished."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

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


def _finish(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]


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
        state = _state(out)
        for part in ref:
            if part == "weights":
                assert state[part].keys() == ref[part].keys()
                assert all(abs(state[part][n] - ref[part][n]) < 1e-4 for n in ref[part]), f"kill {k}: weights differ"
            else:
                assert state[part] == ref[part], f"kill {k} ({stage}): {part} differs"
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
