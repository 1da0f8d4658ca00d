"""The DP linkage model: children per parent from a noisy histogram, spent from the child's budget."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hiveframe_privacy.dp import DPWrapper
from hiveframe_privacy.linkage import DPHistogramLinkage

from hiveframe.metadata import Column, ColumnKind, Table


def _parents(n: int) -> pa.Table:
    return pa.table({"a": pa.array(np.arange(n))})


def test_histogram_is_kept_within_noise():
    rng = np.random.default_rng(0)
    counts = rng.choice([0, 1, 2, 5], size=4000, p=[0.4, 0.3, 0.2, 0.1])
    model = DPHistogramLinkage(noise_multiplier=2.0).fit(_parents(4000), counts, seed=0)
    drawn = model.sample(_parents(4000), seed=1)
    for v, p in [(0, 0.4), (1, 0.3), (2, 0.2), (5, 0.1)]:
        assert abs((drawn == v).mean() - p) < 0.03
    assert set(np.unique(drawn)) <= {0, 1, 2, 3, 4, 5, 6, 7}
    summary = model.summary()
    assert summary["low"] == 0 and 5 <= summary["high"] <= 7 and not summary["exact_one"]


def test_bound_to_a_table_budget_it_spends_it():
    table = Table("child", (Column("v", ColumnKind.NUMERICAL, "double"),))
    wrapper = DPWrapper(epsilon=1.0)
    budget = wrapper.budget_for(table, 1000)
    model = DPHistogramLinkage().bind(budget)
    counts = np.ones(1000, dtype=np.int64)
    model.fit(_parents(1000), counts, seed=0)
    assert [r["release"] for r in budget.ledger] == ["children per parent: bound (log2 histogram)",
                                                     "children per parent: histogram"]
    assert all(abs(r["sensitivity"] - 2 ** 0.5) < 1e-12 for r in budget.ledger)
    assert model.summary()["exact_one"]  # an exact 1:1 link survives the noise
    assert (model.sample(_parents(50), seed=2) == 1).all()


def test_many_small_bins_beside_a_big_zero_bin_keep_their_children():
    """3,000 childless parents and 600 spread over 1..20 children (30 each, below the per-bin floor of
    2 noise std at std 20): each small bin alone is noise-level, together they clearly hold children."""
    counts = np.concatenate([np.zeros(3000, dtype=np.int64), np.repeat(np.arange(1, 21), 30)])
    drawn = DPHistogramLinkage(max_count=20, noise_multiplier=20 / 2 ** 0.5).fit(
        _parents(counts.size), counts, seed=0).sample(_parents(counts.size), seed=1)
    assert 0.08 < (drawn > 0).mean() < 0.3  # real: 600 / 3,600 = 0.17
    assert 0.8 < drawn.mean() < 3.0  # real: 1.75


def test_state_round_trip():
    model = DPHistogramLinkage(max_count=3, noise_multiplier=0.5).fit(_parents(500), np.full(500, 2), seed=0)
    other = DPHistogramLinkage(max_count=3)
    other.set_state(model.get_state())
    assert np.array_equal(other.sample(_parents(20), seed=4), model.sample(_parents(20), seed=4))
