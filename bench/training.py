"""Figure 4, training overhead: `alignkit.train.train` (SFT and DPO, LoRA, fp32) against the
same TRL trainer built directly with the same rows, model, LoRA and hyperparameters (TRL's
defaults for everything alignkit leaves alone), measured side by side. Step time is the
trainer's own `train_runtime / global_step` (both paths run `Trainer.train`, which this
script times); the whole call (load, train, merge, save) is reported next to it.

    python bench/training.py [--quick] [--steps 4]
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, record_train_runtimes, table, verdict


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.batch = 1, 2
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.config import TrainConfig
    from alignkit.data.arithmetic import synthesize
    from alignkit.models.embedded import embedded_model_dir
    from alignkit.train import train

    model_path = str(embedded_model_dir())
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch, max_length=256, learning_rate=5e-4)
    rows_sft, rows_dpo = [], []
    for i, p in enumerate(synthesize("train", args.steps * args.batch, seed=5, references=True)):
        ans = p.meta["answer"]
        good = {"role": "assistant", "content": p.meta["reference"]}
        bad = {"role": "assistant", "content": p.meta["reference"].replace(str(ans), str(ans + 1 + i % 9))}
        rows_sft.append({"prompt": p.messages, "completion": [good]})
        rows_dpo.append({"prompt": p.messages, "chosen": [good], "rejected": [bad]})
    rows = {"sft": rows_sft, "dpo": rows_dpo}

    runtimes = record_train_runtimes()  # (train_runtime, steps) of each Trainer.train
    scratch = Path(tempfile.mkdtemp(prefix="alignkit-bench-train-"))

    def step_counts() -> dict:
        secs, steps = runtimes.pop()
        return {"step_s": secs / steps, "steps": steps}

    def via_alignkit(method: str):
        def run() -> dict:
            work = Path(tempfile.mkdtemp(dir=scratch))
            train(method, rows[method], cfg, model_path, work, work / "model")
            shutil.rmtree(work)
            return step_counts()
        return run

    def plain_trl(method: str):
        def run() -> dict:
            from datasets import Dataset
            from peft import LoraConfig

            work = Path(tempfile.mkdtemp(dir=scratch))
            tok = AutoTokenizer.from_pretrained(model_path)
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
            common = dict(output_dir=str(work / "ckpt"), max_steps=cfg.max_steps, learning_rate=cfg.learning_rate,
                          per_device_train_batch_size=cfg.batch_size, lr_scheduler_type="cosine",
                          bf16=False, gradient_checkpointing=False, max_length=cfg.max_length,
                          report_to="none", seed=cfg.seed)
            peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
            data = Dataset.from_list(rows[method])
            if method == "sft":
                from trl import SFTConfig, SFTTrainer

                trainer = SFTTrainer(model=model, args=SFTConfig(**common, completion_only_loss=True),
                                     train_dataset=data, processing_class=tok, peft_config=peft)
            else:
                from trl import DPOConfig, DPOTrainer

                trainer = DPOTrainer(model=model, args=DPOConfig(**common, beta=cfg.beta), train_dataset=data,
                                     processing_class=tok, peft_config=peft)
            trainer.train()
            trainer.model.merge_and_unload().save_pretrained(work / "model")
            shutil.rmtree(work)
            return step_counts()
        return run

    print(machine_line())
    print(f"# {args.steps} steps x batch {args.batch}, max_length 256, LoRA r16 all-linear, fp32, "
          f"median of {repeats} interleaved repeats")
    try:
        res = interleaved({"sft alignkit": via_alignkit("sft"), "sft plain TRL": plain_trl("sft"),
                           "dpo alignkit": via_alignkit("dpo"), "dpo plain TRL": plain_trl("dpo")},
                          repeats, warmup=not args.quick)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = []
    for method in ("sft", "dpo"):
        a, p = res[f"{method} alignkit"], res[f"{method} plain TRL"]
        out.append([method, round(a["step_s"], 2), round(p["step_s"], 2), round(a["step_s"] / p["step_s"], 3),
                    round(a["seconds"], 1), round(p["seconds"], 1), round(a["seconds"] / p["seconds"], 3)])
    print(table(["method", "alignkit s/step", "plain TRL s/step", "step ratio", "alignkit call s",
                 "plain TRL call s", "call ratio"], out))
    for row in out:
        print(verdict(f"{row[0]} alignkit / plain TRL (step time)", row[3], 1.05, higher_is_better=False))
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
