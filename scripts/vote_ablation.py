"""Is it the vote? The ablation of a finished self_consistency run: for every problem the vote
kept, train instead on a *random* complete sample of the same problem (seeded; no vote, no
ground truth), with the recipe's own training settings, then score the same benchmark. If this
control gains as much as the run did, the gain came from training on the model's own answers
(their form), not from the majority; if it gains less, the vote's selection is what helped.
Ground truth is read only to report how many training answers are right, never to choose them.

    python scripts/vote_ablation.py --run runs/self_consistency_easy \\
        [--recipe recipes/self_consistency.yaml] [--set KEY=VALUE ...] [--seed 0] [--iteration K]

With --iteration K (an iterated run), iteration K's kept problems and samples, trained from
iteration K-1's model and compared against it.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from alignkit.data.arithmetic import extract_answer
from alignkit.data.store import Stage, eval_stage
from alignkit.evaluate.benchmarks import run_benchmark
from alignkit.evaluate.stats import paired_bootstrap_ci
from alignkit.models.cache import ModelCache
from alignkit.models.embedded import resolve_model_path
from alignkit.pipeline import eval_label, model_dir_name, stage_name
from alignkit.recipe import load_recipe
from alignkit.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a finished self_consistency run")
    ap.add_argument("--recipe", default="recipes/self_consistency.yaml")
    ap.add_argument("--set", action="append", default=[], help="the overrides the run was made with")
    ap.add_argument("--seed", type=int, default=0, help="which random sample stands in for the majority")
    ap.add_argument("--out", type=Path, help="where the control model goes (default RUN_novote)")
    ap.add_argument("--iteration", type=int, default=1, help="which iteration of an iterated run")
    args = ap.parse_args()
    recipe = load_recipe(args.recipe, args.set)
    k, iterated = args.iteration, recipe.iterations > 1
    out = args.out or args.run.with_name(stage_name(args.run.name + "_novote", k))
    # eval labels of the model before and after this iteration's training; its base model
    labels = (eval_label(k - 1, iterated), eval_label(k, iterated))
    base = resolve_model_path(recipe.model) if k == 1 else str(args.run / model_dir_name(k - 1, iterated))

    kept = Stage.existing(args.run, stage_name("build", k)).read_json("rows.json")
    groups = {g.prompt.id: g for g in Stage.existing(args.run, stage_name("generate", k)).read_groups()}
    rng = random.Random(args.seed)
    control, right = [], {"vote": 0, "random": 0}
    for row in kept:
        g = groups[row["id"]]
        complete = [c.text for c in g.candidates if c.origin.get("finish_reason") == "stop" and extract_answer(c.text)]
        pick = rng.choice(complete)
        control.append(row | {"completion": [{"role": "assistant", "content": pick}]})
        truth = str(g.prompt.meta["answer"])
        right["vote"] += extract_answer(row["completion"][0]["content"]) == truth
        right["random"] += extract_answer(pick) == truth
    print(f"{len(kept)} problems; training answers right: majority {right['vote']}, random sample {right['random']}")

    model_dir = out / "model"
    if not (model_dir / "config.json").is_file():
        train(recipe.train.method, control, recipe.train, base, out / "train", model_dir)
    cfg = recipe.evaluate
    for bench in cfg.benchmarks:
        before = [i["score"] for i in Stage.existing(args.run, eval_stage(labels[0], bench)).read_json("items.json")]
        voted = [i["score"] for i in Stage.existing(args.run, eval_stage(labels[1], bench)).read_json("items.json")]
        res = run_benchmark(ModelCache(str(model_dir), batch_size=cfg.batch_size)("policy"), bench, cfg.n,
                            seed=cfg.seed, max_new_tokens=cfg.max_new_tokens)
        for label, after in (("majority (the run)", voted), ("random sample (control)", res.scores)):
            lo, hi = paired_bootstrap_ci(before, after, seed=recipe.seed)
            print(f"{bench} n={len(before)} {label}: {sum(before) / len(before):.3f} -> {sum(after) / len(after):.3f}"
                  f" ({(sum(after) - sum(before)) / len(before):+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}])")
        lo, hi = paired_bootstrap_ci(res.scores, voted, seed=recipe.seed)
        print(f"{bench}: majority - control {(sum(voted) - sum(res.scores)) / len(voted):+.3f}, "
              f"95% CI [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
