"""A finished run's breakdown as markdown tables (for docs/results.md): per benchmark, the answer-length
distribution before and after, and for instruction benchmarks every constraint type (items, followed
before and after, the change with its paired 95% CI, losses marked).

Reads report.json's `breakdown` (written by `alignkit run` since issue 24). For an older run, or one
written before the share of looping answers was added, it is computed from the stored evaluation
items: the final model is the run's `after` evaluation (or its last `itK`), and the prompts are
regenerated with --seed (the recipe's evaluate.seed, default 0) and as many items as the run stored.

    python scripts/breakdown.py RUN_DIR [--bench NAME] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alignkit.evaluate.breakdown import markdown, run_breakdown


def final_label(run: Path, bench: str) -> str:
    """The label of the run's last evaluation of `bench`: after, or itK with the largest K."""
    labels = [d.name[len("eval_"): -len(bench) - 1] for d in (run / "stages").glob(f"eval_*_{bench}")]
    labels = [x for x in labels if x == "after" or (x.startswith("it") and x[2:].isdigit())]
    if not labels:
        sys.exit(f"{run}: no evaluation of {bench} after training (stages/eval_after_{bench} or eval_itK_{bench})")
    return max(labels, key=lambda x: 0 if x == "after" else int(x[2:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--bench", help="one benchmark (default: every benchmark the run evaluated)")
    ap.add_argument("--seed", type=int, default=0, help="the run's evaluate.seed (older runs only)")
    args = ap.parse_args()

    path = args.run / "report.json"
    if not path.is_file():
        sys.exit(f"no report.json in {args.run}: give the --out directory of `alignkit run`")
    report = json.loads(path.read_text())
    names = [args.bench] if args.bench else list(report.get("benchmarks", {}))
    breakdown = report.get("breakdown") or {}
    for name in names:
        stale = name in breakdown and "share_looping" not in breakdown[name]["length"]["before"]  # before session 16
        if name not in breakdown or stale:
            if name not in report.get("benchmarks", {}):
                sys.exit(f"{args.run}: the run did not evaluate {name!r} (it has: {', '.join(report['benchmarks'])})")
            breakdown[name] = run_breakdown(args.run, [name], final_label(args.run, name),
                                            prompt_seed=args.seed)[name]
        print(markdown(name, breakdown[name], report["benchmarks"].get(name, {}).get("split")))


if __name__ == "__main__":
    main()
