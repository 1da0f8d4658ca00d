"""The public relational plan: what another engine reads instead of the engine's fields."""

from __future__ import annotations

import numpy as np

from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.plan import DatabasePlan, derive_seed
from tests.pipeline.conftest import toy_host


def _fitted(load_db):
    db, md = load_db("chinook")
    return Synthesizer(md, generator="toy_resample", host=toy_host(), seed=0).fit(db), md


def test_derive_seed_is_stable_and_distinguishes_steps() -> None:
    assert derive_seed(1, "a", 2) == 75263172  # the same on every platform and run: Spark partitions rely on it
    assert derive_seed(1, "a", 2) != derive_seed(1, "a", 3) != derive_seed(2, "a", 3)
    assert 0 <= derive_seed(0) < 2**32


def test_the_plan_answers_order_roots_drivers_and_key_formats(load_db) -> None:
    synth, md = _fitted(load_db)
    plan = synth.engine.plan
    order = plan.order()
    assert sorted(order) == sorted(md.table_names)
    for name in order:
        parent = plan.driver_parent(name, md)
        assert parent is None or order.index(parent) < order.index(name)  # parents first
    assert set(plan.roots()) == {n for n in order if plan.driver_parent(n, md) is None}
    formats = plan.key_formats("Invoice")
    assert formats["InvoiceId"].role == "key" and formats["InvoiceId"].unique
    assert formats["InvoiceId"].kind == plan.tables["Invoice"].keys["InvoiceId"]["kind"]


def test_the_plan_round_trips_through_its_state(load_db) -> None:
    synth, _ = _fitted(load_db)
    values, arrays, components = synth.engine.plan.to_state()
    again = DatabasePlan.from_state(values, arrays, components)
    assert again.order() == synth.engine.plan.order()
    assert again.to_state()[0] == values
    assert all(np.array_equal(arrays[k], v) for k, v in again.to_state()[1].items())


def test_a_partition_is_reproducible_and_replicated_roots_are_the_same_everywhere(load_db) -> None:
    synth, md = _fitted(load_db)
    engine = synth.engine
    roots = engine.plan.roots()
    split = roots[0]
    replicated = {r: engine.plan.rows_at_scale(r, 0.5) for r in roots[1:]}
    one = engine.sample_partition(synth.table_generators, scale=0.5, root_rows={split: 20}, replicated=replicated,
                                  seed=7, part=0)
    again = engine.sample_partition(synth.table_generators, scale=0.5, root_rows={split: 20}, replicated=replicated,
                                    seed=7, part=0)
    other = engine.sample_partition(synth.table_generators, scale=0.5, root_rows={split: 20}, replicated=replicated,
                                    seed=7, part=1)
    assert one[split].num_rows == 20
    assert all(one[t].equals(again[t]) for t in one)
    for r in replicated:  # lookup roots: the same generated rows in every partition (keys are remapped after)
        columns = [c for c in engine.plan.tables[r].modelled if c not in engine.plan.tables[r].unique]
        assert one[r].select(columns).equals(other[r].select(columns))
    assert not one[split].select(engine.plan.tables[split].modelled).equals(
        other[split].select(engine.plan.tables[split].modelled))  # split roots: each partition its own rows
