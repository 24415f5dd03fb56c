"""One training step (forward, backward, AdamW) on the embedded model, measured side by
side in one run: LoRA in float32 (what alignkit does on CPU), LoRA under bfloat16
autocast, and a full fine-tune in float32. Prints each as a ratio to LoRA fp32.

    python bench/train_step.py [--quick] [--repeats 3]
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
    ap.add_argument("--quick", action="store_true", help="one small shape, one repeat: checks the script runs")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, as recorded)")
    args = ap.parse_args()
    if args.threads or args.quick:  # 2 threads collapse when other jobs share the cores; 1 does not
        torch.set_num_threads(args.threads or 1)
    shapes = [(2, 32)] if args.quick else [(4, 160), (8, 120)]
    if args.quick:
        args.repeats = 1
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(embedded_model_dir(), dtype=torch.float32)
    full = AutoModelForCausalLM.from_pretrained(embedded_model_dir(), dtype=torch.float32)
    lora = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    lora_opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-4)
    full_opt = torch.optim.AdamW(full.parameters(), lr=1e-5)
    setups = {"lora fp32": (lora, lora_opt, False), "lora bf16": (lora, lora_opt, True),
              "full fp32": (full, full_opt, False)}
    print(f"{'batch x len':>12} " + " ".join(f"{k + ' s':>11}" for k in setups) + "  ratios to lora fp32")
    for bsz, length in shapes:
        batch = torch.randint(0, base.config.vocab_size, (bsz, length))
        times: dict[str, list[float]] = {k: [] for k in setups}
        for model, opt, bf16 in setups.values():
            step_time(model, opt, batch, bf16)  # warm-up
        for _ in range(args.repeats):  # interleaved so drift hits all alike
            for k, (model, opt, bf16) in setups.items():
                times[k].append(step_time(model, opt, batch, bf16))
        med = {k: statistics.median(v) for k, v in times.items()}
        ratios = " ".join(f"{k}={med[k] / med['lora fp32']:.2f}" for k in setups)
        print(f"{bsz:>5} x {length:<5} " + " ".join(f"{med[k]:>11.2f}" for k in setups) + f"  {ratios}")


if __name__ == "__main__":
    main()
