"""The polars reader and writer components. polars is imported inside methods only.

Every table goes through the same shared steps as the builtin readers (null markers, type
inference, canonical Arrow types in :mod:`hiveframe.arrow`), so reading a folder with
``polars_folder`` gives the same Database (column names and Arrow types) as ``folder``.
"""

from __future__ import annotations

import inspect
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.arrow import (
    as_arrow_table,
    in_memory_tables,
    is_arrow_table,
    is_pandas_frame,
    is_polars_frame,
    normalize_table,
)
from hiveframe.components.io import Database, Reader
from hiveframe.errors import SourceError
from hiveframe.files import (
    FolderReader,
    FolderWriter,
    check_format,
    csv_delimiter,
    csv_error,
    jsonl_error,
    parquet_error,
    read_csv_header,
    read_jsonl_bytes,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


def polars_to_arrow(value: Any, table: str) -> pa.Table:
    """A polars DataFrame or LazyFrame (collected) as a canonical Arrow table."""
    import polars as pl

    if isinstance(value, pl.LazyFrame):
        try:
            value = value.collect()
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"table {table!r}: collecting the LazyFrame failed: {exc}") from None
    return normalize_table(value.to_arrow(), table=table)


@attrs.define(kw_only=True, eq=False)
class PolarsReader(Reader):
    """polars DataFrames/LazyFrames, alone or in a ``{name: frame}`` mapping (Arrow/pandas values too)."""

    name: ClassVar[str] = "polars"
    requires: ClassVar[tuple[str, ...]] = ("polars",)
    extra: ClassVar[str | None] = "polars"

    @classmethod
    def claims(cls, source: object) -> bool:
        if is_polars_frame(source):
            return True
        if not isinstance(source, Mapping):
            return False
        values = list(source.values())
        return any(is_polars_frame(v) for v in values) and all(
            is_polars_frame(v) or is_arrow_table(v) or is_pandas_frame(v) for v in values)

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        mapping = in_memory_tables(source, tables, item="frame")
        return Database(tables={
            name: polars_to_arrow(value, name) if is_polars_frame(value) else as_arrow_table(value, name)
            for name, value in mapping.items()
        })


@attrs.define(kw_only=True, eq=False)
class PolarsFolderReader(FolderReader):
    """The folder reader with polars' parsers: same files, same rules, same Database as ``folder``."""

    name: ClassVar[str] = "polars_folder"
    requires: ClassVar[tuple[str, ...]] = ("polars",)
    extra: ClassVar[str | None] = "polars"

    def _parse_file(self, path: Path, fmt: str) -> pa.Table:
        import polars as pl

        log.debug("parsing %s with polars", path)
        try:
            if fmt == "csv":
                delimiter = csv_delimiter(path)  # the builtin reader's choice, and its warning
                read_csv_header(path, delimiter)  # same checks and messages as the builtin reader (empty, not UTF-8...)
                # every column as text: unquoted empty cells null, quoted "" empty strings
                frame = pl.read_csv(path, infer_schema_length=0, separator=delimiter)
            elif fmt == "jsonl":
                frame = pl.read_ndjson(io.BytesIO(read_jsonl_bytes(path)), infer_schema_length=None)
            else:
                frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise self._error(path, fmt, exc) from None
        return frame.to_arrow()

    @staticmethod
    def _error(path: Path, fmt: str, exc: Exception) -> SourceError:
        errors = {"parquet": parquet_error, "csv": csv_error, "jsonl": jsonl_error}
        return errors[fmt](path, exc)


@attrs.define(kw_only=True, eq=False)
class PolarsFolderWriter(FolderWriter):
    """The folder writer with polars doing the file writing (parquet or csv).

    It claims the folders it can write, but the builtin writers are asked first, so it is used when
    named (``writer="polars_folder"``), never instead of the builtin default.
    """

    name: ClassVar[str] = "polars_folder"
    requires: ClassVar[tuple[str, ...]] = ("polars",)
    extra: ClassVar[str | None] = "polars"
    formats: ClassVar[tuple[str, ...]] = ("parquet", "csv")
    default_for: ClassVar[tuple[str | None, ...]] = (None, "parquet", "csv")

    format: str = attrs.field(default="parquet", validator=check_format)

    def _prepare(self, tables: Mapping[str, Any], folder: Path) -> dict[str, pa.Table]:
        converted = {name: polars_to_arrow(v, name) if is_polars_frame(v) else v for name, v in tables.items()}
        return super()._prepare(converted, folder)

    def _write_table(self, table: pa.Table, path: Path) -> None:
        """Polars writes the file; the table's ``hiveframe.*`` schema metadata (the catalog entry the
        folder writer set) goes into the Parquet footer's key-value metadata, as the builtin writer's does."""
        import polars as pl

        frame = pl.from_arrow(table)
        if self.format == "csv":
            frame.write_csv(path)  # type: ignore[union-attr]
            return
        footer = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()
                  if k.startswith(b"hiveframe.")}
        if not footer:
            frame.write_parquet(path)  # type: ignore[union-attr]
        elif "metadata" in inspect.signature(pl.DataFrame.write_parquet).parameters:
            frame.write_parquet(path, metadata=footer)  # type: ignore[union-attr]
        else:  # a polars without footer metadata (before 1.3x): pyarrow writes polars' Arrow data
            import pyarrow.parquet as pq

            arrow = frame.to_arrow()  # type: ignore[union-attr]
            pq.write_table(arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **footer}), path)
