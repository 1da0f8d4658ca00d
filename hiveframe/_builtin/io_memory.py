"""In-memory tables: a pyarrow Table, a pandas DataFrame, or a mapping of names to them.

Decided, one way per thing: this reader takes Arrow and pandas objects; polars objects (alone or in
a mapping, even mixed with others) belong to the polars plugin's ``polars`` reader, so converting
polars lives in one place. A single unnamed table is named ``"table"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from hiveframe._builtin.io_arrow import (
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


def in_memory_tables(source: object, tables: Sequence[str] | None, *, item: str = "table") -> dict[str, Any]:
    """``{name: value}`` of a mapping of tables, or of one table (named :data:`SINGLE_TABLE_NAME`),
    limited to the ``tables`` asked for (each checked to exist); shared with the polars reader.

    ``item`` names a value in the hint for an empty mapping ("table", "frame").
    """
    if isinstance(source, Mapping):
        mapping = tables_from_mapping(source)
        if not mapping:
            raise SourceError("the mapping of tables is empty", hint=f"pass {{'name': {item}, ...}}")
    else:
        mapping = {SINGLE_TABLE_NAME: source}
    check_requested(mapping, tables, "the in-memory tables")
    if tables is not None:
        mapping = {n: v for n, v in mapping.items() if n in tables}
    return mapping


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
        mapping = in_memory_tables(source, tables)
        return Database(tables={name: as_arrow_table(value, name) for name, value in mapping.items()})
