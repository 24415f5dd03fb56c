"""online.py: the pieces that make a resumed GRPO/RLOO run equal the uninterrupted one (the whole
resume is tests/test_crash_safety.py's GRPO kill point)."""

from types import SimpleNamespace

from trl.trainer.utils import RepeatSampler

from alignkit.online import EpochRepeatSampler, resumable


def _orders(sampler, epochs, set_epoch):
    out = []
    for e in range(epochs):
        if set_epoch:
            sampler.set_epoch(e)
        out.append(list(sampler))
    return out


def test_a_fresh_sampler_set_to_epoch_k_gives_the_uninterrupted_runs_order():
    trl = _orders(RepeatSampler(range(8), mini_repeat_count=2, batch_size=2, seed=3), 4, set_epoch=False)
    ours = _orders(EpochRepeatSampler(range(8), mini_repeat_count=2, batch_size=2, seed=3), 4, set_epoch=True)
    assert ours == trl  # an uninterrupted run keeps TRL's order
    assert len({tuple(o) for o in trl}) > 1  # the epochs differ, so replaying epoch 0 would be wrong
    fresh = EpochRepeatSampler(range(8), mini_repeat_count=2, batch_size=2, seed=3)  # a resumed run's sampler
    fresh.set_epoch(2)
    assert list(fresh) == trl[2]
    plain = RepeatSampler(range(8), mini_repeat_count=2, batch_size=2, seed=3)
    assert list(plain) == trl[0] != trl[2]  # TRL's own fresh sampler: epoch 0's order again


def test_resumable_only_where_the_uninterrupted_run_generates_anew():
    default = SimpleNamespace(gradient_accumulation_steps=2, steps_per_generation=2, num_iterations=1)
    assert all(resumable(step, default) for step in range(1, 20))
    buffered = SimpleNamespace(gradient_accumulation_steps=1, steps_per_generation=4, num_iterations=1)
    assert [s for s in range(1, 13) if resumable(s, buffered)] == [4, 8, 12]
