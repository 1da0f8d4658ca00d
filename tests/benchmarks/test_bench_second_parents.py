"""The second-parent benchmark, run tiny: three assignments of one second parent's keys, same samples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from benchmarks.bench_second_parents import ARMS, contingency_similarity, run_case, summarize
from hiveframe.components import Database
from hiveframe.metadata import ForeignKey
from hiveframe.testing import metadata_from_keys


def _tiny() -> tuple[Database, object]:
    """Stores own the orders; a customer's kind decides what it buys."""
    rng = np.random.default_rng(0)
    kind = rng.choice(["x", "y"], size=40)
    customer = rng.integers(0, 40, size=300)
    tables = {
        "customers": pa.table({"customer_id": np.arange(40), "kind": kind.tolist()}),
        "stores": pa.table({"store_id": np.arange(8), "size": rng.integers(1, 50, size=8)}),
        "orders": pa.table(
            {
                "order_id": np.arange(300),
                "store_id": rng.integers(0, 8, size=300),
                "customer_id": customer,
                "item": np.where(kind[customer] == "x", "tea", "coffee").tolist(),
            }
        ),
    }
    fks = [
        ForeignKey("orders", ("store_id",), "stores", ("store_id",)),
        ForeignKey("orders", ("customer_id",), "customers", ("customer_id",)),
    ]
    md = metadata_from_keys(
        tables, {"customers": ("customer_id",), "stores": ("store_id",), "orders": ("order_id",)}, fks
    )
    return Database(tables), md.with_table(dataclasses.replace(md.table("orders"), driver="store_id"))


def test_a_tiny_run_measures_every_assignment():
    db, md = _tiny()
    case = run_case(db, md, "orders", "orders.customer_id->customers", seeds=1, seed=0)
    assert case["parent"] == "customers" and list(case["arms"]) == list(ARMS)
    for arm in case["arms"].values():
        assert len(arm["runs"]) == 1
        for key in ("detection_with_children", "detection_own_columns", "pair_similarity"):
            assert 0.0 <= arm[key] <= 1.0
    # the item is the customer's kind: the informed assignment keeps the pair, random keys lose it
    assert case["arms"]["likelihood"]["pair_similarity"] > case["arms"]["random"]["pair_similarity"] + 0.1
    text = summarize(
        {
            "command": "python -m benchmarks.bench_second_parents",
            "settings": {"seeds": 1},
            "environment": {"load_average": [1.0, 1.0, 1.0]},
            "load_average_after": [2.0, 2.0, 2.0],
            "datasets": {"tiny": case},
        }
    )
    assert "| tiny: customers under orders | likelihood |" in text and "after 2.00, 2.00, 2.00" in text


def test_contingency_similarity_is_one_for_the_same_joint_and_drops_when_pairs_are_shuffled():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 0, 1, 1])
    assert contingency_similarity(a, b, a, b) == 1.0
    assert contingency_similarity(a, b, a, b[::-1]) == 0.0
