"""Why alignkit trains in float32 on CPU: one LoRA training step (forward, backward,
AdamW) on the embedded model, float32 vs bfloat16 autocast, measured side by side.

    python bench/train_precision.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from alignkit.models.embedded import embedded_model_dir


def step_time(model, opt, batch: torch.Tensor, bf16: bool) -> float:
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    opt.step()
    opt.zero_grad()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = AutoModelForCausalLM.from_pretrained(embedded_model_dir(), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    print(f"{'batch x len':>12} {'fp32 s/step':>12} {'bf16 s/step':>12} {'bf16/fp32':>10} {'fp32 tok/s':>11}")
    for bsz, length in [(4, 200), (8, 120), (8, 200)]:
        batch = torch.randint(0, model.config.vocab_size, (bsz, length))
        step_time(model, opt, batch, False)  # warm-up
        fp32, bf16 = [], []
        for _ in range(args.repeats):  # interleaved so drift hits both alike
            fp32.append(step_time(model, opt, batch, False))
            bf16.append(step_time(model, opt, batch, True))
        a, b = statistics.median(fp32), statistics.median(bf16)
        print(f"{bsz:>5} x {length:<5} {a:>12.2f} {b:>12.2f} {b / a:>10.2f} {bsz * length / a:>11.0f}")


if __name__ == "__main__":
    main()
