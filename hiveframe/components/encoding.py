"""TableEncoder: the one way a generator turns an Arrow table into a float matrix and back.

Each column gets a transformer: the user's override (by column name, then by column kind) or the
generator's default for that column. The encoder concatenates their outputs, remembers the spans,
and splits a generated matrix back into typed Arrow columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.transformers import Span, Transformer
from hiveframe.errors import NotFittedError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column

DefaultFactory = Callable[["Column"], Transformer]


class TableEncoder:
    """Per-column transformers for one table, fitted together."""

    def __init__(self, default: DefaultFactory, overrides: Mapping[str, Transformer] | None = None) -> None:
        self._default = default
        self._overrides = dict(overrides or {})
        self.columns: list[Column] = []
        self.transformers: list[Transformer] = []
        self._override_keys: list[str | None] = []

    def _choose(self, column: Column) -> tuple[Transformer, str | None]:
        for key in (column.name, column.kind.value):
            if key in self._overrides:
                return self._copy(self._overrides[key]), key
        return self._default(column), None

    @staticmethod
    def _copy(transformer: Transformer) -> Transformer:
        """A fresh, unfitted copy of an override: one override by kind may serve several columns,
        and each column needs its own fitted state."""
        import attrs

        return attrs.evolve(transformer)

    def fit(self, data: pa.Table, columns: Sequence[Column], *, seed: int | None = None) -> TableEncoder:
        self.columns, self.transformers, self._override_keys = [], [], []
        for i, column in enumerate(columns):
            transformer, key = self._choose(column)
            transformer.fit(data.column(column.name), column, seed=None if seed is None else seed + i)
            self.columns.append(column)
            self.transformers.append(transformer)
            self._override_keys.append(key)
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.transformers) or not self.columns

    @property
    def spans(self) -> list[tuple[Column, list[Span]]]:
        return [(c, t.output_spans) for c, t in zip(self.columns, self.transformers, strict=True)]

    @property
    def widths(self) -> list[int]:
        return [t.output_width for t in self.transformers]

    @property
    def width(self) -> int:
        return sum(self.widths)

    def transform(self, data: pa.Table) -> np.ndarray:
        if not self.transformers and self.columns:
            raise NotFittedError("TableEncoder used before fit()")
        blocks = [t.transform(data.column(c.name)) for c, t in zip(self.columns, self.transformers, strict=True)]
        if not blocks:
            return np.zeros((data.num_rows, 0))
        return np.concatenate(blocks, axis=1)

    def column_slices(self) -> list[slice]:
        out, start = [], 0
        for w in self.widths:
            out.append(slice(start, start + w))
            start += w
        return out

    def reverse(self, matrix: np.ndarray) -> dict[str, pa.Array]:
        """Decode a matrix (rows, width) into one Arrow array per column."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.width:
            raise ValueError(f"expected a matrix with {self.width} columns, got shape {matrix.shape}")
        return {
            c.name: t.reverse(matrix[:, sl])
            for c, t, sl in zip(self.columns, self.transformers, self.column_slices(), strict=True)
        }

    # -- state -----------------------------------------------------------------------------------
    def get_state(self) -> ComponentState:
        state = ComponentState(values={
            "columns": [c.name for c in self.columns],
            "override_keys": list(self._override_keys),
        })
        for i, t in enumerate(self.transformers):
            state.put_child(f"t{i}", t.get_state())
        return state

    def set_state(self, state: ComponentState, columns: Sequence[Column]) -> None:
        by_name = {c.name: c for c in columns}
        self.columns = [by_name[n] for n in state.values["columns"]]
        self._override_keys = list(state.values["override_keys"])
        self.transformers = []
        for i, (column, key) in enumerate(zip(self.columns, self._override_keys, strict=True)):
            transformer = self._copy(self._overrides[key]) if key is not None else self._default(column)
            transformer.set_state(state.child(f"t{i}"))
            self.transformers.append(transformer)
