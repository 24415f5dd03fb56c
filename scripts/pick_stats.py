"""Audit a best-of-N pick against the ground truth, from a finished run's annotate stage: how often
the signal's top candidate per prompt is right by a ground-truth annotation, against a random pick
(the mean over the prompt's candidates) and the best possible pick; and how the picks differ from
all samples in being cut off at the token limit and in length (docs/results.md, the chain of
issue 25).

    python3 scripts/pick_stats.py RUN_DIR SIGNAL TRUTH
    python3 scripts/pick_stats.py runs/rejection_sampling_arithmetic reward_model answer_match
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from alignkit.data.store import Stage
from alignkit.errors import AlignkitError
from alignkit.evaluate.reward_eval import best_of_n


def pick_stats(run: Path, signal: str, truth: str) -> dict[str, float]:
    groups = Stage.existing(run, "annotate").read_groups()
    pick = random = best = cut_pick = cut_all = 0.0
    pick_words: list[int] = []
    all_words: list[int] = []
    for g in groups:
        cands = g.candidates
        scores = [c.value(signal) for c in cands]
        if all(s is None for s in scores):
            sys.exit(f"{run}: no candidate carries a {signal!r} annotation")
        right = [float(c.value(truth) or 0.0) for c in cands]
        top, r, p, b = best_of_n([float("-inf") if v is None else float(v) for v in scores], right)
        cut = [c.origin.get("finish_reason") == "length" for c in cands]
        pick, random, best = pick + p, random + r, best + b
        cut_pick, cut_all = cut_pick + cut[top], cut_all + sum(cut) / len(cut)
        pick_words.append(len(cands[top].text.split()))
        all_words += [len(c.text.split()) for c in cands]
    n = len(groups)
    return {"prompts": n, "pick_right": pick / n, "random_right": random / n, "best_right": best / n,
            "pick_cut_off": cut_pick / n, "all_cut_off": cut_all / n,
            "pick_words": statistics.mean(pick_words), "all_words": statistics.mean(all_words)}


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        s = pick_stats(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
    except AlignkitError as exc:  # no annotate stage: say where and how to fix it, no traceback
        sys.exit(str(exc))
    print(f"prompts {s['prompts']}: the pick is right {s['pick_right']:.3f}, a random pick {s['random_right']:.3f}, "
          f"the best pick {s['best_right']:.3f}; cut off: picks {s['pick_cut_off']:.3f}, all samples "
          f"{s['all_cut_off']:.3f}; words: picks {s['pick_words']:.1f}, all samples {s['all_words']:.1f}")


if __name__ == "__main__":
    main()
