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
from _common import answer_runs, ifeval_convs, interleaved, machine_line, parser, print_speeds, verdict


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

    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    convs = ifeval_convs(args.prompts, args.context)
    sampling = Sampling(n=1, temperature=0.0, max_new_tokens=args.tokens)
    static = HFBackend("embedded", batch_size=32, dtype=args.dtype)
    continuous = HFBackend("embedded", batch_size=32, model=static.model, tokenizer=static.tokenizer,
                           continuous=True)
    answers: dict[str, list] = {}
    for b in (static, continuous):  # a small warm-up each, so neither pays the first call's start-up
        b.generate(convs[:2], Sampling(n=1, temperature=0.0, max_new_tokens=4))

    res = interleaved(answer_runs({"static batches": static, "continuous batching": continuous}, convs, sampling,
                                  answers), args.repeats or 1, warmup=False)
    print(machine_line())
    print(f"# {args.prompts} IFEval prompts{' with the ' + args.context + ' context' if args.context else ''}, "
          f"greedy, up to {args.tokens} new tokens, {args.dtype}, batch 32")
    print_speeds(res, "static batches", "generation", answers)
    base = res["static batches"]["seconds"]
    print(verdict("continuous / static", base / res["continuous batching"]["seconds"], 1.3))


if __name__ == "__main__":
    main()
