"""Ordered columns learnt as gaps (numpy and pyarrow only).

Where every real row keeps a date (or a number) at or after another column of the same row (a first
booking never before the account was created, an end never before its start), the later column is
learnt as the non-negative gap from the earlier one, its *anchor*, and rebuilt as anchor + gap at
sampling: synthetic rows keep the order by construction instead of by luck, which a model of the two
columns side by side only keeps approximately (bins, random column orders).

A pair is used only when it says something: the relation holds on all rows where both columns are
known but at most ``tolerance`` of them (those are learnt as a gap of 0), the later column is never
known where its anchor is null (nulls stay nulls: a null gap is a null later value), there are at
least ``min_rows`` such rows, and the columns' ranges overlap: at least :data:`OVERLAP` of the later
column's values lie below the anchor's maximum (else the real ranges that decoding keeps already
imply the order nearly always). Dates and
timestamps pair with dates and timestamps, numbers with numbers; the gap is counted in the later
column's unit (days for a date, the timestamp's unit otherwise). Each column has one anchor; anchors
never form a cycle.

The choice reads exact facts of the real rows (which pairs are ordered), so a differentially private
fit must not make it: the DP path leaves offsets off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe_autoregressive._tokens import _decimals, _physical

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Table

#: share of the rows where both columns are known that may break the order (learnt as a gap of 0)
TOLERANCE = 0.005
#: rows where both columns are known, at least
MIN_ROWS = 20
#: share of the later column's values below the anchor's maximum, at least: below it, the real ranges
#: that decoding keeps already imply the order nearly always (an account number "after" an amount)
OVERLAP = 0.01


@dataclass
class Offset:
    """``column`` is learnt as ``column - anchor`` (in ``column``'s unit), at least 0."""

    column: str
    anchor: str
    dtype: str  # the later column's Arrow type
    temporal: bool
    #: the later column's real range in its physical unit (conditions are checked against it)
    low: float
    high: float
    decimals: int | None = None  # numbers: the later column's decimals (sums are rounded back to them)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Offset:
        return cls(**value)


def _kind(table: Table, name: str) -> str | None:
    from hiveframe.metadata import ColumnKind

    kind = table.column(name).kind
    return {ColumnKind.DATETIME: "temporal", ColumnKind.NUMERICAL: "number"}.get(kind)


def _aligned(data: pa.Table, column: str, anchor: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Both columns as floats (nan for null) in ``column``'s unit, or None when they do not convert."""
    import pyarrow as pa

    later = data.column(column).combine_chunks()
    early = data.column(anchor).combine_chunks()
    if (pa.types.is_temporal(later.type)) != (pa.types.is_temporal(early.type)):
        return None
    try:
        if pa.types.is_temporal(later.type) and early.type != later.type:
            early = early.cast(later.type, safe=False)
        x, y = _physical(later), _physical(early)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if x is None or y is None:
        return None
    return x[0], y[0]


def find(
    data: pa.Table,
    table: Table,
    columns: list[str],
    *,
    tolerance: float = TOLERANCE,
    min_rows: int = MIN_ROWS,
) -> list[Offset]:
    """The ordered pairs among ``columns`` (model columns, table order) worth learning as gaps."""
    kinds = {c: _kind(table, c) for c in columns}
    candidates = [c for c in columns if kinds[c] is not None]
    chosen: dict[str, Offset] = {}
    # anchors before the column in the table's order first (the usual "created, ..., booked" layout), then
    # anchors after it for the columns still free
    for before in (True, False):
        for column in candidates:
            if column in chosen:
                continue
            at = candidates.index(column)
            anchors = candidates[:at] if before else candidates[at + 1 :]
            offset = _best_anchor(data, column, anchors, kinds, chosen, tolerance, min_rows)
            if offset is not None:
                chosen[column] = offset
    return [chosen[c] for c in columns if c in chosen]


def _best_anchor(
    data: pa.Table,
    column: str,
    anchors: list[str],
    kinds: dict[str, str | None],
    chosen: dict[str, Offset],
    tolerance: float,
    min_rows: int,
) -> Offset | None:
    """The anchor among ``anchors`` that ``column`` keeps the order with: fewest breaks, then the tightest
    (smallest median gap); None when there is none."""
    import pyarrow as pa

    best: tuple[tuple[float, float], Offset] | None = None
    for anchor in anchors:
        if kinds[anchor] != kinds[column] or _reaches(chosen, anchor, column):
            continue
        pair = _aligned(data, column, anchor)
        if pair is None:
            continue
        later, early = pair
        known_later = ~np.isnan(later)
        if (known_later & np.isnan(early)).any():  # a later value with no anchor: no gap to learn
            continue
        both = known_later & ~np.isnan(early)
        if both.sum() < min_rows:
            continue
        gap = later[both] - early[both]
        broken = float((gap < 0).mean())
        if broken > tolerance or float((later[known_later] < np.nanmax(early)).mean()) < OVERLAP:
            continue
        values = data.column(column)
        offset = Offset(
            column,
            anchor,
            str(values.type),
            kinds[column] == "temporal",
            float(later[known_later].min()),
            float(later[known_later].max()),
        )
        if not offset.temporal and not pa.types.is_integer(values.type):
            offset.decimals = _decimals(later[known_later])
        score = (broken, float(np.median(np.maximum(gap, 0))))
        if best is None or score < best[0]:
            best = (score, offset)
    return best[1] if best is not None else None


def _reaches(chosen: dict[str, Offset], start: str, target: str) -> bool:
    """Whether ``start``'s chain of anchors reaches ``target`` (anchoring ``target`` on it would loop)."""
    seen = set()
    node = start
    while node in chosen and node not in seen:
        seen.add(node)
        node = chosen[node].anchor
        if node == target:
            return True
    return start == target


def gap_column(offset: Offset, table: Table) -> Any:
    """The metadata of the gap that replaces ``offset.column`` in the model (a number)."""
    from dataclasses import replace

    from hiveframe.metadata import ColumnKind

    integer = offset.temporal or offset.decimals == 0 or "int" in offset.dtype
    return replace(
        table.column(offset.column), kind=ColumnKind.NUMERICAL, dtype="int64" if integer else "double"
    )


def to_gaps(data: pa.Table, offsets: list[Offset]) -> pa.Table:
    """``data`` with each later column replaced by its gap from its anchor (negative gaps: 0)."""
    import pyarrow as pa

    real = data
    for offset in offsets:
        pair = _aligned(real, offset.column, offset.anchor)  # the real anchor, not its own gap
        assert pair is not None  # find() checked the pair converts
        later, early = pair
        gap = np.maximum(later - early, 0)
        mask = np.isnan(gap)
        integer = offset.temporal or "int" in offset.dtype or offset.decimals == 0
        values = np.where(mask, 0, gap)
        arr = pa.array(np.round(values).astype(np.int64) if integer else values, mask=mask)
        data = data.set_column(data.column_names.index(offset.column), offset.column, arr)
    return data


def from_gaps(columns: dict[str, pa.Array], offsets: list[Offset]) -> dict[str, pa.Array]:
    """Rebuild each later column as anchor + gap (anchors first: a chain resolves in order); null where
    the gap or the anchor is null."""
    import pyarrow as pa

    from hiveframe.arrow import arrow_type

    pending = list(offsets)
    while pending:
        ready = [o for o in pending if o.anchor not in {p.column for p in pending}]
        for offset in ready:
            target = arrow_type(offset.dtype)
            table = pa.table({"anchor": columns[offset.anchor], "gap": columns[offset.column]})
            early = table.column("anchor").combine_chunks()
            if offset.temporal and early.type != target:
                early = early.cast(target, safe=False)
            base = _physical(early)[0]
            gap = _physical(table.column("gap").combine_chunks())[0]
            x = base + gap
            mask = np.isnan(x)
            if offset.temporal:
                ints = np.where(mask, 0, x).astype(np.int64)
                arr = pa.array(ints, mask=mask)
                arr = arr.cast(pa.int32()).cast(target) if pa.types.is_date32(target) else arr.cast(target)
            else:
                if offset.decimals is not None or "int" in offset.dtype:
                    x = np.round(x, offset.decimals or 0)
                arr = pa.array(np.where(mask, 0, x), mask=mask).cast(target, safe=False)
            columns[offset.column] = arr
            pending.remove(offset)
    return columns


def anchor_from(value: Any, gaps: pa.Array, anchor: pa.Array, offset: Offset) -> pa.Array:
    """The anchor that a condition ``column = value`` implies: ``value`` minus each row's drawn gap (the
    learnt distance), in the anchor's type; null where the gap is null."""
    import pyarrow as pa

    later = pa.array([value]).cast(
        pa.from_numpy_dtype(np.float64) if not offset.temporal else _arrow(offset.dtype)
    )
    v = float(_physical(later)[0][0])
    gap = _physical(gaps)[0]
    x = v - gap
    mask = np.isnan(x)
    if offset.temporal:
        arr = pa.array(np.where(mask, 0, x).astype(np.int64), mask=mask)
        target = _arrow(offset.dtype)
        arr = arr.cast(pa.int32()).cast(target) if pa.types.is_date32(target) else arr.cast(target)
        return arr.cast(anchor.type, safe=False) if anchor.type != target else arr
    return pa.array(np.where(mask, 0, x), mask=mask).cast(anchor.type, safe=False)


def _arrow(name: str) -> pa.DataType:
    from hiveframe.arrow import arrow_type

    return arrow_type(name)
