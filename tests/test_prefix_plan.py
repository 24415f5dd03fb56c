"""The prefix planner (models/prefix.py): pure logic on token lists."""

from alignkit.models.prefix import plan

R = list(range(100, 120))  # a 20-token "rubric"


def _tokens_run(seqs, p):
    return sum(ext for ext, _ in p.groups) + p.own_tokens([len(s) for s in seqs])


def test_rows_are_partitioned_and_each_question_is_its_own_group():
    qa, qb = list(range(200, 218)), list(range(300, 318))
    seqs = [R + qa + [1, 2], R + qa + [3], R + qb + [4, 5, 6], R + qa + [7], R + qb + [8], R + [9, 9]]
    p = plan(seqs, [len(s) - 1 for s in seqs], 4)
    assert p.root == 20
    assert sorted(i for _, rows in p.groups for i in rows) == list(range(6))  # each row exactly once
    groups = {tuple(sorted(rows)): ext for ext, rows in p.groups}
    assert groups == {(0, 1, 3): 18, (2, 4): 18, (5,): 0}
    assert p.own_tokens([len(s) for s in seqs]) == 2 + 1 + 3 + 1 + 1 + 2  # each row's own tail
    assert _tokens_run(seqs, p) < sum(len(s) - 20 for s in seqs)


def test_a_short_overlap_between_questions_does_not_merge_them():
    """A1 A2 B1 B2 share 5 tokens across questions but 18 within: two groups, not one of 5."""
    common = [7] * 5
    qa, qb = common + list(range(200, 213)), common + list(range(300, 313))
    seqs = [R + qa + [1], R + qa + [2], R + qb + [3], R + qb + [4], R + [9] * 5]
    p = plan(seqs, [len(s) - 1 for s in seqs], 4)
    assert p.root == 20
    assert sorted((ext, sorted(rows)) for ext, rows in p.groups) == [(0, [4]), (18, [0, 1]), (18, [2, 3])]


def test_caps_bound_the_cached_prefix_and_short_overlaps_are_not_cached():
    seqs = [R + [1, 2, 3], R + [1, 2, 3], R[:3] + [5]]
    p = plan(seqs, [len(s) - 1 for s in seqs], 4)
    assert p.root == 0  # only 3 tokens shared by all: below the minimum
    (ext, rows), = [g for g in p.groups if g[0]]
    assert sorted(rows) == [0, 1] and ext == 22  # identical rows: everything but their last token
    # caps: a completion's first token must stay outside the cache
    p = plan([R + [1, 2], R + [1, 3]], [20, 20], 4)
    assert p.root == 20 and all(ext == 0 for ext, _ in p.groups)


def test_degenerate_inputs():
    assert plan([], [], 4).groups == []
    p = plan([R], [19], 4)
    assert p.root == 0 and p.groups == [(0, [0])]


def test_groups_off_keeps_only_the_root():
    seqs = [R + [1] * 20 + [2], R + [1] * 20 + [3], R + [4]]
    assert plan(seqs, [len(s) - 1 for s in seqs], 4).groups != [(0, [0, 1, 2])]
    assert plan(seqs, [len(s) - 1 for s in seqs], 4, groups=False).groups == [(0, [0, 1, 2])]
