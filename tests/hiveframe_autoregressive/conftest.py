"""Tiny data and a tiny network for the autoregressive tests (each fit takes well under a second)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.metadata import Column, ColumnKind, Table

TINY = dict(epochs=3, batch_size=64, embedding_dim=4, hidden=16, validation_fraction=0.0, patience=None)


def tiny(**overrides):
    from hiveframe_autoregressive.generators import AutoregressiveGenerator

    return AutoregressiveGenerator(**{**TINY, **overrides})


def mixed_table(n: int = 400, seed: int = 0) -> tuple[pa.Table, Table]:
    """Floats with 2 decimals, integers with nulls, a category with a rare value, booleans, dates; ``size``
    is determined by ``color`` (red: small, blue: large), a dependence conditions must follow."""
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).astype(object)
    color[:3] = "purple"  # 3 rows < min_count=5: never generated
    size = np.where(color == "red", "small", np.where(color == "blue", "large", "medium"))
    amount = np.round(rng.lognormal(3, 1, n), 2)
    count = rng.poisson(3, n)
    data = pa.table({
        "amount": pa.array(amount),
        "count": pa.array([None if r < 0.1 else int(v) for r, v in zip(rng.random(n), count, strict=True)],
                          type=pa.int64()),
        "color": pa.array(color.tolist()),
        "size": pa.array(size.tolist()),
        "member": pa.array(rng.random(n) < 0.3),
        "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)]),
    })
    table = Table("things", (
        Column("amount", ColumnKind.NUMERICAL, "double"),
        Column("count", ColumnKind.NUMERICAL, "int64", nullable=True),
        Column("color", ColumnKind.CATEGORICAL, "string"),
        Column("size", ColumnKind.CATEGORICAL, "string"),
        Column("member", ColumnKind.BOOLEAN, "bool"),
        Column("day", ColumnKind.DATETIME, "date32[day]"),
    ))
    return data, table


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks gain nothing from threads; on a shared machine a second thread only waits."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mixed() -> tuple[pa.Table, Table]:
    return mixed_table()


@pytest.fixture
def autoregressive_host():
    """A host with the plugin: found through the installed entry point, or registered here when the
    shared environment's install predates the plugin (the same module the entry point names)."""
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    if "autoregressive" not in host.infos:
        import hiveframe_autoregressive.plugin as entry

        host = PluginHost(plugins={"autoregressive": entry})
    return host
