"""Fixtures for the relational engine tests: the real databases with explicit metadata, a tiny
conditional test generator, and a host that has it.

The metadata comes from each dataset's ``schema.json`` (and Chinook's declared keys) through
:func:`hiveframe.testing.load_dataset`, not from ``detect``, so these tests check the engine and nothing else.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import attrs
import numpy as np
import pyarrow as pa

from hiveframe.components import ComponentState, Database, TableGenerator
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Metadata
from hiveframe.pipeline.features import FeatureEncoder
from hiveframe.plugins import PluginHost
from hiveframe.testing import load_dataset


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
        from hiveframe._builtin.copula import GENERATORS
    except ImportError:
        return False
    return any(getattr(g, "name", None) == "gaussian_copula" for g in GENERATORS)


# -- checks --------------------------------------------------------------------------------------------
def check_integrity(metadata: Metadata, db: Database) -> list[Any]:
    from hiveframe.pipeline.checks import integrity_problems

    return integrity_problems(metadata, db)


# -- fixtures ------------------------------------------------------------------------------------------
import pytest  # noqa: E402

_FITTED: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def load_db(shared_data):
    """``load_db(name)`` -> (Database, Metadata) of chinook, berka, airbnb or biodegradability."""
    return functools.partial(load_dataset, shared_data)


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
