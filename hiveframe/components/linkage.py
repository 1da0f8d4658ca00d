"""Linkage models: how many children each parent row has, given the parent's attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import Component, ComponentState
from hiveframe.errors import ConfigError, NotFittedError

if TYPE_CHECKING:
    import pyarrow as pa


@attrs.define(kw_only=True, eq=False)
class LinkageModel(Component):
    """Learns children-per-parent counts conditioned on parent features; samples new counts.

    ``parents`` holds one row per parent with the features the model may condition on (possibly no
    columns at all); ``counts`` the number of children of each parent row.
    """

    kind: ClassVar[str] = "linkage_model"
    _fitted: bool = attrs.field(default=False, init=False)

    def fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None = None) -> LinkageModel:
        counts = np.asarray(counts)
        if counts.ndim != 1 or len(counts) != parents.num_rows:
            raise ConfigError(f"linkage {self.name!r}: need one count per parent row "
                              f"({parents.num_rows}), got shape {counts.shape}")
        if len(counts) and (counts.min() < 0):
            raise ConfigError(f"linkage {self.name!r}: counts must be non-negative")
        self._call("fit", self._fit, parents, counts.astype(np.int64), seed=seed)
        self._fitted = True
        return self

    def sample(self, parents: pa.Table, *, seed: int | None = None) -> np.ndarray:
        if not self._fitted:
            raise NotFittedError(f"linkage model {self.name!r} used before fit()")
        out = np.asarray(self._call("sample", self._sample, parents, seed=seed), dtype=np.int64)
        if out.shape != (parents.num_rows,):
            raise ConfigError(f"linkage {self.name!r} returned {out.shape}, expected ({parents.num_rows},)")
        return out

    def set_state(self, state: ComponentState) -> None:
        super().set_state(state)
        self._fitted = True

    def _fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None) -> None:
        raise NotImplementedError

    def _sample(self, parents: pa.Table, *, seed: int | None) -> np.ndarray:
        raise NotImplementedError
