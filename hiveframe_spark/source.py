"""What the Spark reader reads and the Spark writer writes to, as one small value object.

Plain forms are accepted wherever a source or target is: ``"catalog:db"`` (every table of a catalog
database), ``"catalog:db.table"`` (one table), ``"spark:/path"`` or a remote URI (``s3a://``,
``hdfs://``...) for files Spark reads (a folder of Parquet/CSV/JSON/ORC tables, a Spark output folder,
or one file), a Spark ``DataFrame`` or a mapping of table names to DataFrames.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import ConfigError, SourceError, did_you_mean

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

CATALOG_PREFIX = "catalog:"
SPARK_PREFIX = "spark:"
REMOTE_SCHEMES = ("s3a://", "s3://", "s3n://", "hdfs://", "abfs://", "abfss://", "wasb://", "wasbs://",
                  "gs://", "dbfs:/", "viewfs://")
FORMATS = {".parquet": "parquet", ".csv": "csv", ".csv.gz": "csv", ".json": "json", ".jsonl": "json",
           ".ndjson": "json", ".json.gz": "json", ".jsonl.gz": "json", ".orc": "orc", ".tsv": "csv"}
#: CSV is read as text, then typed by the same inference as every hiveframe reader (same Database).
CSV_DEFAULTS = {"header": "true", "inferSchema": "false", "mode": "FAILFAST", "escape": "\""}


def is_spark_dataframe(obj: object) -> bool:
    """Without importing pyspark: classic and Spark Connect DataFrames both qualify."""
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.sql")


@dataclass(frozen=True)
class SparkSource:
    """Tables Spark can reach: catalog tables, files, or DataFrames already built.

    Build one with :meth:`catalog`, :meth:`path` or :meth:`frames`.
    """

    kind: str  # "catalog", "path" or "frames"
    names: tuple[str, ...] = ()
    location: str | None = None
    format: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    dataframes: Mapping[str, Any] = field(default_factory=dict)

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def catalog(cls, *names: str) -> SparkSource:
        """``catalog("db")``: every table of ``db``; ``catalog("db.a", "db.b")``: those tables."""
        if not names:
            raise ConfigError("SparkSource.catalog() needs a database or table name",
                              hint="SparkSource.catalog('sales') or SparkSource.catalog('sales.orders')")
        return cls(kind="catalog", names=tuple(names))

    @classmethod
    def path(cls, location: str | os.PathLike[str], *, format: str | None = None, **options: Any) -> SparkSource:
        """Files Spark reads; ``format`` (parquet, csv, json, orc) defaults to the file extensions."""
        return cls(kind="path", location=str(location), format=format,
                   options={k: str(v) for k, v in options.items()})

    @classmethod
    def frames(cls, frames: Mapping[str, Any]) -> SparkSource:
        return cls(kind="frames", dataframes=dict(frames))

    # -- parsing ---------------------------------------------------------------------------------
    @classmethod
    def parse(cls, source: object, *, table_name: str = "table") -> SparkSource | None:
        """The SparkSource a plain value stands for, or ``None`` when it is not a Spark source."""
        if isinstance(source, SparkSource):
            return source
        if is_spark_dataframe(source):
            return cls.frames({table_name: source})
        if isinstance(source, Mapping) and source and all(is_spark_dataframe(v) for v in source.values()):
            return cls.frames({str(k): v for k, v in source.items()})
        if isinstance(source, str):
            if source.startswith(CATALOG_PREFIX):
                names = [n.strip() for n in source[len(CATALOG_PREFIX):].split(",") if n.strip()]
                return cls.catalog(*names)
            if source.startswith(SPARK_PREFIX):
                return cls.path(source[len(SPARK_PREFIX):])
            if source.startswith(REMOTE_SCHEMES):
                return cls.path(source)
        return None

    @classmethod
    def claims(cls, source: object) -> bool:
        try:
            return cls.parse(source) is not None
        except ConfigError:
            return True  # ours, but malformed: let the reader say what is wrong

    # -- resolution to DataFrames ----------------------------------------------------------------
    def dataframes_in(self, spark: SparkSession, *, tables: Sequence[str] | None = None
                      ) -> tuple[dict[str, DataFrame], dict[str, str], dict[str, str]]:
        """Lazy DataFrames by table name, where each comes from (for messages), and the file format
        of those read from files (``csv``, ``json``, ``parquet``, ``orc``)."""
        formats: dict[str, str] = {}
        if self.kind == "frames":
            frames = dict(self.dataframes)
            origins = {n: "DataFrame" for n in frames}
        elif self.kind == "catalog":
            frames, origins = _catalog_frames(spark, self.names, tables)
        elif self.kind == "path":
            assert self.location is not None
            frames, origins, formats = _path_frames(spark, self.location, self.format, dict(self.options),
                                                    tables)
        else:
            raise ConfigError(f"unknown SparkSource kind {self.kind!r}")
        if tables is not None:
            frames = {n: frames[n] for n in tables if n in frames}
        return frames, origins, formats

    def __str__(self) -> str:
        if self.kind == "catalog":
            return CATALOG_PREFIX + ",".join(self.names)
        if self.kind == "path":
            return f"{SPARK_PREFIX}{self.location}"
        return f"DataFrames({', '.join(self.dataframes)})"


# -- catalog ---------------------------------------------------------------------------------------
_IDENT = re.compile(r"^[A-Za-z0-9_`.\-]+$")


def _catalog_frames(spark: SparkSession, names: Sequence[str], tables: Sequence[str] | None
                    ) -> tuple[dict[str, DataFrame], dict[str, str]]:
    frames: dict[str, DataFrame] = {}
    origins: dict[str, str] = {}
    for name in names:
        if not _IDENT.match(name):
            raise SourceError(f"{name!r} is not a catalog table or database name",
                              hint="write catalog:database or catalog:database.table")
        parts = name.split(".")
        if len(parts) == 1 and spark.catalog.databaseExists(name):
            listed = [t.name for t in spark.catalog.listTables(name) if not t.isTemporary]
            wanted = listed if tables is None else [t for t in tables if t in listed]
            for t in wanted:
                frames[t] = _table(spark, f"{name}.{t}")
                origins[t] = f"catalog table {name}.{t}"
            if not listed:
                log.warning("catalog database %s has no tables", name)
            continue
        if not spark.catalog.tableExists(name):
            raise SourceError(f"table {name!r} is not in the Spark catalog", hint=_catalog_hint(spark, name))
        short = parts[-1].strip("`")
        frames[short] = _table(spark, name)
        origins[short] = f"catalog table {name}"
    return frames, origins


def _table(spark: SparkSession, name: str) -> DataFrame:
    try:
        return spark.table(name)
    except Exception as exc:  # noqa: BLE001 - AnalysisException and friends
        raise SourceError(f"Spark cannot read catalog table {name!r}: {_first_line(exc)}") from None


def _catalog_hint(spark: SparkSession, name: str) -> str:
    parts = name.split(".")
    database = parts[-2] if len(parts) > 1 else spark.catalog.currentDatabase()
    if not spark.catalog.databaseExists(database):
        dbs = [d.name for d in spark.catalog.listDatabases()]
        return f"no database {database!r}; " + (did_you_mean(database, dbs) or "no databases")
    listed = [t.name for t in spark.catalog.listTables(database)]
    close = did_you_mean(parts[-1], listed)
    return f"in database {database!r}: " + (close or "it has no tables")


# -- files -----------------------------------------------------------------------------------------
def format_of(name: str) -> str | None:
    lower = name.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(ext):
            return FORMATS[ext]
    return None


def _stem(name: str) -> str:
    lower = name.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(ext):
            return name[: -len(ext)]
    return name


def _path_frames(spark: SparkSession, location: str, fmt: str | None, options: dict[str, str],
                 tables: Sequence[str] | None) -> tuple[dict[str, DataFrame], dict[str, str], dict[str, str]]:
    entries = _list(spark, location)
    if entries is None:
        raise SourceError(f"Spark cannot read {location!r}: the path does not exist",
                          hint="check the path; remote paths need the Hadoop connector (s3a, abfss...) "
                          "configured on the session")
    frames: dict[str, DataFrame] = {}
    origins: dict[str, str] = {}
    formats: dict[str, str] = {}
    if entries == "file":
        name = _stem(_basename(location))
        formats[name] = fmt or format_of(location)  # type: ignore[assignment]
        frames[name] = _read(spark, location, formats[name], options)
        origins[name] = location
        return frames, origins, formats
    files = [e for e in entries if not e[0].startswith(("_", "."))]
    if _is_single_dataset(files):
        name = _basename(location.rstrip("/"))
        formats[name] = fmt or _dir_format(spark, location, files)  # type: ignore[assignment]
        frames[name] = _read(spark, location, formats[name], options)
        origins[name] = location
        return frames, origins, formats
    for entry, is_dir in sorted(files):
        full = location.rstrip("/") + "/" + entry
        name = entry if is_dir else _stem(entry)
        if tables is not None and name not in tables:
            continue
        kind = fmt or (_dir_format(spark, full, None) if is_dir else format_of(entry))
        if kind is None:
            log.debug("skipping %s: not a table format Spark reads", full)
            continue
        if name in frames:
            raise SourceError(f"{location!r} holds two tables named {name!r}",
                              hint="keep one file (or folder) per table")
        frames[name] = _read(spark, full, kind, options)
        origins[name] = full
        formats[name] = kind
    if not frames:
        raise SourceError(f"{location!r} holds no tables Spark reads",
                          hint="expected .parquet, .csv(.gz), .json(l) or .orc files, or folders of them")
    return frames, origins, formats


def _is_single_dataset(files: list[tuple[str, bool]]) -> bool:
    """A Spark output folder (part-* files, or key=value partition folders) is one table."""
    return bool(files) and all(n.startswith("part-") or (d and "=" in n) for n, d in files)


def _dir_format(spark: SparkSession, location: str, files: list[tuple[str, bool]] | None) -> str | None:
    if files is None:
        listed = _list(spark, location)
        files = [e for e in listed if not e[0].startswith(("_", "."))] if isinstance(listed, list) else []
    for name, is_dir in files:
        if is_dir:
            inner = _dir_format(spark, location.rstrip("/") + "/" + name, None)
            if inner:
                return inner
        kind = format_of(name.replace(".snappy", "").replace(".zstd", "").replace(".gz.parquet", ".parquet"))
        if kind:
            return kind
    return None


def _read(spark: SparkSession, location: str, fmt: str | None, options: dict[str, str]) -> DataFrame:
    if fmt is None:
        raise SourceError(f"cannot tell the format of {location!r}",
                          hint="pass SparkSource.path(..., format='parquet'|'csv'|'json'|'orc')")
    opts = {**(CSV_DEFAULTS if fmt == "csv" else {}), **options}
    if fmt == "csv" and location.lower().endswith(".tsv"):
        opts.setdefault("sep", "\t")
    try:
        return spark.read.format(fmt).options(**opts).load(location)
    except Exception as exc:  # noqa: BLE001 - AnalysisException, Py4JJavaError...
        raise SourceError(f"Spark cannot read {location!r} as {fmt}: {_first_line(exc)}",
                          hint="check the path and the format; for CSV, options such as sep or "
                          "header go in SparkSource.path(..., sep=';')") from None


def _basename(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def _list(spark: SparkSession, location: str) -> list[tuple[str, bool]] | str | None:
    """Entries of a folder as (name, is_dir), ``"file"`` for a file, ``None`` when it does not exist."""
    if "://" not in location and not location.startswith(("dbfs:", "file:")):
        path = Path(location)
        if path.is_file():
            return "file"
        if path.is_dir():
            return [(p.name, p.is_dir()) for p in path.iterdir()]
        return None
    try:  # any Hadoop file system the session is configured for
        jvm = spark._jvm  # noqa: SLF001
        conf = spark._jsc.hadoopConfiguration()  # noqa: SLF001
        hpath = jvm.org.apache.hadoop.fs.Path(location)
        fs = hpath.getFileSystem(conf)
        if not fs.exists(hpath):
            return None
        if fs.getFileStatus(hpath).isFile():
            return "file"
        return [(s.getPath().getName(), s.isDirectory()) for s in fs.listStatus(hpath)]
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"Spark cannot list {location!r}: {_first_line(exc)}",
                          hint="is the file system's connector configured on the Spark session?") from None


def _first_line(exc: BaseException) -> str:
    from hiveframe_spark.session import error_summary

    return error_summary(exc)
