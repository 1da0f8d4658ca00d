"""Column transformers: reversible maps between a column's values and numeric encodings.

Generators that work on numbers (copulas, neural networks) encode each column with a transformer and
decode their output with its ``reverse``. ``output_spans`` tells the generator the shape of the
encoding (a scalar, a one-hot block...) so it can choose output activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import attrs
import numpy as np

from hiveframe.components.base import Component, ComponentState
from hiveframe.errors import NotFittedError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind


@dataclass(frozen=True)
class Span:
    """A block of the encoded matrix: ``scalar`` (one float), ``onehot`` (softmax over ``width``)."""

    width: int
    activation: Literal["scalar", "onehot"]


@attrs.define(kw_only=True, eq=False)
class Transformer(Component):
    """Encodes one column to a float matrix of shape (rows, width) and back."""

    kind: ClassVar[str] = "transformer"
    #: column kinds this transformer can handle.
    handles: ClassVar[tuple[ColumnKind, ...]] = ()
    _fitted: bool = attrs.field(default=False, init=False)

    def fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None = None) -> None:
        self._call("fit", self._fit, values, column, seed=seed)
        self._fitted = True

    def transform(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        self._require_fitted()
        out = self._call("transform", self._transform, values)
        return np.asarray(out, dtype=np.float64).reshape(len(values), -1)

    def reverse(self, encoded: np.ndarray) -> pa.Array:
        self._require_fitted()
        return self._call("reverse", self._reverse, np.asarray(encoded, dtype=np.float64))

    @property
    def output_spans(self) -> list[Span]:
        self._require_fitted()
        return self._output_spans()

    @property
    def output_width(self) -> int:
        return sum(s.width for s in self.output_spans)

    def set_state(self, state: ComponentState) -> None:
        super().set_state(state)
        self._fitted = True

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(f"transformer {self.name!r} used before fit()")

    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        raise NotImplementedError

    def _transform(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        raise NotImplementedError

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        raise NotImplementedError

    def _output_spans(self) -> list[Span]:
        raise NotImplementedError
