"""Readers and writers: the Arrow boundary of hiveframe.

Readers return a :class:`Database` of ``pyarrow.Table`` objects; writers take one. pandas and polars
objects are converted at this edge, never deeper in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.components.base import Component
from hiveframe.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import ForeignKey, Metadata


@dataclass
class Database:
    """Tables by name, plus the keys the source itself declares (SQLite, Spark catalogs...)."""

    tables: dict[str, pa.Table]
    declared_primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    declared_foreign_keys: list[ForeignKey] = field(default_factory=list)

    def __getitem__(self, name: str) -> pa.Table:
        try:
            return self.tables[name]
        except KeyError:
            from hiveframe.errors import did_you_mean

            raise SourceError(f"no table {name!r} in this database", hint=did_you_mean(name, self.tables)) from None

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __iter__(self):
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    @property
    def names(self) -> list[str]:
        return list(self.tables)

    def to_pandas(self, metadata: Metadata | None = None) -> dict[str, Any]:
        """The tables as pandas DataFrames with nullable dtypes, so pandas data round-trips.

        Integers become pandas' nullable ``Int64`` (and ``Int8``... by width), never float64 with NaN;
        booleans ``boolean``; dictionary columns, and string columns the ``metadata`` calls categorical,
        ``category`` (with the declared categories when the metadata lists them); the rest as pyarrow
        converts them.
        """
        return {name: _frame(table, metadata.table(name) if metadata is not None and metadata.has_table(name)
                             else None) for name, table in self.tables.items()}


def _frame(table: pa.Table, meta: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}
    frame = table.to_pandas(types_mapper=nullable.get)
    for name in table.column_names:
        typ = table.schema.field(name).type
        column = meta.column(name) if meta is not None and meta.has_column(name) else None
        categorical = column is not None and getattr(column.kind, "value", None) == "categorical"
        if pa.types.is_dictionary(typ) or (categorical and (pa.types.is_string(typ) or pa.types.is_large_string(typ))):
            declared = getattr(column, "categories", None) if column is not None else None
            frame[name] = (frame[name].astype(pd.CategoricalDtype([str(c) for c in declared]))
                           if declared else frame[name].astype("category"))
    return frame


@attrs.define(kw_only=True, eq=False)
class Reader(Component):
    """Reads a source (path, connection, in-memory objects) into a :class:`Database`."""

    kind: ClassVar[str] = "reader"

    @classmethod
    def claims(cls, source: object) -> bool:
        """Whether this reader knows how to read ``source`` (used to resolve the default)."""
        return False

    def read(self, source: object, *, tables: Sequence[str] | None = None) -> Database:
        self.check_available()
        db = self._call("read", self._read, source, tables=tables)
        if tables is not None:
            missing = [t for t in tables if t not in db.tables]
            if missing:
                raise SourceError(f"{source!r} has no table(s) {', '.join(map(repr, missing))}",
                                  hint=f"tables found: {', '.join(db.tables)}")
        return db

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        raise NotImplementedError


@attrs.define(kw_only=True, eq=False)
class Writer(Component):
    """Writes a :class:`Database` (or a mapping of Arrow tables) to a target."""

    kind: ClassVar[str] = "writer"
    #: formats this writer produces, e.g. ("parquet",).
    formats: ClassVar[tuple[str, ...]] = ()
    #: whether ``_write`` takes ``overwrite=True`` (replace an earlier hiveframe output, whole).
    supports_overwrite: ClassVar[bool] = False

    @classmethod
    def claims(cls, target: object, format: str | None) -> bool:
        return False

    def write(self, database: Database | Mapping[str, pa.Table], target: object, *,
              metadata: Metadata | None = None, provenance: Mapping[str, Any] | None = None,
              overwrite: bool = False) -> Any:
        """Write ``database`` to ``target``. Writers never replace what hiveframe did not write;
        ``overwrite=True`` lets a writer that supports it replace an earlier hiveframe output whole."""
        self.check_available()
        tables = database.tables if isinstance(database, Database) else dict(database)
        extra: dict[str, Any] = {}
        if overwrite:
            if not self.supports_overwrite:
                from hiveframe.errors import ConfigError

                raise ConfigError(f"the {self.name} writer has no overwrite option",
                                  hint="write to a new target, or remove the old output first")
            extra["overwrite"] = True
        return self._call("write", self._write, tables, target, metadata=metadata, provenance=provenance,
                          **extra)

    def _write(self, tables: dict[str, pa.Table], target: object, *, metadata: Metadata | None,
               provenance: Mapping[str, Any] | None) -> Any:
        raise NotImplementedError
