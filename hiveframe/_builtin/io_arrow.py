"""Arrow helpers shared by every reader and writer (builtin, polars, and any plugin that wants them).

Why one module: the builtin readers and the polars plugin's readers must return *the same* Database
for the same files (a later configuration swaps one for the other in tests). So the decisions that
decide types live here, once:

* **Canonical types.** ``large_string``/``string_view`` become ``string``, large/view binaries become
  ``binary``, dictionaries (pandas/polars categoricals) are decoded to their values, timestamps in
  seconds or milliseconds become microseconds (nanoseconds too, when no precision is lost), and
  schema/field metadata is dropped. Integer and float widths are kept.
* **Null markers in CSV.** An unquoted empty cell is null; a quoted empty cell (``""``) is an
  empty string. Besides that, any cell equal to one of :data:`DEFAULT_NULL_VALUES` is null, quoted or
  not. (JSON lines has real nulls, so its strings are taken as they are.) ``'?'`` is in the list on purpose: UCI Adult and Berka use it for "missing" and treating it as
  a category (or turning a numeric column into text) is worse than losing a literal ``'?'``. Pass
  ``null_values=`` to a reader to change the list.
* **Type inference from text** (CSV cells, and string columns of JSON lines / SQLite date columns)
  looks at *every* value, not a first block: integers (no leading zeros, so postcodes and ids such as
  ``"0171"`` stay text) -> ``int64``; other numbers -> ``double``; ``true``/``false`` -> ``bool``;
  ``YYYY-MM-DD`` -> ``date32``; ISO timestamps (``T`` or space, optional fraction up to microseconds)
  -> ``timestamp[us]``, with a zone offset or ``Z`` on every value -> ``timestamp[us, tz=UTC]``;
  anything else, and columns with no values at all, -> ``string``.

pyarrow is imported inside functions so that importing hiveframe stays light.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

#: Cells read as null from CSV. See the module docstring for ``'?'``.
DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "?")

#: File suffix -> format, for one-file-per-table folders. Longest suffixes first.
TABLE_SUFFIXES: dict[str, str] = {
    ".csv.gz": "csv",
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
#: Suffixes that mean "a SQLite database file".
SQLITE_SUFFIXES: tuple[str, ...] = (".sqlite", ".sqlite3", ".db")
SQLITE_MAGIC = b"SQLite format 3\x00"

_INT_RE = r"^-?(0|[1-9][0-9]*)$"
_LEADING_ZERO_RE = r"^-?0[0-9]"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIME_PART = r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
_NAIVE_TS_RE = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}({_TIME_PART})?$"
_ZONED_TS_RE = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{_TIME_PART}(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$"
_BOOL_TRUE = ("true", "True", "TRUE")
_BOOL_FALSE = ("false", "False", "FALSE")


# -- sources ---------------------------------------------------------------------------------------
def as_path(source: object) -> Path | None:
    """``source`` as a local path, or ``None`` when it is not path-like (or is a URL)."""
    if isinstance(source, Path):
        return source
    if isinstance(source, str):
        return None if "://" in source else Path(source)
    if isinstance(source, os.PathLike):
        raw = os.fspath(source)
        return Path(raw.decode() if isinstance(raw, bytes) else raw)
    return None


def split_suffix(path: Path) -> tuple[str, str]:
    """``(stem, suffix)`` with double suffixes kept together: ``users.csv.gz`` -> ``users``, ``.csv.gz``."""
    name = path.name
    lower = name.lower()
    for suffix in TABLE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return path.stem, path.suffix.lower()


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is an existing file that starts with the SQLite header."""
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def supported_suffixes_text() -> str:
    return ", ".join(list(dict.fromkeys(sorted(TABLE_SUFFIXES, key=len))) + list(SQLITE_SUFFIXES))


# -- in-memory objects (detected without importing pandas/polars/pyarrow) ---------------------------
def _is_instance(obj: object, module: str, names: Iterable[str]) -> bool:
    mod = sys.modules.get(module)
    if mod is None:  # never imported: obj cannot be one of its objects
        return False
    types = tuple(getattr(mod, n) for n in names if isinstance(getattr(mod, n, None), type))
    return bool(types) and isinstance(obj, types)


def is_arrow_table(obj: object) -> bool:
    return _is_instance(obj, "pyarrow", ("Table", "RecordBatch"))


def is_pandas_frame(obj: object) -> bool:
    return _is_instance(obj, "pandas", ("DataFrame",))


def is_polars_frame(obj: object) -> bool:
    return _is_instance(obj, "polars", ("DataFrame", "LazyFrame"))


def as_arrow_table(value: object, table: str) -> pa.Table:
    """A pyarrow Table (or RecordBatch) or pandas DataFrame as a canonical Arrow table."""
    import pyarrow as pa

    if isinstance(value, pa.RecordBatch):
        value = pa.Table.from_batches([value])
    if isinstance(value, pa.Table):
        return normalize_table(value, table=table)
    if is_pandas_frame(value):
        return normalize_table(_from_pandas(value, table), table=table)
    if is_polars_frame(value):
        raise SourceError(
            f"table {table!r} is a polars object; polars objects are read by the polars plugin",
            hint="use reader='polars' (pip install 'hiveframe[polars]'), or pass df.to_arrow()",
        )
    raise SourceError(
        f"table {table!r} is a {type(value).__name__}, not a table",
        hint="pass pyarrow Tables, pandas DataFrames or polars DataFrames",
    )


def _from_pandas(df: Any, table: str) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    index = df.index
    keep_index = not isinstance(index, pd.RangeIndex) and all(n is not None for n in index.names)
    try:
        return pa.Table.from_pandas(df, preserve_index=keep_index)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        bad = _bad_pandas_column(df)
        raise SourceError(
            f"table {table!r}"
            + (f", column {bad!r}" if bad is not None else "")
            + f": cannot convert to Arrow: {exc}",
            hint="a column mixes types (e.g. numbers and text); cast it with df[col].astype(str) "
            "or fix the values",
        ) from None


def _bad_pandas_column(df: Any) -> str | None:
    import pyarrow as pa

    for name in df.columns:
        try:
            pa.array(df[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return str(name)
    return None


# -- canonical types ---------------------------------------------------------------------------------
def canonical_type(t: pa.DataType) -> pa.DataType:
    """The type a column of type ``t`` gets in a hiveframe Database (see the module docstring)."""
    import pyarrow as pa

    types = pa.types
    if types.is_large_string(t) or (hasattr(types, "is_string_view") and types.is_string_view(t)):
        return pa.string()
    if types.is_large_binary(t) or (hasattr(types, "is_binary_view") and types.is_binary_view(t)):
        return pa.binary()
    if types.is_dictionary(t):
        return canonical_type(t.value_type)
    if types.is_timestamp(t) and t.unit in ("s", "ms"):
        return pa.timestamp("us", t.tz)
    if types.is_large_list(t) or types.is_list(t) or (hasattr(types, "is_list_view") and (
            types.is_list_view(t) or types.is_large_list_view(t))):
        return pa.list_(canonical_type(t.value_type))
    if types.is_struct(t):
        return pa.struct([pa.field(f.name, canonical_type(f.type), f.nullable) for f in t])
    return t


def normalize_table(data: pa.Table, *, table: str) -> pa.Table:
    """Canonical column types, string names, no duplicate names, no schema metadata."""
    import pyarrow as pa

    name = table
    names = [str(n) for n in data.column_names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"table {name!r} has duplicate column name(s) {', '.join(map(repr, dupes))}",
                          hint="rename the columns so that every name is unique")
    columns = []
    fields = []
    for col_name, col in zip(names, data.columns, strict=True):
        target = canonical_type(col.type)
        if pa.types.is_timestamp(col.type) and col.type.unit == "ns":
            try:
                col = col.cast(pa.timestamp("us", col.type.tz))
            except pa.ArrowInvalid:  # sub-microsecond values: keep nanoseconds rather than lose them
                pass
        elif target != col.type:
            try:
                col = col.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SourceError(f"table {name!r}, column {col_name!r}: cannot convert {col.type} "
                                  f"to {target}: {exc}") from None
        columns.append(col)
        fields.append(pa.field(col_name, col.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


# -- text cells: null markers and inference -----------------------------------------------------------
def mask_null_markers(data: pa.Table, null_values: Iterable[str]) -> pa.Table:
    """In every string column, cells equal to a marker become null (empty cells are left alone)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    markers = pa.array([v for v in null_values if v != ""], pa.string())
    if len(markers) == 0:
        return data
    columns = []
    for col in data.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            hit = pc.is_in(col, value_set=markers.cast(col.type))
            if pc.any(hit).as_py():
                col = pc.if_else(hit, pa.scalar(None, col.type), col)
        columns.append(col)
    return pa.Table.from_arrays(columns, names=data.column_names)


def _all_match(values: pa.ChunkedArray, pattern: str) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _any_match(values: pa.ChunkedArray, pattern: str) -> bool:
    import pyarrow.compute as pc

    return bool(pc.any(pc.match_substring_regex(values, pattern)).as_py())


def _try_cast(values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    import pyarrow as pa

    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_temporal(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A string column of ISO dates/timestamps parsed, or ``None`` when it is not one."""
    import pyarrow as pa

    if col.null_count == len(col):
        return None
    if _all_match(col, _DATE_RE):
        return _try_cast(col, pa.date32())
    if _all_match(col, _NAIVE_TS_RE):
        return _try_cast(col, pa.timestamp("us"))
    if _all_match(col, _ZONED_TS_RE):
        return _try_cast(col, pa.timestamp("us", "UTC"))
    return None


def infer_text_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Infer the type of one string column read from text (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.null_count == len(col):
        return col.cast(pa.string())
    if _all_match(col, _INT_RE):
        cast = _try_cast(col, pa.int64())
        return cast if cast is not None else col  # beyond int64: an id, keep the digits as text
    if not _any_match(col, _LEADING_ZERO_RE):
        cast = _try_cast(col, pa.float64())
        if cast is not None:
            return cast
    if bool(pc.all(pc.is_in(col.drop_null(), value_set=pa.array(_BOOL_TRUE + _BOOL_FALSE))).as_py()):
        return pc.if_else(pc.is_valid(col), pc.is_in(col, value_set=pa.array(_BOOL_TRUE)),
                          pa.scalar(None, pa.bool_()))
    parsed = parse_temporal(col)
    return parsed if parsed is not None else col


def infer_text_types(data: pa.Table) -> pa.Table:
    """Every string column of ``data`` typed by :func:`infer_text_column` (CSV: all columns)."""
    import pyarrow as pa

    columns = [infer_text_column(c) if pa.types.is_string(c.type) else c for c in data.columns]
    return pa.Table.from_arrays(columns, names=data.column_names)


def infer_temporal_types(data: pa.Table) -> pa.Table:
    """String columns holding ISO dates/timestamps parsed; all-null (untyped) columns as strings.

    For typed sources (JSON lines), where numbers and booleans already have their types.
    """
    import pyarrow as pa

    columns = []
    for col in data.columns:
        if pa.types.is_null(col.type):
            col = col.cast(pa.string())
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            parsed = parse_temporal(col)
            if parsed is not None:
                col = parsed
        columns.append(col)
    return pa.Table.from_arrays(columns, names=data.column_names)


def text_table(data: pa.Table, name: str) -> pa.Table:
    """Finish a table read from text cells: null markers already applied; infer types; canonical."""
    return normalize_table(infer_text_types(data), table=name)


# -- formatting for text outputs (CSV, JSON lines, SQLite) --------------------------------------------
def text_friendly(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as formats without temporal or decimal types store it: ISO text for timestamps, dates
    and times, floats for decimals; other types unchanged (JSON lines and SQLite share this)."""
    import pyarrow as pa

    t = col.type
    if pa.types.is_timestamp(t):
        return format_timestamps(col)
    if pa.types.is_date(t) or pa.types.is_time(t):
        return col.cast(pa.string())
    if pa.types.is_decimal(t):
        return col.cast(pa.float64())
    return col


def format_timestamps(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO text for a timestamp column: ``YYYY-MM-DD HH:MM:SS`` (+ fraction only when needed).

    Zoned timestamps are written in UTC with a ``+00:00`` suffix, so they read back as UTC.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    tz = col.type.tz
    naive = col.cast(pa.timestamp(col.type.unit)) if tz is None else _to_utc_naive(col)
    whole = _try_cast(naive, pa.timestamp("s"))
    if whole is not None:
        naive = whole
    elif naive.type.unit == "ms":
        naive = naive.cast(pa.timestamp("us"))
    text = pc.strftime(naive, format="%Y-%m-%d %H:%M:%S")
    if tz is not None:
        text = pc.binary_join_element_wise(text, pa.scalar("+00:00"), "")
    return text


def _to_utc_naive(col: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    # a zoned timestamp stores UTC instants; dropping the zone keeps the UTC wall time
    return col.cast(pa.timestamp(col.type.unit, "UTC")).cast(pa.int64()).cast(pa.timestamp(col.type.unit))


def format_floats(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Shortest round-trip text for doubles, always with a ``.`` or exponent, so ``39.0`` stays a float."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = col.cast(pa.float64()).cast(pa.string())
    return pc.replace_substring_regex(text, pattern=r"^(-?[0-9]+)$", replacement=r"\1.0")


def non_text_columns(data: pa.Table, *, allow: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(column, type) pairs that a text format cannot hold (nested, binary...)."""
    import pyarrow as pa

    bad = []
    for field in data.schema:
        t = field.type
        if pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
            if str(t) not in allow:
                bad.append((field.name, str(t)))
    return bad


def check_table_name(name: object) -> str:
    """Table names become file names: refuse ones that cannot."""
    if not isinstance(name, str) or not name.strip():
        raise SourceError(f"table name {name!r} is not a non-empty string")
    if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise SourceError(f"table name {name!r} cannot be a file name",
                          hint="rename the table: no '/', '\\' or leading '.'")
    return name


def check_requested(available: Iterable[str], tables: Iterable[str] | None, label: str) -> None:
    """Raise one error naming every requested table that ``label`` does not have, and what it has."""
    if tables is None:
        return
    have = list(available)
    missing = [t for t in tables if t not in have]
    if missing:
        from hiveframe.errors import did_you_mean

        hints = [h for h in (did_you_mean(m, have) for m in missing[:1]) if h]
        raise SourceError(f"{label} has no table(s) {', '.join(map(repr, missing))}",
                          hint=hints[0] if hints else f"tables found: {', '.join(have) or 'none'}")


def tables_from_mapping(tables: Mapping[Any, Any]) -> dict[str, Any]:
    """Check that every key of a mapping of tables is a string."""
    bad = [k for k in tables if not isinstance(k, str)]
    if bad:
        raise SourceError(f"table names must be strings, got {', '.join(map(repr, bad))}")
    return dict(tables)
