"""Shared helpers for the bench scripts: interleaved repeats, medians, a plain table, the
verdict line. Every figure is a ratio measured side by side in one run, so machine drift
hits all contenders alike."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # run from a checkout without an install
    sys.path.insert(0, str(SRC))


def parser(doc: str | None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes: checks the script runs, numbers are noisy")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (median reported)")
    return ap


def interleaved(contenders: dict[str, Callable[[], dict]], repeats: int, warmup: bool = True) -> dict[str, dict]:
    """Run each contender `repeats` times, round-robin, after one warm-up each. A contender
    returns a dict of counts (e.g. tokens); `seconds` is added. Returns per contender the
    median seconds and the counts of its median run."""
    if warmup:
        for fn in contenders.values():
            fn()
    runs: dict[str, list[dict]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            counts = fn()
            runs[name].append({**counts, "seconds": time.perf_counter() - t})
    out = {}
    for name, rs in runs.items():
        med = statistics.median(r["seconds"] for r in rs)
        mid = min(rs, key=lambda r: abs(r["seconds"] - med))
        out[name] = {**mid, "seconds": med, "all_seconds": [round(r["seconds"], 2) for r in rs]}
    return out


def table(header: list[str], rows: list[list]) -> str:
    cells = [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(name: str, value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    op = ">=" if higher_is_better else "<="
    return f"{name}: {value:.2f}x (target {op} {target}x) -> {'PASS' if ok else 'MISS'}"


def machine_line() -> str:
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"# {time.strftime('%Y-%m-%d %H:%M')} | {os.cpu_count()} CPUs, load {load:.1f} (contended when > "
            f"{os.cpu_count()}) | torch {torch.__version__}, {torch.get_num_threads()} threads")


def record_train_runtimes() -> list[tuple[float, int]]:
    """Patch transformers' Trainer.train so each call appends (train_runtime, global_step) to the
    returned list: step times as the Trainer measured them, without model loading or saving."""
    import transformers

    runtimes: list[tuple[float, int]] = []
    inner_train = transformers.Trainer.train

    def timed_train(self, *a, **kw):
        out = inner_train(self, *a, **kw)
        runtimes.append((out.metrics["train_runtime"], self.state.global_step))
        return out

    transformers.Trainer.train = timed_train
    return runtimes
