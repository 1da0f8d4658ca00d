"""Category columns that another one determines: found with evidence, drawn from their observed pairs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe._builtin.copula import GaussianCopula
from hiveframe._builtin.follows import find_follows, functional
from hiveframe.errors import ConfigError
from hiveframe.metadata import Column, ColumnKind, Table

COUNTRY_OF = {"Paris": "France", "Lyon": "France", "Nice": "France", "Berlin": "Germany", "Munich": "Germany",
              "Lisbon": "Portugal", "Porto": "Portugal", "Oslo": "Norway", "Bergen": "Norway", "Rome": "Italy",
              "Milan": "Italy", "Madrid": "Spain"}


def addresses(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cities = rng.choice(sorted(COUNTRY_OF), size=n)
    spend = rng.gamma(2.0, 50.0, size=n) + np.where(np.isin(cities, ["Paris", "Berlin"]), 100.0, 0.0)
    return pa.table({"city": cities.tolist(), "country": [COUNTRY_OF[c] for c in cities],
                     "channel": rng.choice(["web", "shop", "phone"], size=n).tolist(), "spend": spend})


def table_of(data: pa.Table, name: str = "orders", context: tuple[str, ...] = ()) -> Table:
    cols = [Column(f.name, ColumnKind.NUMERICAL if pa.types.is_floating(f.type) else ColumnKind.CATEGORICAL,
                   str(f.type)) for f in data.schema]
    return Table(name, tuple(cols))


def real_pairs(out: pa.Table) -> float:
    return float(np.mean([COUNTRY_OF[c] == k for c, k in zip(out["city"].to_pylist(), out["country"].to_pylist(),
                                                               strict=True)]))


def test_a_city_determines_its_country_and_is_drawn_with_it() -> None:
    data = addresses(400)
    follows = find_follows(data, list(table_of(data).columns), (), threshold=0.8)
    assert [(f.lead, f.column) for f in follows] == [("city", "country")]  # channel is independent
    model = GaussianCopula().fit(data, table_of(data), seed=0)
    assert real_pairs(model.sample(2000, seed=1)) == 1.0
    # the copula alone mixes them up: this is what the follows fix
    plain = GaussianCopula(follow_threshold=None).fit(data, table_of(data), seed=0)
    assert real_pairs(plain.sample(2000, seed=1)) < 0.95


def test_rare_leads_need_evidence() -> None:
    """Near-unique values explain anything; without repeats that agree there is no dependence."""
    rng = np.random.default_rng(3)
    ids = [f"u{i}" for i in range(300)]
    noise = rng.choice(["a", "b", "c"], size=300).tolist()
    data = pa.table({"user": ids, "label": noise})
    assert find_follows(data, list(table_of(data).columns), (), threshold=0.8) == []
    # a few repeated values that keep their partner are evidence enough (59 customers, 53 cities)
    a = np.r_[np.arange(50), np.repeat(np.arange(50, 56), 2)]
    b = a % 5
    assert functional(a, b, 56, 5)
    b_broken = b.copy()
    b_broken[-1] = (b_broken[-1] + 1) % 5
    assert not functional(a, b_broken, 56, 5)


def test_a_child_keeps_a_value_its_parent_context_fixes() -> None:
    data = addresses(500, seed=4).rename_columns(["city", "parent.country", "channel", "spend"])
    data = data.append_column("country", data.column("parent.country"))
    table = table_of(data)
    model = GaussianCopula().fit(data, table, context_columns=("parent.country",), seed=0)
    context = pa.table({"parent.country": ["Norway"] * 300 + ["Italy"] * 300})
    out = model.sample(context=context, seed=2)
    assert out["country"].to_pylist() == context["parent.country"].to_pylist()
    assert set(out["city"].to_pylist()[:300]) <= {"Oslo", "Bergen"}  # the city comes with the country


def test_conditions_are_kept_and_pull_their_lead_along(tmp_path) -> None:
    from hiveframe.persistence import load_component, save_component
    from hiveframe.plugins import PluginHost

    data = addresses(400, seed=5)
    model = GaussianCopula().fit(data, table_of(data), seed=0)
    out = model.sample(200, conditions={"country": "Spain"}, seed=3)
    assert set(out["country"].to_pylist()) == {"Spain"}
    assert set(out["city"].to_pylist()) == {"Madrid"}  # the lead is drawn given the pinned follower
    out = model.sample(200, conditions={"city": "Porto"}, seed=3)
    assert set(out["country"].to_pylist()) == {"Portugal"}
    save_component(tmp_path, "orders", model)
    loaded = load_component(tmp_path, "orders", PluginHost(load_entry_points=False))
    assert loaded.sample(300, seed=9).equals(model.sample(300, seed=9))


def test_follow_threshold_is_checked() -> None:
    with pytest.raises(ConfigError, match="follow_threshold"):
        GaussianCopula(follow_threshold=1.5)


def test_functional_on_heavily_repeated_values_is_finite_and_silent():
    """A value of A seen hundreds of times used to underflow sum_b p_b^t to 0: log(0) warned."""
    import warnings

    a = np.repeat(np.arange(4), 500)
    b = a % 2  # A determines B
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert functional(a, b, 4, 2)
        assert not functional(a, np.random.default_rng(0).integers(0, 2, len(a)), 4, 2)
