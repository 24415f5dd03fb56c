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
from typing import Any

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


def answer_runs(backends: dict[str, Any], convs: list, sampling: Any, answers: dict[str, list]) -> dict:
    """One `interleaved` contender per named backend: its first answer to each conversation, kept in
    `answers[name]`, counted in tokens."""
    def run(name: str, backend: Any) -> Callable[[], dict]:
        def go() -> dict:
            answers[name] = [o[0] for o in backend.generate(convs, sampling)]
            return {"tokens": sum(len(backend.tokenizer(a).input_ids) for a in answers[name])}
        return go
    return {name: run(name, b) for name, b in backends.items()}


def print_speeds(res: dict[str, dict], base: str, first_column: str, answers: dict[str, list] | None = None) -> None:
    """The table of seconds, tokens and useful tokens/s against `base`, then (with `answers`) how many
    answers are the same text for every contender, and the raw seconds per repeat."""
    rows = [[k, f"{r['seconds']:.1f}", str(r["tokens"]), f"{r['tokens'] / r['seconds']:.1f}",
             f"{res[base]['seconds'] / r['seconds']:.2f}x"] for k, r in res.items()]
    print(table([first_column, "seconds", "tokens", "useful tokens/s", f"speed vs {base}"], rows))
    if answers:
        same = sum(len(set(texts)) == 1 for texts in zip(*answers.values()))
        print(f"agreement: {same} of {len(next(iter(answers.values())))} answers identical")
    print("raw seconds per repeat: " + ", ".join(f"{k} {r['all_seconds']}" for k, r in res.items()))


def ifeval_convs(n: int, context: str | None = None) -> list:
    """The first `n` of Google's IFEval prompts as one-turn chats, after an in-context alignment
    `context` (a built-in name or a file) when given."""
    from alignkit.data.packaged import ifeval_rows
    from alignkit.in_context import load_context

    convs = [[{"role": "user", "content": r["prompt"]}] for r in ifeval_rows()[:n]]
    if context:
        loaded = load_context(context)
        convs = [loaded.apply(c) for c in convs]
    return convs
