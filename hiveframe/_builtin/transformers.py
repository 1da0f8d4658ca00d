"""The builtin column transformers: numbers, categories, booleans and datetimes to floats and back.

Every transformer here encodes one column to a float matrix whose blocks are described by
``output_spans``, and decodes such a matrix back to an Arrow array of the column's type.

Conventions (shared with any generator that reuses these transformers, e.g. the CTGAN plugin):

* **Nulls, numbers/datetimes/booleans.** When the column held nulls (or NaN) at fit time, the
  transformer appends one ``scalar`` span *after* its value block: the *null indicator*, ``1.0`` for
  a null row and ``0.0`` otherwise. The value block of a null row holds a finite placeholder (the
  fitted median, or ``0`` for booleans) so the matrix never contains NaN. ``reverse`` returns null
  wherever the indicator is above ``0.5``. The attribute ``null_indicator`` says whether the last
  output column is that indicator and ``value_width`` how many columns precede it. Columns without
  nulls at fit time get no indicator (and ``reverse`` never returns null for them).
* **Nulls, categories.** Categorical transformers treat null as one more category, so they never
  emit an indicator (``null_indicator`` is ``False``).
* **Bounds.** Numbers and datetimes are clipped on ``reverse`` to the declared ``Column.low`` /
  ``Column.high`` when present, else to the observed minimum and maximum; integer columns are
  rounded; floats keep the number of decimals seen in the data (up to six).
* **Types.** ``reverse`` returns the Arrow type seen at fit time (integers stay integers, a
  ``date32`` stays ``date32``, a ``timestamp[s]`` keeps its unit and time zone, datetimes read as
  strings are formatted back with ``Column.datetime_format``).
* **Unknown values.** ``transform`` raises :class:`~hiveframe.errors.DataError` naming the column for a
  category it never saw. ``transform_or_nan`` (builtin transformers only) returns NaN rows instead, for
  callers that want to treat such values as unknown.

Registered names: ``float`` (numbers, rounding integer columns), ``integer`` (numbers, always
rounded), ``categorical_frequency`` (one scalar: the category's rank by frequency, ``0`` = most
frequent), ``onehot`` (one ``onehot`` span), ``boolean`` and ``datetime`` (one scalar each).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.transformers import Span, Transformer
from hiveframe.errors import DataError, Problem
from hiveframe.metadata.model import ColumnKind

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column

log = logging.getLogger(__name__)

_MAX_DECIMALS = 6
_TZ_TYPE = re.compile(r"^timestamp\[(s|ms|us|ns)(?:,\s*tz=(.+))?\]$")


# -- Arrow helpers (pyarrow is imported lazily) ------------------------------------------------------
def cast_output(out: Any, target: Any) -> Any:
    """Cast a decoded column to its real type; an all-null (``null``-typed) column comes back as nulls."""
    import pyarrow as pa

    if pa.types.is_null(target):
        return pa.nulls(len(out))
    return out if out.type == target else out.cast(target)


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type named by ``str(type)`` (``int64``, ``timestamp[us, tz=UTC]``, ``date32[day]``...)."""
    import pyarrow as pa

    match = _TZ_TYPE.match(name.strip())
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    aliases = {"date32[day]": pa.date32(), "date64[ms]": pa.date64(), "large_string": pa.large_string()}
    if name in aliases:
        return aliases[name]
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError):
        from hiveframe.metadata import model

        parse = getattr(model, "parse_arrow_type", None)  # decimals, dictionaries, lists...
        if parse is None:
            raise
        return parse(name)


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Arrow array (chunked arrays are combined)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return pa.array([], type=values.type)
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(values)


def _null_mask(arr: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    if arr.null_count == 0:
        return np.zeros(len(arr), dtype=bool)
    return np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)


def _temporal_width(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return pa.int32() if t.bit_width == 32 else pa.int64()


def temporal_ints(arr: pa.Array) -> pa.Array:
    """A temporal array's integer storage (days, ms, s, us, ns) as int64, nulls kept."""
    import pyarrow as pa

    return arr.view(_temporal_width(arr.type)).cast(pa.int64())


def ints_to_temporal(ints: pa.Array, t: pa.DataType) -> pa.Array:
    """Inverse of :func:`temporal_ints`."""
    return ints.cast(_temporal_width(t)).view(t)


def values_to_json(arr: pa.Array) -> list[Any]:
    """Arrow values as JSON-able Python values; temporal values as their integer storage."""
    import pyarrow as pa

    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        return temporal_ints(arr).to_pylist()
    if pa.types.is_decimal(t):
        return arr.cast(pa.float64()).to_pylist()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    return arr.to_pylist()


def values_from_json(values: list[Any], type_name: str) -> pa.Array:
    """Inverse of :func:`values_to_json`."""
    import pyarrow as pa

    t = arrow_type(type_name)
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        return ints_to_temporal(pa.array(values, type=pa.int64()), t)
    if pa.types.is_decimal(t):
        return pa.array(values, type=pa.float64()).cast(t)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.array([None if v is None else bytes.fromhex(v) for v in values], type=t)
    return pa.array(values, type=t)


# -- base ----------------------------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class BuiltinTransformer(Transformer):
    """Shared bookkeeping: the column name (for messages), the input type, the null indicator."""

    _column: str = attrs.field(default="", init=False)
    _input_type: str = attrs.field(default="", init=False)
    _has_nulls: bool = attrs.field(default=False, init=False)

    @property
    def null_indicator(self) -> bool:
        """Whether the last output column is the null indicator (see the module docstring)."""
        return self._has_nulls

    @property
    def value_width(self) -> int:
        """Output columns before the null indicator."""
        return self.output_width - (1 if self.null_indicator else 0)

    def transform_or_nan(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Like ``transform``, but unknown values give NaN rows instead of an error."""
        self._require_fitted()
        out = self._call("transform", self._transform, values, strict=False)
        return np.asarray(out, dtype=np.float64).reshape(len(values), -1)

    def _coerce(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The input as one array of the type seen at fit time (conditions may arrive as other types)."""
        arr = as_array(values)
        if self._input_type and str(arr.type) != self._input_type:
            import pyarrow as pa

            target = arrow_type(self._input_type)
            try:
                arr = arr.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError([Problem(f"values of type {arr.type} cannot be read as {target}: {exc}",
                                         column=self._column or None)]) from None
        return arr

    def _base_values(self) -> dict[str, Any]:
        return {"column": self._column, "input_type": self._input_type, "has_nulls": self._has_nulls}

    def _load_base(self, values: dict[str, Any]) -> None:
        self._column = values.get("column", "")
        self._input_type = values.get("input_type", "")
        self._has_nulls = bool(values.get("has_nulls", False))

    def _with_indicator(self, block: np.ndarray, nulls: np.ndarray) -> np.ndarray:
        if block.ndim == 1:
            block = block[:, None]
        if self._has_nulls:
            return np.concatenate([block, nulls.astype(np.float64)[:, None]], axis=1)
        return block

    def _split_indicator(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if encoded.ndim == 1:
            encoded = encoded[:, None]
        if self._has_nulls:
            return encoded[:, :-1], encoded[:, -1] > 0.5
        return encoded, np.zeros(encoded.shape[0], dtype=bool)

    def _spans_with_indicator(self, spans: list[Span]) -> list[Span]:
        return spans + [Span(1, "scalar")] if self._has_nulls else spans


# -- numbers -------------------------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class FloatTransformer(BuiltinTransformer):
    """Numbers as one float, clipped to bounds and rounded like the data on the way back.

    ``round_to_int`` forces (True) or forbids (False) rounding to integers; ``None`` rounds when the
    column's Arrow type is an integer type. ``clip`` keeps generated values inside the declared or
    observed bounds.
    """

    name: ClassVar[str] = "float"
    handles: ClassVar[tuple[ColumnKind, ...]] = (ColumnKind.NUMERICAL,)

    round_to_int: bool | None = None
    clip: bool = True
    _low: float | None = attrs.field(default=None, init=False)
    _high: float | None = attrs.field(default=None, init=False)
    _integer: bool = attrs.field(default=False, init=False)
    _decimals: int | None = attrs.field(default=None, init=False)
    _fill: float = attrs.field(default=0.0, init=False)

    def _numbers(self, values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        import pyarrow as pa

        arr = self._coerce(values)
        try:
            floats = arr.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError([Problem(f"column of type {arr.type} is not numeric: {exc}",
                                     column=self._column or None,
                                     hint="declare the column categorical, or convert it")]) from None
        x = np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
        nulls = ~np.isfinite(x) | _null_mask(arr)
        return x, nulls

    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        import pyarrow as pa

        self._column = column.name
        arr = as_array(values)
        self._input_type = str(arr.type)
        x, nulls = self._numbers(arr)
        observed = x[~nulls]
        self._has_nulls = bool(nulls.any())
        is_int_type = pa.types.is_integer(arr.type)
        self._integer = is_int_type if self.round_to_int is None else bool(self.round_to_int)
        if observed.size:
            self._low = float(observed.min())
            self._high = float(observed.max())
            self._fill = float(np.median(observed))
        else:
            self._low = self._high = None
            self._fill = 0.0
        if column.low is not None:
            self._low = float(column.low)
        if column.high is not None:
            self._high = float(column.high)
        self._decimals = None if self._integer else _decimals(observed)

    def _transform(self, values: pa.Array | pa.ChunkedArray, strict: bool = True) -> np.ndarray:
        x, nulls = self._numbers(values)
        x = np.where(nulls, self._fill, x)
        return self._with_indicator(x, nulls)

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        import pyarrow as pa

        block, nulls = self._split_indicator(encoded)
        x = np.nan_to_num(block[:, 0], nan=self._fill, posinf=self._high or 0.0, neginf=self._low or 0.0)
        if self.clip and self._low is not None and self._high is not None:
            x = np.clip(x, self._low, self._high)
        target = arrow_type(self._input_type) if self._input_type else pa.float64()
        if self._low is None:  # the column was all null
            nulls = np.ones_like(nulls)
        if self._integer or pa.types.is_integer(target):
            x = np.rint(x)
            if self.clip and self._low is not None and self._high is not None:
                x = np.clip(x, np.ceil(self._low), np.floor(self._high))
            if pa.types.is_integer(target):
                return pa.array(x.astype(np.int64), mask=nulls, type=pa.int64()).cast(target)
        elif self._decimals is not None:
            x = np.round(x, self._decimals)
        out = pa.array(x, mask=nulls, type=pa.float64())
        return cast_output(out, target)

    def _output_spans(self) -> list[Span]:
        return self._spans_with_indicator([Span(1, "scalar")])

    def _get_state(self) -> ComponentState:
        return ComponentState(values={
            **self._base_values(), "low": self._low, "high": self._high, "integer": self._integer,
            "decimals": self._decimals, "fill": self._fill,
        })

    def _set_state(self, state: ComponentState) -> None:
        v = state.values
        self._load_base(v)
        self._low, self._high = v.get("low"), v.get("high")
        self._integer = bool(v.get("integer", False))
        self._decimals = v.get("decimals")
        self._fill = float(v.get("fill", 0.0))


@attrs.define(kw_only=True, eq=False)
class IntegerTransformer(FloatTransformer):
    """Numbers always rounded to integers on the way back (whatever the storage type)."""

    name: ClassVar[str] = "integer"
    round_to_int: bool | None = True


def _decimals(x: np.ndarray) -> int | None:
    """The fewest decimals (<= 6) that represent every value, or None when more are needed."""
    if x.size == 0:
        return None
    sample = x[: 10_000]
    for d in range(_MAX_DECIMALS + 1):
        scaled = sample * 10.0**d
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


# -- booleans ------------------------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class BooleanTransformer(BuiltinTransformer):
    """A boolean as one float (1.0 true, 0.0 false); values above 0.5 decode to true."""

    name: ClassVar[str] = "boolean"
    handles: ClassVar[tuple[ColumnKind, ...]] = (ColumnKind.BOOLEAN,)

    def _bools(self, values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        import pyarrow as pa

        arr = self._coerce(values)
        if not pa.types.is_boolean(arr.type):
            try:
                arr = arr.cast(pa.bool_())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError([Problem(f"values of type {arr.type} are not booleans: {exc}",
                                         column=self._column or None)]) from None
        nulls = _null_mask(arr)
        x = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.float64)
        return x, nulls

    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        self._column = column.name
        self._input_type = str(as_array(values).type)
        _, nulls = self._bools(values)
        self._has_nulls = bool(nulls.any())

    def _transform(self, values: pa.Array | pa.ChunkedArray, strict: bool = True) -> np.ndarray:
        x, nulls = self._bools(values)
        return self._with_indicator(x, nulls)

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        import pyarrow as pa

        block, nulls = self._split_indicator(encoded)
        out = pa.array(block[:, 0] > 0.5, mask=nulls, type=pa.bool_())
        target = arrow_type(self._input_type) if self._input_type else pa.bool_()
        return cast_output(out, target)

    def _output_spans(self) -> list[Span]:
        return self._spans_with_indicator([Span(1, "scalar")])

    def _get_state(self) -> ComponentState:
        return ComponentState(values=self._base_values())

    def _set_state(self, state: ComponentState) -> None:
        self._load_base(state.values)


# -- datetimes -----------------------------------------------------------------------------------------
_SECONDS_PER = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_NS_PER_TICK = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1, "date32": 86_400 * 10**9, "date64": 10**6}
#: candidate roundings, in nanoseconds: day, hour, minute, second, milli, micro, nano
_GRAINS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)


@attrs.define(kw_only=True, eq=False)
class DatetimeTransformer(BuiltinTransformer):
    """A date or timestamp as one float: days since 1970-01-01 for dates, seconds for timestamps.

    Generated values are rounded to the coarsest unit that every fitted value was a whole multiple
    of (days, hours, minutes, seconds...), clipped to the declared or observed range, and returned
    as the fitted Arrow type (strings parsed with ``Column.datetime_format`` are formatted back).
    """

    name: ClassVar[str] = "datetime"
    handles: ClassVar[tuple[ColumnKind, ...]] = (ColumnKind.DATETIME,)

    _storage: str = attrs.field(default="", init=False)  # the temporal type used internally
    _format: str | None = attrs.field(default=None, init=False)  # strings: strftime/strptime format
    _per_unit: float = attrs.field(default=1.0, init=False)  # storage ticks per output unit
    _grain: int = attrs.field(default=1, init=False)  # ticks
    _low: int | None = attrs.field(default=None, init=False)  # ticks
    _high: int | None = attrs.field(default=None, init=False)
    _fill: float = attrs.field(default=0.0, init=False)

    def _ticks(self, values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Integer storage ticks (as int64) and the null mask."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = as_array(values)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            try:
                if self._format:
                    arr = pc.strptime(arr, format=self._format, unit="us", error_is_null=False)
                else:
                    arr = arr.cast(pa.timestamp("us"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError([Problem(f"strings cannot be read as datetimes: {exc}", column=self._column or None,
                                         hint="set Column.datetime_format (strftime codes, e.g. '%Y-%m-%d')")]
                                ) from None
        storage = arrow_type(self._storage) if self._storage else arr.type
        if arr.type != storage:
            try:
                arr = arr.cast(storage)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError([Problem(f"values of type {arr.type} are not datetimes like {storage}: {exc}",
                                         column=self._column or None)]) from None
        nulls = _null_mask(arr)
        ticks = temporal_ints(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return ticks, nulls

    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        import pyarrow as pa

        self._column = column.name
        arr = as_array(values)
        self._input_type = str(arr.type)
        is_text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        self._format = column.datetime_format if is_text else None
        self._storage = ""
        ticks, nulls = self._ticks(arr)
        storage = pa.timestamp("us") if is_text else arr.type
        if not (pa.types.is_timestamp(storage) or pa.types.is_date(storage)):
            raise DataError([Problem(f"column of type {arr.type} is not a date or timestamp",
                                     column=column.name, hint="declare it numerical or categorical")])
        self._storage = str(storage)
        if pa.types.is_date32(storage):
            unit, self._per_unit = "date32", 1.0  # ticks are days; output in days
        elif pa.types.is_date64(storage):
            unit, self._per_unit = "date64", 86_400_000.0  # ticks are ms; output in days
        else:
            unit = storage.unit
            self._per_unit = float(_SECONDS_PER[unit])  # output in seconds
        ns_per_tick = _NS_PER_TICK[unit]
        observed = ticks[~nulls]
        self._has_nulls = bool(nulls.any())
        self._grain = 1
        for grain_ns in _GRAINS_NS:
            if grain_ns % ns_per_tick == 0 and observed.size and np.all(observed % (grain_ns // ns_per_tick) == 0):
                self._grain = grain_ns // ns_per_tick
                break
        if is_text and self._format is None:  # ISO strings: write back as precisely as they were read
            grain_ns = self._grain * ns_per_tick
            self._format = "%Y-%m-%d" if grain_ns % _GRAINS_NS[0] == 0 else (
                "%Y-%m-%d %H:%M:%S" if grain_ns % 10**9 == 0 else "%Y-%m-%dT%H:%M:%S.%f")
        if observed.size:
            self._low, self._high = int(observed.min()), int(observed.max())
            self._fill = float(np.median(observed)) / self._per_unit
        else:
            self._low = self._high = None
        for attr, bound in (("_low", column.low), ("_high", column.high)):
            if bound is not None:  # declared bounds are in the output unit (days or seconds since 1970)
                setattr(self, attr, int(round(float(bound) * self._per_unit)))

    def _transform(self, values: pa.Array | pa.ChunkedArray, strict: bool = True) -> np.ndarray:
        ticks, nulls = self._ticks(values)
        x = np.where(nulls, self._fill, ticks / self._per_unit)
        return self._with_indicator(x, nulls)

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        block, nulls = self._split_indicator(encoded)
        x = np.nan_to_num(block[:, 0], nan=self._fill) * self._per_unit
        if self._low is None or self._high is None:
            nulls = np.ones_like(nulls)
            ticks = np.zeros(len(x), dtype=np.int64)
        else:
            x = np.clip(x, self._low, self._high)
            ticks = (np.rint(x / self._grain) * self._grain).astype(np.int64)
            lo = -(-self._low // self._grain) * self._grain
            hi = (self._high // self._grain) * self._grain
            ticks = np.clip(ticks, lo, hi) if lo <= hi else np.clip(ticks, self._low, self._high)
        storage = arrow_type(self._storage)
        out = ints_to_temporal(pa.array(ticks, mask=nulls, type=pa.int64()), storage)
        target = arrow_type(self._input_type)
        if pa.types.is_string(target) or pa.types.is_large_string(target):
            if pa.types.is_timestamp(storage) and self._grain % _SECONDS_PER[storage.unit] == 0:
                out = out.cast(pa.timestamp("s", tz=storage.tz))  # no fractional seconds in %S
            return pc.strftime(out, format=self._format or "%Y-%m-%dT%H:%M:%S.%f").cast(target)
        return cast_output(out, target)

    def _output_spans(self) -> list[Span]:
        return self._spans_with_indicator([Span(1, "scalar")])

    def _get_state(self) -> ComponentState:
        return ComponentState(values={
            **self._base_values(), "storage": self._storage, "format": self._format,
            "per_unit": self._per_unit, "grain": self._grain, "low": self._low, "high": self._high,
            "fill": self._fill,
        })

    def _set_state(self, state: ComponentState) -> None:
        v = state.values
        self._load_base(v)
        self._storage = v.get("storage", "")
        self._format = v.get("format")
        self._per_unit = float(v.get("per_unit", 1.0))
        self._grain = int(v.get("grain", 1))
        self._low, self._high = v.get("low"), v.get("high")
        self._fill = float(v.get("fill", 0.0))


# -- categories ----------------------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class _CategoryTransformer(BuiltinTransformer):
    """Learns the category domain: observed values (or ``Column.categories``), null as a category.

    Categories are ranked by frequency, most frequent first (ties in order of first appearance), so
    code ``0`` is the mode.
    """

    handles: ClassVar[tuple[ColumnKind, ...]] = (
        ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.BOOLEAN, ColumnKind.ID,
    )

    _categories: pa.Array | None = attrs.field(default=None, init=False)  # domain, may hold one null
    _counts: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64), init=False)

    @property
    def categories(self) -> list[Any]:
        """The domain as Python values, in code order (``None`` stands for null)."""
        self._require_fitted()
        return self._categories.to_pylist()

    @property
    def frequencies(self) -> np.ndarray:
        """Fitted share of each category, in code order."""
        total = self._counts.sum()
        return self._counts / total if total else np.full(len(self._counts), 1.0 / max(1, len(self._counts)))

    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self._column = column.name
        arr = as_array(values)
        self._input_type = str(arr.type)
        self._has_nulls = False
        counts = pc.value_counts(arr)  # order of first appearance, null included when present
        uniques, freq = counts.field(0), np.asarray(counts.field(1).to_numpy(), dtype=np.int64)
        if column.categories is not None:
            declared = pa.array(list(column.categories)).cast(arr.type)
            if uniques.null_count and not declared.null_count:
                declared = pa.concat_arrays([declared, pa.nulls(1, type=arr.type)])
            member = pc.is_in(uniques, value_set=declared, skip_nulls=False).to_numpy(zero_copy_only=False)
            if not member.all():
                extra = uniques.filter(pa.array(~member)).to_pylist()
                raise DataError([Problem(f"values {extra[:10]} are not among the declared categories",
                                         column=column.name,
                                         hint="add them to Column.categories or clean the data")])
            index = pc.index_in(declared, value_set=uniques, skip_nulls=False).to_numpy(zero_copy_only=False)
            dcounts = np.array([0 if i is None or np.isnan(i) else freq[int(i)] for i in index], dtype=np.int64)
            uniques, freq = declared, dcounts
        order = np.argsort(-freq, kind="stable")
        self._categories = uniques.take(pa.array(order))
        self._counts = freq[order]

    def _codes(self, values: pa.Array | pa.ChunkedArray, strict: bool) -> np.ndarray:
        """Category codes as floats; unknown values raise (strict) or give NaN."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = self._coerce(values)
        index = pc.index_in(arr, value_set=self._categories, skip_nulls=False)
        codes = np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.float64)
        unknown = np.isnan(codes)
        if strict and unknown.any():
            bad = arr.filter(pa.array(unknown)).unique().to_pylist()
            shown = ", ".join(map(repr, bad[:10])) + (" ..." if len(bad) > 10 else "")
            raise DataError([Problem(f"value(s) never seen when fitting: {shown}", column=self._column or None,
                                     hint=f"known categories: {_preview(self._categories.to_pylist())}")])
        return codes

    def _decode(self, codes: np.ndarray) -> pa.Array:
        import pyarrow as pa

        out = self._categories.take(pa.array(codes.astype(np.int64)))
        target = arrow_type(self._input_type) if self._input_type else out.type
        return cast_output(out, target)

    def _get_state(self) -> ComponentState:
        if self._categories is None:
            return ComponentState(values=self._base_values())
        return ComponentState(
            values={**self._base_values(), "categories": values_to_json(self._categories),
                    "category_type": str(self._categories.type)},
            arrays={"counts": self._counts.astype(np.int64)},
        )

    def _set_state(self, state: ComponentState) -> None:
        v = state.values
        self._load_base(v)
        if "categories" in v:
            self._categories = values_from_json(v["categories"], v["category_type"])
            self._counts = np.asarray(state.arrays["counts"], dtype=np.int64)
        self._has_nulls = False


@attrs.define(kw_only=True, eq=False)
class CategoricalFrequencyTransformer(_CategoryTransformer):
    """A category as one scalar: its rank by frequency (``0`` = most frequent). Decoding rounds and
    clips, so any float decodes to a real category."""

    name: ClassVar[str] = "categorical_frequency"

    def _transform(self, values: pa.Array | pa.ChunkedArray, strict: bool = True) -> np.ndarray:
        return self._codes(values, strict)[:, None]

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        x = np.nan_to_num(encoded.reshape(encoded.shape[0], -1)[:, 0], nan=0.0)
        codes = np.clip(np.rint(x), 0, len(self._categories) - 1)
        return self._decode(codes)

    def _output_spans(self) -> list[Span]:
        return [Span(1, "scalar")]


@attrs.define(kw_only=True, eq=False)
class OneHotTransformer(_CategoryTransformer):
    """A category as a one-hot block (one ``onehot`` span); decoding takes the arg max."""

    name: ClassVar[str] = "onehot"

    def _transform(self, values: pa.Array | pa.ChunkedArray, strict: bool = True) -> np.ndarray:
        codes = self._codes(values, strict)
        out = np.zeros((len(codes), len(self._categories)), dtype=np.float64)
        known = ~np.isnan(codes)
        out[np.flatnonzero(known), codes[known].astype(np.int64)] = 1.0
        out[~known] = np.nan
        return out

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        block = np.nan_to_num(encoded.reshape(encoded.shape[0], -1), nan=-np.inf)
        return self._decode(np.argmax(block, axis=1))

    def _output_spans(self) -> list[Span]:
        return [Span(len(self._categories), "onehot")]


def _preview(values: list[Any], limit: int = 10) -> str:
    shown = ", ".join(map(repr, values[:limit]))
    return shown + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def default_transformer(column: Column) -> BuiltinTransformer:
    """The builtin transformer for a column kind (what the Gaussian copula uses by default)."""
    if column.kind is ColumnKind.NUMERICAL:
        return FloatTransformer()
    if column.kind is ColumnKind.DATETIME:
        return DatetimeTransformer()
    if column.kind is ColumnKind.BOOLEAN:
        return BooleanTransformer()
    return CategoricalFrequencyTransformer()


TRANSFORMERS: list[type[Transformer]] = [
    FloatTransformer,
    IntegerTransformer,
    BooleanTransformer,
    DatetimeTransformer,
    CategoricalFrequencyTransformer,
    OneHotTransformer,
]
