"""Where Spark and Arrow disagree on types: convert when no value can change, refuse clearly otherwise.

Reading (Spark -> Arrow): nested columns (struct, array, map, variant) are refused, or turned into
JSON text with ``nested="json"``; year-month and calendar intervals are refused; Spark's session-zone
timestamps arrive as UTC instants. Writing (Arrow -> Spark): unsigned integers widen to the next signed
type, ``decimal256`` narrows to ``decimal128`` when its precision fits, nanosecond timestamps become
microseconds only when no value loses digits, zoned timestamps are stored as UTC instants and naive ones
as ``TIMESTAMP_NTZ`` (never reinterpreted in the session zone). Every column that cannot be converted is
listed in one :class:`~hiveframe.errors.DataError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hiveframe.errors import ConfigError, DataError, Problem

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

NESTED_MODES = ("error", "json")


# -- Spark -> Arrow --------------------------------------------------------------------------------
def prepare_for_arrow(df: DataFrame, *, table: str, nested: str = "error") -> DataFrame:
    """Check a DataFrame's schema before it becomes Arrow; convert nested columns to JSON if asked.

    Raises :class:`DataError` naming every column whose type has no flat Arrow equivalent.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if nested not in NESTED_MODES:
        raise ConfigError(f"nested={nested!r} is not one of {NESTED_MODES}")
    problems: list[Problem] = []
    selected = []
    for field in df.schema.fields:
        dtype = field.dataType
        col = F.col(f"`{field.name}`")
        if isinstance(dtype, (T.StructType, T.ArrayType, T.MapType)) or _is_variant(dtype):
            if nested == "json":
                selected.append(F.to_json(col).alias(field.name))
                continue
            problems.append(Problem(
                f"nested type {dtype.simpleString()} cannot be modelled (hiveframe models flat columns)",
                table=table, column=field.name,
                hint="flatten it in Spark first (select `col.*`, explode, or to_json), or read with "
                "nested='json' to keep it as JSON text",
            ))
        elif isinstance(dtype, (T.YearMonthIntervalType, T.CalendarIntervalType)):
            problems.append(Problem(
                f"{dtype.simpleString()} has no Arrow equivalent",
                table=table, column=field.name,
                hint="cast it to a number of months/days or to a string in Spark before reading",
            ))
        else:
            selected.append(col)
    DataError.raise_if_any(problems, title="Spark types hiveframe cannot read")
    if len(selected) != len(df.schema.fields) or nested == "json":
        return df.select(*selected)
    return df


def _is_variant(dtype: Any) -> bool:
    return type(dtype).__name__ == "VariantType"


def to_arrow(df: DataFrame, *, name: str = "table", fmt: str | None = None,
             null_values: Sequence[str] | None = None) -> pa.Table:
    """Collect a (small, already sampled) DataFrame to the driver as a canonical Arrow table."""
    import pyarrow as pa

    if hasattr(df, "toArrow"):  # pyspark >= 4.0
        table = df.toArrow()
    else:  # pyspark 3.5
        batches = df._collect_as_arrow()  # noqa: SLF001 - the public API arrived in 4.0
        from pyspark.sql.pandas.types import to_arrow_schema

        table = pa.Table.from_batches(batches, schema=to_arrow_schema(df.schema)) if batches else \
            pa.Table.from_batches([], schema=to_arrow_schema(df.schema))
    return normalize_arrow(table, name=name, fmt=fmt, null_values=null_values)


def normalize_arrow(table: pa.Table, *, name: str = "table", fmt: str | None = None,
                    null_values: Sequence[str] | None = None) -> pa.Table:
    """The canonical Database table every hiveframe reader hands over, by the builtin readers' own steps.

    ``fmt`` is the file format the table came from: ``"csv"`` (read as text) gets the builtin null
    markers and type inference, ``"json"`` its temporal inference; anything else canonical types only.
    Spark marks columns ``not null`` from its plan; hiveframe decides nullability from metadata.
    """
    from hiveframe.arrow import DEFAULT_NULL_VALUES
    from hiveframe.files import finish_table

    kind = {"csv": "csv", "json": "jsonl"}.get(fmt or "", "parquet")
    return finish_table(table, kind, name, tuple(DEFAULT_NULL_VALUES if null_values is None else null_values))


def _is_string_view(t: pa.DataType) -> bool:
    return str(t) == "string_view"


# -- Arrow -> Spark --------------------------------------------------------------------------------
def spark_compatible(table: pa.Table, *, name: str, metadata_types: dict[str, pa.DataType] | None = None
                     ) -> pa.Table:
    """Convert an Arrow table so Spark stores every value unchanged, or raise listing every column it cannot."""
    import pyarrow as pa

    problems: list[Problem] = []
    arrays: list[pa.ChunkedArray] = []
    for field in table.schema:
        column = table.column(field.name)
        hint_type = (metadata_types or {}).get(field.name)
        converted, problem = _convert(column, field.type, table=name, column_name=field.name, declared=hint_type)
        if problem is not None:
            problems.append(problem)
        else:
            arrays.append(converted)
    DataError.raise_if_any(problems, title="Arrow types Spark cannot store unchanged")
    return pa.table(arrays, names=table.column_names)


def _convert(column: pa.ChunkedArray, t: pa.DataType, *, table: str, column_name: str,
             declared: pa.DataType | None) -> tuple[pa.ChunkedArray | None, Problem | None]:
    """One column made Spark-safe, or the problem that stops it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def problem(message: str, hint: str) -> tuple[None, Problem]:
        return None, Problem(message, table=table, column=column_name, hint=hint)

    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = t.value_type
    if pa.types.is_unsigned_integer(t):
        if t.bit_width < 64:
            wider = {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}[t.bit_width]
            return column.cast(wider), None
        top = pc.max(column).as_py()
        if top is None or top <= 2**63 - 1:
            return column.cast(pa.int64()), None
        return column.cast(pa.decimal128(20, 0)), None
    if pa.types.is_float16(t):
        return column.cast(pa.float32()), None
    if pa.types.is_large_string(t) or _is_string_view(t):
        return column.cast(pa.string()), None
    if pa.types.is_large_binary(t):
        return column.cast(pa.binary()), None
    if pa.types.is_decimal(t) and t.bit_width == 256:
        if t.precision <= 38:
            return column.cast(pa.decimal128(t.precision, t.scale)), None
        return problem(f"decimal({t.precision}, {t.scale}) is wider than Spark's 38 digits",
                       "round or rescale the column to at most 38 digits, or store it as a string")
    if pa.types.is_decimal(t) and t.bit_width < 128:
        return column.cast(pa.decimal128(t.precision, t.scale)), None
    if pa.types.is_timestamp(t):
        target = pa.timestamp("us", tz="UTC" if t.tz is not None else None)
        if t.unit == "ns":
            ints = column.cast(pa.int64())
            rem = pc.sum(pc.not_equal(pc.remainder(ints, 1000), 0)).as_py() if len(column) else 0
            if rem:
                return problem(f"{rem} nanosecond timestamp value(s) would lose digits "
                               "(Spark stores microseconds)",
                               "round to microseconds first: pc.floor_temporal(col, unit='microsecond')")
            return column.cast(target, safe=False), None
        return column.cast(target), None
    if pa.types.is_date64(t):
        try:
            return column.cast(pa.date32()), None  # a safe cast: refuses values with a time of day
        except pa.ArrowInvalid:
            return problem("date64 values carry a time of day, which Spark's DATE drops",
                           "cast the column to timestamp[us] instead")
    if pa.types.is_time(t):
        from pyspark.sql import types as T

        if not hasattr(T, "TimeType"):
            return problem(f"{t} (time of day) has no type in this Spark version",
                           "cast it to a string or to seconds since midnight")
        return column, None
    if pa.types.is_null(t):
        return column.cast(declared or pa.string()), None
    if pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        bad = _unstorable_inside(t)
        if bad:
            return problem(f"nested type {t} contains {bad}, which Spark cannot store",
                           "flatten the column or cast its inner values to a Spark-compatible type")
        return column, None
    if isinstance(t, pa.ExtensionType):
        return problem(f"Arrow extension type {t} is unknown to Spark", "cast it to its storage type")
    return column, None


def _unstorable_inside(t: pa.DataType) -> str | None:
    import pyarrow as pa

    children = [t.field(i).type for i in range(t.num_fields)]
    for child in children:
        if pa.types.is_unsigned_integer(child) or (pa.types.is_decimal(child) and child.precision > 38):
            return str(child)
        if pa.types.is_timestamp(child) and child.unit == "ns":
            return str(child)
        if child.num_fields:
            inner = _unstorable_inside(child)
            if inner:
                return inner
    return None


def to_spark(spark: SparkSession, table: pa.Table, *, name: str,
             metadata_types: dict[str, pa.DataType] | None = None) -> DataFrame:
    """A Spark DataFrame holding exactly the values of ``table`` (see :func:`spark_compatible`)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    safe = spark_compatible(table, name=name, metadata_types=metadata_types)
    schema = from_arrow_schema(safe.schema, prefer_timestamp_ntz=True)
    if safe.num_columns == 0:
        raise DataError([Problem("a table without columns cannot be written through Spark", table=name)])
    from hiveframe_spark.session import spark_major

    if spark_major() >= 4:
        return spark.createDataFrame(safe, schema=schema)
    # pyspark 3.5 takes pandas only; with Arrow enabled the transfer is still columnar
    return spark.createDataFrame(safe.to_pandas(timestamp_as_object=True, date_as_object=True), schema=schema)


def spark_schema_of(table: pa.Schema) -> Any:
    """The Spark schema :func:`to_spark` would use for an Arrow schema (naive timestamps stay naive)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(table, prefer_timestamp_ntz=True)


def column_names_unique(names: Sequence[str], *, table: str) -> None:
    """Spark resolves names case-insensitively by default: refuse names that differ only in case."""
    seen: dict[str, str] = {}
    problems = []
    for n in names:
        key = n.lower()
        if key in seen:
            problems.append(Problem(f"differs from column {seen[key]!r} only in letter case, which Spark "
                                    "treats as the same column", table=table, column=n,
                                    hint="rename one of them, or set spark.sql.caseSensitive=true"))
        seen[key] = n
    DataError.raise_if_any(problems)
