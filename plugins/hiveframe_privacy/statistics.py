"""Differentially private preprocessing: what a DP model may know about a table's columns.

For every column one or two Gaussian releases on counts (each row adds one to one count, so each
release has sensitivity 1), all spent from the table's :class:`~hiveframe_privacy.budget.TableBudget`:

* **categories** with a declared domain (``Column.categories``; booleans): a noisy histogram over the
  domain (null is one more bin). Without a declared domain: a noisy histogram over the values seen,
  and only values whose noisy count passes a threshold are released (rare categories are
  suppressed; the threshold's failure probability is part of delta);
* **numbers and datetimes**: bounds from ``Column.low``/``high`` when declared, else from a noisy
  histogram over fixed signed powers of two (the lowest and highest bins that stand clearly above
  the noise); then a noisy histogram of the values in those bounds (null is one more bin);
* the **row count**.

From these releases (and nothing else) :class:`PrivateStatistics` builds a *surrogate* table: rows
whose columns follow the noisy marginals, independently. A generator fits its encoders (category
lists, VGM modes, value ranges, frequencies) on the surrogate, so whatever it saves about marginals
is a function of noisy releases. The real rows are then *cleaned* with the released domains (numbers
clipped to the bounds, suppressed categories replaced by a released one drawn at random) and used only
inside the DP mechanism of the generator (DP-SGD, or the noisy correlation of the DP copula).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import Column, ColumnKind, Table

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe_privacy.budget import TableBudget

log = logging.getLogger(__name__)

NUMERIC_KINDS = (ColumnKind.NUMERICAL, ColumnKind.DATETIME)
#: signed power-of-two bins for finding bounds: |x| in [2^k, 2^(k+1)) for k in this range, plus zero
_LOG_MIN, _LOG_MAX = -20, 62
#: a bound bin must stand this many noise standard deviations above zero
_BOUND_SIGMAS = 4.5
#: noisy counts below this many noise standard deviations are taken as empty (post-processing)
_FLOOR_SIGMAS = 2.0


def releases_for(table: Table, columns: list[str]) -> tuple[int, int]:
    """(Gaussian releases, thresholded selections) that preprocessing ``columns`` will make."""
    releases, selections = 1, 0  # the row count
    for name in columns:
        c = table.column(name)
        if c.kind in NUMERIC_KINDS:
            releases += 1 if (c.low is not None and c.high is not None) else 2
        else:
            releases += 1
            if c.kind != ColumnKind.BOOLEAN and c.categories is None:
                selections += 1
    return releases, selections


# -- numeric views of numeric and datetime columns ----------------------------------------------------
@dataclass
class NumericCodec:
    """How a numeric or datetime column maps to floats (storage ticks) and back."""

    type_name: str
    storage: str  # the Arrow type of the ticks' meaning (the input type, or timestamp[us] for strings)
    fmt: str | None
    integer: bool
    per_unit: float  # ticks per declared unit (days for dates, seconds for timestamps)
    grain: float  # surrogate values are multiples of this (1 day, 1 second, 1 for integers, 0: none)

    @classmethod
    def of(cls, arr: pa.Array, column: Column) -> NumericCodec:
        import pyarrow as pa

        t = arr.type
        is_text = pa.types.is_string(t) or pa.types.is_large_string(t)
        if is_text:
            storage = pa.timestamp("us")
        else:
            storage = t
        if pa.types.is_date32(storage):
            return cls(str(t), str(storage), None, True, 1.0, 1.0)
        if pa.types.is_date64(storage):
            return cls(str(t), str(storage), None, True, 86_400_000.0, 86_400_000.0)
        if pa.types.is_timestamp(storage):
            per = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[storage.unit]
            return cls(str(t), str(storage), column.datetime_format if is_text else None, True, per, per)
        integer = pa.types.is_integer(t)
        return cls(str(t), str(storage), None, integer, 1.0, 1.0 if integer else 0.0)

    def to_floats(self, arr: pa.Array) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        from hiveframe.arrow import arrow_type, temporal_ints

        t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            arr = (pc.strptime(arr, format=self.fmt, unit="us", error_is_null=True) if self.fmt
                   else arr.cast(pa.timestamp("us")))
        storage = arrow_type(self.storage)
        if pa.types.is_timestamp(storage) or pa.types.is_date(storage):
            if arr.type != storage:
                arr = arr.cast(storage)
            arr = temporal_ints(arr)
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        out = np.asarray(out, dtype=np.float64)
        return np.where(np.isfinite(out), out, np.nan)

    def from_floats(self, x: np.ndarray) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        from hiveframe.arrow import arrow_type, ints_to_temporal

        nulls = np.isnan(x)
        target = arrow_type(self.type_name)
        storage = arrow_type(self.storage)
        if pa.types.is_timestamp(storage) or pa.types.is_date(storage):
            g = self.grain if self.grain > 0 else 1.0
            ticks = pa.array((np.rint(np.nan_to_num(x) / g) * g).astype(np.int64), mask=nulls, type=pa.int64())
            out = ints_to_temporal(ticks, storage)
            if pa.types.is_string(target) or pa.types.is_large_string(target):
                out = pc.strftime(out.cast(pa.timestamp("s")), format=self.fmt or "%Y-%m-%d %H:%M:%S")
            return out.cast(target) if out.type != target else out
        if self.integer:
            return pa.array(np.rint(np.nan_to_num(x)).astype(np.int64), mask=nulls, type=pa.int64()).cast(target)
        out = pa.array(np.nan_to_num(x), mask=nulls, type=pa.float64())
        return out if target == pa.float64() else out.cast(target, safe=False)


def _log_bin(x: np.ndarray) -> np.ndarray:
    """Signed power-of-two bin of each value: 0 for |x| < 2^_LOG_MIN, +-(1 + k - _LOG_MIN) otherwise."""
    a = np.abs(x)
    k = np.floor(np.log2(np.maximum(a, 2.0**_LOG_MIN)))
    k = np.clip(k, _LOG_MIN, _LOG_MAX).astype(np.int64) - _LOG_MIN + 1
    k = np.where(a < 2.0**_LOG_MIN, 0, k)
    return np.where(x < 0, -k, k)


def _log_edges(b: int) -> tuple[float, float]:
    if b == 0:
        return -(2.0**_LOG_MIN), 2.0**_LOG_MIN
    k = abs(b) - 1 + _LOG_MIN
    lo, hi = 2.0**k, 2.0 ** (k + 1)
    return (lo, hi) if b > 0 else (-hi, -lo)


# -- per-column releases ---------------------------------------------------------------------------
@dataclass
class ColumnRelease:
    """What was released about one column: a noisy histogram over bins or categories.

    Numeric bins are ``[bin_lo, bin_hi)``; a bin with ``bin_lo == bin_hi`` is a single value (an
    integer when the range is small, or zero, which zero-inflated columns pile up on).
    """

    name: str
    numeric: bool
    weights: np.ndarray  # non-negative, over bins/categories (null excluded)
    null_weight: float
    bin_lo: np.ndarray | None = None  # numeric, in ticks
    bin_hi: np.ndarray | None = None
    categories: list[Any] | None = None  # categorical: released values
    codec: NumericCodec | None = None
    arrow_type: str = "string"
    bounds_public: bool = False
    public_domain: bool = False  # categorical: the domain was declared (else released above a noisy threshold)

    @property
    def total(self) -> float:
        return float(self.weights.sum() + self.null_weight)

    @property
    def null_share(self) -> float:
        return self.null_weight / self.total if self.total > 0 else 0.0

    def _used(self) -> np.ndarray:
        assert self.bin_lo is not None
        used = self.weights > 0
        return used if used.any() else np.ones(len(self.bin_lo), dtype=bool)

    @property
    def low(self) -> float | None:
        """Lowest value the release supports (over bins with weight)."""
        if self.bin_lo is None or not len(self.bin_lo):
            return None
        return float(self.bin_lo[self._used()].min())

    @property
    def high(self) -> float | None:
        if self.bin_hi is None or not len(self.bin_hi):
            return None
        return float(self.bin_hi[self._used()].max())

    @property
    def released_categories(self) -> list[Any]:
        """Categories with weight (what a generator can produce)."""
        return [c for c, w in zip(self.categories or [], self.weights, strict=False) if w > 0]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "numeric" if self.numeric else "categorical",
                               "null_share": round(self.null_share, 4)}
        if self.numeric:
            out.update({"bins": int(len(self.weights)), "bounds": "public" if self.bounds_public else "dp"})
        else:
            out.update({"released_categories": len(self.categories or []),
                        "domain": "public" if self.public_domain else "dp (noisy threshold)"})
        return out


def _floor(noisy: np.ndarray, std: float) -> np.ndarray:
    """Post-processing of noisy counts: negative and barely-positive bins become empty.

    The cut grows with the number of bins, so that about one empty bin in ten histograms passes it.
    """
    from scipy.special import ndtri

    cut = max(_FLOOR_SIGMAS, float(ndtri(1.0 - 0.1 / max(len(noisy), 1))))
    out = np.where(noisy >= cut * std, noisy, 0.0)
    if out.sum() <= 0 and noisy.size:  # everything under the floor: keep the positive part
        out = np.maximum(noisy, 0.0)
    return out


def numeric_bins(low: float, high: float, grain: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Data-independent bins over ``[low, high]``: single values when the grid is small, else equal
    widths with zero as a bin of its own when the range holds it."""
    if grain > 0:
        low, high = np.floor(low / grain) * grain, np.ceil(high / grain) * grain
        steps = int(round((high - low) / grain)) + 1
        if steps <= bins:
            values = low + grain * np.arange(steps)
            return values, values.copy()
    if not high > low:
        return np.array([low]), np.array([low])
    edges = np.linspace(low, high, bins + 1)
    lo, hi = edges[:-1], edges[1:]
    if low < 0 < high or low == 0:
        lo, hi = np.append(lo, 0.0), np.append(hi, 0.0)
    return lo, hi


def assign_bins(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Bin of each (non-null, in-range) value: a single-value bin when one matches, else the range."""
    point = lo == hi
    idx = np.full(len(x), -1, dtype=np.int64)
    if point.any():
        pv = lo[point]
        pid = np.flatnonzero(point)
        order = np.argsort(pv)
        pos = np.clip(np.searchsorted(pv[order], x), 0, len(pv) - 1)
        hit = pv[order][pos] == x
        idx[hit] = pid[order][pos[hit]]
    ranged = np.flatnonzero(~point)
    rest = idx < 0
    if ranged.size and rest.any():
        starts = lo[ranged]
        k = np.clip(np.searchsorted(starts, x[rest], side="right") - 1, 0, ranged.size - 1)
        idx[rest] = ranged[k]
    elif rest.any():  # only single-value bins: the nearest one
        pv = lo[point]
        idx[rest] = np.flatnonzero(point)[np.abs(x[rest][:, None] - pv[None, :]).argmin(axis=1)]
    return idx


def release_numeric(values: pa.Array, column: Column, budget: TableBudget, *, bins: int = 128) -> ColumnRelease:
    codec = NumericCodec.of(values, column)
    x = codec.to_floats(values)
    observed = x[~np.isnan(x)]
    std = budget.noise_std
    low = None if column.low is None else float(column.low) * codec.per_unit
    high = None if column.high is None else float(column.high) * codec.per_unit
    public = low is not None and high is not None
    if not public and column.kind == ColumnKind.DATETIME:
        low, high = _datetime_bounds(observed, codec, column, budget, low, high)
        public = False
    elif not public:
        # fixed signed power-of-two bins: the data decides only which bins stand above the noise
        b = _log_bin(observed)
        span = _LOG_MAX - _LOG_MIN + 2
        counts = np.bincount(b + span, minlength=2 * span + 1).astype(np.float64)
        noisy = budget.release(counts, sensitivity=1.0, label=f"{column.name}: bounds (log2 histogram)")
        hits = np.flatnonzero(noisy >= _BOUND_SIGMAS * std)
        if hits.size:
            lo_b, hi_b = _log_edges(int(hits[0] - span)), _log_edges(int(hits[-1] - span))
            low = lo_b[0] if low is None else low
            high = hi_b[1] if high is None else high
            if low < 0 and _log_edges(int(hits[0] - span))[1] <= 2.0**_LOG_MIN and low > -1:
                low = 0.0  # the lowest bin is the zero bin
        else:
            log.warning("table %s, column %s: too few rows to find private bounds; using [0, 1] "
                        "(declare Column.low/high)", budget.table, column.name)
            low = 0.0 if low is None else low
            high = max(low + 1.0, 1.0) if high is None else high
    assert low is not None and high is not None
    if high < low:
        low, high = high, low
    lo, hi = numeric_bins(low, high, codec.grain, bins)
    clipped = np.clip(observed, lo.min(), hi.max())
    if codec.grain > 0:
        clipped = np.round(clipped / codec.grain) * codec.grain
    idx = assign_bins(clipped, lo, hi)
    counts = np.bincount(idx, minlength=len(lo)).astype(np.float64)
    with_null = np.append(counts, float(np.isnan(x).sum()))
    noisy = _floor(budget.release(with_null, sensitivity=1.0, label=f"{column.name}: histogram"), std)
    return ColumnRelease(name=column.name, numeric=True, weights=noisy[:-1], null_weight=float(noisy[-1]),
                         bin_lo=lo, bin_hi=hi, codec=codec, arrow_type=str(values.type), bounds_public=public)


#: datetime bounds are found on a grid of (average) months from 1800 to 2200
_DAYS_PER_MONTH = 365.2425 / 12
_MONTH_MIN, _MONTH_MAX = -170 * 12, 230 * 12


def _datetime_bounds(observed: np.ndarray, codec: NumericCodec, column: Column, budget: TableBudget,
                     low: float | None, high: float | None) -> tuple[float, float]:
    """Bounds of a datetime column from a noisy histogram over months (a fixed grid)."""
    if "timestamp" in codec.storage:
        ticks_per_day = codec.per_unit * 86_400.0
    elif codec.storage.startswith("date64"):
        ticks_per_day = 86_400_000.0
    else:
        ticks_per_day = 1.0
    month = np.floor(observed / ticks_per_day / _DAYS_PER_MONTH).astype(np.int64)
    month = np.clip(month, _MONTH_MIN, _MONTH_MAX) - _MONTH_MIN
    counts = np.bincount(month, minlength=_MONTH_MAX - _MONTH_MIN + 1).astype(np.float64)
    noisy = budget.release(counts, sensitivity=1.0, label=f"{column.name}: bounds (monthly histogram)")
    hits = np.flatnonzero(noisy >= _BOUND_SIGMAS * budget.noise_std)
    if not hits.size:
        log.warning("table %s, column %s: too few rows to find private date bounds; using 1970-2070 "
                    "(declare Column.low/high)", budget.table, column.name)
        hits = np.array([-_MONTH_MIN, -_MONTH_MIN + 1200])
    to_ticks = lambda m: float((m + _MONTH_MIN) * _DAYS_PER_MONTH * ticks_per_day)  # noqa: E731
    lo = to_ticks(int(hits[0])) if low is None else low
    hi = to_ticks(int(hits[-1]) + 1) if high is None else high
    return lo, hi


def release_categorical(values: pa.Array, column: Column, budget: TableBudget) -> ColumnRelease:
    import pyarrow as pa
    import pyarrow.compute as pc

    std = budget.noise_std
    nulls = float(values.null_count)
    non_null = values.drop_null()
    if column.kind == ColumnKind.BOOLEAN or column.categories is not None:
        domain = ([False, True] if column.kind == ColumnKind.BOOLEAN and column.categories is None
                  else list(column.categories or ()))
        domain = [d for d in domain if d is not None]
        try:
            declared = pa.array(domain).cast(values.type) if len(domain) else pa.array([], type=values.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            declared = pa.array(domain)
            non_null = non_null.cast(declared.type)
        idx = pc.index_in(non_null, value_set=declared).to_numpy(zero_copy_only=False)
        idx = np.asarray(idx, dtype=np.float64)
        known = ~np.isnan(idx)
        counts = np.bincount(idx[known].astype(np.int64), minlength=len(domain)).astype(np.float64)
        # values outside the declared domain count as null (the data checks report them)
        noisy = _floor(budget.release(np.append(counts, nulls + float((~known).sum())), sensitivity=1.0,
                                      label=f"{column.name}: histogram (public domain)"), std)
        return ColumnRelease(name=column.name, numeric=False, weights=noisy[:-1], null_weight=float(noisy[-1]),
                             categories=declared.to_pylist(), arrow_type=str(values.type), public_domain=True)
    vc = pc.value_counts(non_null)
    uniques = vc.field(0).to_pylist()
    counts = np.asarray(vc.field(1).to_numpy(zero_copy_only=False), dtype=np.float64)
    noisy = budget.release(np.append(counts, nulls), sensitivity=1.0,
                           label=f"{column.name}: histogram + noisy threshold")
    threshold = budget.selection_threshold()
    keep = noisy[:-1] >= threshold
    budget.record_released(int(keep.sum()) + 1)  # the released categories and the null bin
    kept = [u for u, k in zip(uniques, keep, strict=False) if k]
    # a stable, data-independent order of the released values (not the order of first appearance)
    order = sorted(range(len(kept)), key=lambda i: (str(type(kept[i])), str(kept[i])))
    weights = noisy[:-1][keep][order] if len(kept) else np.zeros(0)
    null_weight = float(noisy[-1]) if noisy[-1] >= _FLOOR_SIGMAS * std else 0.0
    if not kept:
        log.warning("table %s, column %s: no category is frequent enough to be released privately; the "
                    "column will be generated as null (declare Column.categories to release a public domain)",
                    budget.table, column.name)
    return ColumnRelease(name=column.name, numeric=False, weights=np.asarray(weights, dtype=np.float64),
                         null_weight=null_weight, categories=[kept[i] for i in order],
                         arrow_type=str(values.type))


# -- the table ---------------------------------------------------------------------------------------
@dataclass
class PrivateStatistics:
    """The noisy releases of one table, and what can be derived from them alone."""

    rows: int  # noisy row count
    columns: dict[str, ColumnRelease] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    #: nulls of these columns are replaced by this value (released mean or most common category)
    fill: dict[str, Any] = field(default_factory=dict)

    def impute(self, columns: list[str]) -> None:
        """Null handling "mean": nulls become the released mean (numbers) or most common category."""
        for name in columns:
            rel = self.columns.get(name)
            if rel is None or rel.weights.sum() <= 0:
                continue
            if rel.numeric:
                value = self.mean(name)
                g = rel.codec.grain if rel.codec is not None else 0.0
                self.fill[name] = float(np.round(value / g) * g) if g > 0 else value
            else:
                self.fill[name] = (rel.categories or [])[int(np.argmax(rel.weights))]
            rel.null_weight = 0.0

    @classmethod
    def release(cls, data: pa.Table, table: Table, columns: list[str], budget: TableBudget, *,
                bins: int = 64) -> PrivateStatistics:
        """Every release of ``columns`` (noise from the budget's secret source)."""
        from hiveframe.arrow import as_array

        rows = budget.rows(data.num_rows)
        # as many bins as the noise allows: a bin of an even spread should hold several noise stds
        bins = int(np.clip(rows / (4.0 * budget.noise_std), 4, bins))
        out = cls(rows=rows, order=list(columns))
        for name in columns:
            column = table.column(name)
            values = as_array(data.column(name))
            if column.kind in NUMERIC_KINDS:
                out.columns[name] = release_numeric(values, column, budget, bins=bins)
            else:
                out.columns[name] = release_categorical(values, column, budget)
            if not column.nullable:  # the public metadata says no nulls: a null bin that passed is noise
                out.columns[name].null_weight = 0.0
        return out

    # -- derived (post-processing only) ------------------------------------------------------------
    def surrogate(self, rows: int, rng: np.random.Generator) -> pa.Table:
        """``rows`` rows whose columns follow the released marginals (independently of each other)."""
        import pyarrow as pa

        arrays = [self._surrogate_column(self.columns[n], rows, rng) for n in self.order]
        return pa.table(arrays, names=list(self.order))

    @staticmethod
    def _allocate(weights: np.ndarray, rows: int) -> np.ndarray:
        """Integer counts in proportion to ``weights`` (largest remainder), at least one for every
        positive weight (so every released category and the null bin appear), about ``rows`` in all."""
        total = weights.sum()
        if total <= 0 or rows <= 0:
            return np.zeros(len(weights), dtype=np.int64)
        positive = weights > 0
        spare = max(rows - int(positive.sum()), 0)
        exact = weights / total * spare
        base = np.floor(exact).astype(np.int64)
        short = spare - int(base.sum())
        if short > 0:
            base[np.argsort(-(exact - base), kind="stable")[:short]] += 1
        return base + positive.astype(np.int64)

    def _surrogate_column(self, rel: ColumnRelease, rows: int, rng: np.random.Generator) -> pa.Array:
        import pyarrow as pa

        from hiveframe.arrow import arrow_type

        alloc = self._allocate(np.append(rel.weights, rel.null_weight), rows)
        if alloc.sum() == 0:  # nothing released: the column is null
            alloc[-1] = rows
        if alloc.sum() != rows:  # a few more rows than asked (every released value at least once): trim
            extra = int(alloc.sum()) - rows
            for i in np.argsort(-alloc, kind="stable"):
                take = min(extra, int(alloc[i]) - 1)
                alloc[i] -= max(take, 0)
                extra -= max(take, 0)
                if extra <= 0:
                    break
        per_bin, n_null = alloc[:-1], int(alloc[-1])
        if rel.numeric:
            assert rel.bin_lo is not None and rel.bin_hi is not None and rel.codec is not None
            parts = []
            for b, m in enumerate(per_bin):
                if m == 0:
                    continue
                lo, hi = rel.bin_lo[b], rel.bin_hi[b]
                if lo == hi:
                    parts.append(np.full(m, lo))
                else:
                    v = lo + (np.arange(m) + 0.5) * (hi - lo) / m
                    g = rel.codec.grain
                    parts.append(np.clip(np.round(v / g) * g, lo, hi) if g > 0 else v)
            values = np.concatenate(parts + [np.full(n_null, np.nan)])
            return rel.codec.from_floats(values[rng.permutation(len(values))])
        t = arrow_type(rel.arrow_type)
        cats = rel.categories or []
        idx = np.concatenate([np.repeat(np.arange(len(cats)), per_bin), np.full(n_null, -1)]).astype(np.int64)
        idx = idx[rng.permutation(len(idx))]
        domain = pa.array(cats, type=t) if cats else pa.array([], type=t)
        if not cats:
            return pa.nulls(rows, type=t)
        return domain.take(pa.array(np.maximum(idx, 0), mask=idx < 0))

    def clean(self, data: pa.Table, rng: np.random.Generator) -> pa.Table:
        """The real rows mapped into the released domains, row by row (nothing else is learnt from them).

        Numbers are clipped to the released bounds; values of suppressed categories become a released
        category drawn from the noisy frequencies; nulls in a column released without nulls become a
        value drawn likewise.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from hiveframe.arrow import as_array

        out = {}
        for name in data.column_names:
            if name not in self.columns:
                out[name] = data.column(name)
                continue
            rel = self.columns[name]
            arr = as_array(data.column(name))
            n = len(arr)
            if rel.numeric:
                assert rel.codec is not None and rel.low is not None and rel.high is not None
                x = rel.codec.to_floats(arr)
                x = np.where(np.isnan(x), np.nan, np.clip(x, rel.low, rel.high))
                if name in self.fill:
                    x[np.isnan(x)] = self.fill[name]
                if rel.null_weight <= 0 and np.isnan(x).any():
                    fill = self._draw_numeric(rel, int(np.isnan(x).sum()), rng)
                    x[np.isnan(x)] = fill
                out[name] = rel.codec.from_floats(x)
                continue
            cats = rel.released_categories
            if not cats:
                out[name] = pa.nulls(n, type=arr.type)
                continue
            weights = rel.weights[rel.weights > 0]
            domain = pa.array(cats, type=arr.type) if arr.type != pa.null() else pa.array(cats)
            idx = np.asarray(pc.index_in(arr, value_set=domain).to_numpy(zero_copy_only=False), dtype=np.float64)
            is_null = np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)
            replace = np.isnan(idx) & (~is_null | (rel.null_weight <= 0))
            codes = np.where(np.isnan(idx), -1, np.nan_to_num(idx)).astype(np.int64)
            if name in self.fill and self.fill[name] in cats:
                codes[is_null] = cats.index(self.fill[name])
                replace &= ~is_null
            if replace.any():
                codes[replace] = rng.choice(len(cats), size=int(replace.sum()), p=weights / weights.sum())
            out[name] = domain.take(pa.array(np.maximum(codes, 0), mask=codes < 0))
        return pa.table(out)

    @staticmethod
    def _draw_numeric(rel: ColumnRelease, k: int, rng: np.random.Generator) -> np.ndarray:
        assert rel.bin_lo is not None and rel.bin_hi is not None
        w = rel.weights
        p = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
        b = rng.choice(len(w), size=k, p=p)
        return rel.bin_lo[b] + rng.random(k) * (rel.bin_hi[b] - rel.bin_lo[b])

    def mean(self, name: str) -> float | None:
        """The released mean of a numeric column (in its ticks), for mean imputation."""
        rel = self.columns[name]
        if not rel.numeric or rel.weights.sum() <= 0:
            return None
        assert rel.bin_lo is not None and rel.bin_hi is not None
        centers = (rel.bin_lo + rel.bin_hi) / 2
        return float((centers * rel.weights).sum() / rel.weights.sum())

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": {n: self.columns[n].summary() for n in self.order}}
