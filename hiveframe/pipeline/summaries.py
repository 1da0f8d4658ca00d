"""Child summaries: what siblings share, as columns of their parent.

For each child column, how much siblings agree beyond chance:

- numbers: the adjusted correlation ratio (epsilon squared) of the column on the parent, i.e. the
  share of its variance that lies between parents, less what chance alone would put there;
- categories: the pairwise agreement of siblings (the chance that two children of one parent share
  the value) against the agreement of two random children, as (A - B) / (1 - B).

The best columns scoring at least ``threshold`` become summaries: the mean of the siblings' values,
or their most common value, per parent (null for a parent without children).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import Column, ColumnKind
from hiveframe.pipeline.features import numeric_values, string_values

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Table


def numeric_agreement(x: np.ndarray, idx: np.ndarray, n_parents: int) -> tuple[float, np.ndarray]:
    """(adjusted epsilon squared, per-parent mean) of a numeric child column."""
    ok = (idx >= 0) & ~np.isnan(x)
    means = np.full(n_parents, np.nan)
    if ok.sum() < 3:
        return 0.0, means
    g, v = idx[ok], x[ok]
    counts = np.bincount(g, minlength=n_parents)
    sums = np.bincount(g, weights=v, minlength=n_parents)
    has = counts > 0
    means[has] = sums[has] / counts[has]
    k, n = int(has.sum()), len(v)
    if n - k < 2:
        return 0.0, means
    grand = v.mean()
    sst = float(((v - grand) ** 2).sum())
    if sst <= 0:
        return 0.0, means
    ssb = float((counts[has] * (means[has] - grand) ** 2).sum())
    msw = (sst - ssb) / (n - k)
    return max(0.0, (ssb - (k - 1) * msw) / (sst + msw)), means


def category_agreement(codes: np.ndarray, idx: np.ndarray, n_parents: int,
                       n_codes: int) -> tuple[float, np.ndarray]:
    """(sibling agreement beyond chance, per-parent most common code or -1) of a categorical column."""
    ok = (idx >= 0) & (codes >= 0)
    mode = np.full(n_parents, -1, dtype=np.int64)
    if ok.sum() < 3 or n_codes < 2:
        return 0.0, mode
    g, c = idx[ok], codes[ok]
    table = np.bincount(g * n_codes + c, minlength=n_parents * n_codes).reshape(n_parents, n_codes)
    sizes = table.sum(axis=1)
    has = sizes > 0
    mode[has] = table[has].argmax(axis=1)
    pairs = sizes >= 2
    if not pairs.any():
        return 0.0, mode
    # share of sibling pairs that agree, over parents with at least two children
    agree = float((table[pairs] * (table[pairs] - 1)).sum() / (sizes[pairs] * (sizes[pairs] - 1)).sum())
    p = np.bincount(c, minlength=n_codes) / len(c)
    base = float((p ** 2).sum())
    if base >= 1.0:
        return 0.0, mode
    return max(0.0, (agree - base) / (1.0 - base)), mode


def child_summaries(data: pa.Table, table: Table, columns: list[str], idx: np.ndarray, n_parents: int, *,
                    k: int = 2, threshold: float = 0.3,
                    max_categories: int = 64) -> list[tuple[str, Column, pa.Array, float]]:
    """The best ``k`` summaries of a child table's columns: (column, metadata, per-parent values, score)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found: list[tuple[str, Column, pa.Array, float]] = []
    for name in columns:
        column = table.column(name)
        arr = data.column(name)
        if column.kind in (ColumnKind.NUMERICAL, ColumnKind.BOOLEAN) and numeric_values(arr) is not None \
                and not pa.types.is_temporal(arr.type):
            score, means = numeric_agreement(numeric_values(arr), idx, n_parents)
            values = pa.array(means, mask=np.isnan(means), type=pa.float64())
            meta = Column(name, ColumnKind.NUMERICAL, dtype="double", nullable=True)
        elif column.kind == ColumnKind.CATEGORICAL:
            strings = string_values(arr)
            counts = pc.value_counts(strings.drop_null())
            order = np.argsort(-counts.field("counts").to_numpy(), kind="stable")[:max_categories]
            top = counts.field("values").take(pa.array(order))
            codes = np.asarray(pc.index_in(strings, value_set=top).fill_null(-1).to_numpy(zero_copy_only=False),
                               dtype=np.int64)
            score, mode = category_agreement(codes, idx, n_parents, len(top))
            # a real child value per parent, in the column's own type
            rep = np.full(n_parents, -1, dtype=np.int64)
            ok = (idx >= 0) & (codes >= 0)
            hit = ok & (codes == mode[np.maximum(idx, 0)])
            rows = np.nonzero(hit)[0]
            rep[idx[rows][::-1]] = rows[::-1]
            combined = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            values = combined.take(pa.array(np.maximum(rep, 0), mask=rep < 0)) if len(combined) else \
                pa.nulls(n_parents, combined.type)
            meta = replace(column, nullable=True)
        else:
            continue
        if score >= threshold:
            found.append((name, meta, values, float(score)))
    found.sort(key=lambda f: -f[3])
    return found[:k]


def summary_type(column: Column) -> Any:
    """The Arrow type of a summary column (for empty tables)."""
    import pyarrow as pa

    if column.kind == ColumnKind.NUMERICAL:
        return pa.float64()
    try:
        return pa.type_for_alias(column.dtype)
    except (ValueError, KeyError):
        return pa.string()


# -- parent columns that are aggregates of their children ----------------------------------------------
AGGREGATES = ("count", "sum", "mean", "min", "max", "sumprod")


def aggregate(kind: str, columns: list[np.ndarray], idx: np.ndarray, n_parents: int) -> np.ndarray:
    """Per-parent aggregate of child values (children with a null value are left out)."""
    ok = idx >= 0
    if kind == "count":
        return np.bincount(idx[ok], minlength=n_parents).astype(float)
    values = columns[0] if kind != "sumprod" else columns[0] * columns[1]
    ok = ok & ~np.isnan(values)
    g, v = idx[ok], values[ok]
    counts = np.bincount(g, minlength=n_parents)
    if kind == "sum" or kind == "sumprod":
        return np.bincount(g, weights=v, minlength=n_parents)
    out = np.full(n_parents, np.nan)
    if kind == "mean":
        sums = np.bincount(g, weights=v, minlength=n_parents)
        has = counts > 0
        out[has] = sums[has] / counts[has]
        return out
    fill = np.inf if kind == "min" else -np.inf
    acc = np.full(n_parents, fill)
    (np.minimum if kind == "min" else np.maximum).at(acc, g, v)
    out[counts > 0] = acc[counts > 0]
    return out


def _decimals(x: np.ndarray) -> int | None:
    x = x[~np.isnan(x)]
    for d in range(7):
        if np.allclose(np.round(x, d), x, rtol=0, atol=1e-9 * max(1.0, float(np.abs(x).max(initial=0)))):
            return d
    return None


def derived_aggregates(parent: pa.Table, parent_columns: list[str], child: pa.Table, child_columns: list[str],
                       idx: np.ndarray, *, min_share: float = 0.99) -> list[dict[str, Any]]:
    """Parent columns equal to an aggregate of their children (an invoice's total is the sum of
    its lines' prices times quantities) on at least ``min_share`` of the parents."""
    n = parent.num_rows
    if n == 0 or child.num_rows == 0:
        return []
    nums = {c: numeric_values(child.column(c)) for c in child_columns}
    nums = {c: v for c, v in nums.items() if v is not None and not _is_temporal(child.column(c))}
    candidates: list[tuple[str, list[str]]] = [("count", [])]
    for c in nums:
        candidates += [("sum", [c]), ("mean", [c]), ("min", [c]), ("max", [c])]
    names = list(nums)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            candidates.append(("sumprod", [a, b]))
    found = []
    for col in parent_columns:
        if _is_temporal(parent.column(col)):
            continue
        target = numeric_values(parent.column(col))
        if target is None or np.isnan(target).all():
            continue
        for kind, cols in candidates:
            agg = aggregate(kind, [nums[c] for c in cols], idx, n)
            both = ~np.isnan(target) & ~np.isnan(agg)
            if both.sum() < max(3, min_share * (~np.isnan(target)).sum()):
                continue
            tol = 1e-6 * np.maximum(1.0, np.abs(target[both]))
            share = float((np.abs(target[both] - agg[both]) <= tol).mean())
            if share >= min_share and np.std(target[both]) > 0:
                found.append({"column": col, "agg": kind, "columns": cols, "decimals": _decimals(target)})
                break
    return found


def _is_temporal(arr: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_temporal(arr.type)
