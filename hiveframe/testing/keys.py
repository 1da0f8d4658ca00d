"""Fixtures and scores for key detection, shared by the tests and ``benchmarks/bench_detect.py``.

- :func:`flights_database`: a small airline database whose keys are natural codes (an airline code,
  an airport code, an aircraft tail number), whose fact table has no key of its own and a few percent
  of rows pointing at codes absent from their parent table (as public flight data does), two foreign
  keys to one parent (``origin``/``dest``) and a table with a composite key (``weather``). Generated
  from a seed, nothing downloaded.
- :func:`without_declarations`: a database written to a folder of CSV files and read back, so that
  what a SQLite file declares is gone and detection has only the data.
- :func:`key_sets` and :func:`precision_recall`: primary and foreign keys as comparable sets, and
  the precision and recall of detected keys against declared ones.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.metadata import ForeignKey, Metadata

__all__ = ["FLIGHTS_FOREIGN_KEYS", "FLIGHTS_PRIMARY_KEYS", "flights_database", "key_sets", "precision_recall",
           "without_declarations"]

FLIGHTS_PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "airlines": ("carrier",), "airports": ("faa",), "planes": ("tailnum",), "flights": (),
    "weather": ("origin", "time_hour"),
}
FLIGHTS_FOREIGN_KEYS: set[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = {
    ("flights", ("carrier",), "airlines", ("carrier",)),
    ("flights", ("tailnum",), "planes", ("tailnum",)),
    ("flights", ("origin",), "airports", ("faa",)),
    ("flights", ("dest",), "airports", ("faa",)),
    ("weather", ("origin",), "airports", ("faa",)),
}
_WORDS = ("North", "South", "Regional", "Municipal", "International", "County", "Field", "Valley", "Lake",
          "River", "Bay", "Mountain", "Central", "Harbor", "Pacific", "Atlantic", "Grand", "Fort")


def flights_database(*, seed: int = 0, flights: int = 5000, airports: int = 120, planes: int = 300,
                     dest_orphan_share: float = 0.02, tailnum_orphan_share: float = 0.03) -> Database:
    """The airline database described in the module docstring (keys: ``FLIGHTS_*_KEYS``)."""
    import pyarrow as pa

    from hiveframe.components import Database

    rng = np.random.default_rng(seed)
    letters = np.array(list(string.ascii_uppercase))

    def codes(n: int, width: int, taken: set[str], alphabet: np.ndarray = letters) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            code = "".join(rng.choice(alphabet, size=width))
            if code not in taken:
                taken.add(code)
                out.append(code)
        return out

    alnum = np.array(list(string.ascii_uppercase + string.digits))
    carriers = codes(16, 2, set(), alnum)
    airline_names = [f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} Air Lines {i}" for i in range(len(carriers))]
    taken_airports: set[str] = set()
    faa = codes(airports, 3, taken_airports)
    missing_airports = codes(4, 3, taken_airports)  # destinations the airports table lacks
    airport_names = [f"{rng.choice(_WORDS)} {c.title()} {rng.choice(_WORDS)} Airport" for c in faa]
    lat = np.round(rng.uniform(19, 64, airports), 6)
    lon = np.round(rng.uniform(-160, -68, airports), 6)
    taken_tails: set[str] = set()

    def tails(n: int) -> list[str]:
        out = []
        while len(out) < n:
            tail = f"N{rng.integers(100, 99999)}{''.join(rng.choice(letters, size=rng.integers(0, 3)))}"
            if tail not in taken_tails:
                taken_tails.add(tail)
                out.append(tail)
        return out

    tailnums = tails(planes)
    missing_tails = tails(25)  # aircraft the planes table lacks
    origins = faa[:3]
    hours = np.datetime64("2013-01-01T05:00") + np.arange(240).astype("timedelta64[h]")

    # flights: popular routes get several flights an hour, so no column set is a key
    n = flights
    dest_weights = rng.pareto(1.2, airports - 3) + 0.05
    dest = rng.choice(faa[3:], size=n, p=dest_weights / dest_weights.sum()).astype(object)
    dirty = rng.random(n) < dest_orphan_share
    dest[dirty] = rng.choice(missing_airports, size=int(dirty.sum()))
    tail = rng.choice(tailnums, size=n).astype(object)
    dirty = rng.random(n) < tailnum_orphan_share
    tail[dirty] = rng.choice(missing_tails, size=int(dirty.sum()))
    tail[rng.random(n) < 0.01] = None  # cancelled before an aircraft was assigned
    distance = rng.integers(80, 2500, size=n)
    flights_table = pa.table({
        "year": np.full(n, 2013),
        "month": np.ones(n, dtype=np.int64),
        "dep_delay": np.round(rng.normal(5, 20, n)).astype(np.int64),
        "carrier": rng.choice(carriers, size=n, p=_weights(rng, len(carriers))),
        "flight": rng.integers(1, 2000, size=n),
        "tailnum": pa.array(list(tail), pa.string()),
        "origin": rng.choice(origins, size=n, p=[0.4, 0.35, 0.25]),
        "dest": pa.array(list(dest), pa.string()),
        "distance": distance,
        "air_time": np.round(distance / 8.0 + rng.normal(0, 5, n), 1),
        "time_hour": pa.array(np.sort(rng.choice(hours[:60], size=n)).astype("datetime64[s]")),
    })
    weather = pa.table({
        "origin": np.repeat(origins, len(hours)),
        "time_hour": pa.array(np.tile(hours, len(origins)).astype("datetime64[s]")),
        "temp": np.round(rng.normal(40, 10, len(origins) * len(hours)), 1),
        "wind_speed": np.round(rng.gamma(2, 5, len(origins) * len(hours)), 2),
    })
    return Database({
        "airlines": pa.table({"carrier": carriers, "name": airline_names}),
        "airports": pa.table({"faa": faa, "name": airport_names, "lat": lat, "lon": lon,
                              "alt": rng.integers(0, 7000, size=airports),
                              "tz": rng.choice([-5, -6, -7, -8, -9, -10], size=airports)}),
        "planes": pa.table({"tailnum": tailnums, "year": rng.integers(1960, 2013, size=planes),
                            "manufacturer": rng.choice(["BOEING", "AIRBUS", "EMBRAER", "BOMBARDIER"], size=planes),
                            "seats": rng.choice([55, 80, 140, 180, 200, 300], size=planes)}),
        "flights": flights_table,
        "weather": weather,
    })


def _weights(rng: np.random.Generator, k: int) -> np.ndarray:
    w = rng.pareto(1.0, k) + 0.1
    return w / w.sum()


def without_declarations(database: Database, folder: str | Path) -> Database:
    """``database`` written to ``folder`` as one CSV file per table and read back: no declared keys."""
    import pyarrow.csv as pv

    from hiveframe.plugins import PluginHost

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in database.tables.items():
        pv.write_csv(table, folder / f"{name}.csv")
    return PluginHost(load_entry_points=False).read(folder)


KeySet = set[tuple[str, tuple[str, ...], str, tuple[str, ...]]]


def key_sets(metadata: Metadata) -> tuple[dict[str, tuple[str, ...]], KeySet]:
    """Primary keys per table and foreign keys as ``(child, columns, parent, columns)`` tuples."""
    pks = {t.name: tuple(t.primary_key) for t in metadata.tables}
    return pks, {_fk_tuple(fk) for fk in metadata.foreign_keys}


def _fk_tuple(fk: ForeignKey) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
    return fk.child_table, tuple(fk.child_columns), fk.parent_table, tuple(fk.parent_columns)


def precision_recall(found_pks: Mapping[str, tuple[str, ...]], found_fks: Iterable[tuple],
                     true_pks: Mapping[str, tuple[str, ...]], true_fks: Iterable[tuple]) -> dict[str, Any]:
    """Precision and recall of primary keys (a table's key, exactly) and of foreign keys.

    A composite key counts once, as a whole; a table without a key in both counts in neither.
    Missed and false keys are listed by name.
    """
    found_pk = {(t, pk) for t, pk in found_pks.items() if pk}
    true_pk = {(t, pk) for t, pk in true_pks.items() if pk}
    found_fk, true_fk = set(found_fks), set(true_fks)

    def pr(found: set, truth: set) -> dict[str, Any]:
        hit = found & truth
        return {"found": len(found), "declared": len(truth), "correct": len(hit),
                "precision": len(hit) / len(found) if found else 1.0,
                "recall": len(hit) / len(truth) if truth else 1.0,
                "missed": sorted(_label(k) for k in truth - found),
                "false": sorted(_label(k) for k in found - truth)}

    return {"primary_keys": pr(found_pk, true_pk), "foreign_keys": pr(found_fk, true_fk)}


def _label(key: tuple) -> str:
    if len(key) == 2:
        return f"{key[0]}({','.join(key[1])})"
    return f"{key[0]}.{','.join(key[1])}->{key[2]}.{','.join(key[3])}"
