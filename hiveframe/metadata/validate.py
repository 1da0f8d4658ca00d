"""Checks of metadata and of data against metadata.

Both checks *collect* every problem and raise one error, so a user fixes every table and column in
one pass. :func:`metadata_problems` is the builtin plugin's answer to ``hiveframe_validate_metadata``;
:func:`validate_metadata` asks every plugin. :func:`validate_data` checks real data against the
metadata (keys, orphans, types) and returns the data cast to the declared dtypes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hiveframe.errors import DataError, MetadataError, Problem
from hiveframe.metadata.model import Column, ColumnKind, ForeignKey, Metadata, Table, find_cycle

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

#: Strings that mean "missing" in files written by other tools (Berka uses "?", Adult "?").
NA_TOKENS = frozenset(
    {"", "?", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "none", "-", "--"}
)
#: How many example values / row numbers a problem quotes.
EXAMPLES = 5

#: kinds that may carry ``categories`` / ``low`` and ``high``.
_CATEGORY_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN})
_BOUND_KINDS = frozenset({ColumnKind.NUMERICAL, ColumnKind.DATETIME})


# -- Arrow type helpers (shared with detect) -------------------------------------------------------
def type_family(dtype: pa.DataType) -> str:
    """A coarse family ("int", "float", "decimal", "string", "bool", "temporal", "binary", "null",
    "other") deciding which values can be compared or cast without surprises."""
    import pyarrow as pa

    t = dtype
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    return "other"


def _is_string_view(t: pa.DataType) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(t))


def key_families_compatible(child: str, parent: str) -> bool:
    """Whether a foreign key of family ``child`` can reference a key of family ``parent``.

    Integers stored as floats (pandas turns nullable integer columns into floats) are accepted; the
    data check verifies the values are whole numbers.
    """
    if child == parent or "null" in (child, parent):
        return True
    return {child, parent} <= {"int", "float", "decimal"}


def _dtype_family(dtype: str) -> str | None:
    from hiveframe.metadata.model import parse_arrow_type

    try:
        return type_family(parse_arrow_type(dtype))
    except ValueError:
        return None


def plain(array: Any) -> Any:
    """A plain (non-dictionary, single-chunk) Arrow array."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def parse_numbers(array: Any) -> tuple[Any, int, list[int]]:
    """Parse a string array as float64: NA tokens become null.

    Returns ``(doubles, na_token_count, bad_rows)`` where ``bad_rows`` are the positions of values
    that are neither a number nor an NA token (their output is null).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = plain(array)
    stripped = pc.utf8_trim_whitespace(arr)
    is_na = pc.fill_null(pc.is_in(stripped, value_set=pa.array(sorted(NA_TOKENS))), False)
    na_count = int(pc.sum(pc.and_(is_na, pc.is_valid(arr))).as_py() or 0)
    cleaned = pc.if_else(is_na, pa.scalar(None, pa.string()), stripped.cast(pa.string()))
    try:
        return pc.cast(cleaned, pa.float64()), na_count, []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = cleaned.to_pylist()
    out = np.full(len(values), np.nan)
    valid = np.zeros(len(values), dtype=bool)
    bad: list[int] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = float(v)
            valid[i] = True
        except ValueError:
            bad.append(i)
    return pa.array(out, mask=~valid), na_count, bad


# -- input coercion --------------------------------------------------------------------------------
def as_arrow_database(data: Any, *, host: PluginHost | None = None) -> tuple[Database, list[Problem]]:
    """Any accepted input as a :class:`Database` of Arrow tables, plus the problems met converting.

    Accepts a Database, a mapping of table name to pyarrow/pandas/polars tables, or any source a
    reader claims. A pandas object column holding several Python types cannot become an Arrow column;
    it is reported (with the first offending rows) and left out instead of raising mid-way.
    """
    from hiveframe.components import Database

    if isinstance(data, Database):
        tables, declared_pk, declared_fk = (
            dict(data.tables),
            data.declared_primary_keys,
            data.declared_foreign_keys,
        )
    elif isinstance(data, Mapping):
        tables, declared_pk, declared_fk = dict(data), {}, []
    else:
        from hiveframe.plugins import PluginHost

        db = (host or PluginHost()).read(data)
        tables, declared_pk, declared_fk = dict(db.tables), db.declared_primary_keys, db.declared_foreign_keys
    problems: list[Problem] = []
    out: dict[str, pa.Table] = {}
    for name, value in tables.items():
        table, found = _to_arrow_table(str(name), value)
        problems += found
        if table is not None:
            out[str(name)] = table
    return Database(out, dict(declared_pk), list(declared_fk)), problems


def _to_arrow_table(name: str, value: Any) -> tuple[pa.Table | None, list[Problem]]:
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value, []
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value]), []
    module = type(value).__module__.split(".")[0]
    if module == "polars":
        return value.to_arrow(), []
    if module == "pandas":
        return _pandas_to_arrow(name, value)
    if isinstance(value, Mapping):
        try:
            return pa.table(dict(value)), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            return None, [Problem(f"cannot convert to an Arrow table: {exc}", table=name)]
    return None, [
        Problem(
            f"unsupported table object of type {type(value).__name__}",
            table=name,
            hint="pass pyarrow.Table, pandas.DataFrame or polars.DataFrame objects",
        )
    ]


def _pandas_to_arrow(name: str, frame: Any) -> tuple[pa.Table | None, list[Problem]]:
    """Convert column by column so that one mixed column is reported, not fatal."""
    import pyarrow as pa

    problems: list[Problem] = []
    arrays: list[pa.Array] = []
    names: list[str] = []
    for col in frame.columns:
        series = frame[col]
        try:
            arrays.append(pa.array(series, from_pandas=True))
            names.append(str(col))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            problems.append(_mixed_types_problem(name, str(col), series, exc))
    if problems:
        return None, problems
    return pa.table(arrays, names=names), []


def _mixed_types_problem(table: str, column: str, series: Any, exc: Exception) -> Problem:
    kinds: dict[str, list[int]] = {}
    for row, value in enumerate(series.tolist()):
        if value is None or (isinstance(value, float) and value != value):
            continue
        kinds.setdefault(type(value).__name__, []).append(row)
    if len(kinds) > 1:
        # the minority types are the offenders
        ordered = sorted(kinds.items(), key=lambda kv: -len(kv[1]))
        parts = [f"{t} ({len(rows)} rows)" for t, rows in ordered]
        minority = [r for _, rows in ordered[1:] for r in rows][:EXAMPLES]
        examples = ", ".join(f"row {r}: {series.iloc[r]!r}" for r in minority)
        return Problem(
            f"column mixes Python types: {', '.join(parts)}; e.g. {examples}",
            table=table,
            column=column,
            row=minority[0] if minority else None,
            hint="clean or cast the column before passing it (e.g. df[col] = pd.to_numeric(df[col], "
            "errors='coerce') or df[col].astype(str))",
        )
    return Problem(
        f"cannot convert the column to Arrow: {exc}",
        table=table,
        column=column,
        hint="cast the column to one type before passing it",
    )


# -- metadata --------------------------------------------------------------------------------------
def metadata_problems(metadata: Metadata) -> list[Problem]:
    """Every structural problem of ``metadata`` (empty when it is consistent)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for table in metadata.tables:
        if table.name in seen:
            problems.append(
                Problem("table is declared twice", table=table.name, hint="give every table a unique name")
            )
        seen.add(table.name)
        problems += _table_problems(metadata, table)
    declared: set[tuple[str, tuple[str, ...]]] = set()
    for fk in metadata.foreign_keys:
        key = (fk.child_table, fk.child_columns)
        if key in declared:
            problems.append(
                Problem(
                    f"foreign key {fk.name} is declared twice",
                    table=fk.child_table,
                    column=",".join(fk.child_columns),
                    hint="remove the duplicate",
                )
            )
        declared.add(key)
        problems += _foreign_key_problems(metadata, fk)
    problems += _cycle_problems(metadata)
    return problems


def _table_problems(metadata: Metadata, table: Table) -> list[Problem]:
    out: list[Problem] = []
    names = table.column_names
    if not names:
        out.append(
            Problem(
                "table has no columns",
                table=table.name,
                hint="remove the table from the metadata or declare its columns",
            )
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    for name in dupes:
        out.append(
            Problem(
                f"column name appears {names.count(name)} times",
                table=table.name,
                column=name,
                hint="column names must be unique within a table",
            )
        )
    out += _missing_columns(table.name, names, table.primary_key, "primary-key column does not exist")
    if len(set(table.primary_key)) != len(table.primary_key):
        out.append(Problem(f"primary key {list(table.primary_key)} repeats a column", table=table.name))
    if table.driver is not None:
        fk_firsts = [
            fk.child_columns[0]
            for fk in metadata.parents_of(table.name)
            if fk.child_columns and not fk.is_self_reference
        ]
        if table.driver not in fk_firsts:
            out.append(
                Problem(
                    f"driver {table.driver!r} names no foreign key of this table",
                    table=table.name,
                    column=table.driver,
                    hint=("foreign keys (by first column): " + ", ".join(fk_firsts))
                    if fk_firsts
                    else "this table has no parent; remove the driver",
                )
            )
    for constraint in table.constraints:
        out += _missing_columns(table.name, names, _constraint_columns(constraint),
                                f"constraint {dict(constraint)} names a missing column")
    for column in table.columns:
        out += _column_problems(table.name, column)
    return out


def _column_problems(table: str, column: Column) -> list[Problem]:
    out: list[Problem] = []
    if column.categories is not None and column.kind not in _CATEGORY_KINDS:
        out.append(
            Problem(
                f"categories declared on a {column.kind.value} column",
                table=table,
                column=column.name,
                hint="categories apply to categorical and boolean columns; change the kind or "
                "remove the categories",
            )
        )
    if column.categories is not None and len(set(map(repr, column.categories))) != len(column.categories):
        out.append(Problem("categories repeat a value", table=table, column=column.name))
    for bound in ("low", "high"):
        if getattr(column, bound) is not None and column.kind not in _BOUND_KINDS:
            out.append(
                Problem(
                    f"{bound} declared on a {column.kind.value} column",
                    table=table,
                    column=column.name,
                    hint="low/high apply to numerical and datetime columns",
                )
            )
    if column.low is not None and column.high is not None:
        try:
            inverted = column.low > column.high
        except TypeError:
            inverted = False
            out.append(
                Problem(
                    f"low {column.low!r} and high {column.high!r} cannot be compared",
                    table=table,
                    column=column.name,
                )
            )
        if inverted:
            out.append(
                Problem(
                    f"low {column.low!r} is greater than high {column.high!r}",
                    table=table,
                    column=column.name,
                    hint="swap them",
                )
            )
    if column.kind == ColumnKind.PII and column.pii_kind is None:
        pass  # PII without a kind is anonymised generically (PIIKind.OTHER)
    if _dtype_family(column.dtype) is None:
        out.append(
            Problem(
                f"unknown dtype {column.dtype!r}",
                table=table,
                column=column.name,
                hint="use an Arrow type name such as int64, double, string, bool, "
                "timestamp[us], date32[day] (str() of a pyarrow type)",
            )
        )
    return out


def _foreign_key_problems(metadata: Metadata, fk: ForeignKey) -> list[Problem]:
    out: list[Problem] = []
    where = f"foreign key {fk.name}"
    child = metadata._index.get(fk.child_table)
    parent = metadata._index.get(fk.parent_table)
    if child is None:
        out.append(
            Problem(
                f"{where}: child table does not exist",
                table=fk.child_table,
                hint=_closest(fk.child_table, metadata.table_names, "tables"),
            )
        )
    if parent is None:
        out.append(
            Problem(
                f"{where}: parent table {fk.parent_table!r} does not exist",
                table=fk.child_table,
                column=",".join(fk.child_columns),
                hint=_closest(fk.parent_table, metadata.table_names, "tables"),
            )
        )
    if not fk.child_columns or len(fk.child_columns) != len(fk.parent_columns):
        out.append(
            Problem(
                f"{where}: {len(fk.child_columns)} child column(s) {list(fk.child_columns)} but "
                f"{len(fk.parent_columns)} parent column(s) {list(fk.parent_columns)}",
                table=fk.child_table,
                column=",".join(fk.child_columns),
                hint="list one parent column per child column, in the same order",
            )
        )
    if child is not None:
        out += _missing_columns(fk.child_table, child.column_names, fk.child_columns,
                                f"{where}: child column does not exist")
    if parent is None:
        return out
    missing_parent = _missing_columns(fk.parent_table, parent.column_names, fk.parent_columns,
                                      lambda col: f"{where}: parent column {fk.parent_table}.{col} does not exist")
    out += missing_parent
    if not missing_parent and fk.parent_columns:
        keys = [set(parent.primary_key)] + [set(k) for k in unique_keys(parent)]
        if set(fk.parent_columns) not in [k for k in keys if k]:
            out.append(
                Problem(
                    f"{where}: references {fk.parent_table}.{','.join(fk.parent_columns)}, which is not the "
                    f"parent's primary key ({', '.join(parent.primary_key) or 'none declared'}) nor a unique key",
                    table=fk.parent_table,
                    column=",".join(fk.parent_columns),
                    hint=f"reference the primary key, set primary_key={list(fk.parent_columns)} on "
                    f"{fk.parent_table!r}, or declare a constraint "
                    f"{{'type': 'unique', 'columns': {list(fk.parent_columns)}}}",
                )
            )
    if child is not None and len(fk.child_columns) == len(fk.parent_columns):
        for ccol, pcol in zip(fk.child_columns, fk.parent_columns, strict=True):
            if not (child.has_column(ccol) and parent.has_column(pcol)):
                continue
            cf, pf = _dtype_family(child.column(ccol).dtype), _dtype_family(parent.column(pcol).dtype)
            if cf and pf and not key_families_compatible(cf, pf):
                out.append(
                    Problem(
                        f"{where}: child dtype {child.column(ccol).dtype} cannot match parent key "
                        f"{fk.parent_table}.{pcol} of dtype {parent.column(pcol).dtype}",
                        table=fk.child_table,
                        column=ccol,
                        hint="declare both with the same dtype",
                    )
                )
    if fk.context_columns is not None:
        out += _missing_columns(fk.parent_table, parent.column_names, fk.context_columns,
                                lambda col: f"{where}: context column {col!r} is not a column of the parent",
                                what="parent columns")
    return out


def _cycle_problems(metadata: Metadata) -> list[Problem]:
    deps: dict[str, set[str]] = {t: set() for t in metadata.table_names}
    for fk in metadata.foreign_keys:
        if not fk.is_self_reference and fk.child_table in deps and fk.parent_table in deps:
            deps[fk.child_table].add(fk.parent_table)
    cycle = find_cycle(deps)
    if not cycle:
        return []
    return [
        Problem(
            "foreign keys form a cycle through several tables: " + " -> ".join(cycle),
            table=cycle[0],
            hint="make one of these foreign keys a plain column, or drop it; hiveframe needs a parent "
            "to exist before its children (a table may reference itself)",
        )
    ]


def unique_keys(table: Table) -> list[tuple[str, ...]]:
    """Unique keys declared as ``{"type": "unique", "columns": [...]}`` constraints."""
    return [tuple(_constraint_columns(c)) for c in table.constraints if c.get("type") == "unique"]


def _constraint_columns(constraint: Mapping[str, Any]) -> Sequence[str]:
    """The columns a constraint names (``columns``, or a single ``column``)."""
    return constraint.get("columns") or ([constraint["column"]] if "column" in constraint else [])


def _missing_columns(table: str, columns: Sequence[str], wanted: Iterable[str],
                     message: str | Callable[[str], str], *, what: str = "columns") -> list[Problem]:
    """A problem for each column of ``wanted`` that is not among ``columns`` (the table's), with the
    closest name as hint; ``message`` is the text, or a function of the missing column giving it."""
    return [
        Problem(message(col) if callable(message) else message, table=table, column=col,
                hint=_closest(col, columns, what))
        for col in wanted
        if col not in columns
    ]


def _closest(name: str, choices: Iterable[str], what: str) -> str:
    from hiveframe.errors import did_you_mean

    hint = did_you_mean(name, choices)
    if hint is None:
        return f"there are no {what}"
    return hint.replace("registered:", f"{what}:")


def validate_metadata(metadata: Metadata, *, host: PluginHost | None = None) -> None:
    """Ask every plugin for problems with ``metadata``; raise one :class:`MetadataError` listing all."""
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    MetadataError.raise_if_any(host.hooks.validate_metadata(metadata=metadata))


# -- data ------------------------------------------------------------------------------------------
def validate_data(
    metadata: Metadata, database: Database | Mapping[str, Any], *, drop_orphans: bool = False
) -> Database:
    """Check data against ``metadata``; raise one :class:`DataError` listing every problem.

    Returns the data with the metadata's tables and columns (in its order), each column cast to its
    declared dtype. With ``drop_orphans=True``, rows whose foreign key has no parent are dropped
    (repeatedly, since dropping a parent row can orphan its children) instead of reported.
    Tables or columns in the data but not in the metadata are left out, with a warning.
    """
    from hiveframe.components import Database

    db, problems = as_arrow_database(database)
    tables: dict[str, pa.Table] = {}
    for name in sorted(set(db.tables) - set(metadata.table_names)):
        log.warning("validate_data: table %r is not in the metadata; leaving it out", name)
    for table in metadata.tables:
        if table.name not in db.tables:
            if not any(p.table == table.name for p in problems):
                problems.append(
                    Problem(
                        "table is in the metadata but not in the data",
                        table=table.name,
                        hint=_closest(table.name, db.tables, "tables in the data")
                        + "; or remove it with metadata.without_table(...)",
                    )
                )
            continue
        cast, found = _check_table(table, db.tables[table.name])
        problems += found
        tables[table.name] = cast

    for table in metadata.tables:
        if table.name in tables and table.primary_key:
            problems += _primary_key_problems(table, tables[table.name])

    usable = [fk for fk in metadata.foreign_keys if _fk_checkable(metadata, fk, tables)]
    type_ok: list[ForeignKey] = []
    for fk in usable:
        found = _fk_type_problems(fk, tables)
        problems += found
        if not found:
            type_ok.append(fk)
    empty_parents = {
        fk for fk in type_ok if tables[fk.parent_table].num_rows == 0 and tables[fk.child_table].num_rows > 0
    }
    for fk in empty_parents:
        problems.append(
            Problem(
                f"foreign key {fk.name}: the parent table {fk.parent_table!r} is empty but "
                f"{fk.child_table!r} has {tables[fk.child_table].num_rows} rows that reference it",
                table=fk.parent_table,
                column=",".join(fk.parent_columns),
                hint="provide the parent's rows, or remove the relationship / the child table",
            )
        )
    checked = [fk for fk in type_ok if fk not in empty_parents]
    # orphans: each foreign key's declared policy ("orphans"), else drop_orphans, else a problem
    to_drop = [fk for fk in checked if fk.orphans == "drop" or (fk.orphans is None and drop_orphans)]
    if to_drop:
        tables = _drop_orphans(metadata, to_drop, tables)
    for fk in checked:
        if fk.orphans == "null":
            tables, found = _null_orphans(fk, metadata, tables)
            problems += found
        elif fk.orphans is None and not drop_orphans:
            problems += _orphan_problems(fk, tables)
    for fk in checked:
        if fk.one_to_one:
            problems += _one_to_one_problems(fk, tables[fk.child_table])

    DataError.raise_if_any(problems)
    return Database(tables, dict(db.declared_primary_keys), list(db.declared_foreign_keys))


def _check_table(table: Table, data: pa.Table) -> tuple[pa.Table, list[Problem]]:
    import pyarrow as pa

    problems: list[Problem] = []
    present = data.column_names
    extra = [c for c in present if not table.has_column(c)]
    if extra:
        log.warning(
            "validate_data: table %r has columns not in the metadata, left out: %s",
            table.name,
            ", ".join(extra),
        )
    if data.num_rows == 0:
        problems.append(
            Problem(
                "table has no rows; hiveframe cannot learn it",
                table=table.name,
                hint=f"provide data, or remove it with metadata.without_table({table.name!r})",
            )
        )
    arrays: list[pa.ChunkedArray] = []
    names: list[str] = []
    for column in table.columns:
        if column.name not in present:
            problems.append(
                Problem(
                    "column is in the metadata but not in the data",
                    table=table.name,
                    column=column.name,
                    hint=_closest(column.name, present, "columns in the data"),
                )
            )
            continue
        if present.count(column.name) > 1:
            problems.append(
                Problem(
                    "the data has several columns with this name",
                    table=table.name,
                    column=column.name,
                    hint="rename the duplicates",
                )
            )
            continue
        array, found = _cast_column(table.name, column, data.column(column.name))
        problems += found
        if not found:
            _warn_lossy_values(table.name, column, array)
        arrays.append(array)
        names.append(column.name)
        if data.num_rows and array.null_count == len(array) and column.dtype != "null":
            problems.append(
                Problem(
                    f"column is entirely null ({len(array)} rows)",
                    table=table.name,
                    column=column.name,
                    hint="drop it from the data and the metadata, or declare its dtype 'null' to keep it as an "
                    "all-null column",
                )
            )
        elif not column.nullable and array.null_count and column.name not in table.primary_key:
            rows = _first_rows(_null_mask(array))
            problems.append(
                Problem(
                    f"{array.null_count} null value(s) in a column declared not nullable; first at rows "
                    f"{_fmt_rows(rows)}",
                    table=table.name,
                    column=column.name,
                    row=rows[0],
                    hint="fill the nulls or declare the column nullable",
                )
            )
    return pa.table(arrays, names=names) if names else data.select([]), problems


#: the largest magnitude float64 holds to the unit; decimals beyond it are modelled with rounding
EXACT_FLOAT = 2**53


def _warn_lossy_values(table: str, column: Column, array: Any) -> None:
    """Values the models cannot represent are handled, never silently: infinities are learnt as
    missing values, and decimals beyond float64's 15-16 significant digits are rounded."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = plain(array)
    if pa.types.is_floating(values.type):
        pos = int(pc.sum(pc.equal(values, float("inf"))).as_py() or 0)
        neg = int(pc.sum(pc.equal(values, float("-inf"))).as_py() or 0)
        if pos or neg:
            rows = _first_rows(pc.fill_null(pc.is_inf(values), False))
            log.warning("table %r, column %r: %d infinite value(s) (%d +inf, %d -inf; first at rows %s) are "
                        "treated as missing: the synthetic column has nulls in their place; replace them by a "
                        "finite value if they mean a bound", table, column.name, pos + neg, pos, neg,
                        _fmt_rows(rows))
    elif pa.types.is_decimal(values.type) and len(values) > values.null_count:
        scale = values.type.scale
        biggest = max(abs(pc.min(values).as_py()), abs(pc.max(values).as_py()))
        if biggest * 10**scale >= EXACT_FLOAT:
            step = 2.0 ** max(0, math.frexp(float(biggest))[1] - 53)
            log.warning("table %r, column %r: decimal values up to %s need more digits than the models keep "
                        "(float64, 15-16 significant digits): generated values are rounded to multiples of "
                        "about %g; subtract an offset or scale the column to keep its detail",
                        table, column.name, biggest, max(step, 10.0 ** -scale))


def _cast_column(table: str, column: Column, array: Any) -> tuple[Any, list[Problem]]:
    """Cast to the declared dtype where it is safe; report values that do not fit."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        target = column.arrow_type()
    except ValueError:
        return array, []  # reported by metadata_problems
    source = array.type
    src_family, dst_family = type_family(source), type_family(target)
    problems: list[Problem] = []
    if src_family == "string" and column.kind == ColumnKind.NUMERICAL and dst_family == "string":
        # a string column declared numerical: every value must read as a number
        _, _, bad = parse_numbers(array)
        if bad:
            problems.append(
                _bad_values_problem(
                    table, column, array, bad, "are not numbers", "the column is declared numerical"
                )
            )
        return array, problems
    if source == target:
        return array, []
    if dst_family == "null":
        if array.null_count == len(array):
            return pa.nulls(len(array)), []
        return array, [
            Problem(
                f"column is declared all-null (dtype 'null') but has {len(array) - array.null_count} value(s)",
                table=table,
                column=column.name,
                hint=f"declare the dtype the data has ({source})",
            )
        ]
    if src_family == "string" and dst_family in ("int", "float", "decimal"):
        numbers, na_count, bad = parse_numbers(array)
        if bad:
            problems.append(
                _bad_values_problem(
                    table, column, array, bad, "are not numbers", f"declared dtype is {column.dtype}"
                )
            )
            return array, problems
        if na_count:
            log.info(
                "validate_data: %s.%s: %d missing-value markers (e.g. '?') read as null",
                table,
                column.name,
                na_count,
            )
        array = numbers
        if array.type == target:
            return array, []
    if src_family == "string" and dst_family == "temporal" and column.datetime_format:
        try:
            parsed = pc.strptime(plain(array), format=column.datetime_format, unit="us", error_is_null=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            return array, [Problem(f"cannot parse dates: {exc}", table=table, column=column.name)]
        failed = pc.and_(pc.is_valid(plain(array)), pc.is_null(parsed))
        bad = _first_rows(failed, limit=None)
        if bad:
            return array, [
                _bad_values_problem(
                    table,
                    column,
                    array,
                    bad,
                    f"do not match datetime_format {column.datetime_format!r}",
                    "fix the values or the format",
                )
            ]
        array = parsed
    src_family = type_family(array.type)
    try:
        return pc.cast(plain(array), target, safe=True), problems
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        detail = str(exc).splitlines()[0]
        if src_family == "float" and dst_family == "int":
            bad = _fractional_rows(array)
            if bad:
                return array, [
                    _bad_values_problem(
                        table,
                        column,
                        array,
                        bad,
                        "are not whole numbers",
                        f"declared dtype is {column.dtype}",
                    )
                ]
        return array, [
            Problem(
                f"values of type {source} cannot be cast to the declared dtype {column.dtype}: {detail}",
                table=table,
                column=column.name,
                hint="fix the values, or declare the dtype the data has (see detect())",
            )
        ]


def _bad_values_problem(
    table: str, column: Column, array: Any, bad: Sequence[int], what: str, why: str
) -> Problem:
    arr = plain(array)
    examples = ", ".join(f"{arr[i].as_py()!r}" for i in bad[:EXAMPLES])
    return Problem(
        f"{len(bad)} value(s) {what} ({why}; the column mixes types), e.g. {examples}; "
        f"first at rows {_fmt_rows(bad[:EXAMPLES])}",
        table=table,
        column=column.name,
        row=int(bad[0]),
        hint="clean these values (or treat them as missing), or change the column's kind/dtype",
    )


def _null_mask(array: Any) -> Any:
    import pyarrow.compute as pc

    return pc.is_null(plain(array))


def _first_rows(mask: Any, limit: int | None = EXAMPLES) -> list[int]:
    import pyarrow.compute as pc

    rows = pc.indices_nonzero(plain(mask)).to_pylist()
    return rows if limit is None else rows[:limit]


def _fractional_rows(array: Any) -> list[int]:
    """Rows (0-based) of a float array whose value is not a whole number."""
    import pyarrow.compute as pc

    arr = plain(array)
    return _first_rows(pc.fill_null(pc.not_equal(arr, pc.floor(arr)), False), limit=None)


def _all_valid(arrays: Iterable[Any]) -> Any:
    """The mask of rows where every array is non-null (``None`` for no arrays)."""
    import pyarrow.compute as pc

    valid = None
    for arr in arrays:
        m = pc.is_valid(arr)
        valid = m if valid is None else pc.and_(valid, m)
    return valid


def _fmt_rows(rows: Sequence[int]) -> str:
    return ", ".join(str(r) for r in rows) + " (0-based)"


def _primary_key_problems(table: Table, data: pa.Table) -> list[Problem]:
    import pyarrow.compute as pc

    cols = [c for c in table.primary_key if c in data.column_names]
    if len(cols) != len(table.primary_key) or data.num_rows == 0:
        return []
    out: list[Problem] = []
    label = ",".join(cols)
    nulls = _first_rows(pc.invert(_all_valid(data.column(c) for c in cols)), limit=None)
    if nulls:
        out.append(
            Problem(
                f"{len(nulls)} null primary-key value(s); first at rows {_fmt_rows(nulls[:EXAMPLES])}",
                table=table.name,
                column=label,
                row=nulls[0],
                hint="every row needs a key: fill them or drop these rows",
            )
        )
    dup_rows, dup_values = duplicate_rows(data, cols)
    if dup_rows:
        what = "composite key" if len(cols) > 1 else "primary key"
        out.append(
            Problem(
                f"{len(dup_rows)} rows share a {what} value with another row ({len(dup_values)} distinct "
                f"duplicated values, e.g. {', '.join(map(repr, dup_values[:EXAMPLES]))}); first at rows "
                f"{_fmt_rows(dup_rows[:EXAMPLES])}",
                table=table.name,
                column=label,
                row=dup_rows[0],
                hint="remove the duplicate rows, or declare another primary key"
                + ("" if len(cols) > 1 else " (or a composite one)"),
            )
        )
    return out


def has_duplicates(data: pa.Table, cols: Sequence[str]) -> bool:
    """Whether a non-null value of ``cols`` occurs twice (``pc.unique`` is much faster than
    ``count_distinct`` or a group-by with row numbers, so this is the cheap first test)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [plain(data.column(c)) for c in cols]
    valid = _all_valid(arrays)
    if valid is None:
        return False
    n_valid = int(pc.sum(valid).as_py() or 0)
    if len(arrays) == 1:
        values = arrays[0].filter(valid) if n_valid < len(arrays[0]) else arrays[0]
        return len(pc.unique(values)) < n_valid
    keyed = pa.table(arrays, names=[f"k{i}" for i in range(len(arrays))]).filter(valid)
    return keyed.group_by(keyed.column_names, use_threads=False).aggregate([]).num_rows < n_valid


def duplicate_rows(data: pa.Table, cols: Sequence[str]) -> tuple[list[int], list[Any]]:
    """Rows (0-based, sorted) whose non-null value of ``cols`` occurs more than once, and the values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not has_duplicates(data, cols):
        return [], []
    keyed = pa.table([plain(data.column(c)) for c in cols], names=[f"k{i}" for i in range(len(cols))])
    keyed = keyed.append_column("__row", pa.array(range(data.num_rows), pa.int64()))
    keyed = keyed.filter(_all_valid(keyed.columns[:-1]))
    keys = keyed.column_names[:-1]
    counts = keyed.group_by(keys, use_threads=False).aggregate([("__row", "count")])
    dup = counts.filter(pc.greater(counts.column("__row_count"), 1))
    if dup.num_rows == 0:
        return [], []
    rows = keyed.join(dup.select(keys), keys=keys, join_type="inner", use_threads=False).column("__row")
    values = [
        row[0] if len(keys) == 1 else tuple(row)
        for row in zip(*(dup.column(k).to_pylist() for k in keys), strict=True)
    ]
    return sorted(rows.to_pylist()), values


def _fk_checkable(metadata: Metadata, fk: ForeignKey, tables: Mapping[str, pa.Table]) -> bool:
    if fk.child_table not in tables or fk.parent_table not in tables:
        return False
    if not fk.child_columns or len(fk.child_columns) != len(fk.parent_columns):
        return False
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    return all(c in child.column_names for c in fk.child_columns) and all(
        c in parent.column_names for c in fk.parent_columns
    )


def _fk_type_problems(fk: ForeignKey, tables: Mapping[str, pa.Table]) -> list[Problem]:
    out = []
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    for ccol, pcol in zip(fk.child_columns, fk.parent_columns, strict=True):
        ct, pt = child.column(ccol).type, parent.column(pcol).type
        cf, pf = type_family(ct), type_family(pt)
        if not key_families_compatible(cf, pf):
            out.append(
                Problem(
                    f"foreign key {fk.name}: values of type {ct} cannot match the parent key "
                    f"{fk.parent_table}.{pcol} of type {pt}",
                    table=fk.child_table,
                    column=ccol,
                    hint=f"cast {fk.child_table}.{ccol} to {pt} (or the parent key to {ct}) in the data and the metadata",
                )
            )
        elif cf == "float" and pf == "int":
            bad = _fractional_rows(child.column(ccol))
            if bad:
                out.append(
                    Problem(
                        f"foreign key {fk.name}: {len(bad)} value(s) are not whole numbers but the parent key "
                        f"{fk.parent_table}.{pcol} is {pt}; first at rows {_fmt_rows(bad[:EXAMPLES])}",
                        table=fk.child_table,
                        column=ccol,
                        row=bad[0],
                        hint="fix these key values",
                    )
                )
    return out


def orphan_rows(fk: ForeignKey, child: pa.Table, parent: pa.Table) -> tuple[list[int], list[Any]]:
    """Child rows (0-based, sorted) whose non-null foreign key has no parent, and example values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [f"k{i}" for i in range(len(fk.child_columns))]
    parent_arrays, child_arrays = [], []
    for ccol, pcol in zip(fk.child_columns, fk.parent_columns, strict=True):
        carr, parr = _comparable(plain(child.column(ccol)), plain(parent.column(pcol)))
        child_arrays.append(carr)
        parent_arrays.append(parr)
    keyed = pa.table(child_arrays, names=names).append_column(
        "__row", pa.array(range(child.num_rows), pa.int64())
    )
    keyed = keyed.filter(_all_valid(keyed.columns[:-1]))
    if keyed.num_rows == 0:
        return [], []
    if len(names) == 1:
        found = pc.is_in(keyed.column(names[0]), value_set=pc.unique(parent_arrays[0]).drop_null())
        orphans = keyed.filter(pc.invert(found))
    else:
        keys = pa.table(parent_arrays, names=names).group_by(names, use_threads=False).aggregate([])
        orphans = keyed.join(keys, keys=names, join_type="left anti", use_threads=False)
    if orphans.num_rows == 0:
        return [], []
    rows = sorted(orphans.column("__row").to_pylist())
    values: list[Any] = []
    seen: set[Any] = set()
    for row in zip(*(orphans.column(n).to_pylist() for n in names), strict=True):
        v = row[0] if len(names) == 1 else tuple(row)
        if v not in seen:
            seen.add(v)
            values.append(v)
        if len(values) >= EXAMPLES:
            break
    return rows, values


def _comparable(child: Any, parent: Any) -> tuple[Any, Any]:
    """Cast two key arrays of compatible families to one type so their values can be matched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if child.type == parent.type:
        return child, parent
    if pa.types.is_null(child.type):
        return child.cast(parent.type), parent
    if pa.types.is_null(parent.type):
        return child, parent.cast(child.type)
    families = {type_family(child.type), type_family(parent.type)}
    if families == {"int"}:
        return pc.cast(child, pa.int64()), pc.cast(parent, pa.int64())
    if families == {"string"}:
        return pc.cast(child, pa.large_string()), pc.cast(parent, pa.large_string())
    if families <= {"int", "float", "decimal"}:
        return pc.cast(child, pa.float64()), pc.cast(parent, pa.float64())
    return child, pc.cast(parent, child.type)


def _orphan_problems(fk: ForeignKey, tables: Mapping[str, pa.Table]) -> list[Problem]:
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    rows, values = orphan_rows(fk, child, parent)
    if not rows:
        return []
    return [
        Problem(
            f"foreign key {fk.name}: {len(rows)} of {child.num_rows} rows reference a "
            f"{fk.parent_table}.{','.join(fk.parent_columns)} that does not exist (e.g. "
            f"{', '.join(map(repr, values))}); first at rows {_fmt_rows(rows[:EXAMPLES])}",
            table=fk.child_table,
            column=",".join(fk.child_columns),
            row=rows[0],
            hint="add the missing parent rows, or declare what to do with them: drop_orphans=True (fit "
            "--orphans drop) drops these rows (and, in cascade, rows that depended on them); --orphans null "
            "sets their key to null; --orphans keep generates parent-less rows at this rate; or \"orphans\" "
            "on this foreign key in the metadata",
        )
    ]


def _null_orphans(fk: ForeignKey, metadata: Metadata, tables: dict[str, pa.Table]
                  ) -> tuple[dict[str, pa.Table], list[Problem]]:
    """Orphan policy ``null``: the foreign key of rows without a parent becomes null (the rows stay)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    child = tables[fk.child_table]
    rows, values = orphan_rows(fk, child, tables[fk.parent_table])
    if not rows:
        return tables, []
    in_key = [c for c in fk.child_columns if c in metadata.table(fk.child_table).primary_key]
    if in_key:
        return tables, [Problem(
            f"foreign key {fk.name}: {len(rows)} orphan row(s) cannot have their key set to null: "
            f"{', '.join(in_key)} is part of the primary key", table=fk.child_table, column=",".join(in_key),
            row=rows[0], hint="use the orphan policy 'drop' or 'keep' for this foreign key")]
    mask = np.zeros(child.num_rows, dtype=bool)
    mask[np.asarray(rows, dtype=np.int64)] = True
    for col in fk.child_columns:
        arr = child.column(col)
        nulled = pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)
        child = child.set_column(child.schema.get_field_index(col), col, nulled)
    log.warning("validate_data: %d row(s) of %r whose %s has no parent in %r (e.g. %s): key set to null "
                "(orphan policy 'null')", len(rows), fk.child_table, ",".join(fk.child_columns), fk.parent_table,
                ", ".join(map(repr, values)))
    return {**tables, fk.child_table: child}, []


def _drop_orphans(
    metadata: Metadata, fks: Sequence[ForeignKey], tables: dict[str, pa.Table]
) -> dict[str, pa.Table]:
    """Drop orphan rows until none is left: a dropped parent row can orphan its own children."""
    import numpy as np
    import pyarrow as pa

    try:
        order = {name: i for i, name in enumerate(metadata.topological_order())}
    except MetadataError:
        order = {}
    ordered = sorted(fks, key=lambda fk: order.get(fk.child_table, 0))
    tables = dict(tables)
    dropped: dict[str, int] = {}
    rounds = 0
    changed = True
    while changed:
        changed = False
        rounds += 1
        for fk in ordered:
            child = tables[fk.child_table]
            rows, values = orphan_rows(fk, child, tables[fk.parent_table])
            if not rows:
                continue
            keep = np.ones(child.num_rows, dtype=bool)
            keep[np.asarray(rows, dtype=np.int64)] = False
            tables[fk.child_table] = child.filter(pa.array(keep))
            dropped[fk.child_table] = dropped.get(fk.child_table, 0) + len(rows)
            log.warning(
                "validate_data: dropped %d row(s) of %r whose %s has no parent in %r (e.g. %s)%s",
                len(rows),
                fk.child_table,
                ",".join(fk.child_columns),
                fk.parent_table,
                ", ".join(map(repr, values)),
                " (cascade)" if rounds > 1 else "",
            )
            changed = True
    if dropped:
        log.warning(
            "validate_data: orphan rows dropped: %s", ", ".join(f"{t}: {n}" for t, n in dropped.items())
        )
    return tables


def _one_to_one_problems(fk: ForeignKey, child: pa.Table) -> list[Problem]:
    rows, values = duplicate_rows(child, list(fk.child_columns))
    if not rows:
        return []
    return [
        Problem(
            f"foreign key {fk.name} is declared one-to-one, but {len(values)} parent key(s) have several "
            f"children (e.g. {', '.join(map(repr, values[:EXAMPLES]))}); first at rows {_fmt_rows(rows[:EXAMPLES])}",
            table=fk.child_table,
            column=",".join(fk.child_columns),
            row=rows[0],
            hint="remove the extra child rows, or declare the link one_to_one=False",
        )
    ]
