"""Key detection against declared keys: hiveframe's ``detect`` beside SDV's ``detect_from_dataframes``.

    python -m benchmarks.bench_detect                # the four real databases and the flights fixture
    python -m benchmarks.bench_detect --skip-sdv     # hiveframe only
    python -m benchmarks.bench_detect --smoke        # Chinook and the flights fixture, hiveframe only

Every database is given to both libraries without its declarations: Chinook is written to a folder
of CSV files and read back (its SQLite file declares its keys), Berka, Biodegradability and AirBnB
are their CSV files, and the flights fixture (``hiveframe.testing.keys.flights_database``: natural
codes as keys, a fact table with 2-3 % orphan codes, two keys to one parent, a composite key) is
built from a seed, with 5,000 flights and again with 1,000,000 (``flights_1m``: detection samples
200,000 rows of it for containment, and says so). The truth is each dataset's ``schema.json`` (Chinook: its SQLite declarations;
flights: ``FLIGHTS_*_KEYS``). Precision and recall of primary keys (a table's key, exactly;
composite keys as a whole) and of foreign keys, and the detection time per database (the median of
``--repeats``; hiveframe's time is the whole of ``detect``, column kinds included; SDV's is
``Metadata.detect_from_dataframes`` on pandas frames, the conversion not timed). Writes
``benchmarks/results/detect.json``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

from benchmarks.common import environment, markdown_table, median_time, shared_data, write_json

DATASETS = ("chinook", "berka", "biodegradability", "airbnb", "flights", "flights_1m")


def load(name: str, workdir: Path) -> tuple[Any, dict[str, tuple[str, ...]], set[tuple]]:
    """(Database without declarations, true primary keys, true foreign keys)."""
    from hiveframe.testing import load_dataset
    from hiveframe.testing.keys import (
        FLIGHTS_FOREIGN_KEYS,
        FLIGHTS_PRIMARY_KEYS,
        flights_database,
        key_sets,
        without_declarations,
    )

    if name in ("flights", "flights_1m"):
        rows = 1_000_000 if name == "flights_1m" else 5000
        return flights_database(seed=0, flights=rows), dict(FLIGHTS_PRIMARY_KEYS), set(FLIGHTS_FOREIGN_KEYS)
    database, metadata = load_dataset(shared_data(), name)
    pks, fks = key_sets(metadata)
    if name == "chinook":
        database = without_declarations(database, workdir / "chinook_csv")
    else:
        from hiveframe.plugins import PluginHost

        database = PluginHost(load_entry_points=False).read(shared_data() / name)
    return database, pks, fks


def run_hiveframe(database: Any, repeats: int) -> tuple[float, Any]:
    from hiveframe import detect

    timing, metadata = median_time(lambda: detect(database, detect_pii=False), repeats)
    return timing.median, metadata


def run_sdv(database: Any, repeats: int) -> tuple[float, dict[str, tuple[str, ...]], set[tuple]]:
    from sdv.metadata import Metadata as SDVMetadata

    frames = {name: table.to_pandas() for name, table in database.tables.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timing, md = median_time(lambda: SDVMetadata.detect_from_dataframes(frames), repeats)
    seconds = timing.median
    pks = {}
    for name in frames:
        pk = md.tables[name].primary_key
        pks[name] = () if pk is None else (pk,) if isinstance(pk, str) else tuple(pk)
    fks = set()
    for rel in md.relationships:
        child_cols = rel["child_foreign_key"]
        parent_cols = rel["parent_primary_key"]
        fks.add((rel["child_table_name"], (child_cols,) if isinstance(child_cols, str) else tuple(child_cols),
                 rel["parent_table_name"], (parent_cols,) if isinstance(parent_cols, str) else tuple(parent_cols)))
    return seconds, pks, fks


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-sdv", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="Chinook and flights, hiveframe only, one repeat")
    args = parser.parse_args(argv)
    logging.getLogger("hiveframe").setLevel(logging.ERROR)
    from hiveframe.testing.keys import key_sets, precision_recall

    names = ("chinook", "flights") if args.smoke else DATASETS
    repeats = 1 if args.smoke else args.repeats
    use_sdv = not (args.skip_sdv or args.smoke)
    results: dict[str, Any] = {"benchmark": "detect", "repeats": repeats, "datasets": {},
                               "environment": environment()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            database, true_pks, true_fks = load(name, Path(tmp))
            seconds, metadata = run_hiveframe(database, repeats)
            pks, fks = key_sets(metadata)
            scores = precision_recall(pks, fks, true_pks, true_fks)
            entry: dict[str, Any] = {
                "tables": len(database.tables), "rows": sum(t.num_rows for t in database.tables.values()),
                "hiveframe": {"seconds": seconds, **scores},
            }
            dirty = {fk.name: fk.detection.get("orphans") for fk in metadata.foreign_keys
                     if fk.detection and fk.detection.get("orphans")}
            if dirty:
                entry["hiveframe"]["dirty_foreign_keys"] = dirty
            peers = [("hiveframe", seconds, scores)]
            if use_sdv:
                try:
                    s_seconds, s_pks, s_fks = run_sdv(database, repeats)
                    s_scores = precision_recall(s_pks, s_fks, true_pks, true_fks)
                    entry["sdv"] = {"seconds": s_seconds, **s_scores}
                    peers.append(("sdv", s_seconds, s_scores))
                except Exception as exc:  # noqa: BLE001 - a peer's failure is a figure too
                    entry["sdv"] = {"error": f"{type(exc).__name__}: {exc}"}
            results["datasets"][name] = entry
            for who, secs, sc in peers:
                pk, fk = sc["primary_keys"], sc["foreign_keys"]
                rows.append([name, who, f"{pk['correct']}/{pk['declared']}", pk["precision"], pk["recall"],
                             f"{fk['correct']}/{fk['declared']}", fk["precision"], fk["recall"], secs,
                             "; ".join(pk["missed"] + fk["missed"]) or "-",
                             "; ".join(pk["false"] + fk["false"]) or "-"])
    results["table"] = markdown_table(
        ["database", "detector", "PK found", "PK precision", "PK recall", "FK found", "FK precision", "FK recall",
         "seconds", "missed", "false"], rows)
    print(results["table"])
    write_json("detect_smoke" if args.smoke else "detect", results)
    return results


def summarize(results: dict[str, Any]) -> str:
    """RESULTS.md section: the side-by-side table, and what it measured."""
    notes = [
        "",
        f"Median of {results.get('repeats')} repeat(s). Truth: each dataset's `schema.json` (Chinook: the keys "
        "its SQLite file declares; flights: `hiveframe.testing.keys.FLIGHTS_*_KEYS`); every database is given "
        "without declarations (Chinook through a folder of CSV files). Precision/recall count a table's primary "
        "key as a whole (composite keys included) and each foreign key as (child columns, parent columns). "
        "hiveframe's seconds are the whole of `detect(..., detect_pii=False)`, column kinds included; SDV's are "
        "`Metadata.detect_from_dataframes` on pandas frames (conversion not timed). On `flights_1m` (1,000,000 "
        "flights) hiveframe checks containment on a 200,000-row sample and says so; uniqueness uses every row.",
    ]
    for name, entry in results.get("datasets", {}).items():
        dirty = entry.get("hiveframe", {}).get("dirty_foreign_keys")
        if dirty:
            notes.append(f"- {name}: dirty foreign keys found with their orphan counts: "
                         + ", ".join(f"{k} ({v:,})" for k, v in dirty.items()))
    return results.get("table", "") + "\n" + "\n".join(notes)


if __name__ == "__main__":
    main()
