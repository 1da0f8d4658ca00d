"""Sequential child tables: all children of one parent drawn together, one step per position.

Two autoregressive models of the same kind as the flat one:

- the **length model** learns each parent's number of children (``__length``, zero included) given the
  parent's context columns: a count head;
- the **row model** learns each child row given the parent's context, the sequence's length, the
  row's position and the number of siblings still to come (``__position``, ``__remaining``), and the
  values of the sibling before it (``__previous.<column>``) and of the sequence's first row
  (``__first.<column>``; both null for the first row): conditioning on the siblings before it through
  the one just before (local dependence) and the first (what the whole sequence shares, which a chain
  of previous siblings alone lets drift);
- and, for each column that has nulls, how many of the siblings before it had it null
  (``__nulls_before.<column>``): missingness that is a property of the whole sequence (one null
  duration per user, the last one) is kept, which the previous and first siblings alone cannot see.

Sampling draws the lengths, then position 0 of every sequence in one batch, then position 1 of the
sequences that are longer, each given the row drawn just before it, and so on. Rows come back grouped
by parent in sequence order; where the table has a time column (``order_by``), each parent's rows are
sorted by it, so time never runs backwards within a sequence.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import DataError, Problem
from hiveframe.metadata import Column, ColumnKind, Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

LENGTH = "__length"
POSITION = "__position"
REMAINING = "__remaining"
PREVIOUS = "__previous."
FIRST = "__first."
NULLS = "__nulls_before."


def positions(parent_index: np.ndarray) -> np.ndarray:
    """Each row's place in its parent's sequence (rows grouped by parent, in order)."""
    n = len(parent_index)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(parent_index)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n, dtype=np.int64) - first


def check_input(table: Table, data: pa.Table, parent_index: np.ndarray, parents: pa.Table) -> None:
    """One error listing what makes the sequences unusable."""
    problems = []
    if parents.num_rows == 0:
        problems.append(Problem("there are no parents to learn sequence lengths from", table=table.name))
    if len(parent_index) != data.num_rows:
        problems.append(Problem(f"{len(parent_index)} parent indexes for {data.num_rows} rows", table=table.name))
    elif len(parent_index) and (parent_index.min() < 0 or parent_index.max() >= parents.num_rows
                                or (np.diff(parent_index) < 0).any()):
        problems.append(Problem("parent indexes must be rows of the parents, ascending (rows grouped by parent)",
                                table=table.name))
    clash = [c for c in (LENGTH, POSITION, REMAINING) if table.has_column(c)]
    clash += [c.name for c in table.columns if c.name.startswith((PREVIOUS, FIRST, NULLS))]
    if clash:
        problems.append(Problem(f"column name(s) {clash} are reserved for the sequence model", table=table.name,
                                hint="rename those columns"))
    DataError.raise_if_any(problems)


def length_table(table: Table, context: list[str]) -> Table:
    """The length model's table: the parent's context columns, then the number of children."""
    return Table(name=table.name, columns=tuple(table.column(c) for c in context)
                 + (Column(LENGTH, ColumnKind.NUMERICAL, dtype="int64", nullable=False),))


def row_table(table: Table, own: list[str], context: list[str],
              counted: list[str] | tuple[str, ...] = ()) -> tuple[Table, list[str]]:
    """The row model's table and its context columns (parent context, place, previous sibling, and the
    earlier siblings' null counts of the ``counted`` columns)."""
    place = (Column(LENGTH, ColumnKind.NUMERICAL, dtype="int64", nullable=False),
             Column(POSITION, ColumnKind.NUMERICAL, dtype="int64", nullable=False),
             Column(REMAINING, ColumnKind.NUMERICAL, dtype="int64", nullable=False))
    siblings = tuple(replace(table.column(c), name=prefix + c, nullable=True)
                     for prefix in (PREVIOUS, FIRST) for c in own)
    siblings += tuple(Column(NULLS + c, ColumnKind.NUMERICAL, dtype="int64", nullable=False) for c in counted)
    columns = tuple(table.column(c) for c in own) + tuple(table.column(c) for c in context) + place + siblings
    ctx = context + [c.name for c in place] + [c.name for c in siblings]
    return Table(name=table.name, columns=columns), ctx


def previous_rows(data: pa.Table, own: list[str], first: np.ndarray) -> pa.Table:
    """Each row's previous sibling's values (null for the first row of a sequence)."""
    import pyarrow as pa

    n = data.num_rows
    take = np.arange(n, dtype=np.int64) - 1
    mask = first | (take < 0)
    idx = pa.array(np.maximum(take, 0), mask=mask) if n else pa.array([], type=pa.int64())
    return pa.table([data.column(c).take(idx) for c in own], names=[PREVIOUS + c for c in own])


def first_rows(data: pa.Table, own: list[str], pos: np.ndarray) -> pa.Table:
    """Each row's sequence's first row's values (null for the first row itself)."""
    import pyarrow as pa

    n = data.num_rows
    idx = pa.array(np.arange(n, dtype=np.int64) - pos, mask=pos == 0) if n else pa.array([], type=pa.int64())
    return pa.table([data.column(c).take(idx) for c in own], names=[FIRST + c for c in own])


def place_columns(length: np.ndarray, position: np.ndarray) -> pa.Table:
    import pyarrow as pa

    length = np.asarray(length, dtype=np.int64)
    position = np.asarray(position, dtype=np.int64)
    return pa.table({LENGTH: length, POSITION: position, REMAINING: length - position - 1})


def hstack(*tables: pa.Table) -> pa.Table:
    import pyarrow as pa

    arrays, names = [], []
    for t in tables:
        arrays += [t.column(c) for c in t.column_names]
        names += list(t.column_names)
    return pa.table(arrays, names=names)


def null_counts_before(data: pa.Table, counted: list[str] | tuple[str, ...], pos: np.ndarray) -> pa.Table:
    """Per row and ``counted`` column, how many siblings before it (same sequence) had the column null."""
    import pyarrow as pa

    n = data.num_rows
    starts = np.arange(n, dtype=np.int64) - pos  # each row's sequence's first row
    out = {}
    for c in counted:
        null = np.asarray(data.column(c).is_null().to_numpy(zero_copy_only=False), dtype=np.int64)
        before = np.r_[0, np.cumsum(null)][:n]  # nulls in rows 0 .. i-1
        out[NULLS + c] = pa.array(before - before[starts] if n else before, type=pa.int64())
    return pa.table(out) if out else pa.table({"_": pa.nulls(n)}).select([])


def training_rows(data: pa.Table, parent_index: np.ndarray, parents: pa.Table, own: list[str],
                  context: list[str], counted: list[str] | tuple[str, ...] = ()) -> pa.Table:
    """The row model's training table: own columns, parent context, place, previous and first sibling,
    earlier siblings' null counts."""
    import pyarrow as pa

    pos = positions(parent_index)
    counts = np.bincount(parent_index, minlength=parents.num_rows)
    ctx = parents.select(context).take(pa.array(parent_index, type=pa.int64()))
    return hstack(data.select(own), ctx, place_columns(counts[parent_index], pos),
                  previous_rows(data, own, pos == 0), first_rows(data, own, pos),
                  null_counts_before(data, counted, pos))


def sample(length_model: Any, row_model: Any | None, parents: pa.Table, context: list[str], own: list[str],
           *, max_length: int, order_by: str | None, seed: int,
           counted: list[str] | tuple[str, ...] = ()) -> tuple[pa.Table | None, np.ndarray, np.ndarray]:
    """Draw lengths, then rows position by position; returns rows (None when every sequence is empty),
    each row's parent index, and the lengths."""
    import pyarrow as pa

    seeds = np.random.SeedSequence([seed, 41]).generate_state(2)
    ctx = parents.select(context)
    drawn = length_model.sample(parents.num_rows, context=ctx if context else None, seed=int(seeds[0]))
    lengths = np.asarray(drawn.column(LENGTH).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    lengths = np.clip(lengths, 0, max_length)
    if row_model is None:
        lengths[:] = 0
    steps: list[pa.Table] = []
    parent_of: list[np.ndarray] = []
    position_of: list[np.ndarray] = []
    previous = first = None
    nulls = np.zeros((parents.num_rows, len(counted)), dtype=np.int64)  # per parent: nulls drawn so far
    active = np.flatnonzero(lengths > 0)
    step_seeds = np.random.SeedSequence([int(seeds[1]), 43])
    for k in range(int(lengths.max()) if len(lengths) else 0):
        if k > 0:  # the parents still going on: a subset of the previous step's, in the same order
            keep = lengths[active] > k
            previous = previous.filter(pa.array(keep))
            first = first.filter(pa.array(keep))
            active = active[keep]
        if previous is not None:
            siblings = hstack(previous.rename_columns([PREVIOUS + c for c in own]),
                              first.rename_columns([FIRST + c for c in own]))
        else:
            siblings = _no_siblings(row_model, own, len(active))
        counts = pa.table({NULLS + c: pa.array(nulls[active, i]) for i, c in enumerate(counted)}) if counted \
            else pa.table({"_": pa.nulls(len(active))}).select([])
        step_ctx = hstack(ctx.take(pa.array(active, type=pa.int64())),
                          place_columns(lengths[active], np.full(len(active), k)), siblings, counts)
        rows = row_model.sample(context=step_ctx, seed=int(step_seeds.spawn(1)[0].generate_state(1)[0]))
        steps.append(rows.select(own))
        parent_of.append(active)
        position_of.append(np.full(len(active), k, dtype=np.int64))
        previous = rows.select(own)
        for i, c in enumerate(counted):
            nulls[active, i] += np.asarray(rows.column(c).is_null().to_numpy(zero_copy_only=False), dtype=np.int64)
        if k == 0:
            first = previous
    if not steps:
        return None, np.zeros(0, dtype=np.int64), lengths
    rows = pa.concat_tables(steps)
    parent_index = np.concatenate(parent_of)
    position = np.concatenate(position_of)
    keys = [position, parent_index]  # np.lexsort: the last key sorts first
    if order_by is not None:  # by parent, then time (nulls last), then position
        keys.insert(1, _sort_key(rows.column(order_by)))
    order = np.lexsort(keys)
    return rows.take(pa.array(order, type=pa.int64())), parent_index[order], lengths


def _sort_key(values: Any) -> np.ndarray:
    """Sortable numbers for a time column (nulls last); dates (date32, whose cast to int64 Arrow refuses),
    timestamps of any unit, numbers. A column of another type keeps the drawn order."""
    import pyarrow as pa

    from hiveframe.pipeline.features import numeric_values

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    try:
        x = numeric_values(arr)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        x = None
    if x is None:
        return np.zeros(len(arr))
    return np.where(np.isnan(x), np.inf, x)


def _no_siblings(row_model: Any, own: list[str], n: int) -> pa.Table:
    """The sibling columns of first rows: all null, in the columns' types."""
    import pyarrow as pa

    from hiveframe.arrow import arrow_type

    table = row_model.fitted_table
    arrays, names = [], []
    for prefix in (PREVIOUS, FIRST):
        for c in own:  # (the null counts come with the step's context)
            try:
                type_ = arrow_type(table.column(prefix + c).dtype)
            except (ValueError, KeyError, TypeError):
                type_ = pa.string()
            arrays.append(pa.nulls(n, type=type_))
            names.append(prefix + c)
    return pa.table(arrays, names=names)
