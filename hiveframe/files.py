"""File toolkit for reader and writer plugins: the builtin folder reader/writer and their file steps.

A reader of another engine (polars, Spark) that reads the same folders subclasses or reuses these, so
``hiveframe read`` gives the same Database whichever plugin read the files: the same CSV delimiter
sniffing, header check, JSON Lines parsing, error messages and final typing (:func:`finish_table`).
The implementations live in the kernel's private ``hiveframe._builtin`` package; this module is their
stable, public name. :func:`process_alive` tells a plugin whether the process that left a work file
(named with its process id) still runs, so that only a killed run's leftovers are removed.
"""

from __future__ import annotations

from hiveframe._atomic import process_alive
from hiveframe._builtin.io_folder import (
    FolderReader,
    FolderWriter,
    csv_delimiter,
    csv_error,
    finish_table,
    jsonl_error,
    parquet_error,
    read_csv_header,
    read_jsonl_bytes,
)
from hiveframe._builtin.io_folder import _check_format as check_format

__all__ = [
    "FolderReader", "FolderWriter", "check_format", "csv_delimiter", "csv_error", "finish_table", "jsonl_error",
    "parquet_error", "process_alive", "read_csv_header", "read_jsonl_bytes",
]
