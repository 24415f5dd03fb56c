"""Can TRL's GRPO generate through vLLM colocated on CPU? One GRPO step on a tiny random
head_dim-64 Llama (the embedded model's tokenizer) with `use_vllm=True, vllm_mode="colocate"`,
then the same step with HF generation; prints each step's time or the exact failure.
Run in the vLLM environment: .venv-vllm/bin/python scripts/probe_grpo_vllm.py [--model DIR]"""

from __future__ import annotations

import argparse
import tempfile
import time
import traceback


def tiny_model(path: str) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from alignkit.models.embedded import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def step(model: str, out: str, use_vllm: bool) -> str:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    words = ["hi", "yes", "no", "ok"]
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": f"Say {w}."}]} for w in words])
    cfg = GRPOConfig(output_dir=out, per_device_train_batch_size=4, num_generations=4, max_completion_length=16,
                     max_steps=1, report_to=[], use_cpu=True, bf16=False, logging_steps=1, save_strategy="no",
                     use_vllm=use_vllm, vllm_mode="colocate", vllm_gpu_memory_utilization=0.1,
                     vllm_max_model_length=256)
    trainer = GRPOTrainer(model=model, reward_funcs=lambda completions, **_: [float(len(str(c))) for c in completions],
                          args=cfg, train_dataset=data)
    t = time.perf_counter()
    trainer.train()
    return f"one step {time.perf_counter() - t:.1f} s"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a model directory (default: a tiny random head_dim-64 Llama)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(f"{tmp}/model")
        for use_vllm in (True, False):
            try:
                print(f"use_vllm={use_vllm} colocate: {step(model, f'{tmp}/out', use_vllm)}", flush=True)
            except Exception as exc:  # the probe's point is to record the failure
                traceback.print_exc()
                print(f"use_vllm={use_vllm} colocate: FAILED: {type(exc).__name__}: {exc}", flush=True)
