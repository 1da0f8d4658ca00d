"""Second parents keep their behaviour: the keys of the parent that does not drive generation go to the
parents whose real children look like the row, not only by degree."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from hiveframe.components import Database
from hiveframe.metadata import ForeignKey
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.assign import AssignmentModel, GaussianAssignment, assign
from hiveframe.testing import metadata_from_keys

CATEGORIES = np.array(["games", "books", "garden"])


def _shop(seed: int = 0) -> tuple[Database, object]:
    """Stores own the orders (the driver); customers are the second parent. A customer's age band
    decides what it buys (young: games, middle: books, old: garden, 90% of the time); the store says
    nothing about it."""
    rng = np.random.default_rng(seed)
    n_cust, n_store, n_orders = 300, 20, 3000
    age = rng.integers(18, 90, size=n_cust)
    band = np.digitize(age, [40, 65])
    customer = rng.integers(0, n_cust, size=n_orders)
    liked = band[customer]
    category = np.where(rng.random(n_orders) < 0.9, liked, rng.integers(0, 3, size=n_orders))
    tables = {
        "customers": pa.table({"customer_id": np.arange(n_cust), "age": age.astype(np.int64)}),
        "stores": pa.table(
            {"store_id": np.arange(n_store), "city": rng.choice(["a", "b", "c"], n_store).tolist()}
        ),
        "orders": pa.table(
            {
                "order_id": np.arange(n_orders),
                "store_id": rng.integers(0, n_store, size=n_orders),
                "customer_id": customer,
                "category": CATEGORIES[category].tolist(),
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
    md = md.with_table(dataclasses.replace(md.table("orders"), driver="store_id"))
    return Database(tables), md


def _agreement(db: Database) -> float:
    """Share of orders whose category is the one the customer's age band prefers."""
    age = db["customers"].column("age").to_numpy()
    ids = {int(k): i for i, k in enumerate(db["customers"].column("customer_id").to_pylist())}
    rows = [ids[int(k)] for k in db["orders"].column("customer_id").to_pylist()]
    liked = CATEGORIES[np.digitize(age[rows], [40, 65])]
    return float((np.asarray(db["orders"].column("category").to_pylist()) == liked).mean())


def test_the_informed_assignment_recovers_what_a_second_parent_buys() -> None:
    db, md = _shop()
    real = _agreement(db)
    synth = Synthesizer(md, seed=0).fit(db)
    assert synth.describe()["orders"]["secondary"] == ["orders.customer_id->customers"]
    informed = _agreement(synth.sample(seed=1))
    rel = next(r for r in synth.engine.plan.tables["orders"].relations if r.role != "driver")
    rel.assign = AssignmentModel()  # sees no columns: keys by degree only
    random = _agreement(synth.sample(seed=1))
    assert real > 0.9 and random < 0.45  # a third by chance
    assert informed > random + 0.35 and informed > 0.8


def test_numbers_are_compared_in_bands_and_the_model_round_trips() -> None:
    """Parents with ages 1-10 and 1,001-1,010: raw distances would make every young parent alike;
    bands tell them apart only as far as their children do. A saved model scores the same."""
    rng = np.random.default_rng(1)
    parents = pa.table({"age": np.r_[np.arange(1, 11), np.arange(1001, 1011)].astype(np.int64)})
    idx = rng.integers(0, 20, size=4000)
    kind = np.where(idx < 10, "small", "large")
    rows = pa.table({"kind": kind.tolist()})
    model = AssignmentModel().fit(rows, parents, idx, rng=rng)
    values, arrays = model.to_state()
    again = AssignmentModel.from_state(values, arrays)
    assert np.allclose(again.profiles(parents), model.profiles(parents))
    new = pa.table({"kind": ["small"] * 100 + ["large"] * 100})
    out = assign(again.encode_rows(new), again.profiles(parents), np.full(20, 10), rng)
    assert (out[:100] < 10).mean() > 0.9 and (out[100:] >= 10).mean() > 0.9


def test_a_model_saved_before_the_level_model_still_loads() -> None:
    rng = np.random.default_rng(2)
    parents = pa.table({"side": ["neg"] * 10 + ["pos"] * 10})
    idx = rng.integers(0, 20, size=500)
    rows = pa.table({"value": np.where(idx < 10, -1.0, 1.0) + rng.normal(0, 0.2, size=500)})
    values, arrays = GaussianAssignment().fit(rows, parents, idx, rng=rng).to_state()
    old = AssignmentModel.from_state(values, arrays)
    assert isinstance(old, GaussianAssignment)
    new = pa.table({"value": np.r_[-np.ones(50), np.ones(50)]})
    out = assign(old.encode_rows(new), old.profiles(parents), np.full(20, 5), rng)
    assert (out[:50] < 10).mean() > 0.9 and (out[50:] >= 10).mean() > 0.9
