"""The TableGenerator contract: input checks around fit and sample, context, conditions, state."""

from __future__ import annotations

from typing import ClassVar

import attrs
import pyarrow as pa
import pytest

from hiveframe.errors import ConfigError, DataError, NotFittedError
from hiveframe.testing.conformance import check_table_generator, sample_metadata, sample_table
from hiveframe.testing.reference import ResampleGenerator


@pytest.fixture
def data():
    return sample_table(80, seed=1, context=True)


@pytest.fixture
def table(data):
    return sample_metadata(data, "orders")


def test_sample_before_fit(table):
    with pytest.raises(NotFittedError):
        ResampleGenerator().sample(3)
    with pytest.raises(NotFittedError):
        ResampleGenerator().fitted_table  # noqa: B018


def test_fit_lists_every_missing_column(data, table):
    with pytest.raises(DataError) as err:
        ResampleGenerator().fit(data.drop_columns(["age", "color"]), table)
    located = {(p.table, p.column) for p in err.value.problems}
    assert located == {("orders", "age"), ("orders", "color")}


def test_context_columns_must_be_described(data, table):
    with pytest.raises(DataError, match="context column is not described"):
        ResampleGenerator().fit(data, table, context_columns=["parent_missing"])


def test_context_rules(data, table):
    gen = ResampleGenerator().fit(data, table, context_columns=["parent_segment"], seed=0)
    assert gen.context_columns == ("parent_segment",)
    with pytest.raises(ConfigError, match="needs a context table"):
        gen.sample(4)
    with pytest.raises(ConfigError, match="lacks column"):
        gen.sample(context=pa.table({"other": [1, 2]}))
    ctx = pa.table({"parent_segment": ["north", "south", "north"]})
    with pytest.raises(ConfigError, match="num_rows=5 but context has 3 rows"):
        gen.sample(5, context=ctx)
    out = gen.sample(context=ctx, seed=1)
    assert out.num_rows == 3
    assert "parent_segment" not in out.column_names
    assert out.column_names == [c for c in table.column_names if c != "parent_segment"]


def test_row_count_and_condition_checks(data, table):
    gen = ResampleGenerator().fit(data, table, seed=0)
    for bad in (None, -2):
        with pytest.raises(ConfigError, match="non-negative"):
            gen.sample(bad)
    with pytest.raises(ConfigError, match="does not model"):
        gen.sample(3, conditions={"no_such_column": 1})
    out = gen.sample(6, conditions={"color": "blue"}, seed=2)
    assert set(out.column("color").to_pylist()) == {"blue"}


def test_non_conditional_generator_refuses_conditions(data, table):
    @attrs.define(kw_only=True, eq=False)
    class Plain(ResampleGenerator):
        name: ClassVar[str] = "plain"
        conditional: ClassVar[bool] = False

    gen = Plain().fit(data, table, seed=0)
    with pytest.raises(ConfigError, match="cannot sample with conditions"):
        gen.sample(3, conditions={"color": "red"})


def test_state_carries_the_table_and_context(data, table):
    gen = ResampleGenerator().fit(data, table, context_columns=["parent_segment"], seed=0)
    state = gen.get_state()
    fresh = ResampleGenerator()
    fresh.set_state(state)
    assert fresh.is_fitted and fresh.fitted_table == table
    assert fresh.context_columns == ("parent_segment",)
    ctx = pa.table({"parent_segment": ["south"] * 4})
    assert fresh.sample(context=ctx, seed=3).equals(gen.sample(context=ctx, seed=3))


def test_callback_receives_training_events(data, table):
    events = []
    ResampleGenerator().fit(data, table, callback=events.append)
    assert events == [{"table": "orders", "epoch": 1, "epochs": 1}]


def test_reference_generator_conforms():
    report = check_table_generator(ResampleGenerator)
    assert "state round-trips through save_component/load_component" in report.passed
    assert "honours conditions on columns" in report.passed
