"""Input coercion: any accepted input as a Database of Arrow tables, with the problems met.

Reading a source (a folder, a SQLite file) goes through the readers of the plugin host the caller
passes; this module builds no host of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hiveframe.errors import Problem, SourceError
from hiveframe.metadata.arrow_types import EXAMPLES

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.plugins import PluginHost


def as_arrow_database(data: Any, *, host: PluginHost | None) -> tuple[Database, list[Problem]]:
    """Any accepted input as a :class:`Database` of Arrow tables, plus the problems met converting.

    Accepts a Database, a mapping of table name to pyarrow/pandas/polars tables, or any source a
    reader of ``host`` claims (``host=None``: in-memory data only). A pandas object column holding
    several Python types cannot become an Arrow column; it is reported (with the first offending
    rows) and left out instead of raising mid-way.
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
        if host is None:
            raise SourceError(f"cannot read a {type(data).__name__} without a plugin host (its readers)",
                              hint="pass host=PluginHost(), or call hiveframe.detect / hiveframe.validate_data, "
                              "which make one")
        db = host.read(data)
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
