"""bf16 vs float32 SFT training with alignkit's own `train` (LoRA r16 on the embedded
SmolLM2-135M, arithmetic rows with worked answers), side by side in one run: the step time
(`train_runtime / global_step` of TRL's trainer), and the result, as the mean training loss
and the per-token NLL of each trained model on held-out rows (scored in float32 for both).
`train.bf16: true` is bf16 autocast with float32 master weights; it pays off only on CPUs
with AMX (or on GPUs). With `--qlora` a third contender trains on a 4-bit (bitsandbytes NF4) base.

    python bench/train_dtype.py [--quick] [--steps 10] [--batch 4] [--repeats 1] [--qlora]
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, record_train_runtimes, table


def heldout_nll(model_dir: Path, rows: list[dict]) -> float:
    """Mean NLL per answer token of the saved model on `rows`, in float32."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for r in rows:
            prompt = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
            p_ids = tok(prompt, add_special_tokens=False).input_ids
            a_ids = tok(r["completion"][0]["content"], add_special_tokens=False).input_ids
            ids = torch.tensor([p_ids + a_ids])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, len(p_ids) - 1 : -1], dim=-1)
            total -= float(logp.gather(-1, ids[0, len(p_ids):].unsqueeze(-1)).sum())
            count += len(a_ids)
    return total / count


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--qlora", action="store_true", help="also train on a 4-bit base (needs bitsandbytes)")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.batch = 1, 2
    repeats = args.repeats or 1
    torch.set_num_threads(args.threads)


    from alignkit.config import TrainConfig
    from alignkit.data.arithmetic import synthesize
    from alignkit.models.embedded import embedded_model_dir
    from alignkit.train import train

    def rows(n: int, seed: int) -> list[dict]:
        return [{"prompt": p.messages, "completion": [{"role": "assistant", "content": p.meta["reference"]}]}
                for p in synthesize("train", n, seed=seed, references=True)]

    train_rows, held = rows(args.steps * args.batch, 5), rows(4 if args.quick else 32, 6)
    model_path = str(embedded_model_dir())
    base = dict(max_steps=args.steps, batch_size=args.batch, max_length=256, learning_rate=5e-4)
    configs = {"float32": TrainConfig(**base), "bf16 autocast": TrainConfig(**base, bf16=True)}
    if args.qlora:
        configs["qlora nf4 (fp32 compute)"] = TrainConfig(**base, qlora=True)

    runtimes = record_train_runtimes()  # (train_runtime, steps) of each Trainer.train
    scratch = Path(tempfile.mkdtemp(prefix="alignkit-bench-dtype-"))

    def contender(cfg: TrainConfig):
        def run() -> dict:
            work = Path(tempfile.mkdtemp(dir=scratch))
            info = train("sft", train_rows, cfg, model_path, work, work / "model")
            secs, steps = runtimes.pop()
            nll = heldout_nll(work / "model", held)
            shutil.rmtree(work)
            return {"step_s": secs / steps, "steps": steps, "train_loss": info["train_loss"], "nll": nll}
        return run

    print(machine_line())
    print(f"# SFT, {args.steps} steps x batch {args.batch}, max_length 256, LoRA r16 all-linear, lr 5e-4, "
          f"{len(held)} held-out rows, median of {repeats} interleaved repeats")
    try:
        res = interleaved({k: contender(c) for k, c in configs.items()}, repeats, warmup=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    fp32 = res["float32"]
    out = [[k, round(r["step_s"], 2), f"{fp32['step_s'] / r['step_s']:.2f}x", round(r["train_loss"], 4),
            round(r["nll"], 4), f"{r['nll'] - fp32['nll']:+.4f}"] for k, r in res.items()]
    print(table(["training", "s/step", "speed vs float32", "mean train loss", "held-out NLL/token",
                 "NLL vs float32"], out))
    print("raw seconds per repeat: " + "; ".join(f"{k} {r['all_seconds']}" for k, r in res.items()))


if __name__ == "__main__":
    main()
