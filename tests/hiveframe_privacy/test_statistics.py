"""DP preprocessing: noisy releases, the surrogate table built from them, and cleaned real rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_privacy.budget import TableBudget
from hiveframe_privacy.statistics import PrivateStatistics, assign_bins, numeric_bins, releases_for

from hiveframe.components import NoiseSource
from hiveframe.metadata import Column, ColumnKind, Table


def _table(n: int = 600, seed: int = 0) -> tuple[pa.Table, Table]:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]).tolist()
    colour[0] = "ultraviolet"  # a category held by one row: must never be released
    age = rng.integers(18, 90, size=n)
    income = rng.lognormal(10, 1, size=n)
    income[rng.random(n) < 0.2] = np.nan
    day = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, size=n)]
    stamp = [f"2021-03-{1 + int(d):02d} 10:00:00" for d in rng.integers(0, 28, size=n)]
    data = pa.table({
        "colour": pa.array(colour),
        "age": pa.array(age, pa.int64()),
        "income": pa.array(income, pa.float64(), from_pandas=True),
        "day": pa.array(day, pa.date32()),
        "stamp": pa.array(stamp),
        "flag": pa.array((rng.random(n) < 0.3).tolist()),
        "score": pa.array(rng.random(n) * 10),
    })
    table = Table("t", (
        Column("colour", ColumnKind.CATEGORICAL),
        Column("age", ColumnKind.NUMERICAL, "int64", nullable=False),
        Column("income", ColumnKind.NUMERICAL, "double"),
        Column("day", ColumnKind.DATETIME, "date32[day]"),
        Column("stamp", ColumnKind.DATETIME, "string", datetime_format="%Y-%m-%d %H:%M:%S"),
        Column("flag", ColumnKind.BOOLEAN, "bool"),
        Column("score", ColumnKind.NUMERICAL, "double", low=0.0, high=10.0),  # public bounds
    ))
    return data, table


def _budget(table: Table, epsilon: float = 5.0, noise: int = 1) -> TableBudget:
    """A budget whose noise is replayable (NoiseSource.fixed: test only), so these checks are stable."""
    releases, selections = releases_for(table, table.column_names)
    return TableBudget(table.name, epsilon, 1e-5, preprocess_share=0.5, planned_releases=releases,
                       planned_selections=selections, noise=NoiseSource.fixed(noise))


def test_releases_are_planned_and_accounted():
    data, table = _table()
    budget = _budget(table)
    PrivateStatistics.release(data, table, table.column_names, budget)
    releases, selections = releases_for(table, table.column_names)
    assert len(budget.ledger) == releases  # row count, 2 per numeric without bounds, 1 otherwise
    assert selections == 1 and budget.selections == 1
    # the public bounds of `score` spend nothing on bounds
    assert not any(r["release"].startswith("score: bounds") for r in budget.ledger)
    assert 0 < budget.epsilon_spent() <= 5.0 * 0.5 * 1.001


def test_surrogate_follows_the_releases_and_keeps_types():
    data, table = _table(2000)
    budget = _budget(table, epsilon=20.0)
    stats = PrivateStatistics.release(data, table, table.column_names, budget)
    sur = stats.surrogate(3000, np.random.default_rng(2))
    assert sur.num_rows == 3000
    assert sur.schema.equals(data.schema)
    cats = set(sur.column("colour").drop_null().to_pylist())
    assert cats == {"red", "green", "blue"}  # the single-row category is suppressed
    share = np.mean(np.array(sur.column("colour").to_pylist()) == "red")
    assert abs(share - 0.5) < 0.05
    income_null = sur.column("income").null_count / sur.num_rows
    assert abs(income_null - 0.2) < 0.05
    age = np.array(sur.column("age").to_pylist())
    assert age.min() >= 16 and age.max() <= 128  # private bounds: powers of two around 18..89
    assert abs(age.mean() - 53.5) < 5
    score = np.array(sur.column("score").to_pylist())
    assert score.min() >= 0 and score.max() <= 10
    assert {d.year for d in sur.column("day").to_pylist()} <= {2019, 2020, 2021, 2022}
    assert all(s.startswith("2021-0") for s in sur.column("stamp").drop_null().to_pylist())


def test_rare_category_is_never_released_and_is_replaced_in_clean_rows():
    data, table = _table()
    for seed in range(5):
        budget = _budget(table, noise=seed)
        stats = PrivateStatistics.release(data, table, table.column_names, budget)
        assert "ultraviolet" not in stats.columns["colour"].released_categories
        clean = stats.clean(data, np.random.default_rng(seed))
        assert "ultraviolet" not in clean.column("colour").to_pylist()
        assert clean.num_rows == data.num_rows


def test_a_column_declared_non_nullable_never_gets_nulls_from_noise(monkeypatch):
    """The null bin of a column without nulls is pure noise, and noise passes the floor now and then.
    Here every histogram's noise lands high in its null bin: ``score`` (nullable, no nulls) then gets
    a null share, ``age`` (declared non-nullable: public) does not, and its surrogate holds no null."""
    data, table = _table()
    release = TableBudget.release

    def noisy_null_bin(self, values, *, sensitivity, label):
        out = np.array(release(self, values, sensitivity=sensitivity, label=label), dtype=float)
        if label.endswith("histogram"):
            out[-1] += 50 * self.noise_std
        return out

    monkeypatch.setattr(TableBudget, "release", noisy_null_bin)
    stats = PrivateStatistics.release(data, table, table.column_names, _budget(table))
    assert stats.columns["score"].null_weight > 0
    assert stats.columns["age"].null_weight == 0.0
    assert stats.surrogate(2000, np.random.default_rng(0)).column("age").null_count == 0


def test_clean_rows_lie_in_the_released_domain():
    data, table = _table()
    budget = _budget(table)
    stats = PrivateStatistics.release(data, table, table.column_names, budget)
    clean = stats.clean(data, np.random.default_rng(3))
    rel = stats.columns["income"]
    x = np.array(clean.column("income").to_pylist(), dtype=float)
    assert np.nanmin(x) >= rel.low and np.nanmax(x) <= rel.high
    assert set(clean.column("colour").drop_null().to_pylist()) <= set(stats.columns["colour"].released_categories)
    assert clean.schema.equals(data.schema)


def test_numeric_bins_are_data_independent_and_assign_every_value():
    lo, hi = numeric_bins(0.0, 1000.0, 1.0, 64)
    assert (lo == 0).sum() >= 1 and ((lo == 0) & (hi == 0)).any()  # zero has a bin of its own
    x = np.array([0.0, 0.0, 5.0, 999.0, 1000.0])
    idx = assign_bins(x, lo, hi)
    assert (idx >= 0).all()
    assert lo[idx[0]] == hi[idx[0]] == 0
    small_lo, small_hi = numeric_bins(1.0, 10.0, 1.0, 64)
    assert np.array_equal(small_lo, np.arange(1.0, 11.0)) and np.array_equal(small_lo, small_hi)


@pytest.mark.parametrize("bad", [0.0, 1.0])
def test_preprocess_share_must_be_a_fraction(bad):
    from hiveframe.errors import ConfigError

    with pytest.raises(ConfigError, match="preprocess_share"):
        TableBudget("t", 1.0, 1e-5, preprocess_share=bad, planned_releases=3, planned_selections=0)


def test_mean_imputation_uses_the_released_statistics():
    data, table = _table(2000)
    budget = _budget(table, epsilon=20.0)
    stats = PrivateStatistics.release(data, table, table.column_names, budget)
    stats.impute(["income", "colour"])
    sur = stats.surrogate(1000, np.random.default_rng(2))
    clean = stats.clean(data, np.random.default_rng(2))
    assert sur.column("income").null_count == 0 and clean.column("income").null_count == 0
    filled = np.array(clean.column("income").to_pylist())[np.isnan(np.array(data.column("income").to_pylist(),
                                                                              dtype=float))]
    assert np.allclose(filled, stats.fill["income"])
    real_mean = np.nanmean(np.clip(np.array(data.column("income").to_pylist(), dtype=float),
                                   stats.columns["income"].low, stats.columns["income"].high))
    assert abs(stats.fill["income"] - real_mean) / real_mean < 0.2
