"""Any registered signal as an online-RL reward (TRL's GRPO / RLOO reward-function protocol)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from alignkit.signals.base import get_signal
from alignkit.types import Candidate, Group, Prompt


class SignalReward:
    """Calls the recipe's signals on each (prompt, completion) and returns the value of the
    annotation `score_name` (missing values count as 0). A completion that did not end with
    the end-of-turn token within `max_tokens` carries finish_reason "length", so signals with
    require_complete treat it as cut off, exactly as in the offline loop."""

    def __init__(self, signals: list, score_name: str, eos_ids: set[int], max_tokens: int):
        self.signals, self.score_name, self.eos_ids, self.max_tokens = signals, score_name, eos_ids, max_tokens
        self.__name__ = score_name  # TRL names reward columns after the function
        self.calls = 0

    def __call__(self, prompts: list, completions: list, completion_ids: list | None = None,
                 meta: list[str] | None = None, **_: Any) -> list[float]:
        groups = []
        for k, (prompt, completion) in enumerate(zip(prompts, completions)):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
            ids = completion_ids[k] if completion_ids is not None else []
            finished = bool(self.eos_ids & set(ids)) or len(ids) < self.max_tokens
            groups.append(Group(Prompt(messages=messages, meta=json.loads(meta[k]) if meta else {}),
                                [Candidate(text.strip(), {"finish_reason": "stop" if finished else "length"})]))
        for signal in self.signals:
            groups = signal.annotate(groups)
        self.calls += 1
        return [float(g.candidates[0].value(self.score_name) or 0.0) for g in groups]


def signal_reward(signal_configs: list, score_name: str, resolve: Callable[[str], Any], eos_ids: set[int],
                  max_tokens: int) -> SignalReward:
    signals = [get_signal(s.name)(**s.params).bind(resolve) for s in signal_configs]
    return SignalReward(signals, score_name, eos_ids, max_tokens)
