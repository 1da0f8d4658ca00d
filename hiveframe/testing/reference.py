"""Minimal reference components: what the smallest correct implementation of a contract looks like.

They are not registered by any plugin (register them from a test plugin if you need them by name).
Plugin authors can read them as worked examples; hiveframe's own tests use them to exercise the
kernel without depending on the real generators.

* :class:`ResampleGenerator` draws whole training rows (honouring context and conditions by matching
  rows), so every sampled row is a real row: useless for privacy, perfect for testing plumbing.
* :class:`ResampleSequences` is also a :class:`~hiveframe.components.SequenceGenerator`: each parent
  gets the whole child sequence of a random real parent (its number, order and rows).
* :class:`IdentityTransformer` encodes a numerical column as (value, is-null).
* :class:`EmpiricalLinkage` draws children counts from the observed counts.

They keep state with the public :mod:`hiveframe.state` helpers (re-exported here as before).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, LinkageModel, TableGenerator, Transformer
from hiveframe.components.transformers import Span
from hiveframe.metadata import ColumnKind
from hiveframe.state import table_from_state, table_to_state

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column, Table

__all__ = ["EmpiricalLinkage", "IdentityTransformer", "ResampleGenerator", "ResampleSequences", "table_from_state",
           "table_to_state"]


@attrs.define(kw_only=True, eq=False)
class ResampleGenerator(TableGenerator):
    """Samples training rows with replacement; context rows pick rows with the same context values.

    ``match_context``: when false, context is accepted but ignored (rows drawn from the whole table).
    """

    name: ClassVar[str] = "reference_resample"
    match_context: bool = True
    _rows: Any = attrs.field(default=None, init=False)

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: Any, workdir: Any) -> None:
        self._rows = data.select(table.column_names)
        if callback is not None:
            callback({"table": table.name, "epoch": 1, "epochs": 1})

    def _pick(self, pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        if len(pool) == 0:
            pool = np.arange(self._rows.num_rows)
        return pool[rng.integers(0, len(pool), size=n)]

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        rng = np.random.default_rng(seed)
        rows = self._rows
        allowed = np.ones(rows.num_rows, dtype=bool)
        for name, value in conditions.items():
            allowed &= np.asarray(pc.fill_null(pc.equal(rows.column(name), pa.scalar(value)), False))
        pool = np.flatnonzero(allowed)
        if context is None or not self.match_context or not self.context_columns:
            index = self._pick(pool, num_rows, rng)
        else:
            keys = [c for c in self.context_columns
                    if not pa.types.is_floating(rows.schema.field(c).type)]
            index = np.empty(num_rows, dtype=np.int64)
            groups: dict[tuple, list[int]] = {}
            ctx = context.select(keys).to_pylist() if keys else [{}] * num_rows
            for i, row in enumerate(ctx):
                groups.setdefault(tuple(row.values()), []).append(i)
            train = rows.select(keys).to_pylist() if keys else [{}] * rows.num_rows
            train_keys = np.array([hash(tuple(r.values())) for r in train])
            for key, where in groups.items():
                match = pool[train_keys[pool] == hash(key)]
                index[where] = self._pick(match if len(match) else pool, len(where), rng)
        out = rows.take(pa.array(index, type=pa.int64()))
        for name, value in conditions.items():  # conditions hold even when no row matched them
            position = out.column_names.index(name)
            out = out.set_column(position, name,
                                 pa.array([value] * num_rows, type=rows.schema.field(name).type))
        return out.drop_columns(list(self.context_columns))

    def _get_state(self) -> ComponentState:
        return table_to_state(self._rows)

    def _set_state(self, state: ComponentState) -> None:
        self._rows = table_from_state(state)


@attrs.define(kw_only=True, eq=False)
class ResampleSequences(ResampleGenerator):
    """As :class:`ResampleGenerator` for flat rows; as sequences, each parent takes the whole child
    sequence of a real parent drawn at random (parents without children count)."""

    name: ClassVar[str] = "reference_sequences"
    sequential: bool | None = None
    _starts: Any = attrs.field(default=None, init=False)

    def fit_sequences(self, data: pa.Table, table: Table, *, parent_index: np.ndarray, parents: pa.Table,
                      order_by: str | None = None, seed: int | None = None, callback: Any = None,
                      workdir: Any = None) -> ResampleSequences:
        own = [c for c in table.column_names if c not in parents.column_names]
        self._rows = data.select(own)
        counts = np.bincount(np.asarray(parent_index, dtype=np.int64), minlength=parents.num_rows)
        self._starts = np.concatenate([[0], np.cumsum(counts)])  # parent p owns rows starts[p]:starts[p+1]
        self._table = table
        self._context_columns = tuple(c for c in table.column_names if c in parents.column_names)
        return self

    def sample_sequences(self, parents: pa.Table, *, seed: int | None = None) -> tuple[pa.Table, np.ndarray]:
        import pyarrow as pa

        rng = np.random.default_rng(seed)
        donors = rng.integers(0, len(self._starts) - 1, size=parents.num_rows)
        pieces = [np.arange(self._starts[d], self._starts[d + 1]) for d in donors]
        rows = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        index = np.repeat(np.arange(parents.num_rows), [len(p) for p in pieces])
        return self._rows.take(pa.array(rows, type=pa.int64())), index

    def _get_state(self) -> ComponentState:
        state = table_to_state(self._rows)
        if self._starts is not None:
            state.arrays["starts"] = np.asarray(self._starts, dtype=np.int64)
        return state

    def _set_state(self, state: ComponentState) -> None:
        self._rows = table_from_state(state)
        self._starts = np.asarray(state.arrays["starts"]) if "starts" in state.arrays else None


@attrs.define(kw_only=True, eq=False)
class IdentityTransformer(Transformer):
    """Numerical column -> (value with nulls as the mean, is-null flag)."""

    name: ClassVar[str] = "reference_identity"
    handles: ClassVar[tuple[ColumnKind, ...]] = (ColumnKind.NUMERICAL,)
    _mean: float = attrs.field(default=0.0, init=False)
    _dtype: str = attrs.field(default="double", init=False)

    def _fit(self, values: Any, column: Column, *, seed: int | None) -> None:
        floats = _floats(values)
        self._mean = float(np.nanmean(floats)) if np.isfinite(floats).any() else 0.0
        self._dtype = column.dtype

    def _transform(self, values: Any) -> np.ndarray:
        floats = _floats(values)
        missing = np.isnan(floats)
        return np.column_stack([np.where(missing, self._mean, floats), missing.astype(float)])

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        import pyarrow as pa

        t = pa.type_for_alias(self._dtype)
        values = encoded[:, 0]
        if pa.types.is_integer(t):
            values = np.round(values)
        return pa.array(values, mask=encoded[:, 1] > 0.5).cast(t)

    def _output_spans(self) -> list[Span]:
        return [Span(1, "scalar"), Span(1, "scalar")]

    def _get_state(self) -> ComponentState:
        return ComponentState(values={"mean": self._mean, "dtype": self._dtype})

    def _set_state(self, state: ComponentState) -> None:
        self._mean = float(state.values["mean"])
        self._dtype = str(state.values["dtype"])


def _floats(values: Any) -> np.ndarray:
    import pyarrow as pa

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


@attrs.define(kw_only=True, eq=False)
class EmpiricalLinkage(LinkageModel):
    """Children counts drawn from the observed counts, ignoring parent features."""

    name: ClassVar[str] = "reference_empirical"
    _counts: Any = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64), init=False)

    def _fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None) -> None:
        self._counts = counts.copy()

    def _sample(self, parents: pa.Table, *, seed: int | None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if len(self._counts) == 0:
            return np.zeros(parents.num_rows, dtype=np.int64)
        return self._counts[rng.integers(0, len(self._counts), size=parents.num_rows)]

    def _get_state(self) -> ComponentState:
        return ComponentState(arrays={"counts": self._counts})

    def _set_state(self, state: ComponentState) -> None:
        self._counts = np.asarray(state.arrays["counts"], dtype=np.int64)
