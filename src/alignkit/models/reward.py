"""Scalar reward models: a sequence-classification head with one output over a conversation.

Trained by TRL's RewardTrainer (`train.method: reward`), which tokenizes `prompt + completion`
with the chat template; scoring here does the same, so scores match what was trained.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alignkit.errors import AlignkitError
from alignkit.models.base import Messages


class RewardModel:
    """Batched scorer: `score(conversations)` -> one float per conversation (the reward of
    its last assistant turn in context)."""

    def __init__(self, path: str, *, batch_size: int = 16):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        p = Path(path).expanduser()
        if not (p / "config.json").is_file():
            raise AlignkitError(f"reward model {path!r} not found (no config.json there)",
                                where="signals.params.model",
                                fix="train one first, e.g. `alignkit run recipes/reward_model.yaml --out "
                                "runs/reward_model`, then point to runs/reward_model/model")
        self.tokenizer = AutoTokenizer.from_pretrained(str(p))
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(str(p), dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise AlignkitError(f"could not load reward model {path!r}: {str(exc).splitlines()[0]}",
                                where="signals.params.model",
                                fix="give a directory saved by `train.method: reward`") from None
        if self.model.config.num_labels != 1:
            raise AlignkitError(f"{path!r} has {self.model.config.num_labels} outputs, a reward model has 1",
                                where="signals.params.model", fix="give a model trained with train.method: reward")
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.eval()
        self.name, self.batch_size = path, batch_size

    def score(self, conversations: list[Messages]) -> list[float]:
        import torch

        ids = [self.tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"]
               for c in conversations]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
        out = [0.0] * len(ids)
        with torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                idx = order[k : k + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
                logits = self.model(**batch).logits[:, 0]
                for i, v in zip(idx, logits.tolist()):
                    out[i] = float(v)
        return out


@lru_cache(maxsize=2)
def load_reward_model(path: str) -> RewardModel:
    return RewardModel(path)
