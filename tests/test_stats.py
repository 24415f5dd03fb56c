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


def test_auroc_and_agreement_with_ground_truth():
    from alignkit.evaluate.agreement import agreement, auroc
    from alignkit.types import Annotation, Candidate, Group, Prompt

    assert auroc([3, 2, 1], [True, False, False]) == 1.0
    assert auroc([1, 2], [True, False]) == 0.0 and auroc([1, 1], [True, False]) == 0.5
    assert auroc([1, 2], [True, True]) is None

    def cand(text, judged, truth):
        return Candidate(text, annotations=[Annotation("judge", "score", judged), Annotation("truth", "score", truth)])

    g = Group(Prompt([{"role": "user", "content": "q"}]),
              [cand("a b", 4.0, 1.0), cand("a b c", 2.0, 0.0), cand("a", 2.0, 1.0), cand("a b c d", 5.0, 0.0)])
    facts = agreement([g], "judge", "truth")
    # pairs with different truth: (4 vs 2) right, (4 vs 5) wrong, (2 vs 2) tie, (2 vs 5) wrong
    assert facts["pairwise_accuracy"] == pytest.approx(1.5 / 4) and facts["pairs"] == 4
    assert facts["auroc"] == pytest.approx(1.5 / 4) and facts["positives"] == 2


def test_audit_auroc_ci_keeps_its_published_numbers():
    """The audit's AUROC CI now comes from stats.bootstrap_statistic_ci; these are the numbers
    audit.py's own bootstrap gave for the same input (seed 1000, the Runner's audit seed)."""
    from alignkit.evaluate.agreement import auroc
    from alignkit.evaluate.stats import bootstrap_statistic_ci

    scores = [((i * 37) % 23) / 23 for i in range(30)]
    labels = [(i * 7) % 5 < 2 or scores[i] > 0.8 for i in range(30)]

    def stat(idx):
        return auroc([scores[i] for i in idx], [labels[i] for i in idx])

    assert bootstrap_statistic_ci(stat, 30, seed=1000) == [0.12723214285714285, 0.6666666666666666]
    one_class = bootstrap_statistic_ci(lambda idx: auroc([0.5, 0.2], [True, True]), 2)
    assert one_class is None  # undefined on every resample
