"""The Spark reader and writer: catalog tables, files and DataFrames in; Parquet folders or tables out.

Reading keeps the driver's memory bounded: a table with more than ``max_rows`` rows is sampled *in
Spark* (uniformly, or stratified by a column) before Arrow brings it to the driver; with ``metadata``
related tables are subset together so that every foreign key still resolves (see
:mod:`hiveframe_spark.subset`). Writing stamps provenance on every output (see
:mod:`hiveframe_spark.provenance`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.components import Database, Reader, Writer
from hiveframe.errors import ConfigError, DataError, Problem, SourceError
from hiveframe_spark import provenance as prov
from hiveframe_spark.source import CATALOG_PREFIX, REMOTE_SCHEMES, SPARK_PREFIX, SparkSource
from hiveframe_spark.subset import SamplingPlan, SubsetReport

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from hiveframe.metadata import Metadata

log = logging.getLogger(__name__)

WRITE_MODES = ("errorifexists", "overwrite")
WRITE_FORMATS = ("parquet", "orc", "csv", "json")


def _optional_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.define(kw_only=True, eq=False)
class _SparkComponent:
    """Fields shared by the reader and the writer: which session to use, or how to start one."""

    spark: Any = None
    local: bool = True
    master: str = "local[2]"
    spark_conf: dict[str, str] = attrs.field(factory=dict)

    def session(self) -> SparkSession:
        from hiveframe_spark.session import get_or_create

        return get_or_create(self.spark, local=self.local, master=self.master, config=self.spark_conf)


@attrs.define(kw_only=True, eq=False)
class SparkReader(Reader, _SparkComponent):
    """Reads Spark DataFrames, catalog tables and files through Spark into Arrow.

    ``max_rows``: per-table in-memory budget; a larger table is sampled in Spark to ``sample_size``
    rows (default ``max_rows``) with ``sampling_strategy`` ``"uniform"`` or ``"stratified"``
    (``stratify_by`` a column, or ``{table: column}``). ``metadata`` turns on relational subsetting.
    ``nested`` = ``"error"`` or ``"json"`` for struct/array/map columns. ``table_name`` names a single
    DataFrame read on its own. Files are typed exactly as the builtin folder reader types them (CSV is
    read as text, then the shared inference and ``null_values`` markers apply), so swapping readers
    never changes the Database.
    """

    name: ClassVar[str] = "spark"
    requires: ClassVar[tuple[str, ...]] = ("pyspark",)
    extra: ClassVar[str | None] = "spark"

    format: str | None = None
    options: dict[str, str] = attrs.field(factory=dict)
    max_rows: int | None = None
    sample_size: int | None = None
    sampling_strategy: str = "uniform"
    stratify_by: str | dict[str, str] | None = None
    metadata: Any = None
    seed: int = 0
    nested: str = "error"
    table_name: str = "table"
    null_values: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    _report: SubsetReport | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        from hiveframe_spark.types import NESTED_MODES

        self._plan()  # validates the sampling settings now, not at read time
        if self.nested not in NESTED_MODES:
            raise ConfigError(f"nested={self.nested!r} is not one of {NESTED_MODES}")
        if isinstance(self.metadata, (str, Path)) or isinstance(self.metadata, Mapping):
            from hiveframe.metadata import Metadata

            self.metadata = (Metadata.from_dict(self.metadata) if isinstance(self.metadata, Mapping)
                             else Metadata.from_json(self.metadata))

    def _plan(self) -> SamplingPlan:
        return SamplingPlan(max_rows=self.max_rows, sample_size=self.sample_size,
                            strategy=self.sampling_strategy, stratify_by=self.stratify_by, seed=self.seed)

    @classmethod
    def claims(cls, source: object) -> bool:
        return SparkSource.claims(source)

    @property
    def sampling_report(self) -> dict[str, dict[str, Any]]:
        """Per table of the last read: rows in the source, rows kept, and how they were chosen."""
        return dict(self._report.tables) if self._report else {}

    def _read(self, source: object, *, tables: Sequence[str] | None) -> Database:
        from hiveframe_spark.subset import subset
        from hiveframe_spark.types import prepare_for_arrow, to_arrow

        src = SparkSource.parse(source, table_name=self.table_name)
        if src is None:
            src = _as_path_source(source, self.format, self.options)
        elif src.kind == "path" and (self.format or self.options):
            src = SparkSource.path(src.location or "", format=src.format or self.format,
                                   **{**self.options, **src.options})
        spark = self.session()
        frames, origins, formats = src.dataframes_in(spark, tables=tables)
        plan = self._plan()
        metadata: Metadata | None = self.metadata
        frames, self._report = subset(frames, plan, metadata=metadata)
        problems: list[Problem] = []
        out: dict[str, pa.Table] = {}
        prepared = {}
        for name, df in frames.items():
            try:
                prepared[name] = prepare_for_arrow(df, table=name, nested=self.nested)
            except DataError as exc:
                problems.extend(exc.problems)
        DataError.raise_if_any(problems, title="Spark types hiveframe cannot read")
        for name, df in prepared.items():
            try:
                out[name] = to_arrow(df, name=name, fmt=formats.get(name), null_values=self.null_values)
            except Exception as exc:  # noqa: BLE001 - Spark raises many types when reading fails
                from hiveframe_spark.source import _first_line

                raise SourceError(f"Spark failed reading table {name!r} from {origins.get(name, src)}: "
                                  f"{_first_line(exc)}",
                                  hint="a corrupt file, a CSV with rows that do not parse (mode=FAILFAST), "
                                  "or a schema that changed under the table") from None
            log.info("read table %s (%d rows) from %s", name, out[name].num_rows, origins.get(name, src))
        return Database(out)


def _as_path_source(source: object, fmt: str | None, options: Mapping[str, str]) -> SparkSource:
    if isinstance(source, (str, Path)):
        return SparkSource.path(str(source), format=fmt, **dict(options))
    raise SourceError(f"the Spark reader cannot read an object of type {type(source).__name__}",
                      hint="pass a Spark DataFrame, a mapping of them, 'catalog:db[.table]', a path, "
                      "or a hiveframe_spark.SparkSource")


@attrs.define(kw_only=True, eq=False)
class SparkWriter(Writer, _SparkComponent):
    """Writes tables through Spark: a folder per table (Parquet by default) or catalog tables.

    Targets: a path or URI (``<target>/<table>/``), ``"catalog:db"`` (tables ``db.<prefix><table>``).
    Provenance (synthetic, generator, versions, seed, model id) goes into every output, and the catalog
    entry given as ``provenance["catalog"]`` into ``_catalog.json`` (root and table folders), the part
    files' footers and the table properties (docs/catalog.md).
    """

    name: ClassVar[str] = "spark"
    requires: ClassVar[tuple[str, ...]] = ("pyspark",)
    extra: ClassVar[str | None] = "spark"
    formats: ClassVar[tuple[str, ...]] = WRITE_FORMATS
    supports_overwrite: ClassVar[bool] = True

    format: str = "parquet"
    mode: str = "errorifexists"
    table_prefix: str = ""
    partitions: int | None = None

    def __attrs_post_init__(self) -> None:
        self.format = {"jsonl": "json"}.get(self.format, self.format)  # Spark's json is JSON lines
        if self.format not in WRITE_FORMATS:
            raise ConfigError(f"format={self.format!r} is not one of {WRITE_FORMATS}")
        if self.mode not in WRITE_MODES:
            raise ConfigError(f"mode={self.mode!r} is not one of {WRITE_MODES}",
                              hint="hiveframe never appends synthetic rows to an existing table")

    @classmethod
    def claims(cls, target: object, format: str | None) -> bool:
        if isinstance(target, SparkSource):
            return True
        if isinstance(target, str) and target.startswith((CATALOG_PREFIX, SPARK_PREFIX, *REMOTE_SCHEMES)):
            return format is None or format in WRITE_FORMATS or format == "jsonl"
        return False

    def _write(self, tables: dict[str, pa.Table], target: object, *, metadata: Metadata | None,
               provenance: Mapping[str, Any] | None, overwrite: bool = False) -> dict[str, str]:
        from hiveframe_spark.types import to_spark

        spark = self.session()
        given = dict(provenance or {})
        catalog = given.pop("catalog", None)  # hiveframe.pipeline.catalog: in the files, beside them, in the footers
        dest = parse_target(target)
        rec = prov.record(given, **prov.catalog_fields(dest[0], catalog))
        locations = {name: self._location(dest, name) for name in tables}
        mode = "overwrite" if overwrite else self.mode
        self._check_free(spark, dest, locations, mode)
        problems: list[Problem] = []
        frames = {}
        for name, arrow in tables.items():
            types = _metadata_types(metadata, name)
            try:
                frames[name] = to_spark(spark, arrow, name=name, metadata_types=types)
            except DataError as exc:
                problems.extend(exc.problems)
        DataError.raise_if_any(problems, title="tables Spark cannot store unchanged")
        for name, df in frames.items():
            table_rec = {**rec, "table": name, "rows": tables[name].num_rows}
            write_frame(spark, df, dest, locations[name], table_rec, fmt=self.format, mode=mode,
                        partitions=self.partitions, catalog=catalog)
            log.info("wrote synthetic table %s (%d rows) to %s", name, tables[name].num_rows, locations[name])
        if dest[0] == "path":
            if catalog is not None:
                prov.write_catalog(spark, dest, locations, catalog, tables=False)  # the tables' came with them
            prov.write_file(spark, dest[1], {**rec, "tables": {n: locations[n] for n in tables}})
        return locations

    def _location(self, dest: tuple[str, str], table: str) -> str:
        kind, where = dest
        if kind == "catalog":
            return f"{where}.{self.table_prefix}{table}"
        return f"{where.rstrip('/')}/{self.table_prefix}{table}"

    def _check_free(self, spark: SparkSession, dest: tuple[str, str], locations: Mapping[str, str],
                    mode: str) -> None:
        if mode == "overwrite":
            refuse_foreign(spark, dest, locations)
            return
        taken = []
        for table, loc in locations.items():
            if dest[0] == "catalog":
                if spark.catalog.tableExists(loc):
                    taken.append(Problem(f"catalog table {loc!r} already exists", table=table))
            elif _exists(spark, loc):
                taken.append(Problem(f"{loc!r} already exists", table=table))
        if taken:
            raise SourceError("\n".join(["cannot write: targets already exist"] + [f"  - {p.render()}" for p in taken]),
                              hint="choose a new target, or pass mode='overwrite'")


def refuse_foreign(spark: SparkSession, dest: tuple[str, str], locations: Mapping[str, str]) -> None:
    """Overwrite replaces only hiveframe output: an existing table or folder must carry its provenance."""
    foreign = []
    for table, loc in locations.items():
        if dest[0] == "catalog":
            if spark.catalog.tableExists(loc):
                props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {loc}").collect()}
                if prov.KEY_PROVENANCE not in props:
                    foreign.append(Problem(f"catalog table {loc!r} was not written by hiveframe", table=table))
            continue
        entries = _list(spark, loc)
        if entries is None:
            continue
        if entries == "file" or prov.FILE_NAME not in {name for name, is_dir in entries if not is_dir}:
            foreign.append(Problem(f"{loc!r} exists and was not written by hiveframe (no {prov.FILE_NAME})",
                                   table=table))
    if foreign:
        raise SourceError("\n".join(["overwrite replaces only hiveframe output; not replacing:"]
                                    + [f"  - {p.render()}" for p in foreign]),
                          hint="write to a new target, or move those tables or folders away")


def parse_target(target: object) -> tuple[str, str]:
    """``("catalog", database)`` or ``("path", location)``."""
    if isinstance(target, SparkSource):
        if target.kind == "catalog" and len(target.names) == 1:
            return "catalog", target.names[0]
        if target.kind == "path" and target.location:
            return "path", target.location
        raise ConfigError(f"cannot write to {target}", hint="write to SparkSource.catalog('db') or a path")
    if isinstance(target, Path):
        return "path", str(target)
    if isinstance(target, str):
        if target.startswith(CATALOG_PREFIX):
            db = target[len(CATALOG_PREFIX):].strip()
            if not db or "," in db or "." in db.strip("`"):
                raise ConfigError(f"write target {target!r} must name one catalog database",
                                  hint="catalog:synthetic writes tables synthetic.<table>")
            return "catalog", db
        if target.startswith(SPARK_PREFIX):
            return "path", target[len(SPARK_PREFIX):]
        return "path", target
    raise ConfigError(f"the Spark writer cannot write to an object of type {type(target).__name__}",
                      hint="pass a folder path or URI, or 'catalog:<database>'")


#: timestamps with all six fraction digits (Spark's text default stops at milliseconds); instants with
#: their offset, so every reader gets the same instant whatever the session's time zone
_TIMESTAMP_TEXT = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
                   "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"}
#: Spark writer options that make part files self-describing, so ``hiveframe.read`` reads them back
#: unchanged: CSV with a header line in every part and RFC 4180 quoting (``""`` inside quotes, not
#: Spark's backslash), JSON lines keeping null fields (Spark leaves them out by default, which loses the
#: columns that are null in a whole part), and microsecond timestamps in both.
WRITE_OPTIONS: dict[str, dict[str, str]] = {
    "csv": {"header": "true", "escape": '"', **_TIMESTAMP_TEXT},
    "json": {"ignoreNullFields": "false", **_TIMESTAMP_TEXT},
}


def write_frame(spark: SparkSession, df: Any, dest: tuple[str, str], location: str, rec: Mapping[str, Any], *,
                fmt: str = "parquet", mode: str = "errorifexists", partitions: int | None = None,
                catalog: Mapping[str, Any] | None = None) -> None:
    """Write one DataFrame with provenance (and the output's ``catalog`` entry, when known before writing)
    stamped on its columns and beside (or on) it."""
    stamped = prov.stamp(df, rec, catalog)
    if partitions:
        stamped = stamped.repartition(partitions)
    writer = stamped.write.format(fmt).mode(mode).options(**WRITE_OPTIONS.get(fmt, {}))
    try:
        if dest[0] == "catalog":
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {dest[1]}")
            writer.saveAsTable(location)
            prov.set_table_properties(spark, location, rec, catalog)
        else:
            writer.save(location)
            prov.write_file(spark, location, rec)
            if catalog is not None:
                prov.write_file(spark, location, prov.catalog_json(catalog), name=prov.CATALOG_FILE)
    except Exception as exc:  # noqa: BLE001
        from hiveframe_spark.source import _first_line

        raise SourceError(f"Spark could not write {location!r}: {_first_line(exc)}",
                          hint="check the target's permissions and free space") from None


def _metadata_types(metadata: Metadata | None, table: str) -> dict[str, Any] | None:
    if metadata is None or not metadata.has_table(table):
        return None
    out = {}
    for column in metadata.table(table).columns:
        try:
            out[column.name] = column.arrow_type()
        except (ValueError, AttributeError):
            continue
    return out


def _exists(spark: SparkSession, location: str) -> bool:
    return _list(spark, location) is not None


def _list(spark: SparkSession, location: str) -> list[tuple[str, bool]] | str | None:
    from hiveframe_spark.source import _list as list_location

    return list_location(spark, location)


READERS = [SparkReader]
WRITERS = [SparkWriter]
