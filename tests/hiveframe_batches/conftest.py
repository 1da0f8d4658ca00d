"""Small tables for the batches tests: columns that depend on each other in known groups."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.metadata import Column, ColumnKind, Table


def grouped_table(n: int = 600, seed: int = 0) -> tuple[pa.Table, Table]:
    """Three groups of dependent columns (a*, b*, c*), independent of each other except ``b1``, which
    follows ``a1`` across groups (the dependence anchors must carry); ``code`` is id-like text."""
    rng = np.random.default_rng(seed)
    a1 = rng.normal(size=n)
    b1 = 0.9 * a1 + 0.3 * rng.normal(size=n)
    c1 = rng.normal(size=n)
    colour = np.where(c1 > 0.3, "red", np.where(c1 < -0.3, "blue", "green"))
    data = pa.table({
        "a1": a1, "a2": a1 * 2 + 0.2 * rng.normal(size=n), "a3": -a1 + 0.3 * rng.normal(size=n),
        "b1": b1, "b2": b1 + 0.2 * rng.normal(size=n), "b3": np.where(b1 > 0, "up", "down").tolist(),
        "c1": c1, "c2": c1 * 3 + 0.3 * rng.normal(size=n), "colour": colour.tolist(),
        "code": [f"X{i:05d}" for i in rng.permutation(n)],
    })
    kinds = {"b3": ColumnKind.CATEGORICAL, "colour": ColumnKind.CATEGORICAL, "code": ColumnKind.CATEGORICAL}
    columns = tuple(Column(name, kinds.get(name, ColumnKind.NUMERICAL), "string" if name in kinds else "double")
                    for name in data.column_names)
    return data, Table("wide", columns)


@pytest.fixture
def grouped() -> tuple[pa.Table, Table]:
    return grouped_table()


@pytest.fixture
def batches_host():
    """A host with the plugin: through the installed entry point, or registered here while the shared
    environment's install predates the plugin (the same module the entry point names)."""
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    if "batches" not in host.infos:
        import hiveframe_batches.plugin as entry

        host = PluginHost(plugins={"batches": entry})
    return host
