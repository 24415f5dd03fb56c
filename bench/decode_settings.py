"""Generation settings tried for figure 1: fp32 vs bf16 weights (at batch 32 and batch 1),
and the batch size (16, 32, 64), on `HFBackend.generate`, greedy, measured side by side.
This is what kept generation in fp32 with a default batch of 32.

    python bench/decode_settings.py [--quick] [--prompts 64] [--tokens 32] [--threads 1]
"""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, table


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.tokens = 4, 4
    repeats = args.repeats or (1 if args.quick else 2)
    torch.set_num_threads(args.threads)

    from alignkit.data.instructions import synthesize
    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    backend = HFBackend("embedded")
    convs = [p.messages for p in synthesize("train", args.prompts, seed=7)]
    sampling = Sampling(max_new_tokens=args.tokens)

    def job(dtype: torch.dtype, batch: int, rows: list):
        def run() -> dict:
            backend.model.to(dtype)
            backend.batch_size = batch
            backend.generate(rows, sampling)
            return {"padded_tokens": len(rows) * args.tokens}
        return run

    half = convs[: max(1, len(convs) // 2)]
    jobs = {
        "fp32, batch 32": job(torch.float32, 32, half),
        "bf16, batch 32": job(torch.bfloat16, 32, half),
        "fp32, batch 1 (1 prompt)": job(torch.float32, 1, convs[:1]),
        "bf16, batch 1 (1 prompt)": job(torch.bfloat16, 1, convs[:1]),
        **{f"fp32, batch {b} ({len(convs)} prompts)": job(torch.float32, b, convs) for b in (16, 32, 64)},
    }
    print(machine_line())
    print(f"# greedy, {args.tokens} new tokens, {args.threads} torch threads, median of {repeats} interleaved repeats")
    res = interleaved(jobs, repeats)
    backend.model.to(torch.float32)
    rows = [[name, round(r["seconds"], 2), round(r["padded_tokens"] / r["seconds"], 1)] for name, r in res.items()]
    print(table(["setting", "s (median)", "padded tok/s"], rows))
    print(f"bf16 / fp32 time at batch 32: {res['bf16, batch 32']['seconds'] / res['fp32, batch 32']['seconds']:.2f}x")
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
