"""A thin layer over TRL's trainers, with LoRA from peft.

Choices made explicitly (TRL 1.16 defaults differ):
- bf16=False by default: float32 on CPU; bf16 autocast on CPUs without AMX is slower. With
  AMX (or on CUDA) set `train.bf16: true` (or ALIGNKIT_BF16=1): fp32 master weights, bf16 matmuls.
- gradient_checkpointing=False: the models trained here fit in memory with room to
  spare, and checkpointing would recompute every forward (~30% more time per step).
The trained LoRA adapter is merged into the base weights and saved as a plain
checkpoint that `AutoModelForCausalLM.from_pretrained` loads. Under QLoRA (`train.qlora`) the base
is loaded in 4 bits (bitsandbytes NF4) to train, and the adapter is merged into a full-precision
reload of it, so the saved model needs no bitsandbytes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.config import TrainConfig
from alignkit.errors import AlignkitError
from alignkit.methods import COLUMNS, DATASET_KIND, ONLINE
from alignkit.models.templates import NO_TEMPLATE_FIX, chat_template_text

if TYPE_CHECKING:
    from trl import DPOConfig

# what save_pretrained writes for the weights, in any of its formats (interpolate rewrites them)
WEIGHT_FILES = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json")


def _common_args(cfg: TrainConfig, output_dir: Path, n_rows: int) -> dict[str, Any]:
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        logging_steps=5,
        save_strategy="steps",
        save_steps=max(10, n_rows // cfg.batch_size // 2),
        save_total_limit=1,
        report_to=cfg.report_to or "none",  # tracking.Tracker opened the trackers' runs and log dirs
        seed=cfg.seed,
        bf16=_bf16(cfg),
        # transformers refuses bf16 without a GPU unless told to run on the CPU
        **({"use_cpu": True} if _bf16(cfg) and not _cuda() else {}),
        **({"train_sampling_strategy": "group_by_length"} if cfg.group_by_length else {}),
        gradient_checkpointing=False,
        max_length=cfg.max_length,
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


def _bf16(cfg: TrainConfig) -> bool:
    return cfg.bf16 or os.environ.get("ALIGNKIT_BF16") == "1"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _peft_config(cfg: TrainConfig, task: str = "CAUSAL_LM"):
    if cfg.lora is None:
        return None
    from peft import LoraConfig

    # a reward model's fresh score head must train in full next to the adapters
    extra = {"modules_to_save": ["score"]} if task == "SEQ_CLS" else {}
    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type=task, **extra)


def _last_checkpoint(output_dir: Path, method: str = "sft", args: Any = None) -> str | None:
    """Resume from the last complete checkpoint after a crash (half-written ones are skipped and
    deleted: data/checkpoints.py). Online RL (grpo, rloo) resumes to the uninterrupted run's result
    through `online.py`, from a checkpoint where that run generates anew (`online.resumable`, always
    so with the default settings); from any other, it restarts from step 0 with the same seed."""
    from alignkit.data.checkpoints import checkpoint_step, last_complete

    found = last_complete(output_dir)
    if method in ONLINE and found is not None:
        from alignkit.online import resumable

        step = checkpoint_step(Path(found))
        if not resumable(step, args):
            print(f"{method}: not resuming from {found}: step {step} falls between two generations (steps_per_"
                  "generation or num_iterations above their defaults), whose completions a checkpoint does not "
                  "keep; training again from step 0")
            shutil.rmtree(output_dir)
            return None
    if found is not None:
        print(f"{method}: resuming from {found}")
    return found


def dpo_config(cfg: TrainConfig, args: dict[str, Any]) -> DPOConfig:
    """TRL's DPOConfig for the recipe's train settings; `args` are the settings every trainer shares."""
    from trl import DPOConfig

    losses = [cfg.loss_type] if isinstance(cfg.loss_type, str) else cfg.loss_type
    return DPOConfig(**args, beta=cfg.beta, loss_type=losses, loss_weights=cfg.loss_weights, ld_alpha=cfg.ld_alpha)


def train(method: str, rows: list[dict], cfg: TrainConfig, model_path: str, work_dir: Path,
          out_dir: Path, reward=None, generation=None, dtype: str | None = None,
          chat_template: str | None = None) -> dict[str, Any]:
    """Train `model_path` on `rows` with TRL; save the merged model to `out_dir`. Online methods
    (grpo, rloo) take prompt rows, a `reward` function and the `generation` settings. `reward`
    trains a scalar reward model (a one-output classification head) on preference rows. `dtype`
    (the recipe's model.dtype; None: float32) is the loaded weights' dtype; `chat_template` (a
    file or a Jinja string) replaces the tokenizer's and is saved with the model."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if chat_template:
        tokenizer.chat_template = chat_template_text(chat_template)
    if tokenizer.chat_template is None:  # TRL renders the conversational rows with it
        raise AlignkitError(f"cannot train {model_path!r}: it has no chat template (a base model?)",
                            where="model.chat_template", fix=NO_TEMPLATE_FIX)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    weights = getattr(torch, dtype or "float32")
    if method == "reward":  # the head is new: seeded above, so the same seed gives the same start
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1, dtype=weights)
        model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=weights, **_qlora_load(cfg, weights))
    columns = COLUMNS[DATASET_KIND[method]]
    dataset = Dataset.from_list([{k: r[k] for k in columns} for r in rows])
    ckpt_dir = work_dir / "checkpoints"
    args = _common_args(cfg, ckpt_dir, len(rows))
    common = dict(model=model, train_dataset=dataset, processing_class=tokenizer,
                  peft_config=_peft_config(cfg, "SEQ_CLS" if method == "reward" else "CAUSAL_LM"))
    if method == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(args=SFTConfig(**args, completion_only_loss=True), **common)
    elif method == "dpo":
        from trl import DPOTrainer

        trainer = DPOTrainer(args=dpo_config(cfg, args), **common)
    elif method == "reward":  # centred rewards: 0 means "average", a usable rejection threshold
        from trl import RewardConfig, RewardTrainer

        trainer = RewardTrainer(args=RewardConfig(**args, center_rewards_coefficient=0.01), **common)
    elif method == "kto":
        from trl import KTOConfig, KTOTrainer

        trainer = KTOTrainer(args=KTOConfig(**args, beta=cfg.beta), **common)
    elif method == "orpo":
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        trainer = ORPOTrainer(args=ORPOConfig(**args, beta=cfg.beta), **common)
    elif method == "simpo":  # SimPO is CPO's reference-free loss with the NLL term off (TRL's recipe)
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        trainer = CPOTrainer(args=CPOConfig(**args, beta=cfg.beta, loss_type="simpo", cpo_alpha=0.0,
                                            simpo_gamma=cfg.simpo_gamma), **common)
    elif method in ONLINE:
        reward.eos_ids = {tokenizer.eos_token_id, *_as_set(model.generation_config.eos_token_id)} - {None}
        trainer = _online_trainer(method, args, cfg, generation, reward, common)
    else:
        raise ValueError(f"unknown training method {method!r}")
    from alignkit.data.checkpoints import arm_fault, marker_callback

    trainer.add_callback(marker_callback())  # marks each checkpoint complete once written
    arm_fault(trainer)  # tests only: ALIGNKIT_FAULT=checkpoint-write:POINT
    result = trainer.train(resume_from_checkpoint=_last_checkpoint(ckpt_dir, method, trainer.args))
    # QLoRA: the adapter is merged into the base reloaded at full precision, not into its 4-bit copy
    reload = (lambda: AutoModelForCausalLM.from_pretrained(model_path, dtype=weights)) if cfg.qlora else None
    _save(trainer, tokenizer, out_dir, reload)
    logs = [h for h in trainer.state.log_history if "loss" in h]
    info = {"method": method, "rows": len(rows), "steps": trainer.state.global_step,
            "train_loss": result.training_loss, "first_loss": logs[0]["loss"] if logs else None,
            "last_loss": logs[-1]["loss"] if logs else None}
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    if rewards:  # online RL: mean reward over the first and last tenth of the steps
        k = max(1, len(rewards) // 10)
        info.update(reward_first=sum(rewards[:k]) / k, reward_last=sum(rewards[-k:]) / k)
    return info


def _qlora_load(cfg: TrainConfig, weights) -> dict[str, Any]:
    """from_pretrained's arguments that load the base in 4 bits (NF4) for QLoRA; none without it."""
    if not cfg.qlora:
        return {}

    import torch
    from transformers import BitsAndBytesConfig

    if importlib.util.find_spec("bitsandbytes") is None:
        raise AlignkitError("train.qlora needs bitsandbytes, which is not installed", where="train.qlora",
                            fix="pip install bitsandbytes (CUDA GPUs, and x86-64 CPUs through its CPU backend), "
                                "or remove qlora to train LoRA on the unquantized model")
    # the matmuls run in bf16 where training is bf16 or the weights are, else in float32
    compute = torch.bfloat16 if _bf16(cfg) or weights == torch.bfloat16 else torch.float32
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute)
    return {"quantization_config": quant, "device_map": {"": torch.cuda.current_device() if _cuda() else "cpu"}}


def _save(trainer, tokenizer, out_dir: Path, reload=None) -> None:
    """Merge a LoRA adapter into the weights and save a plain checkpoint, atomically; under a
    distributed launch only the main process writes. FSDP and DeepSpeed shard the weights, so
    there the trainer gathers them first (collective), and the main process merges. `reload`
    (QLoRA) gives the base at full precision, which the trained adapter is merged into."""
    acc = trainer.accelerator
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        trainer.save_model(str(tmp))  # every process takes part; untested here (no GPUs)
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return
        if (tmp / "adapter_config.json").is_file():
            from peft import AutoPeftModelForCausalLM

            merged = AutoPeftModelForCausalLM.from_pretrained(str(tmp)).merge_and_unload()
            shutil.rmtree(tmp)
            merged.save_pretrained(tmp)
    else:
        if not acc.is_main_process:
            return
        trained = trainer.model
        if reload is not None:
            from peft import PeftModel

            trained.save_pretrained(tmp.with_name(tmp.name + ".adapter"))
            trained = PeftModel.from_pretrained(reload(), str(tmp.with_name(tmp.name + ".adapter")))
            shutil.rmtree(tmp.with_name(tmp.name + ".adapter"))
        if hasattr(trained, "merge_and_unload"):
            trained = trained.merge_and_unload()
        trained.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def interpolate(start: str, model_dir: Path, alpha: float, out_dir: Path | None = None) -> None:
    """WiSE-FT (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"): start + alpha *
    (trained - start) for the weights in `model_dir`, computed in float32 and saved in the trained
    model's dtype to `out_dir` (default: `model_dir` itself), with the trained model's other files.
    alpha < 1 keeps part of what training changed (often more robust out of distribution), 1 changes
    nothing, above 1 goes further. Written beside `out_dir`, then swapped in."""
    import torch
    from transformers import AutoModelForCausalLM

    origin = dict(AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32).named_parameters())
    trained = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    params = dict(trained.named_parameters())  # tied weights appear once here, not twice
    if mismatch := _weight_mismatch(params, origin):
        raise AlignkitError(f"cannot interpolate {model_dir} with {start}: {mismatch}", where="train.interpolate",
                            fix="interpolate only between a model and one trained from it (same architecture)")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.lerp(origin[name], p.float(), alpha).to(p.dtype))
    _save_weights(trained, model_dir, out_dir or model_dir, ".interpolated")


def soup(model_dirs: list[Path], out_dir: Path, weights: list[float] | None = None) -> list[float]:
    """A model soup (Wortsman et al. 2022, "Model soups"): the weighted mean of the weights of models
    fine-tuned from one start (e.g. one recipe on several seeds), computed in float32 and saved in the first
    model's dtype to `out_dir` with the first model's other files (tokenizer, chat template). `weights` are
    relative (normalized here; default equal). Returns the normalized weights."""
    import torch
    from transformers import AutoModelForCausalLM

    weights = weights or [1.0] * len(model_dirs)
    if len(model_dirs) < 2 or len(weights) != len(model_dirs) or min(weights) < 0 or sum(weights) <= 0:
        raise AlignkitError(f"a soup needs two or more models and one non-negative weight each (got "
                            f"{len(model_dirs)} models, weights {weights})", where="soup",
                            fix="give --model twice or more, and --weights with as many numbers, or none")
    total_weight = sum(weights)
    weights = [w / total_weight for w in weights]
    first = AutoModelForCausalLM.from_pretrained(model_dirs[0], dtype="auto")
    params = dict(first.named_parameters())  # tied weights appear once here, not twice
    total = {n: weights[0] * p.detach().float() for n, p in params.items()}
    for path, w in zip(model_dirs[1:], weights[1:]):
        other = dict(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).named_parameters())
        if mismatch := _weight_mismatch(params, other):
            raise AlignkitError(f"cannot average {path} with {model_dirs[0]}: {mismatch}", where="soup",
                                fix="average only models trained from the same start (same architecture)")
        for name, o in other.items():
            total[name] += w * o.detach()
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(total[name].to(p.dtype))
    _save_weights(first, model_dirs[0], out_dir, ".soup")
    return weights


def _weight_mismatch(params: dict, other: dict) -> str | None:
    """How two models' named weights differ (their number, or one weight's presence or shape); None if they match."""
    if len(other) != len(params):
        return f"{len(other)} weights against {len(params)}"
    for name, p in params.items():
        if name not in other or other[name].shape != p.shape:
            return f"{name} is {tuple(other[name].shape) if name in other else 'absent'} there, {tuple(p.shape)} here"
    return None


def _save_weights(model, files_from: Path, out_dir: Path, suffix: str) -> None:
    """Save `model`'s weights to `out_dir` with the other files of `files_from` (tokenizer, chat template,
    generation config), written beside `out_dir` first and then swapped in, so a crash leaves no half model."""
    tmp = out_dir.with_name(out_dir.name + suffix)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(files_from, tmp, ignore=shutil.ignore_patterns(*WEIGHT_FILES))
    model.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)


def _as_set(value) -> set:
    return set(value) if isinstance(value, (list, tuple, set)) else {value}


def _online_trainer(method: str, args: dict[str, Any], cfg: TrainConfig, generation, reward, common: dict):
    """GRPO / RLOO: `train.batch_size` prompts per step, `generate.n` completions each, the
    recipe's signals as the reward. No reference model unless train.kl_beta > 0."""
    args = {k: v for k, v in args.items() if k != "max_length"}
    args.update(per_device_train_batch_size=cfg.batch_size * generation.n, num_generations=generation.n,
                max_completion_length=generation.max_new_tokens, temperature=max(generation.temperature, 1e-3),
                top_p=generation.top_p, beta=cfg.kl_beta, logging_steps=1, log_completions=False)
    from alignkit.online import ResumableGRPOTrainer, ResumableRLOOTrainer  # TRL's, resumable exactly

    if method == "grpo":
        from trl import GRPOConfig

        return ResumableGRPOTrainer(args=GRPOConfig(**args), reward_funcs=[reward], **common)
    from trl import RLOOConfig

    return ResumableRLOOTrainer(args=RLOOConfig(**args), reward_funcs=[reward], **common)
