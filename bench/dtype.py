"""Weights in bfloat16 vs float32 for alignkit's generation (`HFBackend.generate`, the path of
the generate and evaluate stages): greedy answers to Google's IFEval prompts (the 256-token
budget of `ifeval_ood`), batch 32, measured side by side. bf16 pays off only where the CPU has
AMX; on a CPU without it bf16 was slower (see "Generation settings" in docs/benchmarks.md).

    python bench/dtype.py [--quick] [--prompts 64] [--tokens 256] [--repeats 1]
"""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import answer_runs, ifeval_convs, interleaved, machine_line, parser, print_speeds


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.tokens = 4, 8
    torch.set_num_threads(args.threads)

    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    convs = ifeval_convs(args.prompts)
    sampling = Sampling(n=1, temperature=0.0, max_new_tokens=args.tokens)
    backends = {d: HFBackend("embedded", batch_size=32, dtype=d) for d in ("float32", "bfloat16")}

    answers: dict[str, list] = {}
    # no warm-up pass: a 64-prompt, 256-token batch dwarfs first-call overhead
    res = interleaved(answer_runs(backends, convs, sampling, answers), args.repeats or 1, warmup=False)
    print(machine_line())
    print_speeds(res, "float32", "weights", answers)


if __name__ == "__main__":
    main()
