"""A run's before/after evaluations re-scored by the current benchmark code, with paired 95% CIs:
each benchmark alone, and with --pool all of them as one item set (e.g. the two parts of IFEval's
test split). Used when a scoring fix lands after a run: its stored answers are scored again
without regenerating them.

    python scripts/rescore.py RUN_DIR --bench ifeval_ood_dev2,ifeval_ood [--pool] [--seed 0]

--before and --after compare other evaluations of the same items than RUN_DIR's own before and after:
`RUN:LABEL` (a run's stage eval_LABEL_BENCH, e.g. runs/in_context:in_context or runs/contrast:after) or
a directory written by `alignkit eval` (its BENCH.items.json), e.g. a trained model against the
in-context baseline:

    python scripts/rescore.py runs/in_context --bench ifeval_ood --before runs/in_context:in_context \
        --after runs/contrast:after
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignkit.data.store import eval_items_path
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.evaluate.stats import paired_summary


def rescored(path: Path, bench: str, seed: int) -> list[float]:
    items = json.loads(path.read_text())
    prompts = {p.id: p for p in BENCHMARKS[bench].prompts(len(items), seed)}
    return [BENCHMARKS[bench].score(prompts[it["id"]], it["response"]) for it in items]


def summary(name: str, before: list[float], after: list[float]) -> dict:
    s = paired_summary(before, after, seed=0)
    return {"benchmark": name, "n": s["n"], **{k: round(s[k], 3) for k in ("before", "after", "delta")},
            "ci95": [round(v, 3) for v in s["ci95"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--bench", required=True, help="comma-separated benchmark names")
    ap.add_argument("--pool", action="store_true", help="also report all benchmarks' items as one set")
    ap.add_argument("--seed", type=int, default=0, help="the run's evaluate.seed")
    ap.add_argument("--before", help="RUN:LABEL or an `alignkit eval` directory (default RUN_DIR:before)")
    ap.add_argument("--after", help="RUN:LABEL or an `alignkit eval` directory (default RUN_DIR:after)")
    args = ap.parse_args()
    before_from, after_from = args.before or f"{args.run}:before", args.after or f"{args.run}:after"
    pooled: tuple[list[float], list[float]] = ([], [])
    for bench in args.bench.split(","):
        before, after = (rescored(eval_items_path(src, bench), bench, args.seed) for src in (before_from, after_from))
        print(json.dumps(summary(bench, before, after)))
        pooled[0].extend(before)
        pooled[1].extend(after)
    if args.pool:
        print(json.dumps(summary("+".join(args.bench.split(",")), *pooled)))


if __name__ == "__main__":
    main()
