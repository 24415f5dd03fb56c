"""Does a resumed GRPO (or RLOO) run equal the uninterrupted one, and if not, where do they part?

Trains a tiny random Llama (the test suite's, with the embedded model's tokenizer) with TRL's
trainer for 12 steps: run A straight through, run B stopped right after its checkpoint at
--save (a callback standing in for a kill) and resumed from it by a fresh trainer. At every
generation it records the global step, the trainer's micro-step counter `_step`, a hash of
torch's RNG state, the batch's prompts and the completions' token ids, then compares A and B:
prompts, completions and the final weights.

    python scripts/probe_grpo_resume.py              # TRL's trainer as it is
    python scripts/probe_grpo_resume.py --fixed      # alignkit.online's resumable trainer
    python scripts/probe_grpo_resume.py --fixed --grad-accum 2 --save 4 --method rloo

docs/reliability.md records what it showed (the sampler replays epoch 0's prompt order).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import build_tiny_llama  # noqa: E402

from alignkit.models.embedded import resolve_model_path  # noqa: E402
from alignkit.online import ResumableGRPOTrainer, ResumableRLOOTrainer  # noqa: E402


def reward(completions, **kw):
    return [float(len(c[0]["content"]) % 7) for c in completions]


def rng_hash() -> str:
    return hashlib.sha256(torch.random.get_rng_state().numpy().tobytes()).hexdigest()[:10]


class StopAt(TrainerCallback):
    """Stops training after step `step` (whose checkpoint is still written): a kill, cleanly."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            control.should_training_stop = True


def trainer(a: argparse.Namespace, model_dir: Path, out: Path, log: list[dict]):
    fixed = {"grpo": ResumableGRPOTrainer, "rloo": ResumableRLOOTrainer}
    plain = {"grpo": GRPOTrainer, "rloo": RLOOTrainer}
    config = {"grpo": GRPOConfig, "rloo": RLOOConfig}[a.method](
        output_dir=str(out), max_steps=12, per_device_train_batch_size=2, num_generations=2,
        max_completion_length=8, save_steps=a.save, logging_steps=1, seed=0, report_to="none", use_cpu=True,
        bf16=False, temperature=1.0, gradient_accumulation_steps=a.grad_accum, disable_tqdm=True)
    tok = AutoTokenizer.from_pretrained(model_dir)
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": f"Write about topic {i}."}]} for i in range(8)])
    t = (fixed if a.fixed else plain)[a.method](model=str(model_dir), reward_funcs=reward, args=config,
                                                train_dataset=data, processing_class=tok)
    generate = t._generate_and_score_completions

    def recorded(inputs):
        entry = {"global": t.state.global_step, "_step": t._step, "rng": rng_hash(),
                 "prompts": [x["prompt"][0]["content"] for x in inputs]}
        out = generate(inputs)
        log.append({**entry, "completions": out["completion_ids"].tolist()})
        return out

    t._generate_and_score_completions = recorded
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixed", action="store_true", help="alignkit.online's resumable trainer")
    ap.add_argument("--method", choices=["grpo", "rloo"], default="grpo")
    ap.add_argument("--save", type=int, default=10, help="the checkpoint step to resume from")
    ap.add_argument("--grad-accum", type=int, default=1)
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="grpo-resume-"))
    try:
        model_dir = build_tiny_llama(root / "tiny", Path(resolve_model_path("embedded")))
        logs: dict[str, list[dict]] = {"A": [], "B": []}
        trainer(a, model_dir, root / "A", logs["A"]).train()
        first = trainer(a, model_dir, root / "B", logs["B"])
        first.add_callback(StopAt(a.save))
        first.train()
        trainer(a, model_dir, root / "B", logs["B"]).train(resume_from_checkpoint=str(root / f"B/checkpoint-{a.save}"))
        print("step  prompt A            prompt B            rng equal  completions equal  _step A/B")
        for x, y in zip(logs["A"], logs["B"]):
            print(f"{x['global']:4}  {x['prompts'][0]:18}  {y['prompts'][0]:18}  {x['rng'] == y['rng']!s:9}  "
                  f"{x['completions'] == y['completions']!s:17}  {x['_step']}/{y['_step']}")
        wa, wb = (load_file(root / run / "checkpoint-12" / "model.safetensors") for run in ("A", "B"))
        differ = sum(not torch.equal(wa[k], wb[k]) for k in wa)
        print(f"prompts equal: {[x['prompts'] for x in logs['A']] == [y['prompts'] for y in logs['B']]}; "
              f"weight tensors that differ: {differ} of {len(wa)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
