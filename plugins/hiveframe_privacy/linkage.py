"""A differentially private linkage model: children per parent from a noisy histogram.

The builtin ``conditional`` linkage keeps, per tree leaf, the exact counts of real parents; under DP
that is replaced by one noisy histogram of the number of children per parent (ignoring parent
attributes). Removing a child row moves one parent from count k to k - 1 (two bins change by one),
removing a parent row removes one count: the histogram has L2 sensitivity sqrt(2) (per privacy unit the
wrapper sets the bound; see ``DPWrapper.linkage_model``). The largest count is found privately too (a noisy histogram over power-of-two bins), unless ``max_count`` is given as a
public bound. Both releases are spent from the budget of the child table.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, LinkageModel, NoiseSource
from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe_privacy.budget import TableBudget

log = logging.getLogger(__name__)

SENSITIVITY = math.sqrt(2.0)
_MAX_LOG = 24  # counts up to 2^24 children per parent
_BOUND_SIGMAS = 4.5
_FLOOR_SIGMAS = 2.0


@attrs.define(kw_only=True, eq=False)
class DPHistogramLinkage(LinkageModel):
    """Children per parent drawn from a noisy histogram (see the module docstring).

    ``noise_multiplier`` is used only when the model is not bound to a table budget (standalone use;
    the engine binds it so the releases are accounted).
    """

    name: ClassVar[str] = "dp_histogram"

    max_count: int | None = None
    noise_multiplier: float = 1.0
    #: L2 sensitivity of the histogram per privacy unit, relative to the bound budget's unit_rows
    sensitivity: float = SENSITIVITY
    _budget: TableBudget | None = attrs.field(default=None, init=False)
    _values: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64), init=False)
    _probs: np.ndarray = attrs.field(factory=lambda: np.zeros(0), init=False)

    def bind(self, budget: TableBudget) -> DPHistogramLinkage:
        self._budget = budget
        return self

    def _release(self, counts: np.ndarray, label: str) -> tuple[np.ndarray, float]:
        if self._budget is not None:
            noisy = self._budget.release(counts, sensitivity=self.sensitivity, label=label)
            return noisy, self._budget.noise_std * self.sensitivity
        # standalone (not accounted): still secret noise, never the seed
        std = float(self.noise_multiplier) * SENSITIVITY
        return counts + NoiseSource().numpy().normal(0.0, std, size=counts.shape), std

    def _fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None) -> None:
        # ``seed`` is not used: every draw here is DP noise, which comes from the budget's secret source
        counts = np.asarray(counts, dtype=np.int64)
        cap = self.max_count
        if cap is None:
            # bins {0}, {1}, [2, 3], [4, 7], ...: the highest bin clearly above the noise bounds the counts
            b = np.where(counts <= 0, 0, np.floor(np.log2(np.maximum(counts, 1))).astype(np.int64) + 1)
            coarse = np.bincount(np.minimum(b, _MAX_LOG + 1), minlength=_MAX_LOG + 2).astype(np.float64)
            noisy, std = self._release(coarse, "children per parent: bound (log2 histogram)")
            hits = np.flatnonzero(noisy >= _BOUND_SIGMAS * std)
            top = int(hits[-1]) if hits.size else 1
            cap = 0 if top == 0 else (1 if top == 1 else 2**top - 1)
        elif cap < 0:
            raise ConfigError(f"max_count must be non-negative, got {cap}")
        cap = max(int(cap), 1)
        clipped = np.minimum(counts, cap)
        if cap <= 512:
            values = np.arange(cap + 1)
            idx = clipped
        else:  # 512 bins of equal width, each standing for its middle count
            edges = np.unique(np.linspace(0, cap + 1, 513).astype(np.int64))
            idx = np.clip(np.searchsorted(edges, clipped, side="right") - 1, 0, len(edges) - 2)
            values = (edges[:-1] + edges[1:] - 1) // 2
        hist = np.bincount(idx, minlength=len(values)).astype(np.float64)
        noisy, std = self._release(hist, "children per parent: histogram")
        floor = _FLOOR_SIGMAS * std
        kept = np.where(noisy >= floor, noisy, 0.0)
        # Bins too small to clear the floor one by one can still hold clear mass together (many parents
        # spread over many counts, next to one big bin of childless parents): dropping them all would
        # lose every child. When their sum clears the floor scaled to their number, keep them (clipped at 0).
        low = noisy < floor
        if low.any() and noisy[low].sum() >= floor * math.sqrt(int(low.sum())):
            kept = np.where(low, np.maximum(noisy, 0.0), kept)
        if kept.sum() <= 0:
            kept = np.maximum(noisy, 0.0)
        if kept.sum() <= 0:
            kept = np.ones(len(values))
        self._values = np.asarray(values, dtype=np.int64)[kept > 0]
        self._probs = kept[kept > 0] / kept[kept > 0].sum()

    def _sample(self, parents: pa.Table, *, seed: int | None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n = parents.num_rows
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        cum = np.cumsum(self._probs)
        cum[-1] = 1.0
        u = (rng.permutation(n) + rng.random()) / n  # stratified: the histogram is kept to within 1/n
        return self._values[np.minimum(np.searchsorted(cum, u, side="right"), len(self._values) - 1)]

    # -- derived statistics (post-processing) ---------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Low, high, mean, share with children, whether every parent has exactly one child."""
        p, v = self._probs, self._values
        return {"low": int(v.min()) if v.size else 0, "high": int(v.max()) if v.size else 0,
                "mean": float(p @ v) if v.size else 0.0, "coverage": float(p[v > 0].sum()) if v.size else 0.0,
                "exact_one": bool(v.size == 1 and v[0] == 1)}

    def _get_state(self) -> ComponentState:
        return ComponentState(arrays={"values": self._values, "probs": self._probs})

    def _set_state(self, state: ComponentState) -> None:
        self._values = np.asarray(state.arrays["values"], dtype=np.int64)
        self._probs = np.asarray(state.arrays["probs"], dtype=np.float64)


LINKAGE_MODELS = [DPHistogramLinkage]
