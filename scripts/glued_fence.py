"""A diagnostic, not a benchmark: a code benchmark's stored answers scored as they are and with a fence
glued to the code (```def f(...): on the fence's line, which extract_code reads as a language tag)
rewritten to ```python, by the same sandboxed tests. How much of a loss is that form quirk.

    python scripts/glued_fence.py runs/u2_cap/functions_heldout.items.json [--bench functions_heldout]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.evaluate.guard import unglue_fences


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", help="a BENCH.items.json written by `alignkit eval`")
    ap.add_argument("--bench", default="functions_heldout")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bench = BENCHMARKS[args.bench]
    items = json.loads(Path(args.items).read_text())
    prompts = {p.id: p for p in bench.prompts(len(items), args.seed)}
    strict = read = 0.0
    glued = 0
    for it in items:
        p, text = prompts[it["id"]], it["response"]
        fixed = unglue_fences(text)
        strict += bench.score(p, text)
        read += bench.score(p, fixed)
        glued += fixed != text
    n = len(items)
    print(json.dumps({"items": n, "glued_fences": glued, "score": round(strict / n, 3),
                      "score_glued_read_as_code": round(read / n, 3)}))


if __name__ == "__main__":
    main()
