"""Relational statistics under DP: forests from noisy fan-outs, key formats owing nothing to real keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hiveframe_privacy.dp import DPWrapper
from hiveframe_privacy.relational import dp_forest, public_key_format

from hiveframe.metadata import Column, ColumnKind, Table


def test_dp_forest_is_a_valid_forest_from_noisy_counts():
    from hiveframe.pipeline.forest import depths

    n = 3000
    rng = np.random.default_rng(0)
    parent = np.where(np.arange(n) < 30, -1, rng.integers(0, 300, size=n))  # 30 roots, shallow tree
    parent[np.arange(n) >= 30] = np.minimum(parent[np.arange(n) >= 30], np.arange(n)[np.arange(n) >= 30] - 1)
    table = Table("emp", (Column("v", ColumnKind.NUMERICAL, "double"),))
    budget = DPWrapper(epsilon=2.0).budget_for(table, n, extra_releases=2)
    model = dp_forest(parent, budget, rows=n)
    assert [r["release"] for r in budget.ledger] == ["self-reference: children per row", "self-reference: roots"]
    sampled = model.sample(pa.table({"v": pa.array(np.zeros(500))}), np.random.default_rng(1))
    assert (sampled < 500).all() and (sampled >= -1).all()
    d = depths(sampled)
    assert (d >= 0).all() and (sampled == -1).any()  # a forest: every row reaches a root
    state, arrays = model.to_state()
    assert len(state["fanouts"]) == 1 and all(0 <= k <= 64 for k in state["fanouts"][0])


def test_key_formats_do_not_depend_on_real_keys():
    assert public_key_format(pa.int64()) == {"kind": "int", "start": 1}
    fmt = public_key_format(pa.string())
    assert fmt["kind"] == "counter" and fmt["affixes"] == [["", "", 1.0]]
