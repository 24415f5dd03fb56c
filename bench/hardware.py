"""Figure 6, hardware limit: decode speed of the embedded model against what this CPU can
do, all measured in one run with the same torch thread count.

- Compute roof: measured fp32 matmul FLOP/s (square matmuls the size of the model's
  largest weights). Batched decode needs ~2 x params FLOPs per token, so the roof is
  FLOP/s / (2 x params) tokens/s.
- Memory roof: measured read bandwidth (summing a 1 GiB tensor). Batch-1 decode reads every
  weight once per token, so the roof is bandwidth / weight bytes tokens/s.

    python bench/hardware.py [--quick] [--batch 32] [--tokens 32]
"""

from __future__ import annotations

import time

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import machine_line, parser, table


def best_of(fn, repeats: int) -> float:
    """Fastest of `repeats` runs: the roof is what the machine can do, not its average."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def matmul_flops(dtype: torch.dtype, repeats: int, n: int = 1024) -> float:
    """Best FLOP/s of 8 square n x n matmuls in `dtype` at the current torch thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up
    return 8 * 2 * n ** 3 / best_of(lambda: [torch.mm(a, b) for _ in range(8)], repeats)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.batch, args.tokens = 8, 8
    repeats = args.repeats or (2 if args.quick else 5)
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.models.embedded import embedded_model_dir

    flops = matmul_flops(torch.float32, repeats)
    big = torch.ones(256 * 1024 * 1024)  # 1 GiB of fp32
    big.sum()
    bw_s = best_of(lambda: big.sum(), repeats)
    bandwidth = big.numel() * 4 / bw_s
    big = torch.empty(0)  # free the GiB before loading the model

    path = embedded_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    params = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    weight_bytes = params * 4
    prompt = tok.apply_chat_template([{"role": "user", "content": "Write a short story about a robot."}],
                                     tokenize=False, add_generation_prompt=True)
    kw = dict(do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=tok.pad_token_id,
              eos_token_id=None, min_new_tokens=args.tokens, max_new_tokens=args.tokens)

    def decode_rate(batch: int) -> float:
        enc = tok([prompt] * batch, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            model.generate(**enc, **{**kw, "max_new_tokens": 1, "min_new_tokens": 1})  # prefill alone
            prefill = best_of(lambda: model.generate(**enc, **{**kw, "max_new_tokens": 1, "min_new_tokens": 1}),
                              max(1, repeats // 2))
            full = best_of(lambda: model.generate(**enc, **kw), max(1, repeats // 2))
        return batch * (args.tokens - 1) / max(full - prefill, 1e-9)  # decode steps only

    b1 = decode_rate(1)
    bn = decode_rate(args.batch)
    compute_roof = flops / (2 * params)
    memory_roof = bandwidth / weight_bytes
    print(machine_line())
    print(f"# {params / 1e6:.0f}M params ({weight_bytes / 2**20:.0f} MiB fp32), decode {args.tokens} tokens "
          f"after a ~{len(tok(prompt).input_ids)}-token prompt, best of {repeats}")
    print(table(["measure", "value"], [
        ["matmul fp32", f"{flops / 1e9:.1f} GFLOP/s"],
        ["read bandwidth", f"{bandwidth / 2**30:.1f} GiB/s"],
        ["compute roof (FLOP/s / 2P)", f"{compute_roof:.0f} tok/s"],
        ["memory roof (bandwidth / weight bytes)", f"{memory_roof:.1f} tok/s"],
        [f"decode batch {args.batch}", f"{bn:.1f} tok/s = {bn / compute_roof:.0%} of compute roof"],
        ["decode batch 1", f"{b1:.1f} tok/s = {b1 / memory_roof:.0%} of memory roof"],
    ]))


if __name__ == "__main__":
    main()
