"""The engine's measures of a generated database: integrity and children-per-parent similarity.

The key checks themselves (orphans, duplicate or null keys, 1:1 links, types) are the one relational
check of :mod:`hiveframe.metadata.relations`, which ``validate_data`` runs on real data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hiveframe.metadata.relations import relational_problems, resolve

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.errors import Problem
    from hiveframe.metadata import ForeignKey, Metadata


# -- measures of a generated database --------------------------------------------------------------
def integrity_problems(metadata: Metadata, database: Database) -> list[Problem]:
    """Orphans, duplicate or null keys, mismatched key types and violated 1:1 links of a (generated)
    database: the relational check of the real data, changing nothing."""
    return relational_problems(metadata, database)


def children_counts(database: Database, fk: ForeignKey) -> np.ndarray:
    """Number of children of every parent row (null references are not counted)."""
    child, parent = database[fk.child_table], database[fk.parent_table]
    idx, _ = resolve(child, fk.child_columns, parent, fk.parent_columns)
    return np.bincount(idx[idx >= 0], minlength=parent.num_rows)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (exact for discrete data: max CDF gap)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.union1d(a, b)
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(ca - cb)))


def best_cardinality(real_counts: np.ndarray, k: int, *, total: int | None = None,
                     high: int | None = None) -> float:
    """The highest 1 - KS that *any* k parents can reach against these real children counts.

    A k-point distribution moves in steps of 1/k, so its CDF at each real count c can only be a
    multiple of 1/k; the best choice rounds k * F(c), and the largest rounding error is the floor of
    the KS statistic. It matters for tiny parent tables: 3 media types against 5 real ones can reach
    0.867 at most, whatever the generator.

    ``total`` (the children the k parents must have between them, which the scale fixes) and
    ``high`` (the most one parent can have) lower the ceiling further; with either, k must be at most
    64 (a search over how many of the k counts fall between consecutive real counts).
    """
    if k <= 0 or len(real_counts) == 0:
        return 1.0 if k == len(real_counts) else 0.0
    values = np.unique(real_counts)
    cdf = np.searchsorted(np.sort(real_counts), values, side="right") / len(real_counts)
    free = float(1.0 - np.max(np.abs(cdf - np.round(cdf * k) / k)))
    if total is None and high is None:
        return free
    if k > 64:
        raise ValueError("best_cardinality with total or high needs k <= 64")
    candidates = np.unique(np.r_[np.abs(cdf[:, None] - np.arange(k + 1)[None, :] / k).ravel(), 0.0])
    feasible = [t for t in candidates[candidates >= 1.0 - free - 1e-12]
                if _placeable(values, cdf, k, t + 1e-12, total, high)]
    return float(1.0 - feasible[0]) if feasible else 0.0


def _placeable(values: np.ndarray, cdf: np.ndarray, k: int, t: float, total: int | None, high: int | None) -> bool:
    """Whether k integer counts (each at most ``high``, summing to ``total``) keep the CDF within t.

    Counts are placed interval by interval: below the smallest real count, exactly at a real count, or
    strictly between it and the next one. Along an interval the synthetic CDF climbs through every
    level between what sits at the real count and what the interval holds, and each level must stay
    within t of the real CDF there. Per number of counts placed, the reachable sums are kept as one
    range (an envelope, so the answer may err towards feasible: the result stays an upper bound).
    """
    cap = np.iinfo(np.int64).max // 4 if high is None else int(high)
    # the interval below the smallest real count: the real CDF is 0 there
    states: dict[int, tuple[int, int]] = {}
    below_hi = min(int(values[0]) - 1, cap)
    for c in range(k + 1):
        if c and (c / k > t or below_hi < 0):
            break
        states[c] = (0, c * max(below_hi, 0))
    for j, v in enumerate(values):
        v = int(v)
        nxt = int(values[j + 1]) - 1 if j + 1 < len(values) else cap
        inner_lo, inner_hi = v + 1, min(nxt, cap)
        new: dict[int, tuple[int, int]] = {}
        for c0, (lo, hi) in states.items():
            for a in range(0, k - c0 + 1):  # counts exactly at v
                if a and v > cap:
                    break
                level = (c0 + a) / k
                for b in range(0, k - c0 - a + 1):  # counts strictly inside (v, next)
                    if b and inner_lo > inner_hi:
                        break
                    end = (c0 + a + b) / k
                    if abs(cdf[j] - end) > t or (b and abs(cdf[j] - level) > t):
                        continue
                    s_lo = lo + a * v + b * inner_lo
                    s_hi = hi + a * v + b * (inner_hi if b else 0)
                    c = c0 + a + b
                    old = new.get(c)
                    new[c] = (s_lo, s_hi) if old is None else (min(old[0], s_lo), max(old[1], s_hi))
        states = new
    if k not in states:
        return False
    lo, hi = states[k]
    return total is None or lo <= total <= hi


def cardinality_bounds(metadata: Metadata, real: Database, synthetic: Database) -> dict[str, float]:
    """Per relationship, :func:`best_cardinality` for the parent rows generated.

    With at most 64 parent rows, it is also held to the children the synthetic table has, and, in a
    link table whose primary key is this key plus one other foreign key, to one child per row of that
    other parent.
    """
    out = {}
    for fk in metadata.foreign_keys:
        if fk.child_table not in real or fk.parent_table not in synthetic or fk.child_table not in synthetic:
            continue
        k = synthetic[fk.parent_table].num_rows
        counts = children_counts(real, fk)
        if k > 64:
            out[fk.name] = best_cardinality(counts, k)
            continue
        total = int(children_counts(synthetic, fk).sum())
        high = None
        pk = set(metadata.table(fk.child_table).primary_key)
        for other in metadata.foreign_keys:
            if (other is not fk and other.child_table == fk.child_table and other.parent_table in synthetic
                    and pk == set(fk.child_columns) | set(other.child_columns)):
                high = synthetic[other.parent_table].num_rows
        out[fk.name] = best_cardinality(counts, k, total=total, high=high)
    return out


def cardinality_similarity(metadata: Metadata, real: Database, synthetic: Database) -> dict[str, float]:
    """Per relationship, 1 - KS between the real and synthetic children-per-parent distributions."""
    out = {}
    for fk in metadata.foreign_keys:
        if fk.child_table in real and fk.child_table in synthetic:
            out[fk.name] = 1.0 - ks_statistic(children_counts(real, fk), children_counts(synthetic, fk))
    return out
