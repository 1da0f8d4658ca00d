"""Reading and writing at the pipeline level: anything readable becomes a Database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hiveframe.components import Database

if TYPE_CHECKING:
    from hiveframe.plugins import PluginHost


def as_database(data: Any, *, host: PluginHost) -> Database:
    """A Database from a Database, or from any source a registered reader claims."""
    if isinstance(data, Database):
        return data
    return host.read(data)


def read(source: Any, *, host: PluginHost | None = None, reader: str | None = None,
         tables: list[str] | None = None) -> Database:
    """Read a folder, SQLite file, or in-memory tables into a :class:`Database`."""
    from hiveframe.plugins import PluginHost

    return (host or PluginHost()).read(source, reader=reader, tables=tables)


def write(database: Database | Mapping[str, Any], target: Any, *, format: str | None = None,
          host: PluginHost | None = None, overwrite: bool = False, **kwargs: Any) -> Any:
    """Write a Database to a folder (parquet/csv/jsonl) or a ``.sqlite`` file.

    The output appears whole or not at all. An existing target is replaced only when it holds
    hiveframe output; ``overwrite=True`` also replaces a hiveframe output folder that holds other
    files (they are deleted with it). A folder or database hiveframe did not write is never replaced.
    """
    from hiveframe.plugins import PluginHost

    return (host or PluginHost()).write(database, target, format=format, overwrite=overwrite, **kwargs)
