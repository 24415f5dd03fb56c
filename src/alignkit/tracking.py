"""Experiment tracking: the trackers of `train.report_to` (TRL's names: tensorboard, wandb, mlflow,
trackio) get TRL's training logs and alignkit's own stage metrics in one place.

A `Tracker` is opened around the whole run, before training, so that the trainer's callback finds
what it would otherwise create, and writes there:
- tensorboard: the run's `tensorboard/` directory (TENSORBOARD_LOGGING_DIR, which transformers'
  callback reads; a directory already set there by the user wins);
- wandb and mlflow: an active run, which transformers' callbacks reuse instead of starting their own
  (their usual environment applies: WANDB_MODE=offline, MLFLOW_TRACKING_URI, ...);
- trackio: its own run (transformers' callback always starts one), under the same project.

Stage metrics are scalars named `alignkit/<what>`: the signal tallies of each iteration
(`alignkit/signal/...`, step = iteration), the audit's figures (`alignkit/audit/<signal>/...`) and the
benchmarks' before, after, delta and CI (`alignkit/benchmark/<name>/...`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from alignkit.errors import AlignkitError

# the package each tracker needs (pip names, for the error when one is missing)
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}
PROJECT = "alignkit"  # wandb and trackio project, mlflow experiment, unless their environment names one


class Tracker:
    """The trackers named in `names`, for one run directory; a no-op when `names` is empty."""

    def __init__(self, names: list[str], out: str | Path, run_name: str, config: dict[str, Any] | None = None):
        self.names, self.out, self.run_name, self.config = list(names), Path(out), run_name, config or {}
        self._tb = None
        self._env: dict[str, str | None] = {}
        self._mods: dict[str, Any] = {}

    def __enter__(self) -> Tracker:
        for name in self.names:
            if importlib.util.find_spec(name) is None:
                raise AlignkitError(f"train.report_to names {name}, but the {PACKAGES[name]} package is not "
                                    "installed", where="train.report_to", fix=f"pip install {PACKAGES[name]} (or "
                                    f"'alignkit[tracking]'), or remove {name} from train.report_to")
        if "tensorboard" in self.names:
            from torch.utils.tensorboard import SummaryWriter

            logdir = os.environ.get("TENSORBOARD_LOGGING_DIR") or str(self.out / "tensorboard")
            self._setenv("TENSORBOARD_LOGGING_DIR", logdir)
            self._tb = SummaryWriter(log_dir=logdir)
        if "wandb" in self.names:
            import wandb

            self._mods["wandb"] = wandb
            if wandb.run is None:
                wandb.init(project=os.environ.get("WANDB_PROJECT", PROJECT), name=self.run_name,
                           dir=str(self.out), config=self.config)
        if "mlflow" in self.names:
            import mlflow

            self._mods["mlflow"] = mlflow
            if mlflow.active_run() is None:
                mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", PROJECT))
                mlflow.start_run(run_name=self.run_name)
        if "trackio" in self.names:
            import trackio

            self._mods["trackio"] = trackio
            trackio.init(project=os.environ.get("TRACKIO_PROJECT", PROJECT), name=f"{self.run_name}-alignkit",
                         config=self.config)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._tb is not None:
            self._tb.close()
        if "wandb" in self._mods:
            self._mods["wandb"].finish()
        if "mlflow" in self._mods:
            self._mods["mlflow"].end_run()
        if "trackio" in self._mods:
            self._mods["trackio"].finish()
        for key, old in self._env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old

    def _setenv(self, key: str, value: str) -> None:
        self._env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def log(self, metrics: dict[str, float], step: int = 0) -> None:
        """Scalars to every tracker. wandb keeps its own step (it drops steps below the trainer's
        last), so there the step is a metric of its own."""
        if not metrics:
            return
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)
            self._tb.flush()
        if "wandb" in self._mods:
            self._mods["wandb"].log({**metrics, "alignkit/step": step})
        if "mlflow" in self._mods:
            self._mods["mlflow"].log_metrics(metrics, step=step)
        if "trackio" in self._mods:
            self._mods["trackio"].log(metrics, step=step)

    # -- alignkit's stage metrics ----------------------------------------------------------------
    def log_run(self, report: dict[str, Any], audit: dict[str, Any] | None,
                signal_stats: list[dict[str, Any]]) -> None:
        """A finished run's metrics: `signal_stats` (annotate's stats.json, one per iteration), the
        audit, and the report's benchmarks."""
        for iteration, stats in enumerate(signal_stats, 1):
            self.log(numbers(stats, "alignkit/signal"), step=iteration)
        for row in (audit or {}).get("signals", []):
            keep = {k: v for k, v in row.items() if k not in ("signal", "flags", "auroc_ci95")}
            self.log({**numbers(keep, f"alignkit/audit/{row['signal']}"),
                      f"alignkit/audit/{row['signal']}/flags": len(row.get("flags", []))})
        self.log(numbers(report.get("benchmarks", {}), "alignkit/benchmark"))
        self.log({"alignkit/wall_seconds": report.get("wall_seconds", 0.0)})


def numbers(tree: Any, prefix: str) -> dict[str, float]:
    """Numeric leaves of nested dicts and lists as `prefix/key/...` (a CI's bounds as `ci95/0`, `ci95/1`)."""
    if isinstance(tree, bool):
        return {prefix: float(tree)}
    if isinstance(tree, int | float):
        return {prefix: float(tree)}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    out: dict[str, float] = {}
    for key, value in items:
        out.update(numbers(value, f"{prefix}/{key}"))
    return out
