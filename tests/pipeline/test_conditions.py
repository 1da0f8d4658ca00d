"""Conditional and balanced sampling: any table, any generator, native or by rejection, and bad input."""

from __future__ import annotations

import collections
from typing import ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from hiveframe.components import Database
from hiveframe.errors import ConfigError
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import integrity_problems
from hiveframe.pipeline.conditions import conditions_from_args, parse_condition_arg
from hiveframe.plugins import PluginHost
from hiveframe.testing.reference import ResampleGenerator


@attrs.define(kw_only=True, eq=False)
class UnconditionalResample(ResampleGenerator):
    """A generator that cannot condition: conditions must come from rejection."""

    name: ClassVar[str] = "unconditional_resample"
    conditional: ClassVar[bool] = False


class _Plugin:
    @hookimpl
    def hiveframe_register_table_generators(self):
        return [UnconditionalResample]


def _host() -> PluginHost:
    host = PluginHost()
    host.register(_Plugin(), name="test-unconditional")
    return host


@pytest.fixture(scope="module")
def census(shared_data) -> pa.Table:
    return pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz").slice(0, 4000)


@pytest.fixture(scope="module")
def copula(census) -> Synthesizer:
    return Synthesizer(seed=3).fit({"census": census})


def shop(n: int = 150, seed: int = 0) -> tuple[Database, Metadata]:
    """customer (vip customers have many orders) <- orders; made here."""
    rng = np.random.default_rng(seed)
    vip = rng.random(n) < 0.3
    customers = pa.table({"cid": np.arange(1, n + 1), "vip": vip, "region": rng.choice(["n", "s", "e"], n)})
    per = np.where(vip, rng.poisson(6, n), rng.poisson(1, n))
    owner = np.repeat(np.arange(1, n + 1), per)
    orders = pa.table({"oid": np.arange(1, len(owner) + 1), "cid": owner,
                       "amount": np.round(rng.gamma(2, 30, len(owner)), 2),
                       "channel": rng.choice(["web", "shop"], len(owner))})
    md = Metadata(
        tables=(
            Table("customer", (Column("cid", ColumnKind.ID, "int64"), Column("vip", ColumnKind.BOOLEAN, "bool"),
                               Column("region", ColumnKind.CATEGORICAL)), primary_key=("cid",)),
            Table("orders", (Column("oid", ColumnKind.ID, "int64"), Column("cid", ColumnKind.ID, "int64"),
                             Column("amount", ColumnKind.NUMERICAL, "double"),
                             Column("channel", ColumnKind.CATEGORICAL)), primary_key=("oid",)),
        ),
        foreign_keys=(ForeignKey("orders", ("cid",), "customer", ("cid",)),),
    )
    return Database({"customer": customers, "orders": orders}), md


# -- one table ------------------------------------------------------------------------------------------
def test_value_condition_is_native_on_the_copula(copula) -> None:
    out = copula.sample(rows={"census": 300}, conditions={"census": {"income": ">50K"}})["census"]
    assert out.num_rows == 300
    assert set(out.column("income").to_pylist()) == {">50K"}
    entry = copula.sampling_report["census"]
    assert entry["method"] == "native" and entry["acceptance_rate"] == 1.0


def test_range_and_value_together_use_rejection_with_a_measured_rate(copula) -> None:
    out = copula.sample(rows={"census": 300}, conditions={"census": {"income": ">50K",
                                                                      "age": {"min": 30, "max": 40}}})["census"]
    ages = np.asarray(out.column("age").to_pylist())
    assert out.num_rows == 300 and ages.min() >= 30 and ages.max() <= 40
    assert set(out.column("income").to_pylist()) == {">50K"}
    entry = copula.sampling_report["census"]
    assert entry["method"] == "native+rejection"
    assert 0.05 < entry["acceptance_rate"] < 0.95
    assert entry["drawn"] >= 300


def test_conditions_do_not_change_the_plain_sample(copula) -> None:
    a = copula.sample(rows={"census": 50}, seed=9)
    copula.sample(rows={"census": 50}, seed=9, conditions={"census": {"income": ">50K"}})
    assert a["census"].equals(copula.sample(rows={"census": 50}, seed=9)["census"])
    assert copula.sampling_report == {}


def test_balance_gives_equal_counts_per_class(copula) -> None:
    out = copula.sample(rows={"census": 501}, balance="census.income")["census"]
    counts = collections.Counter(out.column("income").to_pylist())
    assert sorted(counts.values()) == [250, 251]
    # rows come in random order, not one class after the other
    labels = out.column("income").to_pylist()
    assert labels[:250].count(">50K") not in (0, 250)


def test_balance_with_a_condition_on_another_column(copula) -> None:
    out = copula.sample(rows={"census": 200}, balance="census.sex",
                        conditions={"census": {"income": ">50K"}})["census"]
    assert collections.Counter(out.column("sex").to_pylist()) == {"Male": 100, "Female": 100}
    assert set(out.column("income").to_pylist()) == {">50K"}


def test_rejection_for_a_generator_without_native_conditions(census) -> None:
    synth = Synthesizer(generator="unconditional_resample", host=_host(), seed=1).fit({"census": census})
    out = synth.sample(rows={"census": 400}, conditions={"census": {"income": ">50K"}})["census"]
    assert set(out.column("income").to_pylist()) == {">50K"}
    entry = synth.sampling_report["census"]
    share = float(np.mean(np.asarray(census.column("income").to_pylist()) == ">50K"))
    assert entry["method"] == "rejection"
    assert abs(entry["acceptance_rate"] - share) < 0.06  # the class share, measured
    balanced = synth.sample(rows={"census": 100}, balance="census.income")["census"]
    assert collections.Counter(balanced.column("income").to_pylist()) == {">50K": 50, "<=50K": 50}


def test_a_condition_no_row_meets_fails_with_the_rate(census) -> None:
    synth = Synthesizer(generator="unconditional_resample", host=_host(), seed=1).fit({"census": census})
    with pytest.raises(ConfigError, match=r"only 0 of 10 rows met the conditions .*acceptance 0\.0000%"):
        synth.sample(rows={"census": 10}, conditions={"census": {"age": {"min": 40.2, "max": 40.8}}})


def test_conditions_survive_save_and_load(copula, tmp_path) -> None:
    copula.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    assert loaded.domains == copula.domains
    out = loaded.sample(rows={"census": 40}, conditions={"census": {"education": "Doctorate"}})["census"]
    assert set(out.column("education").to_pylist()) == {"Doctorate"}
    with pytest.raises(ConfigError, match="never seen"):
        loaded.sample(rows={"census": 5}, conditions={"census": {"education": "PhD"}})


# -- several tables -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop_model() -> tuple[Database, Synthesizer]:
    db, md = shop()
    return db, Synthesizer(md, seed=2).fit(db)


def test_conditioned_parents_get_their_children(shop_model) -> None:
    _, synth = shop_model
    vip = synth.sample(rows={"customer": 200}, conditions={"customer": {"vip": True}})
    plain = synth.sample(rows={"customer": 200}, conditions={"customer": {"vip": False}})
    assert set(vip["customer"].column("vip").to_pylist()) == {True}
    md = synth.metadata
    assert not integrity_problems(md, vip) and not integrity_problems(md, plain)
    # vip customers have about six orders each, the others about one: the children follow the parents
    assert vip["orders"].num_rows / 200 > 2 * plain["orders"].num_rows / 200


def test_child_condition_constrains_the_child_rows_only(shop_model) -> None:
    _, synth = shop_model
    base = synth.sample(rows={"customer": 100}, seed=4)
    cond = synth.sample(rows={"customer": 100}, seed=4,
                        conditions={"orders": {"channel": "web", "amount": {"min": 20}}})
    assert cond["customer"].equals(base["customer"])  # parents untouched
    assert cond["orders"].num_rows == base["orders"].num_rows  # the same children per parent
    assert set(cond["orders"].column("channel").to_pylist()) == {"web"}
    assert min(cond["orders"].column("amount").to_pylist()) >= 20
    assert not integrity_problems(synth.metadata, cond)
    assert synth.sampling_report["orders"]["method"] == "native+rejection"


# -- bad input --------------------------------------------------------------------------------------------
def test_bad_conditions_are_listed_in_one_error(copula, shop_model) -> None:
    with pytest.raises(ConfigError) as info:
        copula.sample(rows={"census": 5}, conditions={
            "census": {"income": ">60K", "age": 400, "agee": 3, "hours_per_week": {"min": 200}},
            "censu": {"age": 3},
        })
    text = str(info.value)
    assert "column 'income': condition value '>60K' was never seen when fitting" in text
    assert "known values: '<=50K', '>50K'" in text
    assert "column 'age': condition value 400 is outside the range seen when fitting [17, 90]" in text
    assert "column 'agee': no such column" in text and "did you mean 'age'" in text
    assert "column 'hours_per_week': range {'min': 200.0} holds no value seen when fitting" in text
    assert "table 'censu': no such table" in text
    _, synth = shop_model
    with pytest.raises(ConfigError, match="column 'cid': is a key: keys are generated"):
        synth.sample(conditions={"orders": {"cid": 3}})


def test_bad_balance(copula, shop_model) -> None:
    with pytest.raises(ConfigError, match="balance needs a categorical or boolean column; this one is numerical"):
        copula.sample(rows={"census": 5}, balance="census.age")
    with pytest.raises(ConfigError, match="a column cannot be both conditioned and balanced"):
        copula.sample(rows={"census": 5}, balance="census.income", conditions={"census": {"income": ">50K"}})
    with pytest.raises(ConfigError, match="no such table"):
        copula.sample(rows={"census": 5}, balance="people.income")
    _, synth = shop_model
    with pytest.raises(ConfigError, match="is a key"):
        synth.sample(balance="orders.oid")


def test_range_on_a_categorical_column_and_min_above_max(copula) -> None:
    with pytest.raises(ConfigError) as info:
        copula.sample(rows={"census": 5}, conditions={"census": {"income": {"min": 1}, "age": {"min": 50, "max": 40},
                                                                 "fnlwgt": {"low": 3}}})
    text = str(info.value)
    assert "a range needs a numerical or datetime-typed column; this one is categorical" in text
    assert "range min 50 is above max 40" in text
    assert "a range takes 'min' and/or 'max'" in text


def test_cli_condition_text(copula) -> None:
    assert parse_condition_arg("census.income=>50K") == ("census", "income", ">50K")
    md = copula.metadata
    assert conditions_from_args(["census.income=>50K", "census.age=30..40", "census.hours_per_week=..20"], md) == {
        "census": {"income": ">50K", "age": {"min": "30", "max": "40"}, "hours_per_week": {"max": "20"}}}
    with pytest.raises(ConfigError, match="is not TABLE.COLUMN=VALUE"):
        parse_condition_arg("income=>50K")
    out = copula.sample(rows={"census": 30}, conditions=conditions_from_args(["census.age=30..40"], md))["census"]
    assert 30 <= min(out.column("age").to_pylist()) and max(out.column("age").to_pylist()) <= 40
