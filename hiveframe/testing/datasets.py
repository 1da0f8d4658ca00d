"""The real example databases as ``(Database, Metadata)``, for tests and benchmarks.

The datasets sit outside the package (``../shared/data`` beside a checkout, one folder each: gzipped
CSVs plus ``schema.json``, and Chinook's SQLite file), so every function takes that folder. The
metadata is built from the keys each dataset states (``schema.json``; Chinook: the keys its SQLite
file declares), not by :func:`hiveframe.detect`, so code that uses it exercises the engine against
known keys rather than key detection. Tests and benchmarks load through this one loader so that they
see the same tables and the same metadata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hiveframe.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata import ColumnKind, ForeignKey, Metadata

__all__ = ["DATASETS", "load_dataset", "metadata_from_keys"]

log = logging.getLogger(__name__)

DATASETS = ("airbnb", "berka", "biodegradability", "chinook")
"""The relational datasets :func:`load_dataset` knows (``census_adult`` is a single table and loads too)."""

CHINOOK_FILE = Path("chinook") / "Chinook_Sqlite.sqlite"

# Numeric columns that mark a missing value with '?' (read as text by pyarrow.csv): (dataset, table) -> columns
_QUESTION_MARK_NUMBERS = {("berka", "district"): ("A12", "A15")}


def load_dataset(root: str | Path, name: str, *,
                 tables: Sequence[str] | None = None) -> tuple[Database, Metadata]:
    """``(Database, Metadata)`` of the dataset ``name`` in the data folder ``root``.

    ``tables`` keeps only those tables, in that order; foreign keys to or from the others are left
    out, so their columns get an ordinary (non-key) kind.
    """
    root = Path(root)
    if name == "chinook":
        return _load_chinook(root / CHINOOK_FILE, tables)
    folder = root / name
    if not (folder / "schema.json").is_file():
        raise SourceError(f"no dataset {name!r} under {str(root)!r} (no {name}/schema.json)",
                          hint=f"pass the shared data folder; known datasets: {', '.join(DATASETS)}")
    return _load_folder(folder, name, tables)


def metadata_from_keys(tables: Mapping[str, pa.Table], primary_keys: Mapping[str, tuple[str, ...]],
                       foreign_keys: Iterable[ForeignKey]) -> Metadata:
    """Metadata for ``tables`` with the keys given: key columns are IDs, the rest a kind from the data.

    Kinds: temporal -> datetime, bool -> boolean, integers with <= 20 values -> categorical, other
    numbers -> numerical, text with <= max(30, rows / 2) values -> categorical, other text -> text.
    """
    from hiveframe.metadata import Column, ColumnKind, Metadata, Table

    foreign_keys = tuple(foreign_keys)
    ids: dict[str, set[str]] = {t: set(primary_keys.get(t, ())) for t in tables}
    for fk in foreign_keys:
        ids[fk.child_table].update(fk.child_columns)
    out = []
    for name, data in tables.items():
        cols = []
        for field in data.schema:
            column = data.column(field.name)
            kind = ColumnKind.ID if field.name in ids[name] else _kind(column, data.num_rows)
            cols.append(Column(field.name, kind, dtype=str(field.type), nullable=column.null_count > 0))
        out.append(Table(name=name, columns=tuple(cols), primary_key=tuple(primary_keys.get(name, ()))))
    return Metadata(tables=tuple(out), foreign_keys=foreign_keys)


def _kind(arr: pa.ChunkedArray, n: int) -> ColumnKind:
    import pyarrow as pa

    from hiveframe.metadata import ColumnKind

    t = arr.type
    if pa.types.is_temporal(t):
        return ColumnKind.DATETIME
    if pa.types.is_boolean(t):
        return ColumnKind.BOOLEAN
    distinct = len(arr.unique())
    if pa.types.is_integer(t) and distinct <= 20:
        return ColumnKind.CATEGORICAL
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return ColumnKind.NUMERICAL
    if distinct <= max(30, n // 2):
        return ColumnKind.CATEGORICAL
    return ColumnKind.TEXT


def _keep(names: Sequence[str], wanted: Sequence[str] | None, where: str) -> list[str]:
    if wanted is None:
        return list(names)
    missing = [t for t in wanted if t not in names]
    if missing:
        raise SourceError(f"{where} has no table(s) {', '.join(map(repr, missing))}",
                          hint=f"its tables: {', '.join(names)}")
    return list(wanted)


def _load_folder(folder: Path, name: str, wanted: Sequence[str] | None) -> tuple[Database, Metadata]:
    """Gzipped CSVs read with pyarrow's own type inference, plus the keys in ``schema.json``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from hiveframe.components import Database
    from hiveframe.metadata import ForeignKey

    schema = json.loads((folder / "schema.json").read_text())
    names = _keep(list(schema["tables"]), wanted, f"dataset {name!r}")
    log.debug("loading dataset %r tables %s from %s", name, names, folder)
    tables = {t: pacsv.read_csv(folder / f"{t}.csv.gz") for t in names}
    for (dataset, table), columns in _QUESTION_MARK_NUMBERS.items():
        if dataset == name and table in tables:
            data = tables[table]
            for col in columns:
                values = [None if v == "?" else float(v) for v in data.column(col).to_pylist()]
                data = data.set_column(data.schema.get_field_index(col), col, pa.array(values, pa.float64()))
            tables[table] = data
    fks = [ForeignKey(f["child"], (f["column"],), f["parent"], (f["parent_column"],))
           for f in schema["foreign_keys"] if f["child"] in tables and f["parent"] in tables]
    pks = {}
    for t in tables:
        pk = schema["tables"][t].get("pk")
        pks[t] = () if pk is None else ((pk,) if isinstance(pk, str) else tuple(pk))
    return Database(tables), metadata_from_keys(tables, pks, fks)


def _load_chinook(path: Path, wanted: Sequence[str] | None) -> tuple[Database, Metadata]:
    """Chinook through the SQLite reader, with its declared keys."""
    import pyarrow as pa

    from hiveframe._builtin.io_sqlite import SqliteReader
    from hiveframe.components import Database

    if not path.is_file():
        raise SourceError(f"no Chinook database at {str(path)!r}",
                          hint="pass the shared data folder (the one holding chinook/)")
    db = SqliteReader().read(path)
    names = _keep(list(db.tables), wanted, "dataset 'chinook'")
    tables = {}
    for t in names:  # its dates have whole seconds; keep the unit these datasets have always had
        data = db[t]
        tables[t] = pa.table([c.cast(pa.timestamp("s")) if pa.types.is_timestamp(c.type) else c
                              for c in data.columns], names=data.column_names)
    # SQLite's own order (last declared first within a table), which fitted models and recorded
    # benchmark figures were made with
    fks = [fk for t in names
           for fk in reversed([f for f in db.declared_foreign_keys if f.child_table == t])
           if fk.parent_table in tables]
    pks = {t: tuple(db.declared_primary_keys.get(t, ())) for t in names}
    return Database(tables), metadata_from_keys(tables, pks, fks)
