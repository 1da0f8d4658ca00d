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
from hiveframe.errors import SourceError

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.pipeline import Synthesizer

FORMAT = "hiveframe.catalog"
VERSION = 1
SIDECAR_SUFFIX = ".catalog.json"
PARQUET_KEY = CATALOG_PARQUET_KEY
__all__ = ["CATALOG_FILE", "catalog_entry", "quality_scores", "read_catalog"]
SQLITE_KEY = "catalog"
#: the tags this module sets itself; callers may add others (``class-balanced``, ``conditioned``...).
KNOWN_TAGS = ("synthetic", "privacy-safe", "pii-replaced", "class-balanced", "conditioned", "qa-filtered")


def catalog_entry(synthesizer: Synthesizer, database: Database, *, seed: int | None = None,
                  scale: float | None = None, rows: Mapping[str, int] | None = None,
                  model: str | Path | None = None, tags: Iterable[str] = (),
                  report: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The entry for ``database``, sampled from ``synthesizer`` (``report``: a report hook's summary)."""
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
        "rows": {name: database[name].num_rows for name in database.names},
        "tags": sorted(all_tags),
        "privacy": _privacy(dp) if dp else None,
        "quality": quality_scores(report) if report else None,
    }


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
    return json.dumps(entry, indent=2, ensure_ascii=False, default=str) + "\n"


def read_catalog(path: str | Path) -> dict[str, Any]:
    """The catalog entry of an output: a folder (``_catalog.json``), a Parquet file (its metadata), a
    SQLite file hiveframe wrote, a one-table file (``<file>.catalog.json``) or a catalog file itself."""
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
            meta = pq.read_schema(target).metadata or {}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is one message
            raise SourceError(f"cannot read Parquet file {str(path)!r}: {exc}") from None
        if PARQUET_KEY in meta:
            return _checked(json.loads(meta[PARQUET_KEY]), path)
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
