"""In-memory tables: a pyarrow Table, a pandas DataFrame, or a mapping of names to them.

Decided, one way per thing: this reader takes Arrow and pandas objects; polars objects (alone or in
a mapping, even mixed with others) belong to the polars plugin's ``polars`` reader, so converting
polars lives in one place. A single unnamed table is named ``"table"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs

from hiveframe.builtin.io_arrow import (
    as_arrow_table,
    check_requested,
    is_arrow_table,
    is_pandas_frame,
    tables_from_mapping,
)
from hiveframe.components.io import Database, Reader
from hiveframe.errors import SourceError

#: the name a single table passed on its own gets.
SINGLE_TABLE_NAME = "table"


def _is_table(value: object) -> bool:
    return is_arrow_table(value) or is_pandas_frame(value)


@attrs.define(kw_only=True, eq=False)
class MemoryReader(Reader):
    """pyarrow Tables / RecordBatches and pandas DataFrames, alone or in a ``{name: table}`` mapping."""

    name: ClassVar[str] = "memory"

    @classmethod
    def claims(cls, source: object) -> bool:
        if isinstance(source, Database) or _is_table(source):
            return True
        return isinstance(source, Mapping) and all(_is_table(v) for v in source.values())

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        if isinstance(source, Database):
            check_requested(source.tables, tables, "the database")
            names = [n for n in source.tables if tables is None or n in tables]
            return Database(
                tables={n: as_arrow_table(source.tables[n], n) for n in names},
                declared_primary_keys={n: k for n, k in source.declared_primary_keys.items() if n in names},
                declared_foreign_keys=[fk for fk in source.declared_foreign_keys
                                       if fk.child_table in names and fk.parent_table in names],
            )
        if isinstance(source, Mapping):
            mapping = tables_from_mapping(source)
            if not mapping:
                raise SourceError("the mapping of tables is empty", hint="pass {'name': table, ...}")
        else:
            mapping = {SINGLE_TABLE_NAME: source}
        check_requested(mapping, tables, "the in-memory tables")
        if tables is not None:
            mapping = {n: v for n, v in mapping.items() if n in tables}
        return Database(tables={name: as_arrow_table(value, name) for name, value in mapping.items()})
