"""Column clustering for batch training: which columns share a batch, and which anchor later batches.

Association between two columns, in [0, 1], by their kinds:

* number - number: absolute rank (Spearman) correlation;
* category - category: Cramér's V, bias-corrected (Bergsma 2013) so that many rare categories do
  not look associated by chance;
* number - category: the correlation ratio (eta): the share of the number's spread explained by the
  category;
* a number with missing values also counts the association (Cramér's V) of where it is missing with
  the other column, the larger of the two: a null pattern is a dependence too.

Columns are clustered by average linkage on ``1 - association``; a cluster wider than ``max_width``
is split into the two branches of the tree below it, until every cluster fits; neighbouring clusters
(in tree order, so similar ones are neighbours) smaller than ``merge_below`` are merged while they
fit. Id-like columns (kind ``id``, or nearly one distinct value per row) associate with nothing
useful and get a batch each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hiveframe.metadata import ColumnKind
from hiveframe.pipeline.context import bin_codes
from hiveframe.pipeline.features import numeric_values

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Table

#: rows looked at to measure associations (a seeded sample above it)
MAX_ROWS = 5000
#: categories kept per column (the rest share one code) when measuring associations
MAX_CATEGORIES = 30
#: share of distinct values among non-null rows above which a non-numeric column is id-like
ID_LIKE_SHARE = 0.9


def _numeric(table: Table, name: str, column: pa.ChunkedArray) -> np.ndarray | None:
    if table.column(name).kind not in (ColumnKind.NUMERICAL, ColumnKind.DATETIME):
        return None
    values = numeric_values(column)
    if values is None or np.isnan(values).all():
        return None
    return values


def id_like(table: Table, data: pa.Table, columns: Sequence[str]) -> list[str]:
    """Columns that identify rows rather than describe them: kind ``id``, or text nearly unique per row."""
    import pyarrow.compute as pc

    out = []
    for name in columns:
        column = table.column(name)
        if column.kind == ColumnKind.ID:
            out.append(name)
            continue
        if column.kind not in (ColumnKind.CATEGORICAL, ColumnKind.TEXT):
            continue
        values = data.column(name)
        present = len(values) - values.null_count
        if present >= 20 and pc.count_distinct(values).as_py() >= ID_LIKE_SHARE * present:
            out.append(name)
    return out


def association_matrix(data: pa.Table, table: Table, columns: Sequence[str], *, seed: int = 0) -> np.ndarray:
    """Pairwise association in [0, 1] of ``columns`` (1 on the diagonal), on at most MAX_ROWS rows.

    Each column is coded and ranked once (not once per pair), and the rank correlations of columns
    without missing values come from one matrix product: on 86 columns that is most of the work.
    """
    n = data.num_rows
    if n > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=MAX_ROWS, replace=False))
        data = data.take(keep)
    nums: list[np.ndarray | None] = []
    codes: list[tuple[np.ndarray, int]] = []
    for name in columns:
        column = data.column(name)
        nums.append(_numeric(table, name, column))
        _, inverse = np.unique(bin_codes(column, bins=MAX_CATEGORIES), return_inverse=True)
        codes.append((inverse.ravel(), int(inverse.max()) + 1 if len(inverse) else 0))
    ranks = [None if v is None else _ranks(v) for v in nums]
    # where a number is missing is a value too (loans: the joint-income columns are null exactly for
    # individual applications): its null indicator's association counts as the column's
    missing = [None if v is None or not np.isnan(v).any() else (np.isnan(v).astype(np.int64), 2) for v in nums]
    k = len(columns)
    out = np.eye(k)
    full = _full_rank_correlations(ranks)
    for i in range(k):
        for j in range(i + 1, k):
            if ranks[i] is not None and ranks[j] is not None:
                value = full.get((i, j))
                if value is None:
                    value = _rank_correlation(ranks[i], ranks[j])
            elif ranks[i] is not None:
                value = _correlation_ratio_coded(codes[j], nums[i])
            elif ranks[j] is not None:
                value = _correlation_ratio_coded(codes[i], nums[j])
            else:
                value = _cramers_v_coded(codes[i], codes[j])
            if missing[i] is not None:
                value = max(value, _cramers_v_coded(missing[i], codes[j]))
            if missing[j] is not None:
                value = max(value, _cramers_v_coded(codes[i], missing[j]))
            out[i, j] = out[j, i] = float(np.clip(value, 0.0, 1.0))
    return out


def _full_rank_correlations(ranks: Sequence[np.ndarray | None]) -> dict[tuple[int, int], float]:
    """|Spearman| of every pair of numeric columns without missing values, in one go."""
    whole = [i for i, r in enumerate(ranks) if r is not None and len(r) >= 3 and not np.isnan(r).any()]
    if len(whole) < 2:
        return {}
    stacked = np.vstack([ranks[i] for i in whole])
    spread = stacked.std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.abs(np.corrcoef(stacked))
    out = {}
    for a, i in enumerate(whole):
        for b in range(a + 1, len(whole)):
            value = matrix[a, b]
            out[(i, whole[b])] = 0.0 if spread[a] == 0 or spread[b] == 0 or not np.isfinite(value) else float(value)
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank, 1-based) of the non-missing values; NaN stays NaN.

    In numpy rather than ``scipy.stats.rankdata``: importing scipy.stats alone costs about a second,
    more than ranking every column of a wide table."""
    out = np.full(len(values), np.nan)
    ok = ~np.isnan(values)
    present = values[ok]
    if not len(present):
        return out
    order = np.argsort(present, kind="stable")
    ordered = present[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(ordered)])
    group = np.repeat(np.arange(len(starts)), counts)
    ranks = np.empty(len(present))
    ranks[order] = (starts + (counts + 1) / 2.0)[group]
    out[ok] = ranks
    return out


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3:
        return 0.0
    x, y = a[ok], b[ok]
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return abs(float(np.corrcoef(x, y)[0, 1]))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramér's V of two code arrays."""
    return _cramers_v_coded(_dense(a), _dense(b))


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0..r-1, and r."""
    _, inverse = np.unique(codes, return_inverse=True)
    inverse = inverse.ravel()
    return inverse, int(inverse.max()) + 1 if len(inverse) else 0


def _cramers_v_coded(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> float:
    (ai, r), (bi, c) = a, b
    n = len(ai)
    if n < 3 or r < 2 or c < 2:
        return 0.0
    joint = np.bincount(ai * c + bi, minlength=r * c).reshape(r, c).astype(float)
    expected = np.outer(joint.sum(1), joint.sum(0)) / n
    chi2 = float(((joint - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    rc, cc = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    denom = min(rc - 1, cc - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0


def correlation_ratio(categories: np.ndarray, values: np.ndarray) -> float:
    """Eta: the share of the spread of ``values`` explained by ``categories`` (rows with a value)."""
    return _correlation_ratio_coded(_dense(categories), values)


def _correlation_ratio_coded(categories: tuple[np.ndarray, int], values: np.ndarray) -> float:
    codes, r = categories
    ok = ~np.isnan(values)
    if ok.sum() < 3:
        return 0.0
    ci, x = codes[ok], values[ok]
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    sums, counts = np.bincount(ci, weights=x, minlength=r), np.bincount(ci, minlength=r)
    seen = counts > 0
    between = float((counts[seen] * (sums[seen] / counts[seen] - x.mean()) ** 2).sum())
    return float(np.sqrt(between / total))


def cluster(columns: Sequence[str], association: np.ndarray, *, max_width: int, merge_below: int) -> list[list[str]]:
    """Groups of at most ``max_width`` columns, strongly associated columns together, in tree order."""
    names = list(columns)
    if len(names) <= max_width:
        return [names] if names else []
    distance = 1.0 - association
    np.fill_diagonal(distance, 0.0)
    children, sizes = average_linkage(distance)
    groups: list[list[str]] = []

    def leaves(node: int) -> list[int]:
        out, stack = [], [node]
        while stack:
            top = stack.pop()
            if top < len(names):
                out.append(top)
            else:
                left, right = children[top - len(names)]
                stack.extend((right, left))
        return out

    def split(node: int) -> None:
        if sizes[node] <= max_width:
            groups.append([names[i] for i in sorted(leaves(node))])
        else:
            left, right = children[node - len(names)]
            split(left)
            split(right)

    split(len(sizes) - 1)
    merged: list[list[str]] = []
    for group in groups:
        if merged and (len(group) < merge_below or len(merged[-1]) < merge_below) \
                and len(merged[-1]) + len(group) <= max_width:
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    order = {name: i for i, name in enumerate(names)}
    return [sorted(g, key=order.__getitem__) for g in merged]


def average_linkage(distance: np.ndarray) -> tuple[list[tuple[int, int]], list[int]]:
    """Average-linkage (UPGMA) merges of a square distance matrix, numbered as scipy numbers them.

    Leaves are 0..k-1 and merge ``s`` makes node ``k + s`` from (smaller id, larger id); returns the
    merges and every node's size. In numpy rather than ``scipy.cluster.hierarchy``: importing
    scipy.cluster costs more than half a second, far more than clustering a hundred columns.
    """
    k = len(distance)
    d = np.array(distance, dtype=float)
    np.fill_diagonal(d, np.inf)
    ids, sizes = list(range(k)), [1] * k
    children: list[tuple[int, int]] = []
    node_sizes = [1] * k
    for step in range(k - 1):
        i, j = divmod(int(np.argmin(d)), k)
        ni, nj = sizes[i], sizes[j]
        merged = (d[i] * ni + d[j] * nj) / (ni + nj)
        d[i, :] = merged
        d[:, i] = merged
        d[i, i] = np.inf
        d[j, :] = np.inf
        d[:, j] = np.inf
        children.append((min(ids[i], ids[j]), max(ids[i], ids[j])))
        node_sizes.append(ni + nj)
        ids[i], sizes[i] = k + step, ni + nj
    return children, node_sizes


def choose_anchors(batches: Sequence[Sequence[str]], association: np.ndarray, index: dict[str, int], *,
                   count: int, exclude: Sequence[str] = (), threshold: float = 0.05) -> list[list[str]]:
    """Per batch, the ``count`` columns of earlier batches most associated with one of its columns."""
    out: list[list[str]] = [[]]
    skip = set(exclude)
    for b in range(1, len(batches)):
        own = [index[c] for c in batches[b] if c in index]
        earlier = [c for batch in batches[:b] for c in batch if c in index and c not in skip]
        if not own or not earlier or count <= 0:
            out.append([])
            continue
        scores = {c: float(association[index[c], own].max()) for c in earlier}
        ranked = sorted(earlier, key=lambda c: (-scores[c], index[c]))
        out.append([c for c in ranked[:count] if scores[c] >= threshold])
    return out
