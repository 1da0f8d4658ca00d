"""Columns as discrete tokens (numpy and pyarrow only).

A categorical or boolean column is one token: ``null``, ``rare`` or one of its frequent categories.
A category seen fewer than ``min_count`` times is folded into ``rare``, which sampling never emits,
so a value that few rows hold never leaves the model.

A number or a datetime is two tokens. The *coarse* token is ``null``, one of the column's point
masses (values that hold at least 0.5% of the rows and at least ``min_count`` rows: ages, zeros of
a capital gain, a price of 9.99) or one of up to ``bins`` quantile bins of the other values. The
*fine* token is the value's position inside its bin, in ``fine_bins`` equal steps. Decoding draws
uniformly inside the fine step, rounds to the column's observed decimals (integers stay integers,
datetimes keep their observed granularity: days, hours, minutes or seconds) and clips to the bin, so
values come back at the real precision and inside the real range.

Extreme numbers are protected like rare categories: before the bins are cut, the values are clipped
to the ``min_count``-th smallest and the ``min_count``-th largest value (:func:`protect_extremes`), so
the lowest and highest values that fewer than ``min_count`` rows reach never leave the model (a single
millionaire's exact income, one patient's age of 104). ``min_count=1`` keeps the real minimum and maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column

NULL, RARE = 0, 1
#: a numeric value is a point mass when it holds at least this share of the non-null rows
POINT_MASS_SHARE = 0.005
MAX_POINT_MASSES = 100
_RAW_CATEGORY_TYPES = ("string", "large_string", "bool")


@dataclass
class Codec:
    """How one column becomes tokens and comes back."""

    name: str
    kind: str  # "categorical" or "numeric"
    dtype: str  # the Arrow type of the column (str(type))
    has_null: bool = False
    # categorical
    categories: list[Any] = field(default_factory=list)
    as_string: bool = False  # categories kept as text (types JSON cannot hold) and cast back
    # numeric
    points: list[float] = field(default_factory=list)
    edges: list[float] = field(default_factory=list)
    fine_bins: int = 1
    decimals: int | None = None  # None: keep full float precision
    step: int = 1  # datetimes and integers: values are multiples of step
    integer: bool = False
    datetime: bool = False

    # -- shape ---------------------------------------------------------------------------------------
    @property
    def n_bins(self) -> int:
        return max(0, len(self.edges) - 1)

    @property
    def vocab(self) -> list[int]:
        """Vocabulary size of each of the column's tokens."""
        if self.kind == "categorical":
            return [2 + len(self.categories)]
        return [1 + len(self.points) + self.n_bins, self.fine_bins]

    def forbidden(self) -> list[list[int]]:
        """Per token, the ids that sampling must never emit (rare; null when the data had none)."""
        if self.kind == "categorical":
            out = [RARE]
            if not self.has_null and self.categories:
                out.append(NULL)
            return [out]
        coarse = [] if (self.has_null or not (self.points or self.edges)) else [NULL]
        return [coarse, []]

    def held(self) -> list[int | None]:
        """Per token, the id whose share sampling keeps when it bans others: a categorical's null (so the
        banned ``rare`` mass goes to the categories, and the column keeps its null rate)."""
        if self.kind == "categorical":
            return [NULL if self.has_null and self.categories else None]
        return [None, None]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Codec:
        return cls(**value)

    # -- fitting -------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, column: Column, values: pa.Array, *, min_count: int, bins: int, fine_bins: int) -> Codec:
        import pyarrow as pa

        from hiveframe.metadata import ColumnKind

        dtype = str(values.type)
        has_null = values.null_count > 0
        numeric = column.kind in (ColumnKind.NUMERICAL, ColumnKind.DATETIME) and _physical(values) is not None
        if not numeric:
            as_string = not (str(values.type) in _RAW_CATEGORY_TYPES or pa.types.is_integer(values.type))
            raw = _category_values(values, as_string)
            present = [v for v in raw if v is not None]
            uniq, counts = _unique_counts(present)
            frequent = [u for u, c in zip(uniq, counts, strict=True) if c >= min_count]
            return cls(column.name, "categorical", dtype, has_null, categories=frequent, as_string=as_string)
        phys, is_datetime = _physical(values)
        x = phys[~np.isnan(phys)] if phys.dtype.kind == "f" else phys
        codec = cls(column.name, "numeric", dtype, has_null, fine_bins=int(fine_bins), datetime=is_datetime)
        if len(x) == 0:
            return codec
        codec.integer = bool(is_datetime or pa.types.is_integer(values.type) or np.all(np.mod(x, 1) == 0))
        if is_datetime or pa.types.is_integer(values.type):
            codec.step = _common_step(x.astype(np.int64))
        elif not codec.integer:
            codec.decimals = _decimals(x)
        x = protect_extremes(x, min_count)
        uniq, counts = np.unique(x, return_counts=True)
        threshold = max(min_count, math.ceil(POINT_MASS_SHARE * len(x)))
        big = np.flatnonzero(counts >= threshold)
        big = big[np.argsort(-counts[big], kind="stable")][:MAX_POINT_MASSES]
        codec.points = sorted(float(uniq[i]) for i in big)
        rest = x[~np.isin(x, np.asarray(codec.points))] if codec.points else x
        if len(rest):
            q = np.quantile(rest.astype(np.float64), np.linspace(0.0, 1.0, int(bins) + 1))
            edges = np.unique(q)
            if len(edges) == 1:
                edges = np.array([edges[0], edges[0]])
            codec.edges = [float(e) for e in edges]
        return codec

    # -- encoding ------------------------------------------------------------------------------------
    def encode(self, values: pa.Array) -> np.ndarray:
        """Token ids, shape (rows, tokens); unseen categories become ``rare``."""
        n = len(values)
        if self.kind == "categorical":
            raw = _category_values(values, self.as_string)
            index = {v: i + 2 for i, v in enumerate(self.categories)}
            ids = np.fromiter((NULL if v is None else index.get(v, RARE) for v in raw), dtype=np.int64, count=n)
            return ids[:, None]
        phys, _ = _physical(values)
        return self.encode_numbers(phys)

    def encode_numbers(self, phys: np.ndarray) -> np.ndarray:
        n = len(phys)
        x = phys.astype(np.float64)
        out = np.zeros((n, 2), dtype=np.int64)
        valid = ~np.isnan(x)
        if not (self.points or self.edges):
            return out
        points = np.asarray(self.points, dtype=np.float64)
        coarse = np.zeros(n, dtype=np.int64)
        is_point = np.zeros(n, dtype=bool)
        if len(points):
            pos = np.clip(np.searchsorted(points, x), 0, len(points) - 1)
            is_point = valid & (points[pos] == x)
            coarse[is_point] = 1 + pos[is_point]
        binned = valid & ~is_point
        if self.n_bins:
            edges = np.asarray(self.edges)
            b = np.clip(np.searchsorted(edges, x[binned], side="right") - 1, 0, self.n_bins - 1)
            coarse[binned] = 1 + len(points) + b
            lo, hi = edges[b], edges[b + 1]
            width = np.where(hi > lo, hi - lo, 1.0)
            f = np.floor((x[binned] - lo) / width * self.fine_bins).astype(np.int64)
            out[binned, 1] = np.clip(f, 0, self.fine_bins - 1)
        elif binned.any():  # a value that is no point mass and no bin exists: nearest point mass
            pos = np.clip(np.searchsorted(points, x[binned]), 0, len(points) - 1)
            coarse[binned] = 1 + pos
        out[:, 0] = coarse
        return out

    # -- decoding ------------------------------------------------------------------------------------
    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> pa.Array:
        import pyarrow as pa

        from hiveframe.arrow import arrow_type

        target = _safe_type(arrow_type, self.dtype)
        if self.kind == "categorical":  # ids 0 and 1 (null, rare) are nulls, id k >= 2 is category k - 2
            ids = tokens[:, 0]
            missing = (ids < 2) | (not self.categories)
            picks = pa.array(np.where(missing, 0, ids - 2), mask=missing)
            if self.as_string:
                arr = pa.array(self.categories or [None], type=pa.string()).take(picks)
                return arr.cast(target) if target is not None else arr
            categories = self.categories or [None]
            return (pa.array(categories, type=target) if target is not None else pa.array(categories)).take(picks)
        n = len(tokens)
        coarse, fine = tokens[:, 0], tokens[:, 1]
        x = np.full(n, np.nan)
        n_points = len(self.points)
        if n_points:
            is_point = (coarse >= 1) & (coarse <= n_points)
            x[is_point] = np.asarray(self.points)[coarse[is_point] - 1]
        if self.n_bins:
            binned = coarse > n_points
            b = coarse[binned] - 1 - n_points
            edges = np.asarray(self.edges)
            lo, hi = edges[b], edges[b + 1]
            u = (fine[binned] + rng.random(int(binned.sum()))) / self.fine_bins
            v = self._round(np.clip(lo + u * (hi - lo), lo, hi))
            x[binned] = np.clip(v, edges[0], edges[-1])  # the outer edges are the real minimum and maximum
        mask = np.isnan(x)
        if self.datetime or self.integer:
            ints = np.zeros(n, dtype=np.int64)
            ints[~mask] = np.round(x[~mask]).astype(np.int64)
            if self.datetime:
                arr = pa.array(ints, type=pa.int64(), mask=mask)
                if target is None:
                    return arr
                return arr.cast(pa.int32()).cast(target) if target.bit_width == 32 else arr.cast(target)
            arr = pa.array(ints, mask=mask)
        else:
            arr = pa.array(x, type=pa.float64(), mask=mask)
        if target is not None and arr.type != target:
            try:
                arr = arr.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass
        return arr

    def _round(self, v: np.ndarray) -> np.ndarray:
        if self.datetime or self.integer:
            step = max(1, self.step)
            return np.round(v / step) * step
        if self.decimals is not None:
            return np.round(v, self.decimals)
        return v

    def physical_value(self, value: Any) -> float | None:
        """A condition's value as this numeric column's physical number (None for null)."""
        import pyarrow as pa

        from hiveframe.arrow import arrow_type

        if value is None:
            return None
        target = _safe_type(arrow_type, self.dtype)
        arr = pa.array([value])
        if target is not None and arr.type != target:
            arr = arr.cast(target)
        phys, _ = _physical(arr)
        return float(phys[0])

    def range(self) -> tuple[float, float] | None:
        known = list(self.points) + list(self.edges)
        return (min(known), max(known)) if known else None


def protect_extremes(x: np.ndarray, min_count: int) -> np.ndarray:
    """``x`` clipped to its ``min_count``-th smallest and ``min_count``-th largest values, so that no value
    fewer than ``min_count`` rows reach (at either end) is kept; with fewer than ``2 * min_count`` values,
    both ends meet near the median."""
    n = len(x)
    k = min(int(min_count), (n + 1) // 2)
    if k <= 1:
        return x
    low, high = np.partition(x, (k - 1, n - k))[[k - 1, n - k]]
    return np.clip(x, low, high)


def _safe_type(arrow_type: Any, name: str) -> pa.DataType | None:
    try:
        return arrow_type(name)
    except (ValueError, KeyError, TypeError):
        return None


def _category_values(values: pa.Array, as_string: bool) -> list[Any]:
    import pyarrow as pa

    if as_string:
        values = values.cast(pa.string())
    return values.to_pylist()


def _unique_counts(present: list[Any]) -> tuple[list[Any], list[int]]:
    counts: dict[Any, int] = {}
    for v in present:
        counts[v] = counts.get(v, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [k for k, _ in ordered], [c for _, c in ordered]


def _physical(values: pa.Array) -> tuple[np.ndarray, bool] | None:
    """Numbers as float64 (nan for null) and whether they are datetimes (as integers of their unit)."""
    import pyarrow as pa

    t = values.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        ints = values.cast(pa.int32() if pa.types.is_date32(t) or t.bit_width == 32 else pa.int64()).cast(pa.int64())
        return ints.to_numpy(zero_copy_only=False).astype(np.float64) if ints.null_count == 0 else \
            np.where(ints.is_null().to_numpy(zero_copy_only=False), np.nan,
                     ints.fill_null(0).to_numpy().astype(np.float64)), True
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        f = values.cast(pa.float64())
        return f.fill_null(float("nan")).to_numpy(zero_copy_only=False).astype(np.float64), False
    if pa.types.is_boolean(t) or pa.types.is_null(t):
        return None
    return None


def _common_step(x: np.ndarray) -> int:
    """The largest usual granularity all values are multiples of (datetimes: day, hour, minute...)."""
    g = int(np.gcd.reduce(np.abs(x))) if len(x) else 1
    if g == 0:
        return 1
    return g


def _decimals(x: np.ndarray) -> int | None:
    for d in range(0, 11):
        if np.all(np.abs(np.round(x, d) - x) <= 1e-9 * np.maximum(1.0, np.abs(x))):
            return d
    return None
