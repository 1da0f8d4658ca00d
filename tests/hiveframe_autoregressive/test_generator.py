"""The autoregressive generator: values at the real precision and range, rare categories protected,
conditions honoured or refused clearly, save/load, checkpoints and resume, and bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
import torch
from hiveframe_autoregressive.errors import CheckpointError

from hiveframe.errors import ConfigError, DataError, HiveframeError, PersistenceError
from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.persistence import load_component, save_component

from .conftest import mixed_table, tiny


@pytest.fixture(scope="module")
def fitted():
    data, table = mixed_table()
    gen = tiny(epochs=40, hidden=32, embedding_dim=8, batch_size=100, learning_rate=1e-2).fit(data, table, seed=0)
    return gen, data, table


def test_numbers_and_dates_keep_their_precision_and_range(fitted):
    gen, data, _ = fitted
    out = gen.sample(2000, seed=1)
    amount = out.column("amount").to_numpy()
    real = data.column("amount").to_numpy()
    assert amount.min() >= real.min() and amount.max() <= real.max()
    assert np.allclose(np.round(amount, 2), amount, rtol=0, atol=1e-9), "amounts lose their two decimals"
    assert len(np.unique(amount)) > 200, "amounts collapse onto a few values"
    count = out.column("count")
    assert count.type == pa.int64() and 0 < count.null_count < 2000
    assert set(count.drop_null().to_pylist()) <= set(data.column("count").drop_null().to_pylist())
    day = out.column("day")
    assert day.type == pa.date32()
    assert min(day.to_pylist()) >= dt.date(2020, 1, 1) and max(day.to_pylist()) <= dt.date(2020, 12, 31)


def test_rare_categories_are_never_generated(fitted):
    gen, _, _ = fitted
    out = gen.sample(3000, seed=2)
    assert "purple" not in set(out.column("color").to_pylist())
    assert set(out.column("color").to_pylist()) == {"red", "green", "blue"}
    assert out.column("color").null_count == 0, "no nulls in the real column, none generated"


def test_a_rare_category_cannot_be_asked_for(fitted):
    gen, _, _ = fitted
    with pytest.raises(DataError, match="purple.*fewer than min_count=5"):
        gen.sample(5, conditions={"color": "purple"}, seed=0)


def test_conditions_are_honoured_and_steer_the_other_columns(fitted):
    gen, _, _ = fitted
    out = gen.sample(300, conditions={"color": "blue", "member": True}, seed=3)
    assert set(out.column("color").to_pylist()) == {"blue"}
    assert set(out.column("member").to_pylist()) == {True}
    sizes = out.column("size").to_pylist()
    assert sizes.count("large") / len(sizes) > 0.9, "size does not follow the fixed color"
    # a condition on a later column steers an earlier one (any order was learnt)
    back = gen.sample(300, conditions={"size": "small"}, seed=4).column("color").to_pylist()
    assert back.count("red") / len(back) > 0.9
    numeric = gen.sample(50, conditions={"amount": 12.5, "count": None}, seed=5)
    assert set(numeric.column("amount").to_pylist()) == {12.5}
    assert numeric.column("count").null_count == 50


def test_a_fixed_order_model_conditions_on_leading_columns_only():
    data, table = mixed_table(200)
    gen = tiny(fixed_order_share=1.0).fit(data, table, seed=0)
    assert gen.sample(5, conditions={"amount": 12.5, "count": 3}, seed=0).num_rows == 5
    with pytest.raises(ConfigError, match="column order only"):
        gen.sample(5, conditions={"size": "small"}, seed=0)


def test_impossible_conditions_are_refused_with_every_problem_listed(fitted):
    gen, _, _ = fitted
    with pytest.raises(DataError) as info:
        gen.sample(5, conditions={"color": "orange", "amount": 1e9, "member": None}, seed=0)
    text = str(info.value)
    assert "'orange'" in text and "outside the column's range" in text and "no nulls" in text


def test_a_contradictory_pair_is_refused(fitted):
    gen, _, _ = fitted
    with pytest.raises(ConfigError, match="contradict each other"):
        gen.sample(5, conditions={"color": "red", "size": "large"}, seed=0)
    ok = gen.sample(5, conditions={"color": "red", "size": "small"}, seed=0)
    assert ok.num_rows == 5


def test_temperature_sharpens():
    rng = np.random.default_rng(0)
    data, table = _one_column(pa.array(rng.choice(["a", "b", "c"], 1000, p=[0.5, 0.3, 0.2]).tolist()),
                              ColumnKind.CATEGORICAL)
    gen = tiny(epochs=20, learning_rate=1e-2).fit(data, table, seed=0)

    def share_of_a(temperature: float) -> float:
        gen.temperature = temperature
        return gen.sample(2000, seed=6).column("x").to_pylist().count("a") / 2000

    warm, cold = share_of_a(1.0), share_of_a(0.2)
    assert 0.44 < warm < 0.56 and cold > 0.85


def test_save_load_round_trip_on_the_cpu(fitted, tmp_path, autoregressive_host):
    gen, _, _ = fitted
    save_component(tmp_path, "gen", gen)
    assert not list(tmp_path.rglob("*.pkl"))
    loaded = load_component(tmp_path, "gen", autoregressive_host)
    assert loaded.sample(100, seed=9).equals(gen.sample(100, seed=9))
    assert all(isinstance(a, np.ndarray) for a in loaded.get_state().arrays.values())


def test_state_of_another_model_is_refused(fitted):
    gen, _, _ = fitted
    state = gen.get_state()
    state.values["model"] = "ctgan"
    fresh = tiny()
    with pytest.raises(PersistenceError, match="not 'autoregressive'"):
        fresh.set_state(state)


def test_resume_equals_uninterrupted(tmp_path):
    data, table = mixed_table(200)
    params = dict(epochs=4, checkpoint_every=2)
    whole = tiny(**params).fit(data, table, seed=1, workdir=tmp_path / "a")
    tiny(**{**params, "epochs": 2}).fit(data, table, seed=1, workdir=tmp_path / "b")  # "interrupted" at 2
    resumed = tiny(**params).fit(data, table, seed=1, workdir=tmp_path / "b")
    assert resumed.fit_info["resumed_from"] == 2 and resumed.fit_info["epochs_trained"] == 4
    for key, value in whole.get_state().arrays.items():
        assert np.array_equal(value, resumed.get_state().arrays[key]), key


def test_a_checkpoint_from_another_model_is_refused(tmp_path):
    data, table = mixed_table(200)
    torch.save({"format": "hiveframe_ctgan-checkpoint", "epoch": 3}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not an autoregressive training checkpoint"):
        tiny(checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot be read"):
        tiny(checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)


def test_early_stopping_keeps_the_best_epoch():
    data, table = mixed_table(600)
    gen = tiny(epochs=200, patience=2, validation_fraction=0.2, learning_rate=0.05).fit(data, table, seed=0)
    info = gen.fit_info
    assert info["validation_rows"] == 120 and info["stopped_early"] and info["epochs_trained"] < 200
    best = min(h["validation"] for h in info["history"])
    assert info["history"][info["best_epoch"] - 1]["validation"] == best


def test_time_budget_and_callback():
    data, table = mixed_table(200)
    events = []
    gen = tiny(epochs=10_000, max_seconds=0.5).fit(data, table, seed=0, callback=events.append)
    assert 1 <= gen.fit_info["epochs_trained"] < 10_000 and gen.fit_info["stopped_early"]
    assert [e["epoch"] for e in events] == list(range(1, len(events) + 1))
    assert {"table", "epoch", "epochs", "losses", "validation", "elapsed"} <= set(events[0])


def test_context_columns_condition_the_rows():
    rng = np.random.default_rng(0)
    n = 600
    segment = rng.choice(["north", "south"], n)
    data = pa.table({"segment": segment.tolist(),
                     "kind": np.where(segment == "north", "a", "b").tolist()})
    table = Table("kids", (Column("segment", ColumnKind.CATEGORICAL, "string"),
                           Column("kind", ColumnKind.CATEGORICAL, "string")))
    gen = tiny(epochs=40, hidden=16).fit(data, table, context_columns=("segment",), seed=0)
    out = gen.sample(context=pa.table({"segment": ["north"] * 50 + ["south"] * 50}), seed=1)
    kinds = out.column("kind").to_pylist()
    assert kinds[:50].count("a") > 45 and kinds[50:].count("b") > 45


# -- bad input ------------------------------------------------------------------------------------
def _one_column(values: pa.Array, kind: ColumnKind) -> tuple[pa.Table, Table]:
    return pa.table({"x": values}), Table("t", (Column("x", kind, str(values.type), nullable=True),))


def test_a_table_with_one_column():
    data, table = _one_column(pa.array(np.random.default_rng(0).normal(5, 1, 300)), ColumnKind.NUMERICAL)
    out = tiny().fit(data, table, seed=0).sample(200, seed=1)
    assert out.num_rows == 200 and out.column("x").null_count == 0
    assert 3 < float(np.mean(out.column("x").to_numpy())) < 7


@pytest.mark.parametrize(("values", "kind"), [
    (pa.nulls(100, pa.float64()), ColumnKind.NUMERICAL),
    (pa.nulls(100, pa.string()), ColumnKind.CATEGORICAL),
    (pa.nulls(100, pa.timestamp("us")), ColumnKind.DATETIME),
])
def test_all_null_columns(values, kind):
    data = pa.table({"x": values, "y": pa.array(np.arange(100) % 3)})
    table = Table("t", (Column("x", kind, str(values.type), nullable=True),
                        Column("y", ColumnKind.CATEGORICAL, "int64")))
    out = tiny().fit(data, table, seed=0).sample(50, seed=1)
    assert out.column("x").null_count == 50 and out.column("x").type == values.type
    assert set(out.column("y").to_pylist()) <= {0, 1, 2}


@pytest.mark.parametrize("value", [7, 2.5, "only", True])
def test_a_column_with_one_value(value):
    values = pa.array([value] * 120)
    kind = ColumnKind.CATEGORICAL if isinstance(value, str) else (
        ColumnKind.BOOLEAN if isinstance(value, bool) else ColumnKind.NUMERICAL)
    data, table = _one_column(values, kind)
    out = tiny().fit(data, table, seed=0).sample(30, seed=1)
    assert out.column("x").to_pylist() == [value] * 30


def test_ten_thousand_categories():
    rng = np.random.default_rng(0)
    n = 30_000
    ids = rng.integers(0, 10_000, n)
    data = pa.table({"code": [f"c{i}" for i in ids], "flag": (ids % 2 == 0).tolist()})
    table = Table("t", (Column("code", ColumnKind.CATEGORICAL, "string"), Column("flag", ColumnKind.BOOLEAN, "bool")))
    gen = tiny(epochs=1, batch_size=1000).fit(data, table, seed=0)
    out = gen.sample(2000, seed=1)
    counts = dict(zip(*np.unique([f"c{i}" for i in ids], return_counts=True), strict=True))
    codes = out.column("code").to_pylist()
    assert all(counts[c] >= 5 for c in codes), "a category seen fewer than 5 times was generated"
    assert len(set(codes)) > 500


def test_every_category_rare_is_generated_as_null(caplog):
    data, table = _one_column(pa.array([f"id{i}" for i in range(200)]), ColumnKind.CATEGORICAL)
    out = tiny().fit(data, table, seed=0).sample(20, seed=1)
    assert out.column("x").null_count == 20
    assert "fewer than min_count=5" in caplog.text


def test_a_wide_table_warns_about_the_size_of_its_first_layer(caplog):
    rng = np.random.default_rng(0)
    data = pa.table({f"c{i}": rng.integers(0, 3, 60) for i in range(60)})
    table = Table("wide", tuple(Column(f"c{i}", ColumnKind.CATEGORICAL, "int64") for i in range(60)))
    tiny(epochs=1, hidden=1000, embedding_dim=8).fit(data, table, seed=0)
    assert "first layer of 29M weights" in caplog.text


def test_no_rows_and_only_context_columns_are_refused():
    data, table = mixed_table(50)
    with pytest.raises(DataError, match="no rows"):
        tiny().fit(data.slice(0, 0), table, seed=0)
    with pytest.raises(DataError, match="no columns left"):
        tiny().fit(data, table, context_columns=tuple(table.column_names), seed=0)


@pytest.mark.parametrize("params", [{"epochs": 0}, {"temperature": 0}, {"fixed_order_share": 2},
                                    {"device": "tpu"}, {"min_count": 0}, {"precision": "float16"}])
def test_bad_parameters(params):
    with pytest.raises(HiveframeError):
        tiny(**params)


def test_sampling_is_deterministic_and_finite(fitted):
    gen, _, _ = fitted
    a, b = gen.sample(500, seed=11), gen.sample(500, seed=11)
    assert a.equals(b)
    assert not any(math.isnan(v) for v in a.column("amount").drop_null().to_pylist())


def test_small_tables_take_at_least_ten_steps_an_epoch() -> None:
    from hiveframe_autoregressive.generators import MIN_STEPS_PER_EPOCH, small_table_batch

    assert small_table_batch(512, 100_000) == 512
    assert small_table_batch(512, 300) == 30 and small_table_batch(512, 3) == 1
    data, table = mixed_table(120)
    gen = tiny(batch_size=512).fit(data, table, seed=0)
    assert gen._config["batch_size"] * MIN_STEPS_PER_EPOCH >= 120 > gen._config["batch_size"] * 9
