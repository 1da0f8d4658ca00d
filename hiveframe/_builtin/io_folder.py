"""Folders of table files: one file per table, the file's stem is the table's name.

Reading: ``.parquet``, ``.csv``, ``.csv.gz``, ``.jsonl``/``.ndjson`` (optionally ``.gz``) may be mixed
in one folder; hidden files and files with other suffixes (``schema.json``, a README,
``_provenance.json``) are skipped. A single file path reads as a one-table database.

A sub-folder of part files (what Spark, Hadoop and ``hiveframe sample --engine spark`` write:
``TABLE/part-00000-....snappy.parquet``, ``part-*.csv[.gz]``, ``part-*.json[.gz]``) is one table named
after the sub-folder; a folder of part files passed directly is a one-table database. Files starting
with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` checksums, ``_provenance.json``) are bookkeeping and skipped.
The parts are parsed one by one and the type decisions are made once, on all their rows together, so a
table reads the same whether it was written as one file or as many. Decided: every part must have the
same format and the same columns (CSV: the same header line, Spark's ``header=true`` convention; Parquet:
the same names and types; JSON lines: types that merge, e.g. int and float, since Spark's JSON writer
leaves out null fields); otherwise one error names the folder and the differing files, because a silent
union would invent nulls or change types. A folder with ``_temporary`` is a Spark write that has not
finished (or failed) and is refused rather than read half.

Writing (decided): the output appears whole or not at all, and nothing hiveframe did not write is
ever replaced. Every table and ``_provenance.json`` (the list of files written, with the caller's
provenance) are written into a sibling staging folder, which is then swapped in for the target
(:mod:`hiveframe._atomic`): a kill at any point leaves the old complete output or the new one. An
existing folder is replaced only when every entry in it is listed by its own ``_provenance.json``
(an earlier hiveframe output, so ``-o OUT`` can be run again); any other entry (a user's
``parent.csv``, a README) is refused before anything is written, naming the files. ``overwrite=True``
(``--overwrite``) replaces a hiveframe output folder whole even when it holds other files; a folder
without hiveframe's provenance is never replaced.

Parsing and type decisions live in :mod:`hiveframe._builtin.io_arrow` and are shared with the polars
plugin, so both give the same Database for the same folder.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe._atomic import (
    CATALOG_FILE,
    CATALOG_PARQUET_KEY,
    PROVENANCE_FILE,
    check_replaceable,
    crash_point,
    recover,
    staged_folder,
    write_provenance,
)
from hiveframe._builtin.io_arrow import (
    DEFAULT_NULL_VALUES,
    SQLITE_SUFFIXES,
    TABLE_SUFFIXES,
    as_arrow_table,
    as_path,
    check_requested,
    check_table_name,
    format_floats,
    format_timestamps,
    infer_temporal_types,
    is_sqlite_file,
    mask_null_markers,
    non_text_columns,
    normalize_table,
    split_suffix,
    supported_suffixes_text,
    text_friendly,
    text_table,
)
from hiveframe.components.io import Database, Reader, Writer
from hiveframe.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Metadata

log = logging.getLogger(__name__)

FOLDER_FORMATS = ("parquet", "csv", "jsonl")
FORMAT_SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


# -- finding the table files -------------------------------------------------------------------------
#: part files as Spark and Hadoop name them: ``part-00000-<uuid>-c000.snappy.parquet``, ``part-r-00000.csv``
PART_FILE_RE = re.compile(r"^part-([a-z]-)?[0-9]")
#: suffix -> format for part files; Spark's JSON writer writes JSON lines named ``.json``
PART_SUFFIXES: dict[str, str] = {".json.gz": "jsonl", ".json": "jsonl", **TABLE_SUFFIXES}
#: what a Spark write leaves while it runs (or after it failed)
SPARK_TEMPORARY = "_temporary"


def _part_suffix(name: str) -> str | None:
    lower = name.lower()
    for suffix in sorted(PART_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    return None


def find_part_files(folder: Path) -> tuple[list[Path], str] | None:
    """``(part files, format)`` of a folder of part files, ``None`` when ``folder`` holds no part file.

    Bookkeeping (``_SUCCESS``, ``.crc``, ``_provenance.json``) and other files are skipped; zero-byte CSV
    and JSON parts (empty Spark partitions) carry nothing and are left out. Mixed formats, unreadable
    part suffixes and an unfinished Spark write raise one error naming the folder.
    """
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise SourceError(f"cannot list folder {str(folder)!r}: {exc.strerror or exc}") from None
    parts = [e for e in entries if PART_FILE_RE.match(e.name) and e.is_file()]
    if not parts:
        return None
    if (folder / SPARK_TEMPORARY).exists():
        raise SourceError(f"folder {str(folder)!r} holds {SPARK_TEMPORARY}/: its Spark write has not finished "
                          "or failed, so its part files may be incomplete",
                          hint="wait for the write to finish, or write the output again")
    formats: dict[str, list[str]] = {}
    unsupported = []
    for part in parts:
        suffix = _part_suffix(part.name)
        if suffix is None:
            unsupported.append(part.name)
        else:
            formats.setdefault(PART_SUFFIXES[suffix], []).append(part.name)
    if unsupported:
        raise SourceError(f"folder {str(folder)!r} has part files hiveframe cannot read: {_listed(unsupported)}",
                          hint="part files must be parquet, csv, csv.gz, json or json.gz (write with another "
                          "compression codec, or none)")
    if len(formats) > 1:
        mixed = "; ".join(f"{fmt}: {_listed(names)}" for fmt, names in formats.items())
        raise SourceError(f"folder {str(folder)!r} mixes part files of different formats ({mixed})",
                          hint="a table's part files must share one format; remove the stray files or "
                          "write the table again")
    fmt = next(iter(formats))
    if fmt != "parquet":
        parts = [p for p in parts if p.stat().st_size > 0]
        if not parts:
            raise SourceError(f"folder {str(folder)!r} has only empty {fmt} part files, so its columns are unknown",
                              hint="write the table as parquet, which keeps the columns of an empty table")
    return parts, fmt


def _listed(names: Sequence[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def list_table_files(path: Path, tables: Sequence[str] | None = None) -> dict[str, tuple[Path, str]]:
    """``{table: (file or folder of part files, format)}`` for a folder or a single file, with clear
    errors for bad paths."""
    if not path.exists():
        recover(path)  # a replacement killed between its two renames: the previous output is beside it
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise SourceError(f"path {str(path)!r} does not exist{where}",
                          hint="pass a folder of table files, one table file, or a SQLite file")
    if path.is_file():
        stem, suffix = split_suffix(path)
        if suffix in TABLE_SUFFIXES:
            check_requested([stem], tables, f"file {str(path)!r}")
            return {stem: (path, TABLE_SUFFIXES[suffix])}
        if suffix in SQLITE_SUFFIXES or is_sqlite_file(path):
            raise SourceError(f"{str(path)!r} is a SQLite database, not a table file",
                              hint="read it with reader='sqlite' (or let hiveframe choose the reader)")
        raise SourceError(f"unsupported file type {suffix or '(no suffix)'!r}: {str(path)!r}",
                          hint=f"supported: {supported_suffixes_text()}")
    if not path.is_dir():
        raise SourceError(f"{str(path)!r} is neither a file nor a folder")

    own_parts = find_part_files(path)
    if own_parts is not None:  # the folder of one table's part files
        name = path.resolve().name
        check_requested([name], tables, f"folder {str(path)!r}")
        return {name: (path, own_parts[1])}

    found: dict[str, list[tuple[Path, str]]] = {}
    skipped: list[str] = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        stem, suffix = split_suffix(entry)
        if entry.is_file() and suffix in TABLE_SUFFIXES:
            found.setdefault(stem, []).append((entry, TABLE_SUFFIXES[suffix]))
        elif entry.is_dir() and not entry.name.startswith("_") and (parts := find_part_files(entry)) is not None:
            found.setdefault(entry.name, []).append((entry, parts[1]))
        elif entry.name != PROVENANCE_FILE:
            skipped.append(entry.name + ("/" if entry.is_dir() else ""))
    dupes = {stem: files for stem, files in found.items() if len(files) > 1}
    if dupes:
        listed = "; ".join(f"{stem!r}: {', '.join(f.name + ('/' if f.is_dir() else '') for f, _ in files)}"
                           for stem, files in dupes.items())
        raise SourceError(f"folder {str(path)!r} has several files for the same table ({listed})",
                          hint="keep one file (or one folder of part files) per table name")
    if not found:
        seen = ", ".join(skipped[:10]) + (", ..." if len(skipped) > 10 else "") if skipped else "nothing"
        raise SourceError(f"folder {str(path)!r} has no readable tables (found: {seen})",
                          hint="one file per table, named <table><suffix>, or one sub-folder of part files "
                          f"(part-*) per table; supported: {supported_suffixes_text()}")
    if skipped:
        log.info("reading %s: skipped %s (not table files)", path, ", ".join(skipped))
    result = {stem: files[0] for stem, files in found.items()}
    check_requested(result, tables, f"folder {str(path)!r}")
    if tables is not None:
        result = {name: result[name] for name in tables if name in result}
    return result


# -- reading one file with pyarrow -----------------------------------------------------------------------
#: delimiters a CSV file may use besides the comma (semicolons are common where the comma is decimal)
OTHER_DELIMITERS = (";", "\t", "|")


def _choose_delimiter(lines: Sequence[str]) -> str:
    """The comma, unless the header has no comma and another delimiter splits every sampled line alike.

    A semicolon-separated file read with commas is one text column whose values look like ``85;156;x2``:
    it parses, and generating from it is silent corruption. A file whose header holds no delimiter at all
    is a genuine one-column table and stays one.
    """
    rows = [next(csv.reader([line]), []) for line in lines if line.strip()]
    if not rows or len(rows[0]) > 1:
        return ","
    for delimiter in OTHER_DELIMITERS:
        split = [next(csv.reader([line], delimiter=delimiter), []) for line in lines if line.strip()]
        width = len(split[0])
        if width > 1 and all(len(r) == width for r in split):
            return delimiter
    return ","


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, from its first lines (see :func:`_choose_delimiter`); logs a choice
    other than the comma, naming the file."""
    gz = path.name.lower().endswith(".gz")
    try:
        opener = gzip.open if gz else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
            lines = [line for _, line in zip(range(20), fh, strict=False)]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        return ","  # read_csv_header reports these with a message
    if len(lines) == 20:
        lines = lines[:-1]  # the last one may be cut inside a quoted value
    delimiter = _choose_delimiter(lines)
    if delimiter != ",":
        log.warning("CSV file %r is %s-separated, not comma-separated: read with delimiter %r (%d columns)",
                    str(path), {";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter], delimiter,
                    len(next(csv.reader(lines[:1], delimiter=delimiter), [])))
    return delimiter


def read_csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """Column names from the first CSV record (gzip-aware), with errors a user can act on."""
    gz = path.name.lower().endswith(".gz")
    try:
        opener = gzip.open if gz else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise SourceError(f"{str(path)!r} is not a valid gzip file ({exc})",
                          hint="is the download complete? a .gz suffix needs gzip content") from None
    except UnicodeDecodeError:
        raise SourceError(f"{str(path)!r} is not UTF-8 text", hint="save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise SourceError(f"cannot parse the header of {str(path)!r}: {exc}") from None
    if not header:
        raise SourceError(f"CSV file {str(path)!r} is empty (no header row)",
                          hint="a CSV table needs a header row with the column names")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise SourceError(f"CSV file {str(path)!r} has duplicate column name(s) {', '.join(map(repr, dupes))}",
                          hint="rename the columns so that every name is unique")
    return header


def read_csv_raw(path: Path) -> pa.Table:
    """Every CSV column as strings: unquoted empty cells null, quoted ``""`` empty strings."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    delimiter = csv_delimiter(path)
    header = read_csv_header(path, delimiter)
    try:
        return pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(newlines_in_values=True, delimiter=delimiter),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise csv_error(path, exc) from None


def first_line(exc: Exception) -> str:
    """The first line of an error's message (its type's name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def csv_error(path: Path, exc: Exception) -> SourceError:
    return SourceError(f"cannot parse CSV file {str(path)!r}: {first_line(exc)}",
                       hint="every row needs as many fields as the header (check delimiters and quotes); "
                       "the file must be UTF-8, separated by commas (or by ';', tab or '|' throughout)")


def read_jsonl_bytes(path: Path) -> bytes:
    """The bytes of a JSON lines file (gzip-aware); an empty file is an error."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.name.lower().endswith(".gz") else raw
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise SourceError(f"{str(path)!r} is not a valid gzip file ({exc})") from None
    if not data.strip():
        raise SourceError(f"JSON lines file {str(path)!r} is empty", hint="write one JSON object per line")
    return data


def jsonl_error(path: Path, exc: Exception) -> SourceError:
    return SourceError(f"cannot parse JSON lines file {str(path)!r}: {first_line(exc)}",
                       hint="one JSON object per line; a column must keep one type (number, text...)")


def read_jsonl_pyarrow(path: Path) -> pa.Table:
    """JSON lines with pyarrow; ISO strings stay strings here (the shared inference parses them)."""
    import pyarrow as pa
    import pyarrow.json as pj

    data = read_jsonl_bytes(path)
    read_options = pj.ReadOptions(block_size=len(data) + 1)  # one block: types inferred from every row
    try:
        table = pj.read_json(io.BytesIO(data), read_options=read_options)
        stamps = [f for f in table.schema if pa.types.is_timestamp(f.type)]
        if stamps:  # pyarrow guesses timestamps from strings; re-read them as text, infer like CSV
            schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                                for f in table.schema])
            table = pj.read_json(io.BytesIO(data), read_options=read_options,
                                 parse_options=pj.ParseOptions(explicit_schema=schema))
    except (pa.ArrowInvalid, OSError) as exc:
        raise jsonl_error(path, exc) from None
    return table


def read_parquet_pyarrow(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise parquet_error(path, exc) from None


def parquet_error(path: Path, exc: Exception) -> SourceError:
    return SourceError(f"cannot read Parquet file {str(path)!r}: {first_line(exc)}",
                       hint="the file is not valid Parquet (truncated or corrupt?); write it again")


def finish_table(raw: pa.Table, fmt: str, name: str, null_values: Sequence[str]) -> pa.Table:
    """The shared last step after parsing a file (any engine): nulls, type inference, canonical types."""
    table = normalize_table(raw, table=name)  # first: engines differ in string/dictionary types
    if fmt == "csv":
        return text_table(mask_null_markers(table, null_values), name)
    if fmt == "jsonl":
        return normalize_table(infer_temporal_types(table), table=name)
    return table


@attrs.define(kw_only=True, eq=False)
class FolderReader(Reader):
    """A folder with one table file (parquet, csv, csv.gz, jsonl) or one sub-folder of part files per
    table, one such file, or one folder of part files.

    ``null_values``: CSV cells read as null (default :data:`DEFAULT_NULL_VALUES`, which includes ``'?'``).
    """

    name: ClassVar[str] = "folder"

    null_values: tuple[str, ...] = attrs.field(default=DEFAULT_NULL_VALUES, converter=tuple)

    @classmethod
    def claims(cls, source: object) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if split_suffix(path)[1] in SQLITE_SUFFIXES:
            return False
        return not (path.is_file() and is_sqlite_file(path))

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        path = as_path(source)
        if path is None:
            raise SourceError(f"the {self.name} reader reads paths, not {type(source).__name__}",
                              hint="pass a folder or file path")
        files = list_table_files(path, tables)
        return Database(tables={name: self._read_table(file, fmt, name) for name, (file, fmt) in files.items()})

    def _read_table(self, path: Path, fmt: str, name: str) -> pa.Table:
        """One table from a file or from a folder of part files (parsed one by one, typed together)."""
        if not path.is_dir():
            log.debug("reading table %r from %s", name, path)
            return finish_table(self._parse(path, fmt), fmt, name, self.null_values)
        found = find_part_files(path)
        if found is None:  # the folder changed since it was listed
            raise SourceError(f"folder {str(path)!r} no longer holds part files", hint="read it again")
        parts, fmt = found
        log.debug("reading table %r from %d part file(s) in %s", name, len(parts), path)
        raw = combine_parts(path, parts, [self._parse(part, fmt) for part in parts], fmt)
        return finish_table(raw, fmt, name, self.null_values)

    def _parse(self, path: Path, fmt: str) -> pa.Table:
        raw = self._parse_file(path, fmt)
        return spark_timestamp_zones(raw, path) if fmt == "parquet" else raw

    def _parse_file(self, path: Path, fmt: str) -> pa.Table:
        """Parse one file before the shared type decisions (the polars plugin overrides this)."""
        if fmt == "csv":
            return read_csv_raw(path)
        if fmt == "jsonl":
            return read_jsonl_pyarrow(path)
        return read_parquet_pyarrow(path)


#: the Parquet footer key where Spark keeps its own schema (JSON)
SPARK_ROW_METADATA = b"org.apache.spark.sql.parquet.row.metadata"


def spark_timestamp_zones(raw: pa.Table, path: Path) -> pa.Table:
    """Spark's ``TIMESTAMP`` columns (UTC instants) as zoned UTC timestamps.

    Spark writes them to Parquet as INT96 by default, which every other reader takes for naive wall
    times; Spark's own schema in the file's footer says which columns are instants (``timestamp``)
    and which are naive (``timestamp_ntz``). Read from the footer so both reader engines agree.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        fields = json.loads(metadata[SPARK_ROW_METADATA])["fields"] if SPARK_ROW_METADATA in metadata else []
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowInvalid):
        return raw  # not Spark's, or unreadable: the parquet reader already said what it could
    instants = {f.get("name") for f in fields if isinstance(f, dict) and f.get("type") == "timestamp"}
    for index, field in enumerate(raw.schema):
        if field.name in instants and pa.types.is_timestamp(field.type) and field.type.tz is None:
            zoned = raw.column(index).cast(pa.timestamp(field.type.unit, "UTC"))  # same instants, zone named
            raw = raw.set_column(index, pa.field(field.name, zoned.type), zoned)
    return raw


def _columns(table: pa.Table) -> list[tuple[str, str]]:
    return [(field.name, str(field.type)) for field in table.schema]


def combine_parts(folder: Path, parts: Sequence[Path], raws: Sequence[pa.Table], fmt: str) -> pa.Table:
    """The parsed part files of one table as one Arrow table, refusing parts that disagree (see module doc)."""
    import pyarrow as pa

    if fmt == "jsonl":  # Spark leaves null fields out of JSON: merge the columns, widen int to float
        try:
            return pa.concat_tables(raws, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(f"the JSON part files in folder {str(folder)!r} disagree on column types: "
                              f"{first_line(exc)}", hint="a column must keep one type (number, text...) in "
                              "every part file; write the table again") from None
    expected = _columns(raws[0])
    for part, raw in zip(parts[1:], raws[1:], strict=True):
        got = _columns(raw)
        if got == expected:
            continue
        what = "header" if fmt == "csv" else "columns"
        differences = _column_differences(expected, got, with_types=fmt != "csv")
        hint = ("every part file needs the same header line (Spark: write with header=true)" if fmt == "csv"
                else "every part file of a table needs the same column names and types; write the table again")
        raise SourceError(f"the part files in folder {str(folder)!r} have different {what}s: {parts[0].name} "
                          f"and {part.name} differ ({differences})", hint=hint)
    schema = pa.schema([pa.field(field.name, field.type) for field in raws[0].schema])
    return pa.concat_tables([pa.Table.from_arrays(raw.columns, schema=schema) for raw in raws])


def _column_differences(expected: Sequence[tuple[str, str]], got: Sequence[tuple[str, str]], *,
                        with_types: bool) -> str:
    names, other = [n for n, _ in expected], [n for n, _ in got]
    out = []
    missing = [n for n in names if n not in other]
    extra = [n for n in other if n not in names]
    if missing:
        out.append(f"missing {', '.join(map(repr, missing))}")
    if extra:
        out.append(f"extra {', '.join(map(repr, extra))}")
    if with_types:
        types_a, types_b = dict(expected), dict(got)
        out.extend(f"column {n!r} is {types_a[n]} vs {types_b[n]}" for n in names
                   if n in types_b and types_a[n] != types_b[n])
    if not out:
        out.append("same columns in another order")
    return "; ".join(out)


# -- writing ---------------------------------------------------------------------------------------
def _csv_cells(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """CSV text of one column; null stays null (written as an empty cell)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = col.cast(pa.string())
        # quote when needed, and always quote "" so it reads back as an empty string, not null
        needs = pc.match_substring_regex(text, r'[",\r\n]|^$|^\s|\s$')
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        return pc.if_else(needs, quoted, text)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return format_floats(col) if pa.types.is_floating(t) else col.cast(pa.string())
    if pa.types.is_timestamp(t):
        return format_timestamps(col)
    return col.cast(pa.string())


def _csv_header_line(names: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(names)
    return buf.getvalue()


def write_csv_file(table: pa.Table, path: Path) -> None:
    """CSV that hiveframe reads back with the same types: numbers bare, ``39.0`` kept as a float."""
    import pyarrow as pa
    import pyarrow.compute as pc

    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(_csv_header_line(table.column_names))
        for batch in table.to_batches(max_chunksize=65536):
            if batch.num_rows == 0:
                continue
            cells = [_csv_cells(pa.chunked_array([c])) for c in batch.columns]
            if len(cells) == 1:
                lines = pc.fill_null(cells[0], "")
            else:
                lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
            fh.write("\n".join(lines.to_pylist()))
            fh.write("\n")


def _jsonable_columns(table: pa.Table) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for col in table.columns:
        col = text_friendly(col)
        if pa.types.is_floating(col.type):  # JSON has no NaN/inf: they become null
            col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, col.type))
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_jsonl_file(table: pa.Table, path: Path) -> None:
    prepared = _jsonable_columns(table)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for batch in prepared.to_batches(max_chunksize=65536):
            fh.writelines(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in batch.to_pylist())


def write_parquet_file(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def _check_format(instance: Any, attribute: Any, value: str) -> None:
    if value not in type(instance).formats:
        raise ValueError(f"format must be one of {', '.join(type(instance).formats)}, not {value!r}")


@attrs.define(kw_only=True, eq=False)
class FolderWriter(Writer):
    """Writes one file per table into a folder: ``format`` is parquet (default), csv or jsonl."""

    name: ClassVar[str] = "folder"
    formats: ClassVar[tuple[str, ...]] = FOLDER_FORMATS
    supports_overwrite: ClassVar[bool] = True
    #: the format a resolution with ``format=None`` gives this writer.
    default_for: ClassVar[tuple[str | None, ...]] = (None, "parquet")

    format: str = attrs.field(default="parquet", validator=_check_format)

    @classmethod
    def claims(cls, target: object, format: str | None) -> bool:
        path = as_path(target)
        if path is None or format not in cls.default_for:
            return False
        return split_suffix(path)[1] not in SQLITE_SUFFIXES

    def _write(self, tables: dict[str, pa.Table], target: object, *, metadata: Metadata | None,
               provenance: Mapping[str, Any] | None, overwrite: bool = False) -> Path:
        folder = as_path(target)
        if folder is None:
            raise SourceError(f"the folder writer writes to a folder path, not {type(target).__name__}")
        data = self._prepare(tables, folder)
        suffix = FORMAT_SUFFIX[self.format]
        files = {name: name + suffix for name in data}
        try:
            recover(folder)
            self._check_target(folder, overwrite=overwrite)
            given = dict(provenance or {})
            catalog = given.pop("catalog", None)  # hiveframe.pipeline.catalog: beside the tables and inside Parquet
            with staged_folder(folder) as staging:
                for index, (name, table) in enumerate(data.items()):
                    if catalog is not None and self.format == "parquet":
                        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                               CATALOG_PARQUET_KEY: json.dumps(catalog, default=str)})
                    self._write_table(table, staging / files[name])
                    log.debug("wrote table %r (%d rows)", name, table.num_rows)
                    crash_point(f"folder:table-{index}")
                if catalog is not None:
                    (staging / CATALOG_FILE).write_text(json.dumps(catalog, indent=2, default=str) + "\n",
                                                        encoding="utf-8")
                self._write_manifest(staging, files, given, catalog_file=CATALOG_FILE if catalog is not None else None)
        except OSError as exc:
            raise SourceError(f"cannot write to folder {str(folder)!r}: {exc.strerror or exc}",
                              hint="check that the folder and its parent are writable and the disk has room "
                              "(the output is written beside the folder, then swapped in)") from None
        return folder

    def _prepare(self, tables: Mapping[str, Any], folder: Path) -> dict[str, pa.Table]:
        if folder.exists() and not folder.is_dir():
            raise SourceError(f"{str(folder)!r} exists and is not a folder",
                              hint="the folder writer writes one file per table into a folder")
        if split_suffix(folder)[1] in TABLE_SUFFIXES:
            raise SourceError(f"{str(folder)!r} looks like a file name, but this writer writes a folder "
                              "with one file per table", hint=f"pass a folder path, e.g. {str(folder.parent / split_suffix(folder)[0])!r}")
        if not tables:
            raise SourceError("nothing to write: the database has no tables")
        data = {check_table_name(name): as_arrow_table(value, name) for name, value in tables.items()}
        lower: dict[str, str] = {}
        for name in data:
            other = lower.setdefault(name.lower(), name)
            if other != name:
                raise SourceError(f"tables {other!r} and {name!r} differ only by case",
                                  hint="their files would collide on case-insensitive file systems; rename one")
        problems = []
        if self.format in ("csv", "jsonl"):
            allow_nested = self.format == "jsonl"
            for name, table in data.items():
                for col, type_ in non_text_columns(table):
                    if allow_nested and "binary" not in type_:
                        continue
                    problems.append(f"table {name!r}, column {col!r} ({type_})")
        if problems:
            raise SourceError(f"{self.format} cannot hold these columns: {'; '.join(problems)}",
                              hint="write parquet (format='parquet'), or convert the columns to text first")
        return data

    @staticmethod
    def _check_target(folder: Path, *, overwrite: bool) -> None:
        """Refuse to replace a folder that holds anything hiveframe did not write (see module doc)."""
        check_replaceable(folder, kind="tables", overwrite=overwrite)

    def _write_manifest(self, folder: Path, files: Mapping[str, str],
                        provenance: Mapping[str, Any] | None, catalog_file: str | None = None) -> None:
        fields: dict[str, Any] = {"writer": self.name, "format": self.format, "provenance": dict(provenance or {})}
        if catalog_file is not None:
            fields["catalog_file"] = catalog_file
        write_provenance(folder, "tables", fields, files=files)

    def _write_table(self, table: pa.Table, path: Path) -> None:
        """Write one table file (the polars plugin overrides this to write through polars)."""
        if self.format == "csv":
            write_csv_file(table, path)
        elif self.format == "jsonl":
            write_jsonl_file(table, path)
        else:
            write_parquet_file(table, path)


@attrs.define(kw_only=True, eq=False)
class CsvFolderWriter(FolderWriter):
    """The folder writer with ``format='csv'``: chosen for ``format='csv'``."""

    name: ClassVar[str] = "csv"
    default_for: ClassVar[tuple[str | None, ...]] = ("csv",)

    format: str = attrs.field(default="csv", validator=_check_format)


@attrs.define(kw_only=True, eq=False)
class JsonlFolderWriter(FolderWriter):
    """The folder writer with ``format='jsonl'``: chosen for ``format='jsonl'`` (or ``'ndjson'``)."""

    name: ClassVar[str] = "jsonl"
    default_for: ClassVar[tuple[str | None, ...]] = ("jsonl", "ndjson")

    format: str = attrs.field(default="jsonl", validator=_check_format)
