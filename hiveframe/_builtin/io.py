"""The builtin readers and writers, registered by the builtin plugin.

Order matters for default resolution (the first reader that claims a source reads it): in-memory
objects, then SQLite files (by suffix or file header), then any other path (folder or table file).
The implementations live in ``io_memory``, ``io_sqlite`` and ``io_folder``; the type decisions they
share with the polars plugin live in ``io_arrow``.
"""

from __future__ import annotations

from hiveframe._builtin.io_folder import CsvFolderWriter, FolderReader, FolderWriter, JsonlFolderWriter
from hiveframe._builtin.io_memory import MemoryReader
from hiveframe._builtin.io_sqlite import SqliteReader, SqliteWriter
from hiveframe.components.io import Reader, Writer

READERS: list[type[Reader]] = [MemoryReader, SqliteReader, FolderReader]
WRITERS: list[type[Writer]] = [SqliteWriter, FolderWriter, CsvFolderWriter, JsonlFolderWriter]

__all__ = [
    "READERS", "WRITERS", "CsvFolderWriter", "FolderReader", "FolderWriter", "JsonlFolderWriter",
    "MemoryReader", "SqliteReader", "SqliteWriter",
]
