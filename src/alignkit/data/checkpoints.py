"""Training checkpoints a kill cannot leave half-written.

The Trainer writes a checkpoint directory file by file (weights, optimizer, scheduler, RNG
state, trainer state), non-atomically; a kill in between leaves a directory that
`get_last_checkpoint` still picks and the resume then fails on. Here a callback writes a
marker (every file's size) once the Trainer has finished a checkpoint; on resume only
checkpoints whose marker matches their files count, and the others are deleted, so a run
falls back to the previous complete checkpoint or, if none, restarts from step 0.

`arm_fault` is a named fault-injection hook for the tests: with
`ALIGNKIT_FAULT=checkpoint-write:POINT` the training process kills itself (SIGKILL) at that
point of its first checkpoint write, leaving the files a real kill there would leave. It
exists because a kill from outside cannot land at an exact point of a write that takes
milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignkit.data.store import atomic_write_json

MARKER = "alignkit-complete.json"
PREFIX = "checkpoint-"
FAULT_POINTS = ("weights", "optimizer", "rng", "state", "marker")


def _files(ckpt: Path) -> dict[str, int]:
    return {str(p.relative_to(ckpt)): p.stat().st_size for p in sorted(ckpt.rglob("*"))
            if p.is_file() and p.name != MARKER}


def mark_complete(ckpt: Path, step: int) -> None:
    """Record that checkpoint `ckpt` (of optimizer step `step`) is fully written."""
    atomic_write_json(ckpt / MARKER, {"step": step, "files": _files(ckpt)})


def is_complete(ckpt: Path) -> bool:
    """The checkpoint's marker exists, names its step, and every file has its recorded size."""
    try:
        marker = json.loads((ckpt / MARKER).read_text())
        state = json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return (marker.get("step") == state.get("global_step") == checkpoint_step(ckpt)
            and marker.get("files") == _files(ckpt))


def checkpoint_step(ckpt: Path) -> int | None:
    """The training step a `checkpoint-N` directory was written at (None for any other name)."""
    tail = ckpt.name.removeprefix(PREFIX)
    return int(tail) if ckpt.name.startswith(PREFIX) and tail.isdigit() else None


def last_complete(output_dir: Path, log: Callable[[str], Any] = print) -> str | None:
    """The latest complete checkpoint under `output_dir`, or None (train from the start).
    Incomplete ones are deleted, so the Trainer never meets them again."""
    if not output_dir.is_dir():
        return None
    ckpts = sorted((p for p in output_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None),
                   key=checkpoint_step, reverse=True)
    found = None
    for ckpt in ckpts:
        if found is None and is_complete(ckpt):
            found = ckpt
        elif found is None:
            log(f"skipping the half-written checkpoint {ckpt} (a kill during its write); deleting it")
            shutil.rmtree(ckpt, ignore_errors=True)
    return str(found) if found else None


def marker_callback() -> Any:
    """A TrainerCallback that marks each checkpoint complete once the Trainer has written it."""
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            ckpt = Path(args.output_dir) / f"{PREFIX}{state.global_step}"
            if state.is_world_process_zero and ckpt.is_dir():
                mark_complete(ckpt, state.global_step)

    return MarkComplete()


def arm_fault(trainer: Any) -> None:
    """Fault injection (tests only): see the module docstring. POINT is one of FAULT_POINTS:
    weights, optimizer and rng leave that file half-written and the later ones missing; state
    leaves trainer_state.json half-written; marker leaves every file written but no marker."""
    spec = os.environ.get("ALIGNKIT_FAULT", "")
    if not spec.startswith("checkpoint-write:"):
        return
    point = spec.partition(":")[2]
    if point not in FAULT_POINTS:
        raise ValueError(f"ALIGNKIT_FAULT: unknown point {point!r}; one of {FAULT_POINTS}")

    def die(half: Path | None) -> None:
        if half is not None and half.is_file():
            os.truncate(half, half.stat().st_size // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    def after(name: str, target: Callable[[Path], Path | None]) -> None:
        original = getattr(trainer, name)

        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            ckpt = Path(trainer.args.output_dir) / f"{PREFIX}{trainer.state.global_step}"
            die(target(ckpt))
            return result

        setattr(trainer, name, wrapped)

    if point == "weights":
        after("save_model", lambda c: max(c.glob("*.safetensors"), key=lambda p: p.stat().st_size, default=None))
    elif point == "optimizer":
        after("_save_optimizer_and_scheduler", lambda c: c / "optimizer.pt")
    elif point == "rng":
        after("_save_rng_state", lambda c: next(iter(sorted(c.glob("rng_state*.pth"))), None))
    elif point == "state":
        after("_save_checkpoint", lambda c: c / "trainer_state.json")
    else:
        after("_save_checkpoint", lambda c: None)
