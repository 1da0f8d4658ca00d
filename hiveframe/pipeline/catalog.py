"""The catalog entry every synthetic output carries: what it is, where it came from, how good it is.

An entry (format ``hiveframe.catalog``, version 1; ``docs/catalog.md``) names the dataset (a fresh id),
the generator (hiveframe's and every plugin's version, each table's generator), the model (its seed,
the digest of its training data's profile; none under DP), the sampling (seed, scale, rows asked),
rows per table, the creation time, tags (``synthetic`` always; ``privacy-safe`` under DP,
``pii-replaced``, ``class-balanced`` and ``conditioned`` when the caller says so) and the quality
scores when a report ran.

It travels with the output, written by the writer inside its staging (so it appears with the output
or not at all): the folder writer writes ``_catalog.json`` (listed in ``_provenance.json``) and puts the
entry in every Parquet file's key-value metadata (``hiveframe.catalog``); the SQLite writer keeps it in
its ``_hiveframe_provenance`` table (key ``catalog``); a one-table output named as a file gets
``<file>.catalog.json`` beside it. Callers hand it to ``host.write`` as ``provenance["catalog"]``.
:func:`read_catalog` reads it back from any of these.

This module is the seam for plugins that write outputs themselves (the Spark writer and engine):
:func:`catalog_entry` takes rows per table instead of a Database when the tables never reach this
process, :func:`with_rows` completes an entry built before the rows were known (``SampleRequest.catalog``),
:func:`to_json` is the text of ``_catalog.json``, and :data:`PARQUET_KEY` the Parquet key-value key.
A Parquet file Spark wrote keeps the entry in its first column's Spark field metadata (Spark's schema
JSON in the footer, key :data:`SPARK_ROW_METADATA`), which :func:`read_catalog` reads too.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._atomic import CATALOG_FILE, CATALOG_PARQUET_KEY
from hiveframe.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.pipeline import Synthesizer

FORMAT = "hiveframe.catalog"
VERSION = 1
SIDECAR_SUFFIX = ".catalog.json"
PARQUET_KEY = CATALOG_PARQUET_KEY
__all__ = ["CATALOG_FILE", "PARQUET_KEY", "SPARK_ROW_METADATA", "catalog_entry", "quality_scores", "read_catalog",
           "to_json", "with_rows"]
#: the footer key under which Spark keeps its schema JSON, column metadata included
SPARK_ROW_METADATA = b"org.apache.spark.sql.parquet.row.metadata"
SQLITE_KEY = "catalog"
#: the tags this module sets itself; callers may add others (``class-balanced``, ``conditioned``...).
KNOWN_TAGS = ("synthetic", "privacy-safe", "pii-replaced", "class-balanced", "conditioned", "qa-filtered")


def catalog_entry(synthesizer: Synthesizer, database: Database | Mapping[str, int] | None, *,
                  seed: int | None = None, scale: float | None = None, rows: Mapping[str, int] | None = None,
                  model: str | Path | None = None, tags: Iterable[str] = (),
                  report: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The entry for ``database``, sampled from ``synthesizer`` (``report``: a report hook's summary).

    ``database`` may be rows per table written (an engine that never holds the tables), or None for
    an entry made before writing, whose rows the writer sets with :func:`with_rows`.
    """
    from hiveframe._version import __version__

    privacy = synthesizer.privacy_report()
    all_tags = {"synthetic", *tags}
    dp = privacy.get("dp") or None
    if dp:
        all_tags.add("privacy-safe")
    if privacy.get("pii"):
        all_tags.add("pii-replaced")
    return {
        "format": FORMAT, "version": VERSION,
        "dataset_id": f"hf-{uuid.uuid4().hex}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "generator": {"name": "hiveframe", "hiveframe_version": __version__,
                      "plugins": {k: v for k, v in sorted(synthesizer.host.versions().items()) if v},
                      "tables": {name: getattr(gen, "name", type(gen).__name__)
                                 for name, gen in synthesizer.table_generators.items()}},
        "model": {"path": str(model) if model is not None else None, "seed": synthesizer.seed},
        "source_profile_digest": synthesizer.source_profile_digest,
        "sampling": {"seed": synthesizer.seed if seed is None else seed, "scale": scale,
                     "rows": dict(rows) if rows else None},
        "rows": _rows(database),
        "tags": sorted(all_tags),
        "privacy": _privacy(dp) if dp else None,
        "quality": quality_scores(report) if report else None,
    }


def _rows(database: Database | Mapping[str, int] | None) -> dict[str, int] | None:
    if database is None:
        return None
    if isinstance(database, Mapping):
        return {str(name): int(n) for name, n in database.items()}
    return {name: database[name].num_rows for name in database.names}


def with_rows(entry: Mapping[str, Any], rows: Mapping[str, int]) -> dict[str, Any]:
    """``entry`` with the rows per table written (for an entry made before the output was written)."""
    if entry.get("format") != FORMAT:
        raise ConfigError("with_rows: not a hiveframe catalog entry", hint="pass what catalog_entry made")
    return {**entry, "rows": _rows(rows)}


def _privacy(dp: Mapping[str, Any]) -> dict[str, Any]:
    """The guarantee in a few figures (what the model's manifest already publishes)."""
    keys = ("epsilon", "epsilon_spent", "epsilon_per_row", "delta", "privacy_unit", "guarantee")
    return json.loads(json.dumps({k: dp[k] for k in keys if k in dp}, default=str))


def quality_scores(report: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict, its counts, each validator's headline and the detection scores of a report summary."""
    overall = report.get("overall") or {}
    return json.loads(json.dumps({"verdict": overall.get("status"), "counts": overall.get("counts"),
                                  "headlines": report.get("headlines"), "detection": report.get("detection")},
                                 default=str))


def to_json(entry: Mapping[str, Any]) -> str:
    """The text of a ``_catalog.json``."""
    return json.dumps(entry, indent=2, ensure_ascii=False, default=str) + "\n"


def read_catalog(path: str | Path) -> dict[str, Any]:
    """The catalog entry of an output: a folder (``_catalog.json``), a Parquet file (its metadata), a
    SQLite file hiveframe wrote, a one-table file (``<file>.catalog.json``) or a catalog file itself.

    A Parquet part file Spark wrote gives the entry in its Spark column metadata, else the
    ``_catalog.json`` of its folder (the table folder a Spark writer filled).
    """
    target = Path(path)
    if not target.exists():
        raise SourceError(f"{str(path)!r} does not exist", hint="give a folder or file hiveframe sample wrote")
    if target.is_dir():
        return _checked(_read_json(target / CATALOG_FILE, path), path)
    if target.name.endswith(SIDECAR_SUFFIX) or target.name == CATALOG_FILE:
        return _checked(_read_json(target, path), path)
    sidecar = target.with_name(target.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        return _checked(_read_json(sidecar, path), path)
    if target.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(target).metadata or {}  # the footer's key-value pairs, as written
        except Exception as exc:  # noqa: BLE001 - any unreadable file is one message
            raise SourceError(f"cannot read Parquet file {str(path)!r}: {exc}") from None
        if PARQUET_KEY in meta:
            return _checked(json.loads(meta[PARQUET_KEY]), path)
        spark_entry = _from_spark_schema(meta.get(SPARK_ROW_METADATA))
        if spark_entry is not None:
            return _checked(spark_entry, path)
        if (target.parent / CATALOG_FILE).is_file():  # a part file of a table folder Spark wrote
            return _checked(_read_json(target.parent / CATALOG_FILE, path), path)
    elif _is_sqlite(target):
        from hiveframe._builtin.io_sqlite import PROVENANCE_TABLE

        con = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            row = con.execute(f'SELECT value FROM "{PROVENANCE_TABLE}" WHERE key = ?', (SQLITE_KEY,)).fetchone()
        except sqlite3.Error:
            row = None
        finally:
            con.close()
        if row is not None:
            return _checked(json.loads(row[0]), path)
    raise SourceError(f"{str(path)!r} carries no hiveframe catalog entry",
                      hint="catalog entries come with the outputs of hiveframe sample and hiveframe demo")


def _from_spark_schema(raw: bytes | None) -> Any:
    """The entry a Spark writer put in a column's field metadata (Spark's schema JSON), or None."""
    if not raw:
        return None
    try:
        fields = json.loads(raw).get("fields") or []
    except (ValueError, AttributeError):
        return None
    for field in fields:
        text = (field.get("metadata") or {}).get(PARQUET_KEY.decode()) if isinstance(field, dict) else None
        if isinstance(text, str):
            try:
                return json.loads(text)
            except ValueError:
                return None
    return None


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _read_json(file: Path, path: str | Path) -> Any:
    if not file.is_file():
        raise SourceError(f"{str(path)!r} carries no hiveframe catalog entry (no {file.name})",
                          hint="catalog entries come with the outputs of hiveframe sample and hiveframe demo")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read the catalog entry {str(file)!r}: {exc}") from None


def _checked(entry: Any, path: str | Path) -> dict[str, Any]:
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        raise SourceError(f"{str(path)!r}: not a hiveframe catalog entry")
    if not isinstance(entry.get("version"), int) or entry["version"] > VERSION:
        raise SourceError(f"{str(path)!r}: catalog entry version {entry.get('version')!r} is newer than this "
                          f"hiveframe reads ({VERSION})", hint="upgrade hiveframe")
    return entry
