"""SQLite files: every user table, with the keys the schema declares.

Reading maps declared column types to Arrow the way SQLite's own affinity rules read them (a type
containing ``INT`` is an integer, ``CHAR``/``TEXT``/``CLOB`` text, ``REAL``/``FLOA``/``DOUB`` and
``NUMERIC``/``DECIMAL`` double), plus the conventions SQLite leaves to applications: ``BOOLEAN`` ->
bool, ``DATE`` -> date32, ``DATETIME``/``TIMESTAMP`` -> timestamp[us] (ISO text, as in Chinook). A
column whose values do not fit its declared type (SQLite does not enforce types) falls back to what
its values are, with a warning naming the table and column.

Writing creates each table with its declared ``PRIMARY KEY`` (composite too) and ``FOREIGN KEY ...
REFERENCES`` clauses from the metadata, inserts tables parents first, writes timestamps and dates as
ISO text, records provenance in a ``_hiveframe_provenance (key, value)`` table, and marks the file as
hiveframe's with SQLite's ``application_id`` header field (:data:`APPLICATION_ID`; a table a user
creates cannot set it). The file is written under a temporary sibling name and moved into place, so
the path holds the old database or the new one. An existing file is replaced only when both marks say
hiveframe wrote it; a user's database is never replaced, and the reader hides a
``_hiveframe_provenance`` table only in hiveframe's own files.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe._atomic import crash_point, staged_file
from hiveframe._builtin.io_arrow import (
    SQLITE_SUFFIXES,
    as_arrow_table,
    as_path,
    check_requested,
    is_sqlite_file,
    normalize_table,
    parse_temporal,
    split_suffix,
    text_friendly,
)
from hiveframe.components.io import Database, Reader, Writer
from hiveframe.errors import HiveframeError, SourceError
from hiveframe.metadata.arrow_types import type_family

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import ForeignKey, Metadata

log = logging.getLogger(__name__)

PROVENANCE_TABLE = "_hiveframe_provenance"
#: SQLite header field 68 ("application_id") of every file hiveframe writes: the bytes "HvFr".
APPLICATION_ID = 0x48764672
#: SQLite header field 60 ("user_version"): the layout of hiveframe's SQLite output.
OUTPUT_VERSION = 1


def quote(identifier: str) -> str:
    """An SQL identifier in double quotes (any name, spaces and quotes included)."""
    return '"' + identifier.replace('"', '""') + '"'


def declared_arrow_type(declared: str | None) -> pa.DataType | None:
    """The Arrow type for a declared SQLite column type, or ``None`` to go by the values."""
    import pyarrow as pa

    d = (declared or "").upper()
    if not d:
        return None
    if "DATETIME" in d or "TIMESTAMP" in d:
        return pa.timestamp("us")
    if d == "DATE":
        return pa.date32()
    if d.startswith("BOOL"):
        return pa.bool_()
    if "INT" in d:
        return pa.int64()
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return pa.string()
    if "BLOB" in d:
        return pa.binary()
    if any(word in d for word in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return pa.float64()
    return None


def _by_values(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
                         for v in values], pa.string())


def column_from_values(values: list[Any], declared: str | None, table: str, column: str) -> pa.Array:
    """One column read from SQLite, typed by its declaration when its values allow it."""
    import pyarrow as pa

    target = declared_arrow_type(declared)
    if target is None:
        return _by_values(values)
    try:
        if pa.types.is_temporal(target):
            text = pa.chunked_array([pa.array(values, pa.string())])
            if text.null_count == len(text):
                return pa.nulls(len(values), target)
            parsed = parse_temporal(text)
            if parsed is None:
                raise ValueError("not ISO dates/timestamps")
            if pa.types.is_timestamp(target) and pa.types.is_date(parsed.type):
                parsed = parsed.cast(target)  # declared DATETIME, every value at midnight
            return parsed.combine_chunks()
        if pa.types.is_boolean(target):
            if any(v not in (None, 0, 1) for v in values):
                raise ValueError("not 0/1")
            return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
        return pa.array(values, target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        found = _by_values(values)
        log.warning("table %r, column %r: declared %s, but the values are not %s; read as %s",
                    table, column, declared, target, found.type)
        return found


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise SourceError(f"path {str(path)!r} does not exist{where}",
                          hint="pass the path of an existing SQLite database file")
    if not path.is_file():
        raise SourceError(f"{str(path)!r} is not a file", hint="a SQLite database is a single file")
    if path.stat().st_size == 0 or not is_sqlite_file(path):
        what = "an empty file" if path.stat().st_size == 0 else "not a SQLite database (wrong file header)"
        raise SourceError(f"{str(path)!r} is {what}",
                          hint="pass a SQLite 3 database file, or a folder of parquet/csv/jsonl files")
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open SQLite database {str(path)!r}: {exc}") from None


def is_hiveframe_database(conn: sqlite3.Connection) -> bool:
    """Whether hiveframe wrote this database: its header's application_id and its provenance table."""
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        return False
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (PROVENANCE_TABLE,)).fetchone() is not None


def _user_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name"
    ).fetchall()
    names = [r[0] for r in rows]
    if PROVENANCE_TABLE in names and is_hiveframe_database(conn):
        names.remove(PROVENANCE_TABLE)  # hiveframe's own record; in anyone else's file it is a user table
    return names


def read_sqlite(conn: sqlite3.Connection, label: str, tables: Sequence[str] | None) -> Database:
    """Tables, declared primary keys and declared foreign keys of an open SQLite connection."""
    import pyarrow as pa

    from hiveframe.metadata import ForeignKey

    names = _user_tables(conn)
    if not names:
        raise SourceError(f"SQLite database {label} has no tables", hint="is this the right file?")
    check_requested(names, tables, f"SQLite database {label}")
    if tables is not None:
        names = [n for n in names if n in set(tables)]
    db = Database(tables={})
    columns_of: dict[str, list[str]] = {}
    for name in names:
        info = conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()
        cols = [row[1] for row in info]
        columns_of[name] = cols
        cursor = conn.execute(f"SELECT * FROM {quote(name)}")
        rows = cursor.fetchall()
        values = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        arrays = [column_from_values(list(v), row[2], name, row[1]) for v, row in zip(values, info, strict=True)]
        db.tables[name] = normalize_table(pa.Table.from_arrays(arrays, names=cols), table=name)
        pk = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]
        if pk:
            db.declared_primary_keys[name] = tuple(pk)

    by_lower = {n.lower(): n for n in names}
    fks: list[ForeignKey] = []
    for name in names:
        groups: dict[int, list[tuple]] = {}
        for row in conn.execute(f"PRAGMA foreign_key_list({quote(name)})").fetchall():
            groups.setdefault(row[0], []).append(row)
        for fk_id in sorted(groups, reverse=True):  # SQLite numbers them last-declared first
            parts = sorted(groups[fk_id], key=lambda r: r[1])
            parent = by_lower.get(parts[0][2].lower())
            if parent is None:
                log.info("table %r: foreign key to %r skipped (table not read)", name, parts[0][2])
                continue
            child_cols = tuple(_match(columns_of[name], r[3]) for r in parts)
            if any(r[4] is None for r in parts):  # REFERENCES parent without columns: its primary key
                parent_cols = db.declared_primary_keys.get(parent, ())
            else:
                parent_cols = tuple(_match(columns_of[parent], r[4]) for r in parts)
            if len(parent_cols) != len(child_cols):
                log.warning("table %r: foreign key %s -> %r does not match the parent's key; skipped",
                            name, child_cols, parent)
                continue
            fks.append(ForeignKey(child_table=name, child_columns=child_cols, parent_table=parent,
                                  parent_columns=parent_cols))
    db.declared_foreign_keys = fks
    return db


def _match(columns: Sequence[str], name: str) -> str:
    """SQLite names are case-insensitive: the column as the table spells it."""
    for col in columns:
        if col.lower() == name.lower():
            return col
    return name


@attrs.define(kw_only=True, eq=False)
class SqliteReader(Reader):
    """A SQLite database file (or an open ``sqlite3.Connection``), with its declared keys."""

    name: ClassVar[str] = "sqlite"

    @classmethod
    def claims(cls, source: object) -> bool:
        if isinstance(source, sqlite3.Connection):
            return True
        path = as_path(source)
        if path is None:
            return False
        return split_suffix(path)[1] in SQLITE_SUFFIXES or (path.is_file() and is_sqlite_file(path))

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        if isinstance(source, sqlite3.Connection):
            return self._guarded(source, "(connection)", tables)
        path = as_path(source)
        if path is None:
            raise SourceError(f"the sqlite reader reads a file path or a sqlite3.Connection, "
                              f"not {type(source).__name__}")
        conn = _connect_read_only(path)
        try:
            return self._guarded(conn, repr(str(path)), tables)
        finally:
            conn.close()

    def _guarded(self, conn: sqlite3.Connection, label: str, tables: Sequence[str] | None) -> Database:
        try:
            return read_sqlite(conn, label, tables)
        except sqlite3.Error as exc:
            raise SourceError(f"cannot read SQLite database {label}: {exc}",
                              hint="the file may be corrupt, encrypted, or locked by another program") from None


# -- writing ---------------------------------------------------------------------------------------
#: the declared SQLite type of each type family (:func:`~hiveframe.metadata.arrow_types.type_family`)
_DECLARED_TYPES = {"bool": "BOOLEAN", "int": "INTEGER", "float": "REAL", "decimal": "NUMERIC", "binary": "BLOB",
                   "null": ""}


def sqlite_declared_type(t: pa.DataType) -> str:
    """The declared SQLite type for an Arrow type (read back by :func:`declared_arrow_type`); categories
    (dictionaries), strings and what SQLite has no name for are TEXT."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return "TEXT"
    family = type_family(t)
    if family == "temporal":
        return ("DATETIME" if pa.types.is_timestamp(t) else "DATE" if pa.types.is_date(t)
                else "TIME" if pa.types.is_time(t) else "TEXT")
    return _DECLARED_TYPES.get(family, "TEXT")


def _python_columns(table: pa.Table) -> list[list[Any]]:
    """Column values SQLite can bind: ISO text for dates/times, floats for decimals, JSON for nested."""
    import pyarrow as pa

    out = []
    for col in table.columns:
        t = col.type
        col = text_friendly(col)
        values = col.to_pylist()
        if pa.types.is_nested(t):
            values = [None if v is None else json.dumps(v, default=str) for v in values]
        out.append(values)
    return out


def _written_by_hiveframe(path: Path) -> bool:
    if not is_sqlite_file(path):
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return is_hiveframe_database(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return False


@attrs.define(kw_only=True, eq=False)
class SqliteWriter(Writer):
    """Writes a ``.sqlite``/``.db``/``.sqlite3`` file with declared primary and foreign keys."""

    name: ClassVar[str] = "sqlite"
    formats: ClassVar[tuple[str, ...]] = ("sqlite",)
    #: accepted for symmetry with folders: a hiveframe file is replaced either way, a user's never.
    supports_overwrite: ClassVar[bool] = True

    @classmethod
    def claims(cls, target: object, format: str | None) -> bool:
        path = as_path(target)
        if path is None or format not in (None, "sqlite"):
            return False
        return format == "sqlite" or split_suffix(path)[1] in SQLITE_SUFFIXES

    def _write(self, tables: dict[str, pa.Table], target: object, *, metadata: Metadata | None,
               provenance: Mapping[str, Any] | None, overwrite: bool = False) -> Path:
        path = as_path(target)
        if path is None:
            raise SourceError(f"the sqlite writer writes to a file path, not {type(target).__name__}")
        self._check_target(path)
        if not tables:
            raise SourceError("nothing to write: the database has no tables")
        data = {}
        for name, value in tables.items():
            if not isinstance(name, str) or not name:
                raise SourceError(f"table name {name!r} is not a non-empty string")
            data[name] = as_arrow_table(value, name)
        order = self._order(data, metadata)
        ddl = self._create_statements(data, metadata)
        try:
            with staged_file(path) as tmp:
                conn = sqlite3.connect(tmp)
                try:
                    self._fill(conn, data, order, ddl, provenance)
                    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
                finally:
                    conn.close()
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"cannot write SQLite file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}",
                              hint="check that the folder exists (or can be created), is writable and has "
                              "room") from None
        if violations:
            counts: dict[str, int] = {}
            for row in violations:
                counts[row[0]] = counts.get(row[0], 0) + 1
            log.warning("wrote %s, but %d row(s) break foreign keys (%s): the data is not referentially intact",
                        path, len(violations), ", ".join(f"{t}: {n}" for t, n in counts.items()))
        return path

    @staticmethod
    def _check_target(path: Path) -> None:
        if path.is_dir():
            raise SourceError(f"{str(path)!r} is a folder", hint="give a file name ending in .sqlite")
        if path.exists() and path.stat().st_size > 0 and not _written_by_hiveframe(path):
            raise SourceError(f"{str(path)!r} exists and was not written by hiveframe; not replacing it "
                              "(hiveframe replaces only its own SQLite output, with or without overwrite)",
                              hint="choose another file name, or move the file away first")

    @staticmethod
    def _order(data: Mapping[str, pa.Table], metadata: Metadata | None) -> list[str]:
        if metadata is None:
            return list(data)
        try:
            topo = metadata.topological_order()
        except HiveframeError as exc:
            log.warning("foreign keys form a cycle (%s); writing tables in the given order", exc)
            topo = []
        ordered = [t for t in topo if t in data]
        return ordered + [t for t in data if t not in ordered]

    @staticmethod
    def _create_statements(data: Mapping[str, pa.Table], metadata: Metadata | None) -> dict[str, str]:
        pks: dict[str, tuple[str, ...]] = {}
        fks: list[ForeignKey] = []
        problems: list[str] = []
        if metadata is not None:
            for name, table in data.items():
                if metadata.has_table(name):
                    pk = metadata.table(name).primary_key
                    missing = [c for c in pk if c not in table.column_names]
                    if missing:
                        problems.append(f"table {name!r}: primary key column(s) {missing} not in the data")
                    elif pk:
                        pks[name] = tuple(pk)
            for fk in metadata.foreign_keys:
                if fk.child_table not in data or fk.parent_table not in data:
                    continue
                missing = [c for c in fk.child_columns if c not in data[fk.child_table].column_names]
                missing += [f"{fk.parent_table}.{c}" for c in fk.parent_columns
                            if c not in data[fk.parent_table].column_names]
                if missing:
                    problems.append(f"foreign key {fk.name}: column(s) {missing} not in the data")
                elif fk.orphans == "keep":  # declared dirty: a constraint the rows break would make a broken file
                    log.info("sqlite writer: foreign key %s keeps parent-less rows (orphan policy 'keep'); "
                             "written without a FOREIGN KEY clause", fk.name)
                else:
                    fks.append(fk)
        if problems:
            raise SourceError("the metadata does not match the tables to write: " + "; ".join(problems),
                              hint="pass the metadata these tables were generated with")
        # a foreign key must reference the parent's primary key or a UNIQUE set of its columns
        uniques: dict[str, list[tuple[str, ...]]] = {}
        for fk in fks:
            cols = tuple(fk.parent_columns)
            if pks.get(fk.parent_table) != cols and cols not in uniques.setdefault(fk.parent_table, []):
                uniques[fk.parent_table].append(cols)
        statements = {}
        for name, table in data.items():
            parts = [f"{quote(f.name)} {sqlite_declared_type(f.type)}".rstrip() for f in table.schema]
            if name in pks:
                parts.append(f"PRIMARY KEY ({', '.join(map(quote, pks[name]))})")
            for cols in uniques.get(name, []):
                parts.append(f"UNIQUE ({', '.join(map(quote, cols))})")
            for fk in fks:
                if fk.child_table == name:
                    parts.append(f"FOREIGN KEY ({', '.join(map(quote, fk.child_columns))}) REFERENCES "
                                 f"{quote(fk.parent_table)} ({', '.join(map(quote, fk.parent_columns))})")
            statements[name] = f"CREATE TABLE {quote(name)} (\n    " + ",\n    ".join(parts) + "\n)"
        return statements

    @staticmethod
    def _fill(conn: sqlite3.Connection, data: Mapping[str, pa.Table], order: Sequence[str],
              ddl: Mapping[str, str], provenance: Mapping[str, Any] | None) -> None:
        from hiveframe._version import __version__

        conn.execute("PRAGMA journal_mode = OFF")  # a temporary file, moved into place when complete
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {OUTPUT_VERSION}")
        conn.execute("PRAGMA foreign_keys = OFF")  # self-references and cycles load in any row order
        for name in order:
            conn.execute(ddl[name])
        for index, name in enumerate(order):
            crash_point(f"sqlite:table-{index}")
            table = data[name]
            marks = ", ".join("?" for _ in table.column_names)
            sql = f"INSERT INTO {quote(name)} VALUES ({marks})"
            try:
                for batch in table.to_batches(max_chunksize=65536):
                    import pyarrow as pa

                    columns = _python_columns(pa.Table.from_batches([batch]))
                    conn.executemany(sql, zip(*columns, strict=True))
            except sqlite3.IntegrityError as exc:
                raise SourceError(f"table {name!r}: {exc}",
                                  hint="a primary key (or a column a foreign key references) has duplicate "
                                  "or null values") from None
            except (sqlite3.Error, OverflowError) as exc:
                raise SourceError(f"table {name!r}: cannot write to SQLite: {exc}") from None
        conn.execute(f"CREATE TABLE {quote(PROVENANCE_TABLE)} (key TEXT PRIMARY KEY, value TEXT)")
        entries = {"written_by": "hiveframe", "hiveframe_version": __version__}
        entries.update({str(k): v for k, v in (provenance or {}).items()})
        conn.executemany(f"INSERT INTO {quote(PROVENANCE_TABLE)} VALUES (?, ?)",
                         [(k, json.dumps(v, default=str)) for k, v in entries.items()])
        conn.commit()
