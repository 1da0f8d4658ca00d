"""What the engine's phases share: the engine's settings they read (:class:`PhaseSettings`) and Arrow
helpers (columns taken by row index, tables side by side)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import Metadata
from hiveframe.pipeline.plan import (
    ContextColumn,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.pipeline.plan import DatabasePlan
    from hiveframe.plugins import PluginHost


log = logging.getLogger("hiveframe.pipeline.engine")


class PhaseSettings:
    """The engine's settings that the fit and sample phases read (set by ``RelationalEngine``)."""

    metadata: Metadata
    host: PluginHost
    plan: DatabasePlan
    linkage: str | type
    linkage_params: dict[str, Any]
    max_context_columns: int
    max_summary_columns: int
    pii: Any
    dp: Any
    metadata_detected: bool
    null_handling: dict[str, str]


def ancestor_rows(table: str, path: list[int], links: Mapping[str, Mapping[int, np.ndarray]],
                  metadata: Metadata, n_rows: int) -> np.ndarray:
    """Row index, in the ancestor table, of every row of ``table`` (-1 where a link is null)."""
    current = table
    rows = np.arange(n_rows, dtype=np.int64)
    for j in path:
        step = links[current][j]
        rows = np.where(rows >= 0, step[np.maximum(rows, 0)], -1)
        current = metadata.foreign_keys[j].parent_table
    return rows


def _combine(col: Any) -> pa.Array:
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks else pa.array([], type=col.type)
    return col


def _take(values: Any, idx: np.ndarray) -> pa.Array:
    """values[idx], null where idx is -1."""
    import pyarrow as pa

    values = _combine(values)
    if len(values) == 0:
        return pa.nulls(len(idx), values.type)
    return values.take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    arr = _combine(arr)
    if arr.type == target:
        return arr
    try:
        return arr.cast(target)
    except Exception:  # noqa: BLE001 - e.g. float -> int with fractions: keep the generator's values
        try:
            return arr.cast(target, safe=False)
        except Exception:  # noqa: BLE001
            return arr


def _empty_like(n: int) -> pa.Table:
    import pyarrow as pa

    return pa.table({"__n__": pa.nulls(n)}).drop(["__n__"])  # no columns, n rows


def _hstack(left: pa.Table, right: pa.Table) -> pa.Table:
    import pyarrow as pa

    names = list(left.column_names) + list(right.column_names)
    arrays = [left.column(c) for c in left.column_names] + [right.column(c) for c in right.column_names]
    if not arrays:
        return left
    return pa.table(arrays, names=names)


def _context_values(context: list[ContextColumn], parent_features: pa.Table, idx: np.ndarray | None,
                    counts: np.ndarray | None) -> pa.Table:
    """Context columns for each child row, from its driver parent's row (null for no parent)."""
    import pyarrow as pa

    assert idx is not None
    arrays, names = [], []
    for cc in context:
        if cc.source == "count":
            assert counts is not None
            arr = pa.array(np.asarray(counts, dtype=np.int64)[np.maximum(idx, 0)], mask=idx < 0, type=pa.int64())
        else:
            arr = _take(parent_features.column(cc.ref), idx)
        arrays.append(arr)
        names.append(cc.name)
    return pa.table(arrays, names=names) if arrays else _empty_like(len(idx))


def _row_view(own: pa.Table, parent_features: pa.Table | None, drv_idx: np.ndarray | None) -> pa.Table:
    """A row's content plus its driver parent's attributes: what a secondary key may depend on."""
    if parent_features is None or drv_idx is None or parent_features.num_columns == 0:
        return own
    import pyarrow as pa

    extra = pa.table([_take(parent_features.column(c), drv_idx) for c in parent_features.column_names],
                     names=[f"^{c}" for c in parent_features.column_names])
    if own.num_columns == 0:
        return extra
    return _hstack(own, extra)


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or type(spec).__name__
