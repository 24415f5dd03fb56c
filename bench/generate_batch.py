"""Generation throughput of the HF backend on the embedded model by batch size, measured
side by side in one run (same prompts, greedy, fixed length). Prints tokens/s and the
ratio to unbatched generation.

    python bench/generate_batch.py [--prompts 32] [--tokens 64]
"""

from __future__ import annotations

import argparse
import time

from alignkit.data.instructions import synthesize
from alignkit.models.base import Sampling
from alignkit.models.hf import HFBackend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    backend = HFBackend("embedded")
    convs = [p.messages for p in synthesize("train", args.prompts, seed=7)]
    sampling = Sampling(n=1, temperature=0.0, max_new_tokens=args.tokens)
    backend.batch_size = 4
    backend.generate(convs[:4], sampling)  # warm-up
    rates = {}
    for bsz in (1, 8, 32):
        backend.batch_size = bsz
        subset = convs if bsz > 1 else convs[:8]  # unbatched is slow: fewer prompts, same per-token rate
        t = time.perf_counter()
        outs = backend.generate(subset, sampling)
        secs = time.perf_counter() - t
        tokens = sum(len(backend.tokenizer(o[0])["input_ids"]) for o in outs)
        rates[bsz] = tokens / secs
        print(f"batch {bsz:>3}: {tokens:>5} tokens in {secs:6.1f} s = {rates[bsz]:6.1f} tok/s "
              f"({rates[bsz] / rates[1]:.1f}x unbatched)")


if __name__ == "__main__":
    main()
