"""Online RL (GRPO, RLOO) that resumes from a checkpoint to the uninterrupted run's result.

TRL's online trainers keep two things outside the checkpoint that a resume needs (measured on
trl 1.16: the RNG state, weights and optimizer are restored exactly; docs/reliability.md):

- The prompt order of every epoch after the first. `RepeatSampler` draws each epoch's permutation
  from a generator seeded once when the sampler is built, so an uninterrupted run's epoch k is the
  generator's (k+1)-th permutation. A resumed run builds a fresh sampler, replays epoch 0's order in
  epoch k, and the Trainer's batch skipping then lands on other prompts.
- The micro-step counter `_step`, which restarts at 0. It decides when new completions are
  generated and which slice of the buffered ones a step trains on.

`EpochRepeatSampler.set_epoch` (the Trainer calls it before each epoch) puts the generator where
an uninterrupted run has it, and the first micro-step of a process sets `_step` from the restored
global step. The generation buffer itself is not in the checkpoint: a checkpoint between two
generations (possible only with steps_per_generation or num_iterations above their defaults) cannot
be resumed exactly, so `resumable` says whether one can.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer, RLOOTrainer
from trl.trainer.utils import RepeatSampler


class EpochRepeatSampler(RepeatSampler):
    """TRL's RepeatSampler whose order depends on the epoch only, not on the sampler's history."""

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle and self.seed is not None:
            self.generator.manual_seed(self.seed)
            for _ in range(epoch):  # the permutations an uninterrupted run drew in epochs 0..epoch-1
                torch.randperm(self.num_samples, generator=self.generator)


class _Resumable:
    """Mixed into TRL's GRPOTrainer and RLOOTrainer (their attributes: _step, _buffered_inputs)."""

    def _get_train_sampler(self, dataset: Any = None) -> Any:
        s = super()._get_train_sampler(dataset)  # type: ignore[misc]
        if type(s) is not RepeatSampler:
            return s
        return EpochRepeatSampler(s.data_source, s.mini_repeat_count, batch_size=s.batch_size,
                                  repeat_count=s.repeat_count, shuffle=s.shuffle, seed=s.seed)

    def _prepare_inputs(self, generation_batch: Any) -> Any:
        if self.model.training and self._buffered_inputs is None:  # type: ignore[attr-defined]
            # this process's first training micro-step: after a resume, the micro-steps already done
            self._step = self.state.global_step * self.args.gradient_accumulation_steps  # type: ignore[attr-defined]
        return super()._prepare_inputs(generation_batch)  # type: ignore[misc]


class ResumableGRPOTrainer(_Resumable, GRPOTrainer):
    pass


class ResumableRLOOTrainer(_Resumable, RLOOTrainer):
    pass


def resumable(step: int, args: Any) -> bool:
    """Whether a checkpoint at optimizer step `step` resumes exactly: it must fall where the
    uninterrupted run generates new completions (always so with the default steps_per_generation,
    which equals gradient_accumulation_steps, and num_iterations 1)."""
    return step * args.gradient_accumulation_steps % (args.steps_per_generation * args.num_iterations) == 0
