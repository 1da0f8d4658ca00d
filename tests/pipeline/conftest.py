"""Fixtures for the relational engine tests: the real databases with explicit metadata, a tiny
conditional test generator, and a host that has it.

The metadata is built here from each dataset's ``schema.json`` (and Chinook's declared keys), not by
``detect``, so these tests check the engine and nothing else.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hiveframe.components import ComponentState, Database, TableGenerator
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline.features import FeatureEncoder
from hiveframe.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
CHINOOK = ROOT / "hiveframe" / "demo_data" / "chinook.sqlite"


# -- a small conditional generator for tests ------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class ToyResampler(TableGenerator):
    """Resamples training rows; with context, among the rows whose context is nearest (tests only)."""

    name: ClassVar[str] = "toy_resample"
    k: int = 5
    _rows: pa.Table | None = attrs.field(default=None, init=False)
    _enc: dict | None = attrs.field(default=None, init=False)

    def _fit(self, data, table, *, context_columns, seed, callback, workdir):
        self._rows = data
        self._enc = FeatureEncoder().fit(data, list(context_columns)).to_json() if context_columns else None
        if callback is not None:
            callback({"table": table.name, "epoch": 0})

    def _sample(self, num_rows, *, context, conditions, seed):
        rng = np.random.default_rng(seed)
        rows = self._rows
        assert rows is not None
        own = [c for c in rows.column_names if c not in self._context_columns]
        n_train = rows.num_rows
        if context is None or self._enc is None or n_train == 0:
            idx = rng.integers(0, max(1, n_train), size=num_rows)
        else:
            enc = FeatureEncoder.from_json(self._enc)
            train = enc.transform(rows)
            pool = rng.choice(n_train, size=min(n_train, 1000), replace=False)
            x = enc.transform(context)
            idx = np.empty(num_rows, dtype=np.int64)
            for start in range(0, num_rows, 1000):
                block = x[start:start + 1000]
                dist = ((block[:, None, :] - train[pool][None, :, :]) ** 2).sum(-1)
                k = min(self.k, len(pool))
                near = np.argpartition(dist, k - 1, axis=1)[:, :k]
                pick = near[np.arange(len(block)), rng.integers(0, k, size=len(block))]
                idx[start:start + len(block)] = pool[pick]
        return rows.select(own).take(pa.array(idx))

    def _get_state(self) -> ComponentState:
        assert self._rows is not None
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self._rows.schema) as writer:
            writer.write_table(self._rows)
        data = np.frombuffer(sink.getvalue().to_pybytes(), dtype=np.uint8)
        return ComponentState(values={"enc": self._enc}, arrays={"rows": data})

    def _set_state(self, state: ComponentState) -> None:
        self._enc = state.values["enc"]
        buf = pa.py_buffer(np.asarray(state.arrays["rows"]).tobytes())
        self._rows = pa.ipc.open_stream(buf).read_all()


class ToyPlugin:
    @hookimpl
    def hiveframe_register_table_generators(self):
        return [ToyResampler]


def toy_host() -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(ToyPlugin(), name="toy")
    return host


def copula_available() -> bool:
    try:
        from hiveframe.builtin.copula import GENERATORS
    except ImportError:
        return False
    return any(getattr(g, "name", None) == "gaussian_copula" for g in GENERATORS)


# -- the real databases with explicit metadata ------------------------------------------------------
def _kind(arr: pa.ChunkedArray, n: int) -> ColumnKind:
    t = arr.type
    if pa.types.is_temporal(t):
        return ColumnKind.DATETIME
    if pa.types.is_boolean(t):
        return ColumnKind.BOOLEAN
    distinct = len(arr.unique())
    if pa.types.is_integer(t) and distinct <= 20:
        return ColumnKind.CATEGORICAL
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return ColumnKind.NUMERICAL
    if distinct <= max(30, n // 2):
        return ColumnKind.CATEGORICAL
    return ColumnKind.TEXT


def _table(name: str, data: pa.Table, pk: tuple[str, ...], id_columns: set[str]) -> Table:
    cols = []
    for field in data.schema:
        kind = ColumnKind.ID if field.name in id_columns else _kind(data.column(field.name), data.num_rows)
        cols.append(Column(field.name, kind, dtype=str(field.type), nullable=data.column(field.name).null_count > 0))
    return Table(name=name, columns=tuple(cols), primary_key=pk)


def load_folder(name: str) -> tuple[Database, Metadata]:
    """airbnb, berka or biodegradability: gzipped CSVs plus schema.json."""
    folder = SHARED / name
    schema = json.loads((folder / "schema.json").read_text())
    tables = {t: pacsv.read_csv(folder / f"{t}.csv.gz") for t in schema["tables"]}
    if name == "berka":  # '?' marks missing values
        d = tables["district"]
        for col in ("A12", "A15"):
            arr = d.column(col).to_pylist()
            d = d.set_column(d.schema.get_field_index(col), col,
                             pa.array([None if v == "?" else float(v) for v in arr], pa.float64()))
        tables["district"] = d
    fks = [ForeignKey(f["child"], (f["column"],), f["parent"], (f["parent_column"],)) for f in schema["foreign_keys"]]
    ids: dict[str, set[str]] = {t: set() for t in tables}
    for fk in fks:
        ids[fk.child_table].update(fk.child_columns)
    pks = {}
    for t, spec in schema["tables"].items():
        pk = spec.get("pk")
        pks[t] = () if pk is None else ((pk,) if isinstance(pk, str) else tuple(pk))
        ids[t].update(pks[t])
    meta = Metadata(tables=tuple(_table(t, tables[t], pks[t], ids[t]) for t in tables), foreign_keys=tuple(fks))
    return Database(tables), meta


def load_chinook(path: Path = CHINOOK) -> tuple[Database, Metadata]:
    con = sqlite3.connect(path)
    names = [r[0] for r in con.execute("select name from sqlite_master where type='table' "
                                       "and name not like 'sqlite_%' order by name")]
    tables, pks, fks = {}, {}, []
    for t in names:
        info = list(con.execute(f"pragma table_info([{t}])"))
        rows = list(con.execute(f"select * from [{t}]"))
        arrays = []
        for i, (_, _col, decl, *_rest) in enumerate(info):
            values = [r[i] for r in rows]
            decl = decl.upper()
            if decl.startswith("INTEGER"):
                arrays.append(pa.array(values, pa.int64()))
            elif decl.startswith("NUMERIC"):
                arrays.append(pa.array(values, pa.float64()))
            elif decl.startswith("DATETIME"):
                arrays.append(pa.array(values, pa.string()).cast(pa.timestamp("s")))
            else:
                arrays.append(pa.array(values, pa.string()))
        tables[t] = pa.table(arrays, names=[r[1] for r in info])
        pks[t] = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        for fk in con.execute(f"pragma foreign_key_list([{t}])"):
            fks.append(ForeignKey(t, (fk[3],), fk[2], (fk[4],)))
    con.close()
    ids: dict[str, set[str]] = {t: set(pks[t]) for t in tables}
    for fk in fks:
        ids[fk.child_table].update(fk.child_columns)
    meta = Metadata(tables=tuple(_table(t, tables[t], pks[t], ids[t]) for t in names), foreign_keys=tuple(fks))
    return Database(tables), meta


def load(name: str) -> tuple[Database, Metadata]:
    return load_chinook() if name == "chinook" else load_folder(name)


def check_integrity(metadata: Metadata, db: Database) -> list[Any]:
    from hiveframe.pipeline.checks import integrity_problems

    return integrity_problems(metadata, db)


# -- fixtures ------------------------------------------------------------------------------------------
import pytest  # noqa: E402

_FITTED: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def load_db():
    """``load_db(name)`` -> (Database, Metadata) of chinook, berka, airbnb or biodegradability."""
    if not SHARED.is_dir():
        pytest.fail(f"real datasets expected at {SHARED}")
    return load


@pytest.fixture(scope="session")
def fitted(load_db):
    """``fitted(name)`` -> (real Database, Metadata, Synthesizer fitted with the default generator)."""
    from hiveframe.pipeline import Synthesizer

    def get(name: str) -> tuple:
        if name not in _FITTED:
            db, md = load_db(name)
            _FITTED[name] = (db, md, Synthesizer(md, seed=0).fit(db))
        return _FITTED[name]

    return get


@pytest.fixture
def toy():
    """A host with the tiny conditional test generator ``toy_resample`` registered."""
    return toy_host()
