"""Greedy evaluation answers (what every benchmark decodes): alignkit's static batches of 32
(sorted by prompt length; a batch runs until its longest answer ends) against transformers'
continuous batching (`HFBackend(continuous=True)`: a finished answer's slot takes the next prompt
at once). Google's IFEval prompts, the embedded model, measured side by side in one process; also
counts how many answers are the same text both ways.

    python bench/continuous.py [--quick] [--prompts 200] [--tokens 256] [--dtype float32] [--context urial]
"""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, table, verdict


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--context", default=None, help="an in-context alignment context before every prompt")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.tokens = 6, 8
    torch.set_num_threads(args.threads)

    from alignkit.data.packaged import ifeval_rows
    from alignkit.in_context import load_context
    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    convs = [[{"role": "user", "content": r["prompt"]}] for r in ifeval_rows()[: args.prompts]]
    if args.context:
        context = load_context(args.context)
        convs = [context.apply(c) for c in convs]
    sampling = Sampling(n=1, temperature=0.0, max_new_tokens=args.tokens)
    static = HFBackend("embedded", batch_size=32, dtype=args.dtype)
    continuous = HFBackend("embedded", batch_size=32, model=static.model, tokenizer=static.tokenizer,
                           continuous=True)
    answers: dict[str, list] = {}
    for b in (static, continuous):  # a small warm-up each, so neither pays the first call's start-up
        b.generate(convs[:2], Sampling(n=1, temperature=0.0, max_new_tokens=4))

    def run(name: str, b: HFBackend):
        def go() -> dict:
            answers[name] = [o[0] for o in b.generate(convs, sampling)]
            return {"tokens": sum(len(b.tokenizer(a).input_ids) for a in answers[name])}
        return go

    res = interleaved({"static batches": run("static batches", static),
                       "continuous batching": run("continuous batching", continuous)},
                      args.repeats or 1, warmup=False)
    print(machine_line())
    print(f"# {args.prompts} IFEval prompts{' with the ' + args.context + ' context' if args.context else ''}, "
          f"greedy, up to {args.tokens} new tokens, {args.dtype}, batch 32")
    base = res["static batches"]["seconds"]
    rows = [[k, f"{r['seconds']:.1f}", str(r["tokens"]), f"{r['tokens'] / r['seconds']:.1f}",
             f"{base / r['seconds']:.2f}x"] for k, r in res.items()]
    print(table(["generation", "seconds", "tokens", "useful tokens/s", "speed vs static"], rows))
    same = sum(a == b for a, b in zip(answers["static batches"], answers["continuous batching"]))
    print(f"agreement: {same} of {len(convs)} answers identical")
    print("raw seconds per repeat: " + ", ".join(f"{k} {r['all_seconds']}" for k, r in res.items()))
    print(verdict("continuous / static", base / res["continuous batching"]["seconds"], 1.3))


if __name__ == "__main__":
    main()
