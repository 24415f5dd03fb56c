"""The training methods, one table: what each trains on. `TrainConfig.method`, the build-kind
check before training, the trainer's columns and the online/offline split all read it; adding a
method is a row here and a branch in `train.py`'s trainer dispatch.

Dataset kinds: sft (prompt/completion), preference (prompt/chosen/rejected), kto
(prompt/completion/label), prompts (online RL: it samples and is rewarded during training).
"""

from __future__ import annotations

# method -> the dataset kind it trains on ("none": evaluate only, nothing is trained)
METHODS: dict[str, str] = {
    "sft": "sft", "dpo": "preference", "kto": "kto", "orpo": "preference", "simpo": "preference",
    "grpo": "prompts", "rloo": "prompts", "reward": "preference", "none": "none",
}
DATASET_KIND = {m: kind for m, kind in METHODS.items() if kind != "none"}
COLUMNS = {"sft": ["prompt", "completion"], "preference": ["prompt", "chosen", "rejected"],
           "kto": ["prompt", "completion", "label"], "prompts": ["prompt", "meta"]}
ONLINE = tuple(m for m, kind in METHODS.items() if kind == "prompts")
# methods whose trainer takes a 4-bit (bitsandbytes NF4) base with LoRA adapters: the offline policy
# trainers. Online RL generates with the model it trains and the reward model trains a value head.
QLORA = ("sft", "dpo", "kto", "orpo", "simpo")


def kinds_text() -> str:
    """Which build.kind each offline method needs, for error messages: "sft: sft; dpo, ...: preference"."""
    by_kind: dict[str, list[str]] = {}
    for m, kind in DATASET_KIND.items():
        if kind != "prompts":
            by_kind.setdefault(kind, []).append(m)
    return "; ".join(f"{', '.join(ms)}: {kind}" for kind, ms in by_kind.items())
