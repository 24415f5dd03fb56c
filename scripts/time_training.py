"""Time the training a run did, on that run's own rows: alignkit.train.train with the recipe's
train settings for --steps optimizer steps, the weights loaded in each --dtype in turn, in this
process. With --after-vllm, a vLLM engine first answers 64 prompts and is shut down, as a run does
before it trains, so any state the engine leaves in the process would show in the times.

    python scripts/time_training.py RUN_DIR [--steps 20] [--dtype float32,bfloat16] [--after-vllm]

It answered why a run's training took 414-428 s with vLLM and 346 s without (docs/benchmarks.md, 7).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from alignkit.models.embedded import resolve_model_path
from alignkit.recipe import load_recipe
from alignkit.train import train


def vllm_round() -> None:
    from alignkit.models import load_backend
    from alignkit.models.base import Sampling
    from alignkit.models.vllm import shutdown

    backend = load_backend("vllm:embedded", 32, "bfloat16")
    backend.generate([[{"role": "user", "content": "Tell me a story about a cat."}]] * 64,
                     Sampling(temperature=0.7, max_new_tokens=128))
    shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dtype", default="float32,bfloat16", help="weights' dtypes, comma-separated, timed in turn")
    ap.add_argument("--after-vllm", action="store_true", help="start, use and stop a vLLM engine first")
    args = ap.parse_args()
    rows_file = args.run / "stages" / "build" / "rows.json"
    if not rows_file.is_file():
        sys.exit(f"{args.run}: no stages/build/rows.json (give the --out directory of a finished `alignkit run`)")
    recipe = load_recipe(args.run / "recipe.yaml")
    rows = json.loads(rows_file.read_text())
    if args.after_vllm:
        vllm_round()
    cfg = recipe.train.model_copy(update={"max_steps": args.steps})
    for dtype in args.dtype.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            info = train(recipe.train.method, rows, cfg, resolve_model_path(recipe.model), Path(tmp) / "work",
                         Path(tmp) / "model", dtype=dtype)
            print(f"{dtype}: {info['steps']} steps of {recipe.train.method} on {len(rows)} rows in "
                  f"{time.perf_counter() - t:.1f} s (loading and saving included), loss {info['train_loss']:.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
