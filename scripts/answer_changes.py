"""What training changed in a finished arithmetic run's answers: held-out items turned right and
turned wrong, mean answer length and how many answers state the calculation in one line
("a + b = c") before and after, and how many of the training rows end on the right number
(ground truth read only for this report). With --against, how many held-out items the two runs
score differently.

    python scripts/answer_changes.py RUN [--bench arithmetic_heldout] [--against RUN2]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from alignkit.data.arithmetic import extract_answer
from alignkit.data.store import Stage, eval_stage
from alignkit.pipeline import eval_label, stage_name

_ONE_LINE = re.compile(r"\d+ [+-] \d+ = \d+")


def _items(run: Path, label: str, bench: str) -> list[dict]:
    return Stage.existing(run, eval_stage(label, bench)).read_json("items.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--bench", default="arithmetic_heldout")
    ap.add_argument("--against", type=Path, help="a second run of the same benchmark")
    ap.add_argument("--iteration", type=int, help="an iterated run: compare iteration K with K-1 (its training rows)")
    args = ap.parse_args()

    k, iterated = args.iteration or 1, args.iteration is not None
    labels = (eval_label(k - 1, iterated), eval_label(k, iterated))
    before, after = _items(args.run, labels[0], args.bench), _items(args.run, labels[1], args.bench)
    up = sum(a["score"] > b["score"] for b, a in zip(before, after))
    down = sum(a["score"] < b["score"] for b, a in zip(before, after))
    print(f"{args.bench} n={len(before)}: turned right {up}, turned wrong {down}")
    for label, items in zip(labels, (before, after)):
        chars = sum(len(i["response"]) for i in items) / len(items)
        print(f"  {label}: mean answer {chars:.1f} characters, one-line 'a ± b = c' in "
              f"{sum(bool(_ONE_LINE.search(i['response'])) for i in items)} of {len(items)}")

    truth = {g.prompt.id: str(g.prompt.meta["answer"]) for g in Stage.existing(args.run, "generate").read_groups()}
    rows = Stage.existing(args.run, stage_name("build", k)).read_json("rows.json")
    right = sum(extract_answer(r["completion"][-1]["content"]) == truth[r["id"]] for r in rows)
    print(f"training rows: {len(rows)}, ending on the right number: {right}")

    if args.against:
        other = _items(args.against, "after", args.bench)
        print(f"held-out items scored differently by {args.run} and {args.against}: "
              f"{sum(a['score'] != o['score'] for a, o in zip(after, other))}")


if __name__ == "__main__":
    main()
