"""Which token prefixes a scoring call should compute once and reuse.

A judge call repeats a lot: every conversation starts with the same system turn and rubric,
and the candidates of one prompt also repeat that prompt's question. `plan` finds a two-level
prefix tree over token sequences: a root every row shares, then groups of rows sharing a further
extension (one prompt's candidates), chosen to minimise the tokens run through the model.
Pure logic; `HFBackend` runs the plan (models/hf.py)."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_DEPTH = 64  # splitting deeper than this stops (degenerate chains of ever-shorter prefixes)


@dataclass
class Plan:
    """`root`: tokens every row shares (0: none worth caching). `groups`: (extension length,
    row indices) partitioning the rows; rows of a group with extension e share tokens
    root..root+e, computed once; extension 0 means the rows share nothing more."""

    root: int
    groups: list[tuple[int, list[int]]]

    def own_tokens(self, lengths: list[int]) -> int:
        """Tokens the rows (of these lengths) run past the prefixes they share: what scoring
        computes per row on top of the shared parts."""
        return sum(lengths[i] - self.root - ext for ext, rows in self.groups for i in rows)


def common_prefix(a: list[int], b: list[int], limit: int) -> int:
    """Length of the common prefix of `a` and `b`, at most `limit`."""
    n = min(len(a), len(b), limit)
    return next((j for j in range(n) if a[j] != b[j]), n)


def plan(seqs: list[list[int]], caps: list[int], min_len: int, groups: bool = True) -> Plan:
    """The prefix tree for `seqs`, where row i's cached prefix may cover at most `caps[i]` tokens
    (e.g. len - 1, so a row keeps a token of its own to compute logits on); a shared part shorter
    than `min_len` tokens is not worth a cache and is recomputed per row. `groups=False`: the
    root only."""
    if not seqs:
        return Plan(0, [])
    root = min(caps)
    for s in seqs[1:]:
        root = common_prefix(seqs[0], s, root)
    if len(seqs) < 2 or root < min_len:
        root = 0
    if not groups:
        return Plan(root, [(0, list(range(len(seqs))))])
    order = sorted(range(len(seqs)), key=lambda i: seqs[i][root:])
    adjacent = [common_prefix(seqs[a], seqs[b], min(caps[a], caps[b])) - root for a, b in zip(order, order[1:])]
    lengths = [len(seqs[i]) - root for i in order]
    return Plan(root, _split(order, adjacent, lengths, min_len, 0)[1])


def _split(rows: list[int], adjacent: list[int], lengths: list[int], min_len: int, depth: int):
    """(tokens run, groups) for a run of sorted rows: either one group extending by the run's
    smallest common prefix, or the run split where that prefix is smallest, whichever runs fewer
    tokens."""
    if len(rows) == 1:
        return lengths[0], [(0, rows)]
    e = min(adjacent)
    whole = (e + sum(n - e for n in lengths), [(e, rows)]) if e >= min_len else None
    if depth >= _MAX_DEPTH:
        return whole or (sum(lengths), [(0, rows)])
    cost, groups, start = 0, [], 0
    for k in [j + 1 for j, a in enumerate(adjacent) if a == e] + [len(rows)]:
        c, g = _split(rows[start:k], adjacent[start : k - 1], lengths[start:k], min_len, depth + 1)
        cost, groups, start = cost + c, groups + g, k
    if whole and whole[0] <= cost:
        return whole
    singles = [i for x, rows_ in groups if x == 0 for i in rows_]  # one group for the unshared rows
    return cost, [(x, r) for x, r in groups if x] + ([(0, singles)] if singles else [])
