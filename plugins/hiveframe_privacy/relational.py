"""What the relational engine learns outside table generators, made differentially private.

Under DP the engine asks the ``dp`` wrapper (duck-typed: the engine imports nothing from here) for:

* children-per-parent models: :class:`~hiveframe_privacy.linkage.DPHistogramLinkage` (a noisy
  histogram instead of trees whose leaves keep exact counts);
* shares (null foreign keys, null ids): a noisy count over a noisy row count;
* self-references: :func:`dp_forest`, a forest whose fan-out distribution is a noisy histogram of
  children per node (removing a row changes its own count and its parent's: sensitivity sqrt(3)),
  the same at every depth, and whose root share is a noisy count; rows are placed in the forest
  without looking at their content;
* key formats: :func:`public_key_format`, integers counted from 1 and strings counted ``"1"``,
  ``"2"``...: a real key's format (its first value, prefixes, characters) is not learnt.

Everything else the engine would learn from real rows (context columns chosen by their dependence on
the child, secondary-key assignment by content, shared ancestors, parent summaries of children) is
switched off by the engine under DP; context columns named in the metadata are still used.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe_privacy.budget import TableBudget

_FANOUT_CAP = 64
_FLOOR_SIGMAS = 2.0


def noisy_share(budget: TableBudget, count: float, total: float, *, label: str) -> float:
    """``count / total`` from a noisy count (``total`` is a released, noisy row count)."""
    noisy = budget.noisy_count(float(count), label=label)
    return float(np.clip(noisy / max(float(total), 1.0), 0.0, 1.0))


def public_key_format(arrow_type: pa.DataType) -> dict[str, Any]:
    """A key format that owes nothing to the real keys (the engine's ``keys`` module formats)."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return {"kind": "int", "start": 1}
    return {"kind": "counter", "affixes": [["", "", 1.0]], "start": 1, "width": 0}


def dp_forest(parent: np.ndarray, budget: TableBudget, rows: int) -> Any:
    """A :class:`hiveframe.pipeline.forest.ForestModel` from noisy counts only (module docstring)."""
    import pyarrow as pa

    from hiveframe.pipeline.forest import ForestModel

    n = len(parent)
    kids = np.bincount(parent[parent >= 0], minlength=n) if n else np.zeros(0, dtype=np.int64)
    hist = np.bincount(np.minimum(kids, _FANOUT_CAP), minlength=_FANOUT_CAP + 1).astype(np.float64)
    sens = math.sqrt(3.0)
    noisy = budget.release(hist, sensitivity=sens, label="self-reference: children per row")
    keep = np.where(noisy >= _FLOOR_SIGMAS * budget.noise_std * sens, noisy, 0.0)
    if keep.sum() <= 0:
        keep = np.zeros(_FANOUT_CAP + 1)
        keep[0] = 1.0
    roots = noisy_share(budget, float((parent < 0).sum()), rows, label="self-reference: roots")
    p = keep / keep.sum()
    # the fan-out "observations" the model draws from: 200 values spread like the noisy histogram
    draws = np.repeat(np.arange(_FANOUT_CAP + 1), np.round(p * 200).astype(np.int64)).tolist() or [0]
    model = ForestModel()
    model.root_rate = max(roots, 1.0 / max(rows, 1))
    model.fanouts = [draws]
    model.encoder.fit(pa.table({"_": pa.nulls(0)}).drop(["_"]))
    model.weights, model.intercept, model.noise = np.zeros(0), 0.0, 1.0
    return model
