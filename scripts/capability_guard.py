"""The capability guard (`alignkit.evaluate.guard`): a candidate's answers against the base's on the same
items, per benchmark: the score with its paired 95% CI, words per answer, loops, glued fences, and
whether the candidate passes. Exits 1 when any benchmark fails, so a recipe search can stop on it.

    python scripts/capability_guard.py --before runs/base_capdev --after runs/w3_capdev \
        --bench arithmetic_dev,functions_dev

BEFORE and AFTER are directories written by `alignkit eval` (BENCH.items.json) or `RUN:LABEL` (a run's
stage eval_LABEL_BENCH, e.g. runs/u24:before).
"""

from __future__ import annotations

import argparse
import json
import sys

from alignkit.data.store import eval_items_path
from alignkit.evaluate.benchmarks import scores_code
from alignkit.evaluate.guard import GuardRule, guard


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the base's evaluation")
    ap.add_argument("--after", required=True, help="the candidate's evaluation")
    ap.add_argument("--bench", required=True, help="comma-separated benchmark names")
    d = GuardRule()
    ap.add_argument("--min-length-ratio", type=float, default=d.min_length_ratio)
    ap.add_argument("--max-new-loops", type=int, default=d.max_new_loops)
    ap.add_argument("--max-new-glued", type=int, default=d.max_new_glued)
    args = ap.parse_args()
    rule = GuardRule(args.min_length_ratio, args.max_new_loops, args.max_new_glued)
    ok = True
    for bench in args.bench.split(","):
        paths = [eval_items_path(src, bench) for src in (args.before, args.after)]
        for p in paths:
            if not p.is_file():
                print(f"error: no evaluation of {bench} at {p}: run `alignkit eval --bench {bench}` with --out "
                      "there, or give RUN:LABEL", file=sys.stderr)
                return 2
        try:
            res = guard(*(json.loads(p.read_text()) for p in paths), rule, code=scores_code(bench))  # code: its length
        except ValueError as e:
            print(f"error: {bench}: {e}", file=sys.stderr)
            return 2
        ok &= res["passed"]
        print(json.dumps({"benchmark": bench, **res}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
