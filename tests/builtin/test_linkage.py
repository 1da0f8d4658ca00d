"""Built-in linkage models: counts conditioned on parents, zeros, 1:1, caps, persistence."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe._builtin.linkage import ConditionalLinkage, EmpiricalLinkage
from hiveframe.errors import ConfigError, NotFittedError
from hiveframe.persistence import load_component, save_component
from hiveframe.pipeline.checks import ks_statistic
from hiveframe.plugins import PluginHost


def parents(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    kind = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    return pa.table({"x": x, "kind": kind})


def counts_for(table: pa.Table, seed: int = 1) -> np.ndarray:
    """Zero children when x < 0, otherwise Poisson with a mean set by `kind`, capped at 12."""
    rng = np.random.default_rng(seed)
    x = table.column("x").to_numpy()
    mean = np.select([table.column("kind").to_numpy() == k for k in "abc"], [2.0, 5.0, 9.0])
    return np.where(x < 0, 0, np.minimum(rng.poisson(mean), 12))


def test_both_models_are_registered() -> None:
    names = PluginHost(load_entry_points=False).names("linkage_model")
    assert {"conditional", "empirical"} <= set(names)


def test_conditional_counts_follow_parent_attributes() -> None:
    train = parents(3000)
    y = counts_for(train)
    model = ConditionalLinkage().fit(train, y, seed=0)
    fresh = parents(3000, seed=5)
    out = model.sample(fresh, seed=2)
    x = fresh.column("x").to_numpy()
    kind = fresh.column("kind").to_numpy()
    # zero-children parents where the data has them, and more children for kind c than for kind a
    assert (out[x < -0.2] == 0).mean() > 0.9
    assert out[(x > 0.2) & (kind == "c")].mean() > 2 * out[(x > 0.2) & (kind == "a")].mean()
    # the marginal is kept (calibrated), support and caps too
    assert ks_statistic(y, out) < 0.03
    assert out.min() >= 0 and out.max() <= 12
    assert set(np.unique(out)) <= set(np.unique(y))


def test_uncalibrated_conditional_stays_in_the_observed_support() -> None:
    train = parents(2000)
    y = counts_for(train)
    out = ConditionalLinkage(calibrate=False).fit(train, y).sample(parents(2000, seed=9), seed=3)
    assert set(np.unique(out)) <= set(np.unique(y))
    assert ks_statistic(y, out) < 0.06


@pytest.mark.parametrize("model", [ConditionalLinkage, EmpiricalLinkage])
def test_exact_one_to_one_minimum_and_cap(model: type) -> None:
    train = parents(500)
    ones = np.ones(500, dtype=np.int64)
    assert (model().fit(train, ones).sample(parents(800, seed=3), seed=1) == 1).all()
    at_least = np.random.default_rng(0).integers(3, 9, size=500)
    out = model().fit(train, at_least).sample(parents(700, seed=4), seed=1)
    assert out.min() >= 3 and out.max() <= 8
    capped = np.minimum(np.random.default_rng(1).geometric(0.05, size=500), 50)
    out = model().fit(train, capped).sample(parents(1500, seed=4), seed=1)
    assert out.max() == 50 and (out == 50).mean() == pytest.approx((capped == 50).mean(), abs=0.02)


def test_parents_without_columns_use_the_histogram() -> None:
    empty = pa.table({"_": pa.nulls(300)}).drop(["_"])
    y = np.random.default_rng(0).poisson(3, size=300)
    out = ConditionalLinkage().fit(empty, y).sample(empty, seed=0)
    assert ks_statistic(y, out) < 0.02


@pytest.mark.parametrize("model", [ConditionalLinkage, EmpiricalLinkage])
def test_seeds_and_state_round_trip(model: type, tmp_path) -> None:
    train = parents(1000)
    y = counts_for(train)
    fitted = model().fit(train, y, seed=0)
    fresh = parents(400, seed=8)
    first = fitted.sample(fresh, seed=11)
    assert np.array_equal(first, fitted.sample(fresh, seed=11))
    assert not np.array_equal(first, fitted.sample(fresh, seed=12))
    host = PluginHost(load_entry_points=False)
    save_component(tmp_path, "linkage/x", fitted)
    loaded = load_component(tmp_path, "linkage/x", host)
    assert np.array_equal(loaded.sample(fresh, seed=11), first)


def test_bad_input() -> None:
    train = parents(10)
    with pytest.raises(ConfigError, match="one count per parent"):
        ConditionalLinkage().fit(train, np.ones(9))
    with pytest.raises(ConfigError, match="non-negative"):
        EmpiricalLinkage().fit(train, -np.ones(10))
    with pytest.raises(NotFittedError):
        EmpiricalLinkage().sample(train)
