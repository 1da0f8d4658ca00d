"""The builtin Gaussian copula on real data: marginals, types, nulls, conditioning, state, bad input."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from hiveframe._builtin.copula import GENERATORS, GaussianCopula
from hiveframe._builtin.transformers import IntegerTransformer, OneHotTransformer
from hiveframe.errors import ConfigError, DataError
from hiveframe.metadata import Column, ColumnKind, Table


def flat_table(name: str, data: pa.Table, categorical: tuple[str, ...] = ()) -> Table:
    columns = []
    for f in data.schema:
        if f.name in categorical or pa.types.is_string(f.type):
            kind = ColumnKind.CATEGORICAL
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            kind = ColumnKind.NUMERICAL
        elif pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
            kind = ColumnKind.DATETIME
        else:
            kind = ColumnKind.BOOLEAN
        columns.append(Column(f.name, kind, dtype=str(f.type)))
    return Table(name=name, columns=tuple(columns))


@pytest.fixture(scope="module")
def census(shared_data):
    data = pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz")
    return data, flat_table("census", data)


@pytest.fixture(scope="module")
def census_model(census):
    data, table = census
    return GaussianCopula().fit(data, table, seed=0)


@pytest.fixture(scope="module")
def users(shared_data):
    opts = pacsv.ConvertOptions(strings_can_be_null=True)
    data = pacsv.read_csv(shared_data / "airbnb" / "users.csv.gz", convert_options=opts).drop(["id"])
    return data, flat_table("users", data, categorical=("signup_flow",))


@pytest.fixture(scope="module")
def users_model(users):
    data, table = users
    return GaussianCopula().fit(data, table, seed=0)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size
                               - np.searchsorted(b, grid, side="right") / b.size)))


def share(arr: pa.ChunkedArray | pa.Array) -> dict:
    values = arr.to_pylist()
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return {k: c / len(values) for k, c in out.items()}


# -- marginals and types --------------------------------------------------------------------------------
def test_registered_as_gaussian_copula():
    from hiveframe.plugins import PluginHost

    assert GaussianCopula in GENERATORS
    host = PluginHost(load_entry_points=False)
    assert isinstance(host.create("table_generator", "gaussian_copula"), GaussianCopula)


def test_census_marginals_types_and_bounds(census, census_model):
    data, table = census
    synthetic = census_model.sample(20_000, seed=1)
    assert synthetic.column_names == table.column_names
    assert synthetic.schema == data.schema
    for column in table.columns:
        real, fake = data.column(column.name), synthetic.column(column.name)
        if column.kind is ColumnKind.NUMERICAL:
            r, f = real.to_numpy(), fake.to_numpy()
            assert f.dtype == np.int64
            assert r.min() <= f.min() and f.max() <= r.max()
            assert ks_statistic(r, f) < 0.03, column.name
        else:
            real_share, fake_share = share(real), share(fake)
            assert set(fake_share) <= set(real_share)  # only real categories come out
            for value, p in real_share.items():
                assert abs(fake_share.get(value, 0.0) - p) < 0.02, (column.name, value)
    # the zero-inflated column keeps its spike
    zeros = lambda arr: np.mean(arr.to_numpy() == 0)  # noqa: E731
    assert abs(zeros(synthetic.column("capital_gain")) - zeros(data.column("capital_gain"))) < 0.01


def test_census_model_size_is_bounded(census_model):
    state = census_model.get_state()
    for key, arr in state.arrays.items():
        if key.endswith("knots_x"):
            assert arr.size <= 1000 + 2 * 1000
    fnlwgt = [k for k, d in enumerate(census_model._dims) if d.column == "fnlwgt"][0]
    assert state.arrays[f"dim{fnlwgt}/knots_x"].size < 2_100  # 28k distinct values, not stored


def test_census_dependence_is_kept(census, census_model):
    data, _ = census
    synthetic = census_model.sample(20_000, seed=2)

    def corr(t: pa.Table, a: str, b: str) -> float:
        return float(np.corrcoef(t.column(a).to_numpy(), t.column(b).to_numpy())[0, 1])

    assert abs(corr(synthetic, "age", "education_num") - corr(data, "age", "education_num")) < 0.05
    # category pairs: husbands are married men, own children are young
    rel = np.array(synthetic.column("relationship").to_pylist())
    sex = np.array(synthetic.column("sex").to_pylist())
    marital = np.array(synthetic.column("marital_status").to_pylist())
    age = synthetic.column("age").to_numpy()
    assert np.mean(sex[rel == "Husband"] == "Male") > 0.85
    assert np.mean(marital[rel == "Husband"] == "Married-civ-spouse") > 0.85
    assert np.median(age[rel == "Own-child"]) < np.median(age) - 10
    # (a single latent per category column cannot also make every wife a woman: see the docstring)


def test_users_types_null_rates_and_dates(users, users_model):
    data, table = users
    synthetic = users_model.sample(10_000, seed=3)
    assert synthetic.schema == data.schema  # date32 stays date32, timestamp[s] stays timestamp[s]
    for name in table.column_names:
        real_rate = data.column(name).null_count / data.num_rows
        fake_rate = synthetic.column(name).null_count / synthetic.num_rows
        assert abs(real_rate - fake_rate) < 0.02, name
    for name in ("date_account_created", "timestamp_first_active", "date_first_booking"):
        real = data.column(name).drop_null()
        fake = synthetic.column(name).drop_null()
        r = real.cast(pa.int64()) if pa.types.is_timestamp(real.type) else real.cast(pa.int32())
        f = fake.cast(pa.int64()) if pa.types.is_timestamp(fake.type) else fake.cast(pa.int32())
        r, f = r.to_numpy().astype(float), f.to_numpy().astype(float)
        assert r.min() <= f.min() and f.max() <= r.max()
        assert ks_statistic(r, f) < 0.05, name
    age_real = data.column("age").drop_null().to_numpy()
    age_fake = synthetic.column("age").drop_null().to_numpy()
    assert ks_statistic(age_real, age_fake) < 0.05
    assert np.all(age_fake == np.round(age_fake))  # ages were whole numbers stored as floats


def test_users_null_that_depends_on_another_column(users, users_model):
    synthetic = users_model.sample(10_000, seed=4)
    ndf = np.array(synthetic.column("country_destination").to_pylist()) == "NDF"
    null = np.array(synthetic.column("date_first_booking").is_null().to_pylist())
    assert null[ndf].mean() > 0.9
    assert null[~ndf].mean() < 0.1


# -- conditional sampling -------------------------------------------------------------------------------
def test_conditions_shift_other_columns_like_the_real_conditional(census, census_model):
    data, _ = census
    rich = census_model.sample(5_000, conditions={"income": ">50K"}, seed=5)
    assert set(rich.column("income").to_pylist()) == {">50K"}
    real_income = np.array(data.column("income").to_pylist())
    real_age = data.column("age").to_numpy()
    real_edu = data.column("education_num").to_numpy()
    fake_age = rich.column("age").to_numpy()
    fake_edu = rich.column("education_num").to_numpy()
    # the real conditional: older and more educated than everyone
    assert abs(fake_age.mean() - real_age[real_income == ">50K"].mean()) < 2.5
    assert fake_age.mean() > real_age.mean() + 3
    assert abs(fake_edu.mean() - real_edu[real_income == ">50K"].mean()) < 0.6
    bachelors_up = {"Bachelors", "Masters", "Doctorate", "Prof-school"}
    real_share = np.isin(np.array(data.column("education").to_pylist()), list(bachelors_up)).mean()
    fake_share = np.isin(np.array(rich.column("education").to_pylist()), list(bachelors_up)).mean()
    assert fake_share > real_share + 0.15


def test_conditions_on_several_columns_and_on_a_number(census_model):
    out = census_model.sample(2_000, conditions={"sex": "Female", "income": "<=50K", "age": 30}, seed=6)
    assert set(out.column("sex").to_pylist()) == {"Female"}
    assert set(out.column("income").to_pylist()) == {"<=50K"}
    assert set(out.column("age").to_pylist()) == {30}
    rel = np.array(out.column("relationship").to_pylist())
    assert np.mean(rel == "Husband") < 0.4 / 3  # 40% of all rows, rarely a woman's


@pytest.fixture(scope="module")
def parent_child():
    """Child rows whose `amount` and `kind` depend on their parent's context columns."""
    rng = np.random.default_rng(0)
    n = 6_000
    tier = rng.choice(["gold", "silver", "bronze"], size=n, p=[0.2, 0.3, 0.5])
    score = rng.normal(50, 10, size=n)
    base = np.select([tier == "gold", tier == "silver"], [100.0, 50.0], 10.0)
    amount = np.round(base + 0.5 * (score - 50) + rng.normal(0, 3, size=n), 2)
    kind = np.where(rng.random(n) < np.where(tier == "gold", 0.9, 0.1), "premium", "basic")
    data = pa.table({"parent_tier": tier, "parent_score": score, "amount": amount, "kind": kind})
    table = Table("orders", (
        Column("parent_tier", ColumnKind.CATEGORICAL), Column("parent_score", ColumnKind.NUMERICAL, dtype="double"),
        Column("amount", ColumnKind.NUMERICAL, dtype="double"), Column("kind", ColumnKind.CATEGORICAL),
    ))
    model = GaussianCopula().fit(data, table, context_columns=["parent_tier", "parent_score"], seed=0)
    return data, model


def test_context_reproduces_the_dependence_on_parent_values(parent_child):
    data, model = parent_child
    context = pa.table({
        "parent_tier": ["gold"] * 1500 + ["bronze"] * 1500,
        "parent_score": np.r_[np.full(1500, 50.0), np.linspace(30, 70, 1500)],
    })
    out = model.sample(context=context, seed=7)
    assert out.column_names == ["amount", "kind"]  # context columns are not generated
    assert out.num_rows == 3000
    amount = out.column("amount").to_numpy()
    kind = np.array(out.column("kind").to_pylist())
    gold, bronze = slice(0, 1500), slice(1500, 3000)
    assert amount[gold].mean() > amount[bronze].mean() + 40
    assert np.mean(kind[gold] == "premium") > 0.7 and np.mean(kind[bronze] == "premium") < 0.3
    # the continuous context matters too: higher parent score, higher amount
    assert np.corrcoef(context.column("parent_score").to_numpy()[bronze], amount[bronze])[0, 1] > 0.3


def test_context_with_an_unseen_category_or_null_is_marginalised(parent_child):
    _, model = parent_child
    context = pa.table({"parent_tier": ["platinum", None], "parent_score": [None, 55.0]})
    out = model.sample(context=context, seed=8)
    assert out.num_rows == 2 and out.column("amount").null_count == 0
    # a null score (never null in training) is unknown, not the median: the spread of the score shows
    known = model.sample(context=pa.table({"parent_tier": ["gold"] * 2000, "parent_score": [50.0] * 2000}),
                         seed=9).column("amount").to_numpy()
    unknown = model.sample(context=pa.table({"parent_tier": ["gold"] * 2000,
                                             "parent_score": pa.nulls(2000, type=pa.float64())}),
                           seed=9).column("amount").to_numpy()
    assert abs(unknown.mean() - known.mean()) < 5
    iqr = lambda x: np.subtract(*np.percentile(x, [75, 25]))  # noqa: E731
    assert iqr(unknown) > 1.2 * iqr(known)


def test_context_is_required_and_checked(parent_child):
    _, model = parent_child
    with pytest.raises(ConfigError, match="needs a context table"):
        model.sample(10)
    with pytest.raises(ConfigError, match="lacks column"):
        model.sample(context=pa.table({"parent_tier": ["gold"]}))


def test_condition_on_unseen_category_names_column_and_value(census_model):
    with pytest.raises(ConfigError, match=r"column 'income'.*'>60K'.*never seen") as info:
        census_model.sample(10, conditions={"income": ">60K"})
    assert "known values" in str(info.value)
    with pytest.raises(ConfigError, match=r"column 'age'.*null"):
        census_model.sample(10, conditions={"age": None})


def test_condition_on_null(users_model):
    out = users_model.sample(500, conditions={"date_first_booking": None}, seed=9)
    assert out.column("date_first_booking").null_count == 500
    countries = np.array(out.column("country_destination").to_pylist())
    assert np.mean(countries == "NDF") > 0.9


# -- state, determinism, overrides ----------------------------------------------------------------------
def test_persistence_round_trip_gives_identical_samples(users, tmp_path):
    from hiveframe.persistence import load_component, save_component
    from hiveframe.plugins import PluginHost

    data, table = users
    host = PluginHost(load_entry_points=False)
    model = host.create("table_generator", "gaussian_copula",
                        {"transformers": {"age": IntegerTransformer(), "signup_flow": OneHotTransformer()}})
    model.fit(data.slice(0, 3000), table, seed=0)
    save_component(tmp_path, "users", model)
    loaded = load_component(tmp_path, "users", host)
    assert isinstance(loaded, GaussianCopula)
    assert loaded.sample(300, seed=11).equals(model.sample(300, seed=11))
    cond = {"country_destination": "US"}
    assert loaded.sample(50, conditions=cond, seed=12).equals(model.sample(50, conditions=cond, seed=12))


def test_same_seed_same_rows_other_seed_other_rows(census_model):
    a = census_model.sample(500, seed=21)
    assert a.equals(census_model.sample(500, seed=21))
    assert not a.equals(census_model.sample(500, seed=22))
    cond = {"income": ">50K"}
    assert census_model.sample(100, conditions=cond, seed=3).equals(census_model.sample(100, conditions=cond, seed=3))


def test_transformer_overrides_by_kind_and_name(census):
    data, table = census
    small = data.slice(0, 4000)
    model = GaussianCopula(transformers={"categorical": OneHotTransformer(), "age": IntegerTransformer()})
    model.fit(small, table, seed=0)
    out = model.sample(3000, seed=1)
    assert out.schema == data.schema
    sex = share(out.column("sex"))
    assert set(sex) == {"Male", "Female"}
    assert abs(sex["Male"] - share(small.column("sex"))["Male"]) < 0.05


def test_zero_rows_requested_gives_an_empty_typed_table(users_model, users):
    out = users_model.sample(0, seed=0)
    assert out.num_rows == 0 and out.schema == users[0].schema


# -- bad input ------------------------------------------------------------------------------------------
def test_empty_table_is_an_error_naming_the_table():
    table = Table("empty_one", (Column("x", ColumnKind.NUMERICAL, dtype="double"),))
    with pytest.raises(DataError, match="'empty_one'.*no rows"):
        GaussianCopula().fit(pa.table({"x": pa.array([], type=pa.float64())}), table)


def test_all_null_column_is_generated_as_null_with_a_warning(caplog):
    data = pa.table({
        "x": pa.array(np.arange(50, dtype=float)),
        "nothing": pa.nulls(50, type=pa.float64()),
        "no_cat": pa.nulls(50, type=pa.string()),
        "no_date": pa.nulls(50, type=pa.date32()),
    })
    table = Table("t", (Column("x", ColumnKind.NUMERICAL, dtype="double"),
                        Column("nothing", ColumnKind.NUMERICAL, dtype="double"),
                        Column("no_cat", ColumnKind.CATEGORICAL),
                        Column("no_date", ColumnKind.DATETIME, dtype="date32[day]")))
    with caplog.at_level(logging.WARNING, logger="hiveframe._builtin.copula"):
        model = GaussianCopula().fit(data, table, seed=0)
    assert "'nothing' is entirely null" in caplog.text and "'no_date'" in caplog.text
    out = model.sample(40, seed=1)
    assert out.schema == data.schema
    assert out.column("nothing").null_count == 40
    assert out.column("no_cat").null_count == 40
    assert out.column("no_date").null_count == 40
    assert out.column("x").null_count == 0


def test_constant_column_and_category_seen_once():
    n = 200
    cats = ["a"] * (n - 1) + ["rare"]
    data = pa.table({"const": [7] * n, "c": cats, "y": np.linspace(0, 1, n)})
    table = Table("t", (Column("const", ColumnKind.NUMERICAL, dtype="int64"),
                        Column("c", ColumnKind.CATEGORICAL), Column("y", ColumnKind.NUMERICAL, dtype="double")))
    model = GaussianCopula().fit(data, table, seed=0)
    out = model.sample(5000, seed=1)
    assert set(out.column("const").to_pylist()) == {7}
    assert set(out.column("c").to_pylist()) <= {"a", "rare"}
    assert 0 < out.column("c").to_pylist().count("rare") < 100
    rare = model.sample(20, conditions={"c": "rare"}, seed=2)
    assert set(rare.column("c").to_pylist()) == {"rare"}


def test_single_row_and_boolean_columns():
    data = pa.table({"flag": [True], "v": [1.5], "when": pa.array([dt.date(2020, 1, 1)])})
    table = flat_table("one", data)
    out = GaussianCopula().fit(data, table, seed=0).sample(5, seed=0)
    assert out.to_pydict() == {"flag": [True] * 5, "v": [1.5] * 5, "when": [dt.date(2020, 1, 1)] * 5}


def test_bad_parameters_are_one_config_error():
    with pytest.raises(ConfigError, match="max_quantiles.*ordering must be"):
        GaussianCopula.from_params({"max_quantiles": 1, "ordering": "random"})
    with pytest.raises(ConfigError, match="no parameter"):
        GaussianCopula.from_params({"max_quantile": 10})


def test_conformance_kit():
    from hiveframe.testing.conformance import check_table_generator

    check_table_generator(GaussianCopula)  # raises ConformanceError listing every broken rule


def test_tables_without_generated_columns_give_rows_without_columns():
    keys_only = GaussianCopula().fit(pa.table({"k": [1, 2, 3]}).drop(["k"]), Table("keys_only", ()), seed=0)
    assert keys_only.sample(5, seed=1).num_rows == 5
    context_only = GaussianCopula().fit(pa.table({"p": ["x", "y", "x"]}),
                                        Table("c", (Column("p", ColumnKind.CATEGORICAL),)),
                                        context_columns=["p"], seed=0)
    out = context_only.sample(context=pa.table({"p": ["x", "y"]}), seed=1)
    assert out.num_rows == 2 and out.num_columns == 0
