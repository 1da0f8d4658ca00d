"""Secondary foreign keys: which parent each generated row points to, when the row has several.

One relationship (the driver) creates a table's rows; every other foreign key is filled here. Each
secondary parent first gets a target number of children from its own linkage model (so popular
parents stay popular: the degree distribution is the linkage model's), then rows are matched to those
parent *slots* by content: an :class:`AssignmentModel` predicts, from a parent's attributes, what its
typical child looks like (a ridge regression of the child's encoded row on the parent's encoded
attributes, fitted on the real pairs) and scores a row against a parent by the Gaussian
log-likelihood of the row around that prediction.

Matching is a capacity-constrained sampling: for a batch of rows, candidates are drawn in proportion
to each parent's remaining slots, and each row takes the candidate with the best score plus Gumbel
noise, which samples P(parent | row) proportional to slots x likelihood. Rows that lose a slot to an
earlier row of the batch try again. Constraints: a row may have to stay within the group of its driver
parent (same molecule for a bond's two atoms, see ``row_group``), a (driver, secondary) pair may have
to be unique (composite keys, link tables), and a row may not point to its own driver parent when the
real data never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.pipeline.features import FeatureEncoder, ridge

if TYPE_CHECKING:
    import pyarrow as pa


class AssignmentModel:
    """How a child row's content depends on its secondary parent's attributes."""

    def __init__(self) -> None:
        self.row_encoder = FeatureEncoder()
        self.parent_encoder = FeatureEncoder()
        self.weights = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.inv_sd = np.zeros(0)

    def fit(self, rows: pa.Table, parents: pa.Table, parent_idx: np.ndarray, *, rng: np.random.Generator,
            max_rows: int = 20000) -> AssignmentModel:
        keep = np.nonzero(parent_idx >= 0)[0]
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(keep, size=max_rows, replace=False))
        sub = rows.take(keep)
        y = self.row_encoder.fit_transform(sub)
        x = self.parent_encoder.fit_transform(parents)[parent_idx[keep]]
        if y.shape[1] == 0 or len(keep) < 2:
            self.weights = np.zeros((x.shape[1], y.shape[1]))
            self.intercept = y.mean(axis=0) if len(y) else np.zeros(y.shape[1])
            self.inv_sd = np.ones(y.shape[1])
            return self
        self.weights, self.intercept = ridge(x, y, alpha=1.0)
        resid = y - (x @ self.weights + self.intercept)
        var = resid.var(axis=0)
        total = y.var(axis=0)
        var = np.maximum(var, np.maximum(0.02 * total, 1e-4))
        self.inv_sd = 1.0 / np.sqrt(var)
        return self

    def encode_rows(self, rows: pa.Table) -> np.ndarray:
        return self.row_encoder.transform(rows) * self.inv_sd

    def profiles(self, parents: pa.Table) -> np.ndarray:
        x = self.parent_encoder.transform(parents)
        return (x @ self.weights + self.intercept) * self.inv_sd

    # -- state -----------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"row_encoder": self.row_encoder.to_json(), "parent_encoder": self.parent_encoder.to_json()},
                {"weights": self.weights, "intercept": self.intercept, "inv_sd": self.inv_sd})

    @classmethod
    def from_state(cls, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> AssignmentModel:
        model = cls()
        model.row_encoder = FeatureEncoder.from_json(values["row_encoder"])
        model.parent_encoder = FeatureEncoder.from_json(values["parent_encoder"])
        model.weights = np.asarray(arrays["weights"], dtype=float).reshape(
            model.parent_encoder.width, model.row_encoder.width)
        model.intercept = np.asarray(arrays["intercept"], dtype=float)
        model.inv_sd = np.asarray(arrays["inv_sd"], dtype=float)
        return model


def adjust_counts(counts: np.ndarray, total: int, rng: np.random.Generator, *, low: int = 0,
                  high: int | None = None, fine: bool = False) -> np.ndarray:
    """Change a few counts so they sum to ``total``, keeping each within [low, high] while possible.

    A parent is picked in proportion to its squared count (a big parent absorbs a change best) and
    takes as much of the change as its bounds allow: as few parents as possible change, and each
    changed parent moves the distribution's CDF by only 1/n, however far it moves. ``fine``: one step at a time,
    parents picked in proportion to their count (for many small corrections, e.g. per group).
    """
    counts = np.asarray(counts, dtype=np.int64).copy()
    if len(counts) == 0:
        return counts
    hi = np.iinfo(np.int64).max // 4 if high is None else int(high)
    for relax in (False, True):
        lo_bound, hi_bound = (low, hi) if not relax else (0, np.iinfo(np.int64).max // 4)
        for _ in range(10 * len(counts) + 100):
            diff = int(total - counts.sum())
            if diff == 0:
                return counts
            if diff > 0:
                room = hi_bound - counts
                w = np.where(room > 0, (counts + 0.1) ** (1 if fine else 2), 0.0)
            else:
                room = counts - lo_bound
                w = np.where(room > 0, counts.astype(float) ** (1 if fine else 2), 0.0)
            if w.sum() <= 0:
                break
            k = int(rng.choice(len(counts), p=w / w.sum()))
            step = 1 if fine else min(abs(diff), int(room[k]))
            counts[k] += step if diff > 0 else -step
    return counts


def assign(
    rows: np.ndarray,
    profiles: np.ndarray,
    capacity: np.ndarray,
    rng: np.random.Generator,
    *,
    row_group: np.ndarray | None = None,
    parent_group: np.ndarray | None = None,
    hard_group: bool = False,
    pair_owner: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    candidates: int = 64,
    batch: int = 512,
) -> np.ndarray:
    """Parent index for every row (rows: encoded rows (n, d); profiles: (m, d); capacity: (m,)).

    ``row_group``/``parent_group``: a row with group g >= 0 takes a parent of group g while any has
    slots left (after that: any parent of its group if ``hard_group``, else any parent).
    ``pair_owner``: the driver parent of each row; (owner, parent) pairs are kept unique.
    ``exclude``: a parent each row must not take (-1: none).
    """
    n, m = len(rows), len(capacity)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return out
    remaining = np.asarray(capacity, dtype=np.float64).copy()
    used: set[int] = set()
    groups = _Groups(parent_group, m) if parent_group is not None and row_group is not None else None
    tries = np.zeros(n, dtype=np.int64)
    pending = rng.permutation(n)
    if pair_owner is not None:
        # owners with the most rows first (as in Havel-Hakimi): they need the most distinct parents,
        # which are only sure to be free early on
        mult = np.bincount(np.maximum(pair_owner, 0))[np.maximum(pair_owner, 0)]
        pending = pending[np.argsort(-mult[pending], kind="stable")]
    size = batch
    stuck: list[int] = []
    while len(pending):
        nxt: list[np.ndarray] = []
        for start in range(0, len(pending), size):
            b = pending[start:start + size]
            cand, overflow = _candidates(b, remaining, capacity, rng, candidates, groups,
                                         row_group[b] if row_group is not None else None, hard_group)
            score = _scores(rows[b], profiles, cand)
            score += rng.gumbel(size=score.shape)
            score[remaining[cand] <= 0] -= 1e6  # a full parent only when nothing else is offered
            if exclude is not None:
                score[cand == exclude[b][:, None]] = -np.inf
            if pair_owner is not None and used:
                codes = pair_owner[b][:, None] * m + cand
                taken = np.fromiter((c in used for c in codes.ravel()), bool, codes.size).reshape(codes.shape)
                score[taken] = -np.inf
            best = np.argmax(score, axis=1)
            choice = cand[np.arange(len(b)), best]
            ok = np.isfinite(score[np.arange(len(b)), best])
            # each parent takes as many rows of the batch as it has slots left; a row whose candidates
            # came from an exhausted pool (``overflow``) may go over
            order = np.argsort(choice, kind="stable")
            ranks = np.empty(len(b), dtype=np.int64)
            sc = choice[order]
            first = np.r_[0, np.nonzero(sc[1:] != sc[:-1])[0] + 1]
            ranks[order] = np.arange(len(b)) - np.repeat(first, np.diff(np.r_[first, len(b)]))
            accept = ok & ((ranks < np.ceil(remaining[choice])) | overflow)
            if pair_owner is not None:
                codes = pair_owner[b] * m + choice
                for i in np.nonzero(accept)[0]:
                    c = int(codes[i])
                    if c in used:
                        accept[i] = False
                    else:
                        used.add(c)
            out[b[accept]] = choice[accept]
            np.subtract.at(remaining, choice[accept], 1.0)
            tries[b[~accept]] += 1
            stuck.extend(b[~accept & (tries[b] > 20)].tolist())
            nxt.append(b[~accept & (tries[b] <= 20)])
        pending = np.concatenate(nxt) if nxt else np.zeros(0, dtype=np.int64)
        size = max(4, size // 4)  # fewer rows per batch: fewer clashes over the last slots
    keep_in = None  # a hard group confines the repairs too
    if hard_group and row_group is not None and parent_group is not None:
        keep_in = (row_group, parent_group)
    for r in stuck:  # every parent with slots left already has a row of this owner: swap with a row
        if not _swap(r, out, remaining, used, pair_owner, exclude, m, rng, keep_in):
            out[r] = _any_free(r, m, used, pair_owner, exclude, remaining, rng, keep_in)
            if pair_owner is not None:
                used.add(int(pair_owner[r]) * m + int(out[r]))
            remaining[out[r]] -= 1
    return out


def _swap(r: int, out: np.ndarray, remaining: np.ndarray, used: set[int], owner: np.ndarray | None,
          exclude: np.ndarray | None, m: int, rng: np.random.Generator,
          keep_in: tuple[np.ndarray, np.ndarray] | None = None, tries: int = 4000) -> bool:
    """Give row r the parent p' of some row r', which moves to a parent p that still has a slot."""
    if owner is None:
        return False
    free_mask = remaining > 0
    placed_mask = out >= 0
    if keep_in is not None and keep_in[0][r] >= 0:
        g = keep_in[0][r]
        free_mask &= keep_in[1] == g
        placed_mask &= keep_in[0] == g
    free = np.nonzero(free_mask)[0]
    placed = np.nonzero(placed_mask)[0]
    if not len(free) or not len(placed):
        return False
    o = int(owner[r])
    for _ in range(max(1, tries // 256)):
        p = int(free[rng.integers(len(free))])
        for r2 in rng.choice(placed, size=min(256, len(placed)), replace=False):
            o2, p2 = int(owner[r2]), int(out[r2])
            if o2 == o or o * m + p2 in used or o2 * m + p in used:
                continue
            if exclude is not None and (p2 == exclude[r] or p == exclude[r2]):
                continue
            used.discard(o2 * m + p2)
            used.add(o2 * m + p)
            used.add(o * m + p2)
            out[r2], out[r] = p, p2
            remaining[p] -= 1
            return True
    return False


class _Groups:
    """Parents sorted by group, for drawing candidates inside a row's group."""

    def __init__(self, parent_group: np.ndarray, m: int) -> None:
        self.order = np.argsort(parent_group, kind="stable")
        sorted_groups = parent_group[self.order]
        self.ids, self.start = np.unique(sorted_groups, return_index=True)
        self.end = np.r_[self.start[1:], m]

    def span(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.searchsorted(self.ids, groups)
        pos_c = np.minimum(pos, len(self.ids) - 1)
        found = (groups >= 0) & (len(self.ids) > 0) & (self.ids[pos_c] == groups)
        return found, self.start[pos_c], self.end[pos_c]


def _draw(weights: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
          lo: np.ndarray | None = None, hi: np.ndarray | None = None, order: np.ndarray | None = None) -> np.ndarray:
    """Indices drawn in proportion to ``weights`` (optionally within [lo, hi) of ``order``)."""
    w = weights if order is None else weights[order]
    cum = np.concatenate([[0.0], np.cumsum(w)])
    if lo is None:
        u = rng.random(size) * cum[-1]
        idx = np.searchsorted(cum, u, side="right") - 1
    else:
        base, span = cum[lo], cum[hi] - cum[lo]
        u = base[:, None] + rng.random(size) * span[:, None]
        idx = np.searchsorted(cum, u, side="right") - 1
        idx = np.clip(idx, lo[:, None], hi[:, None] - 1)
    idx = np.clip(idx, 0, len(w) - 1)
    return idx if order is None else order[idx]


def _candidates(b: np.ndarray, remaining: np.ndarray, capacity: np.ndarray, rng: np.random.Generator,
                k: int, groups: _Groups | None, row_groups: np.ndarray | None,
                hard: bool) -> tuple[np.ndarray, np.ndarray]:
    """Candidates per row, and whether they come from an exhausted pool (then slots may overflow)."""
    free = np.maximum(remaining, 0.0)
    overflow = np.zeros(len(b), dtype=bool)
    if free.sum() <= 0:
        free = np.asarray(capacity, dtype=float) + 1.0
        overflow[:] = True
    cand = _draw(free, (len(b), k), rng)
    if groups is None or row_groups is None:
        return cand, overflow
    found, lo, hi = groups.span(row_groups)
    if not found.any():
        return cand, overflow
    cum = np.concatenate([[0.0], np.cumsum(free[groups.order])])
    room = cum[hi] - cum[lo]
    inside = found & (room > 0)
    if inside.any():
        rows = np.nonzero(inside)[0]
        cand[rows] = _draw(free, (len(rows), k), rng, lo[rows], hi[rows], groups.order)
    if hard:  # the group is full: exceed its slots rather than leave it
        rows = np.nonzero(found & (room <= 0))[0]
        if len(rows):
            ones = np.ones(len(free))
            cand[rows] = _draw(ones, (len(rows), k), rng, lo[rows], hi[rows], groups.order)
            overflow[rows] = True
    return cand, overflow


def _scores(rows: np.ndarray, profiles: np.ndarray, cand: np.ndarray) -> np.ndarray:
    if rows.shape[1] == 0:
        return np.zeros(cand.shape)
    diff = profiles[cand] - rows[:, None, :]
    return -0.5 * np.einsum("bkd,bkd->bk", diff, diff)


def _any_free(r: int, m: int, used: set[int], owner: np.ndarray | None, exclude: np.ndarray | None,
              remaining: np.ndarray, rng: np.random.Generator,
              keep_in: tuple[np.ndarray, np.ndarray] | None = None) -> int:
    key = -remaining + rng.random(m) * 0.5
    if keep_in is not None and keep_in[0][r] >= 0:
        key = key + np.where(keep_in[1] == keep_in[0][r], 0.0, 1e9)  # the row's group first
    for p in np.argsort(key, kind="stable"):
        if exclude is not None and p == exclude[r]:
            continue
        if owner is None or int(owner[r]) * m + int(p) not in used:
            return int(p)
    return int(rng.integers(m))
