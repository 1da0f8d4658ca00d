"""Numeric features from Arrow columns, for the engine's own small models.

Linkage models, context selection, secondary-key assignment and self-reference forests all need a
plain float matrix from parent or child rows. This encoder is deliberately simple (standardised
numbers, top-k one-hot categories, null indicators) and persists as JSON, so every relational model
stays pickle-free. It looks at the Arrow type, not the metadata kind: what it encodes is only ever a
signal for a relational model, never written out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def numeric_values(array: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A float view of a numeric, boolean, temporal or decimal column (NaN for null); None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = array.type
    if pa.types.is_dictionary(t):
        return None
    if pa.types.is_boolean(t):
        array = pc.cast(array, pa.int8())
    elif pa.types.is_decimal(t):
        array = pc.cast(array, pa.float64())
    elif pa.types.is_date32(t) or pa.types.is_time32(t):
        array = pc.cast(array, pa.int32())
    elif pa.types.is_date64(t) or pa.types.is_time64(t) or pa.types.is_duration(t):
        array = pc.cast(array, pa.int64())
    elif pa.types.is_timestamp(t):  # to seconds, so scales are comparable across units
        unit = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
        array = pc.divide(pc.cast(pc.cast(array, pa.int64()), pa.float64()), unit)
    elif pa.types.is_null(t):
        return np.full(len(array), np.nan)
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return None
    out = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def string_values(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], type=array.type)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return array


class FeatureEncoder:
    """Encodes chosen columns of an Arrow table as a float matrix; state is plain JSON.

    ``mode="onehot"`` gives one column per frequent category; ``mode="target"`` replaces a category
    by the smoothed mean of a target (used by regression trees, which split better on an ordered
    code than on dozens of indicator columns).
    """

    def __init__(self, *, max_categories: int = 8, mode: str = "onehot", smoothing: float = 10.0) -> None:
        self.max_categories = max_categories
        self.mode = mode
        self.smoothing = smoothing
        self.specs: list[dict[str, Any]] = []

    @property
    def width(self) -> int:
        return sum(_spec_width(s) for s in self.specs)

    def fit(self, table: pa.Table, columns: Sequence[str] | None = None,
            target: np.ndarray | None = None) -> FeatureEncoder:
        import pyarrow.compute as pc

        names = list(columns) if columns is not None else list(table.column_names)
        self.specs = []
        for name in names:
            col = table.column(name)
            nums = numeric_values(col)
            if nums is not None:
                ok = ~np.isnan(nums)
                mean = float(nums[ok].mean()) if ok.any() else 0.0
                std = float(nums[ok].std()) if ok.sum() > 1 else 1.0
                self.specs.append({"name": name, "type": "num", "mean": mean, "std": std if std > 0 else 1.0,
                                   "null": bool((~ok).any()), "fill": float(nums[ok].min() - 1) if ok.any() else 0.0})
                continue
            strings = string_values(col)
            counts = pc.value_counts(strings.drop_null())
            values = counts.field("values").to_pylist()
            freq = counts.field("counts").to_numpy()
            if is_identity(len(values), len(strings) - strings.null_count):
                continue  # names, titles, codes: they identify a row, they do not describe it
            order = np.argsort(-freq, kind="stable")
            has_null = strings.null_count > 0
            if self.mode == "target" and target is not None:
                cats = [values[i] for i in order[:200]]
                idx = _index(strings, cats)
                t = np.asarray(target, dtype=float)
                glob = float(t.mean()) if len(t) else 0.0
                enc = []
                for k in range(len(cats)):
                    sel = t[idx == k]
                    enc.append((sel.sum() + self.smoothing * glob) / (len(sel) + self.smoothing))
                nul = t[idx == -2]
                null_value = (nul.sum() + self.smoothing * glob) / (len(nul) + self.smoothing)
                self.specs.append({"name": name, "type": "target", "categories": cats, "values": enc,
                                   "default": glob, "null_value": float(null_value)})
            else:
                cats = [values[i] for i in order[: self.max_categories]]
                self.specs.append({"name": name, "type": "cat", "categories": cats, "null": bool(has_null)})
        return self

    def transform(self, table: pa.Table) -> np.ndarray:
        import pyarrow as pa

        n = table.num_rows
        blocks: list[np.ndarray] = []
        for spec in self.specs:
            col = table.column(spec["name"]) if spec["name"] in table.column_names else pa.nulls(n)
            if spec["type"] == "num":
                nums = numeric_values(col)
                if nums is None:
                    nums = np.full(n, np.nan)
                bad = np.isnan(nums)
                if self.mode == "target":  # trees: a value below every real one marks null
                    blocks.append(np.where(bad, spec["fill"], nums)[:, None])
                else:
                    blocks.append(((np.where(bad, spec["mean"], nums) - spec["mean"]) / spec["std"])[:, None])
                    if spec["null"]:
                        blocks.append(bad.astype(float)[:, None])
                continue
            strings = string_values(col) if not pa.types.is_null(col.type) else pa.nulls(n, pa.string())
            idx = _index(strings, spec["categories"])
            if spec["type"] == "target":
                vals = np.asarray(spec["values"] + [spec["default"], spec["null_value"]], dtype=float)
                pick = np.where(idx >= 0, idx, np.where(idx == -2, len(vals) - 1, len(vals) - 2))
                blocks.append(vals[pick][:, None])
            else:
                k = len(spec["categories"])
                block = np.zeros((n, k + int(spec["null"])))
                rows = np.nonzero(idx >= 0)[0]
                block[rows, idx[rows]] = 1.0
                if spec["null"]:
                    block[idx == -2, k] = 1.0
                blocks.append(block)
        if not blocks:
            return np.zeros((n, 0))
        return np.concatenate(blocks, axis=1)

    def fit_transform(self, table: pa.Table, columns: Sequence[str] | None = None,
                      target: np.ndarray | None = None) -> np.ndarray:
        return self.fit(table, columns, target).transform(table)

    # -- state -----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"max_categories": self.max_categories, "mode": self.mode, "smoothing": self.smoothing,
                "specs": self.specs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureEncoder:
        enc = cls(max_categories=int(data["max_categories"]), mode=str(data["mode"]),
                  smoothing=float(data["smoothing"]))
        enc.specs = [dict(s) for s in data["specs"]]
        return enc


def is_identity(distinct: int, rows: int) -> bool:
    """Whether a non-numeric column has nearly one value per row (a name or code, not an attribute)."""
    return distinct > 20 and distinct > 0.5 * rows


def _spec_width(spec: dict[str, Any]) -> int:
    if spec["type"] == "num":
        return 1 + int(spec["null"])
    if spec["type"] == "target":
        return 1
    return len(spec["categories"]) + int(spec["null"])


def _index(strings: pa.Array, categories: list[Any]) -> np.ndarray:
    """Category index per row; -1 for an unknown value, -2 for null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not categories:
        idx = np.full(len(strings), -1, dtype=np.int64)
    else:
        found = pc.index_in(strings, value_set=pa.array([str(c) for c in categories], type=pa.string()))
        idx = np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    nulls = np.asarray(strings.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    idx[nulls] = -2
    return idx


def ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with an L2 penalty and an unpenalised intercept: returns (weights, intercept)."""
    xm = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    ym = y.mean(axis=0) if len(y) else np.zeros(y.shape[1:])
    xc, yc = x - xm, y - ym
    gram = xc.T @ xc
    scale = np.trace(gram) / max(1, gram.shape[0])
    gram = gram + alpha * max(scale, 1e-9) * 1e-2 * np.eye(gram.shape[0])
    w = np.linalg.solve(gram, xc.T @ yc) if gram.shape[0] else np.zeros((0,) + y.shape[1:])
    return w, ym - xm @ w
