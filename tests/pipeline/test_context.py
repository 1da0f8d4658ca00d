"""Context selection and child summaries: the scores behind them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.pipeline.context import bin_codes, dependence, score_candidates, select
from hiveframe.pipeline.summaries import child_summaries, derived_aggregates


def test_dependence_sees_related_columns_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=3000)
    assert dependence(a, a) > 0.95
    assert dependence(a, (a + rng.integers(0, 2, size=3000)) // 2) > 0.3
    assert dependence(a, rng.integers(0, 5, size=3000)) < 0.01


def test_discrete_numbers_keep_one_code_per_value() -> None:
    prices = pa.array([0.99] * 95 + [1.99] * 5)
    assert len(np.unique(bin_codes(prices))) == 2


def test_score_and_select_best_k() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    kind = rng.choice(["x", "y", "z"], size=n)
    child = pa.table({"price": np.where(kind == "z", 10.0, 1.0) + rng.normal(0, 0.1, size=n)})
    candidates = pa.table({"p.kind": kind, "p.noise": rng.normal(size=n), "p.other": rng.normal(size=n)})
    scores = score_candidates(candidates, child, rng=rng)
    assert scores["p.kind"] > 0.3 and scores["p.noise"] < 0.02
    assert select(scores, 1) == ["p.kind"]
    assert select(scores, 5) == ["p.kind"]  # noise never makes it, whatever k


def test_child_summaries_find_what_siblings_share() -> None:
    rng = np.random.default_rng(2)
    parent_of = np.repeat(np.arange(100), 5)
    video = rng.random(100) < 0.1
    child = pa.table({
        "price": np.where(video[parent_of], 1.99, 0.99),
        "device": np.where(parent_of % 2 == 0, "ios", "web"),
        "noise": rng.normal(size=500),
    })
    table = Table("track", (Column("price", ColumnKind.NUMERICAL, "double"),
                            Column("device", ColumnKind.CATEGORICAL), Column("noise", ColumnKind.NUMERICAL, "double")))
    found = child_summaries(child, table, ["price", "device", "noise"], parent_of, 100, k=3)
    names = [f[0] for f in found]
    assert set(names) == {"price", "device"}
    price = dict((f[0], f[2]) for f in found)["price"].to_numpy(zero_copy_only=False)
    assert np.allclose(price, np.where(video, 1.99, 0.99))


def test_parent_columns_that_sum_their_children() -> None:
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 50, size=400)
    price = rng.choice([0.99, 1.99], size=400)
    qty = rng.integers(1, 3, size=400).astype(float)
    total = np.bincount(idx, weights=price * qty, minlength=50).round(2)
    parent = pa.table({"total": total, "other": rng.normal(size=50)})
    child = pa.table({"price": price, "qty": qty})
    found = derived_aggregates(parent, ["total", "other"], child, ["price", "qty"], idx)
    assert found == [{"column": "total", "agg": "sumprod", "columns": ["price", "qty"], "decimals": 2}]
