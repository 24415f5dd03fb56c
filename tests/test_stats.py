import pytest

from alignkit.evaluate.stats import bootstrap_ci, paired_bootstrap_ci


def test_ci_brackets_the_mean_and_narrows_with_n():
    small = bootstrap_ci([0, 1] * 10)
    large = bootstrap_ci([0, 1] * 500)
    assert small[0] < 0.5 < small[1]
    assert large[1] - large[0] < small[1] - small[0]


def test_paired_ci_detects_a_consistent_gain_and_a_null():
    before = [0.0] * 50 + [1.0] * 50
    after = [1.0] * 30 + [0.0] * 20 + [1.0] * 50  # 30 items improved, none got worse
    lo, hi = paired_bootstrap_ci(before, after)
    assert lo > 0 and hi <= 0.5
    lo, hi = paired_bootstrap_ci(before, before)
    assert lo == hi == 0.0


def test_paired_needs_equal_lengths():
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1.0], [1.0, 0.0])
