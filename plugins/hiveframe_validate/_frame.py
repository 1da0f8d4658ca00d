"""From Arrow tables to the numpy columns the metrics compare, with the checks every validator shares.

Every validator sees the same view of a table: numbers and dates become float64 (dates as seconds
since the epoch, nulls as NaN), categories become integer codes over one vocabulary shared by the real
and the synthetic column (nulls as -1). Problems (a table or column missing on one side, types that
cannot be compared, empty tables) are collected for every table and raised once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError, DataError, Problem
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata.arrow_types import type_family

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

NUMERICAL = "numerical"
DATETIME = "datetime"
CATEGORICAL = "categorical"

#: metadata kinds the statistical validators compare, and how.
ANALYSED_KINDS = {
    ColumnKind.NUMERICAL: NUMERICAL,
    ColumnKind.DATETIME: DATETIME,
    ColumnKind.CATEGORICAL: CATEGORICAL,
    ColumnKind.BOOLEAN: CATEGORICAL,
}


@dataclass
class Col:
    """One column of a table, real and synthetic side by side.

    ``real``/``synthetic`` are float64 with NaN for nulls (numerical, datetime) or int64 codes with
    -1 for nulls (categorical). ``categories[code]`` is the label of a code: the real categories come
    first, most frequent first (``n_real_categories`` of them), then categories only the synthetic
    column has.
    """

    name: str
    kind: str
    real: np.ndarray
    synthetic: np.ndarray
    categories: list[str] | None = None
    n_real_categories: int = 0

    @property
    def is_numeric(self) -> bool:
        return self.kind in (NUMERICAL, DATETIME)


@dataclass
class Prepared:
    """A table ready for the metrics: its analysed columns and the rows used on each side."""

    table: str
    columns: dict[str, Col]
    rows_real: int
    rows_synthetic: int
    total_real: int
    total_synthetic: int
    notes: list[str] = field(default_factory=list)

    def sample_info(self) -> dict[str, Any]:
        return {
            "rows_real": self.total_real,
            "rows_synthetic": self.total_synthetic,
            "used_real": self.rows_real,
            "used_synthetic": self.rows_synthetic,
            "sampled": self.rows_real < self.total_real or self.rows_synthetic < self.total_synthetic,
        }


# -- inputs ----------------------------------------------------------------------------------------
def as_tables(data: Any, side: str) -> dict[str, pa.Table]:
    """Tables by name from a hiveframe Database or a mapping of Arrow/pandas/polars tables."""
    import pyarrow as pa

    from hiveframe.components import Database

    if isinstance(data, Database):
        items = data.tables.items()
    elif isinstance(data, Mapping):
        items = data.items()
    elif isinstance(data, pa.Table):
        raise ConfigError(f"the {side} data is a single table; pass a mapping {{'name': table}} "
                          "or a hiveframe Database")
    else:
        raise ConfigError(f"the {side} data is a {type(data).__name__}",
                          hint="pass a hiveframe Database or a mapping of table name -> pyarrow.Table")
    out: dict[str, pa.Table] = {}
    for name, table in items:
        out[str(name)] = to_arrow(table, f"{side} table {name!r}")
    return out


def to_arrow(table: Any, what: str) -> pa.Table:
    import pyarrow as pa

    if isinstance(table, pa.Table):
        return table
    if hasattr(table, "to_arrow"):  # polars
        return table.to_arrow()
    if type(table).__module__.startswith("pandas"):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise ConfigError(f"{what} is a {type(table).__name__}, not a pyarrow.Table")


def select_tables(metadata: Metadata, tables: Sequence[str] | None) -> list[str]:
    """The tables a validator looks at: those asked for (checked) or every table of the metadata."""
    if tables is None:
        return metadata.table_names
    unknown = [t for t in tables if not metadata.has_table(t)]
    if unknown:
        from hiveframe.errors import did_you_mean

        raise ConfigError(f"unknown table(s) {unknown}", hint=did_you_mean(unknown[0], metadata.table_names))
    return list(tables)


def analysed_columns(metadata: Metadata, table: Table) -> list[Column]:
    """Columns whose values carry statistics: not keys, ids, PII or free text."""
    keys = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    return [c for c in table.columns if c.kind in ANALYSED_KINDS and c.name not in keys]


# -- type families ---------------------------------------------------------------------------------
def family(dtype: pa.DataType) -> str:
    """Coarse type family: values of the same family can be compared, others cannot.

    The kernel's :func:`~hiveframe.metadata.arrow_types.type_family` with every number one family (a
    validator compares integers with floats); types it has no family for compare by their exact type.
    """
    import pyarrow as pa

    kernel = type_family(dtype)
    if kernel in ("int", "float", "decimal"):
        return "number"
    if kernel == "other":
        return str(dtype.value_type if pa.types.is_dictionary(dtype) else dtype)
    return kernel


def type_problems(name: str, column: str, real: pa.DataType, synthetic: pa.DataType) -> list[Problem]:
    fr, fs = family(real), family(synthetic)
    if fr == fs or "null" in (fr, fs):
        return []
    return [Problem(f"incompatible types: real {real}, synthetic {synthetic}", table=name, column=column,
                    hint=f"cast the synthetic column to {real} (the real column's type) before validating")]


def check_inputs(
    validator: str,
    real: Mapping[str, pa.Table],
    synthetic: Mapping[str, pa.Table],
    metadata: Metadata,
    tables: Iterable[str],
    columns_of: Any = None,
) -> None:
    """Raise one :class:`DataError` listing every missing table/column, type clash and empty table.

    ``columns_of(table)`` names the columns the validator needs (default: every metadata column).
    """
    problems: list[Problem] = []
    for name in tables:
        meta = metadata.table(name)
        sides = {"real": real.get(name), "synthetic": synthetic.get(name)}
        missing_side = [side for side, tbl in sides.items() if tbl is None]
        for side in missing_side:
            problems.append(Problem(f"table is missing from the {side} data", table=name,
                                    hint=f"{side} tables: {', '.join(sorted(real if side == 'real' else synthetic))}"))
        if missing_side:
            continue
        for side, tbl in sides.items():
            if tbl.num_rows == 0:
                problems.append(Problem(f"the {side} table is empty", table=name,
                                        hint="validators need at least one row on each side"))
        needed = list(columns_of(meta)) if columns_of is not None else meta.column_names
        for column in needed:
            absent = [side for side, tbl in sides.items() if column not in tbl.column_names]
            for side in absent:
                problems.append(Problem(f"column is missing from the {side} table", table=name, column=column,
                                        hint="both sides need every column the metadata lists; "
                                        "drop it from the metadata to skip it"))
            if absent:
                continue
            problems += type_problems(name, column, sides["real"].schema.field(column).type,
                                      sides["synthetic"].schema.field(column).type)
    DataError.raise_if_any(problems, title=f"{validator}: cannot compare the real and synthetic data")


# -- sampling --------------------------------------------------------------------------------------
def sample_rows(table: pa.Table, n: int | None, rng: np.random.Generator) -> pa.Table:
    """At most ``n`` rows drawn without replacement, in their original order."""
    if n is None or table.num_rows <= n:
        return table
    idx = np.sort(rng.choice(table.num_rows, size=int(n), replace=False))
    return table.take(idx)


def split_rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    half = n // 2
    return np.sort(perm[:half]), np.sort(perm[half:2 * half])


# -- conversions -----------------------------------------------------------------------------------
_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def numeric_values(arr: pa.ChunkedArray | pa.Array, *, table: str, column: str,
                   datetime_format: str | None = None) -> np.ndarray:
    """float64 values (dates and times as seconds since the epoch), NaN for nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_null(t):
        return np.full(len(arr), np.nan)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
        return _float_numpy(arr.cast(pa.float64()))
    if pa.types.is_date(t):
        days = arr.cast(pa.date32()).cast(pa.int32())
        return _float_numpy(days.cast(pa.float64())) * 86400.0
    if pa.types.is_timestamp(t) or pa.types.is_duration(t) or pa.types.is_time(t):
        unit = getattr(t, "unit", "s")
        return _float_numpy(arr.cast(pa.int64()).cast(pa.float64())) * _UNIT_SECONDS.get(unit, 1.0)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return _float_numpy(arr.cast(pa.float64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        try:
            if datetime_format:
                stamps = pc.strptime(arr, format=datetime_format, unit="us", error_is_null=False)
            else:
                stamps = arr.cast(pa.timestamp("us"))
            return _float_numpy(stamps.cast(pa.int64()).cast(pa.float64())) * 1e-6
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    raise DataError([Problem(f"values of type {t} are neither numbers nor dates", table=table, column=column,
                             hint="declare the column categorical in the metadata, or fix its type")],
                    title="cannot compare the real and synthetic data")


def _float_numpy(arr: Any) -> np.ndarray:
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    out = arr.to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def label_values(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Values as strings (object array, None for nulls); whole floats print as integers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_floating(t):
        valid = pc.drop_null(arr)
        values = _float_numpy(valid) if len(valid) else np.zeros(0)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)) and (
                len(values) == 0 or np.max(np.abs(values)) < 2**53):
            arr = arr.cast(pa.int64())
    if pa.types.is_null(t):
        return np.full(len(arr), None, dtype=object)
    out = arr.cast(pa.string())
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks() if out.num_chunks != 1 else out.chunk(0)
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=object)


def shared_codes(real: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Integer codes over one vocabulary: real categories by frequency, then synthetic-only ones."""
    null_r = np.equal(real, None)
    null_s = np.equal(synthetic, None)
    values = np.concatenate([real[~null_r], synthetic[~null_s]]).astype(str)
    if len(values) == 0:
        return np.full(len(real), -1), np.full(len(synthetic), -1), [], 0
    uniq, inverse = np.unique(values, return_inverse=True)
    n_r = int((~null_r).sum())
    count_r = np.bincount(inverse[:n_r], minlength=len(uniq))
    count_s = np.bincount(inverse[n_r:], minlength=len(uniq))
    in_real = count_r > 0
    # real categories by descending count, then synthetic-only ones by descending count (stable)
    order = np.lexsort((np.arange(len(uniq)), -np.where(in_real, count_r, count_s), ~in_real))
    remap = np.empty(len(uniq), dtype=np.int64)
    remap[order] = np.arange(len(uniq))
    codes_r = np.full(len(real), -1, dtype=np.int64)
    codes_s = np.full(len(synthetic), -1, dtype=np.int64)
    codes_r[~null_r] = remap[inverse[:n_r]]
    codes_s[~null_s] = remap[inverse[n_r:]]
    return codes_r, codes_s, [str(v) for v in uniq[order]], int(in_real.sum())


def prepare(
    name: str,
    real: pa.Table,
    synthetic: pa.Table,
    columns: Sequence[Column],
    *,
    sample_size: int | None,
    rng: np.random.Generator,
) -> Prepared:
    """Sample both tables (at most ``sample_size`` rows each) and convert the given columns."""
    real_s = sample_rows(real, sample_size, rng)
    synth_s = sample_rows(synthetic, sample_size, rng)
    cols: dict[str, Col] = {}
    for column in columns:
        cols[column.name] = convert_column(name, column, real_s.column(column.name), synth_s.column(column.name))
    return Prepared(name, cols, real_s.num_rows, synth_s.num_rows, real.num_rows, synthetic.num_rows)


def convert_column(table: str, column: Column, real: Any, synthetic: Any) -> Col:
    kind = ANALYSED_KINDS.get(column.kind, CATEGORICAL)
    if kind == CATEGORICAL:
        cr, cs, cats, n_real = shared_codes(label_values(real), label_values(synthetic))
        return Col(column.name, kind, cr, cs, cats, n_real)
    fmt = column.datetime_format
    return Col(column.name, kind,
               numeric_values(real, table=table, column=column.name, datetime_format=fmt),
               numeric_values(synthetic, table=table, column=column.name, datetime_format=fmt))


def key_strings(table: pa.Table, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One string per row for a (possibly composite) key, and a mask of rows whose key has a null."""
    parts = [label_values(table.column(c)) for c in columns]
    null = np.zeros(table.num_rows, dtype=bool)
    for p in parts:
        null |= np.equal(p, None)
    if len(parts) == 1:
        keys = parts[0].astype(str).astype(object)
    else:
        keys = np.array(["\x1f".join(map(str, row)) for row in zip(*parts, strict=True)], dtype=object)
    return keys, null


def match_keys(keys: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Index of each key in ``reference`` (-1 when absent)."""
    if len(reference) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    ref = reference.astype(str)
    sorter = np.argsort(ref, kind="stable")
    sorted_ref = ref[sorter]
    k = keys.astype(str)
    pos = np.searchsorted(sorted_ref, k)
    pos_c = np.minimum(pos, len(ref) - 1)
    found = sorted_ref[pos_c] == k
    return np.where(found, sorter[pos_c], -1).astype(np.int64)


# -- metadata inference (used when no metadata is given and hiveframe.metadata.detect is absent) ---
def infer_metadata(
    tables: Mapping[str, pa.Table],
    *,
    primary_keys: Mapping[str, Sequence[str]] | None = None,
    foreign_keys: Sequence[ForeignKey] = (),
) -> Metadata:
    """Plain metadata from Arrow types: numbers, dates, booleans, low-cardinality strings as categories."""
    import pyarrow as pa
    import pyarrow.compute as pc

    primary_keys = dict(primary_keys or {})
    fk_cols: dict[str, set[str]] = {}
    for fk in foreign_keys:
        fk_cols.setdefault(fk.child_table, set()).update(fk.child_columns)
    out = []
    for name, table in tables.items():
        pk = tuple(primary_keys.get(name, ()))
        cols = []
        for f in table.schema:
            t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
            col = table.column(f.name)
            if f.name in pk or f.name in fk_cols.get(name, set()):
                kind = ColumnKind.ID
            elif pa.types.is_boolean(t):
                kind = ColumnKind.BOOLEAN
            elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
                kind = ColumnKind.NUMERICAL
            elif pa.types.is_temporal(t):
                kind = ColumnKind.DATETIME
            else:
                n = table.num_rows - col.null_count
                distinct = len(pc.unique(col)) if n else 0
                kind = ColumnKind.CATEGORICAL if distinct <= max(50, 0.1 * n) else ColumnKind.TEXT
            cols.append(Column(f.name, kind, dtype=str(f.type), nullable=col.null_count > 0))
        out.append(Table(name, tuple(cols), primary_key=pk))
    return Metadata(tuple(out), tuple(foreign_keys))
