"""Columns null together stay null together: nullness that another column determines is drawn from the data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe._builtin.copula import GaussianCopula
from hiveframe._builtin.follows import find_null_follows
from hiveframe.metadata import Column, ColumnKind, Table

JOINT = ("income_joint", "dti_joint", "verification_joint")


def applications(n: int, seed: int = 0) -> pa.Table:
    """Loans-like rows: the joint columns are null exactly for individual applications (MAR), the
    employer and the years employed are null together (MCAR), and ``late`` is null on its own."""
    rng = np.random.default_rng(seed)
    joint = rng.random(n) < 0.3
    income = rng.lognormal(11, 0.5, n)
    income_joint = income + rng.lognormal(10.5, 0.5, n)
    dti_joint = rng.gamma(4.0, 4.0, n)
    verification = rng.choice(["verified", "source", "not"], size=n)
    employed = rng.random(n) >= 0.1
    late = rng.gamma(2.0, 10.0, n)
    late_null = rng.random(n) < 0.4

    def masked(values: np.ndarray, present: np.ndarray) -> pa.Array:
        return pa.array(values, mask=~present)
    return pa.table({
        "application_type": np.where(joint, "joint", "individual").tolist(),
        "income": income,
        "income_joint": masked(income_joint, joint),
        "dti_joint": masked(dti_joint, joint),
        "verification_joint": masked(verification, joint),
        "emp_title": masked(rng.choice([f"title {i}" for i in range(40)], size=n), employed),
        "emp_length": masked(rng.integers(0, 11, n).astype(np.float64), employed),
        "late": masked(late, ~late_null),
    })


def table_of(data: pa.Table) -> Table:
    kinds = {"emp_title": ColumnKind.TEXT}
    cols = [Column(f.name, kinds.get(f.name, ColumnKind.NUMERICAL if pa.types.is_floating(f.type)
                                     else ColumnKind.CATEGORICAL), str(f.type)) for f in data.schema]
    return Table("loans", tuple(cols))


def nulls(out: pa.Table, name: str) -> np.ndarray:
    return np.asarray(out[name].is_null().to_numpy(zero_copy_only=False), dtype=bool)


def joint_rule_kept(out: pa.Table) -> float:
    """Share of rows whose joint columns are all null for an individual and all present for a joint one."""
    individual = np.asarray(out["application_type"].to_pylist()) == "individual"
    null = np.column_stack([nulls(out, c) for c in JOINT])
    return float(np.mean(np.where(individual, null.all(axis=1), ~null.any(axis=1))))


def pattern_tvd(real: pa.Table, synthetic: pa.Table, columns: list[str]) -> float:
    def dist(t: pa.Table) -> dict[tuple[bool, ...], float]:
        keys, counts = np.unique(np.column_stack([nulls(t, c) for c in columns]), axis=0, return_counts=True)
        return {tuple(k): c / t.num_rows for k, c in zip(keys.tolist(), counts, strict=True)}
    p, q = dist(real), dist(synthetic)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


@pytest.fixture(scope="module")
def data() -> pa.Table:
    return applications(3000)


def test_the_leads_found_are_the_real_mechanism(data) -> None:
    model = GaussianCopula().fit(data, table_of(data), seed=0)
    leads = {f.column: (f.lead, f.lead_is_null) for f in model._null_follows}
    # each joint column's nullness follows the application type, or the nullness of one that does
    for column in JOINT:
        lead, _ = leads[column]
        while lead in leads:
            lead = leads[lead][0]
        assert lead == "application_type"
    assert leads.get("emp_title", leads.get("emp_length"))[1]  # one of the pair follows the other's nullness
    assert "late" not in leads and "income" not in leads  # independent nulls (and no nulls) follow nothing


def test_joint_null_patterns_are_kept_where_the_copula_alone_loses_them(data) -> None:
    columns = [c for c in data.column_names if data[c].null_count]
    model = GaussianCopula().fit(data, table_of(data), seed=0)
    out = model.sample(4000, seed=1)
    assert joint_rule_kept(out) == 1.0
    for c in columns:  # per column, the null rate is the real one
        assert abs(nulls(out, c).mean() - nulls(data, c).mean()) < 0.03, c
    assert pattern_tvd(data, out, columns) < 0.05
    # values revealed where the copula drew a null but the pattern says present are real-looking values
    joint = np.asarray(out["application_type"].to_pylist()) == "joint"
    revealed = np.asarray(out["income_joint"].to_numpy(zero_copy_only=False))[joint]
    real_values = data["income_joint"].drop_null().to_numpy()
    assert np.isfinite(revealed).all() and revealed.min() >= real_values.min() - 1.0
    assert abs(np.median(revealed) / np.median(real_values) - 1) < 0.1
    # without it (the copula's own null indicators) the same data loses the joint patterns
    plain = GaussianCopula(keep_null_patterns=False).fit(data, table_of(data), seed=0).sample(4000, seed=1)
    assert joint_rule_kept(plain) < 0.99
    assert pattern_tvd(data, plain, columns) > 2 * pattern_tvd(data, out, columns)


def test_conditions_pin_the_lead_and_the_follower(data, tmp_path) -> None:
    from hiveframe.persistence import load_component, save_component
    from hiveframe.plugins import PluginHost

    model = GaussianCopula().fit(data, table_of(data), seed=0)
    out = model.sample(500, conditions={"application_type": "joint"}, seed=2)
    assert not any(nulls(out, c).any() for c in JOINT)
    out = model.sample(500, conditions={"income_joint": 90000.0}, seed=2)
    assert out["income_joint"].null_count == 0  # a pinned follower keeps its value
    save_component(tmp_path, "loans", model)
    loaded = load_component(tmp_path, "loans", PluginHost(load_entry_points=False))
    assert loaded.sample(300, seed=9).equals(model.sample(300, seed=9))


def test_a_context_column_can_lead() -> None:
    data = applications(2000, seed=3).rename_columns(
        ["parent.application_type", "income", "income_joint", "dti_joint", "verification_joint", "emp_title",
         "emp_length", "late"])
    table = table_of(data)
    follows = find_null_follows(data, list(table.columns), ("parent.application_type",),
                                indicators={"income", "income_joint", "dti_joint", "emp_length", "late"},
                                exclude=set(), threshold=0.8)
    assert "parent.application_type" not in {f.column for f in follows}
    model = GaussianCopula().fit(data, table, context_columns=("parent.application_type",), seed=0)
    context = pa.table({"parent.application_type": ["individual"] * 200 + ["joint"] * 200})
    out = model.sample(context=context, seed=4)
    for c in JOINT:
        assert nulls(out, c)[:200].all() and not nulls(out, c)[200:].any()


def test_the_vectorized_coefficient_is_the_pairwise_one() -> None:
    """All followers against one lead at once gives what find_follows computes pair by pair."""
    from hiveframe._builtin.follows import _entropy, _null_coefficients, functional

    def pairwise(x: np.ndarray, y: np.ndarray, ky: int) -> float:
        n = len(x)
        hx = _entropy(np.bincount(x))
        bias = (ky - 1) / (2.0 * n)
        mutual = hx + _entropy(np.bincount(y)) - _entropy(np.bincount(y * 2 + x, minlength=2 * ky))
        if functional(y, x, ky, 2):
            return 1.0
        return (mutual - bias) / (hx - bias) if hx - bias > 0.25 * hx else float("nan")

    rng = np.random.default_rng(7)
    checked = 0
    for trial in range(120):
        n, k = int(rng.integers(20, 400)), int(rng.integers(2, 30))
        y = rng.integers(0, k, n)
        kind = trial % 3  # determined, independent, determined with 5% noise
        x = (y % 2 if kind == 0 else rng.random(n) < 0.3 if kind == 1 else (y % 2) ^ (rng.random(n) < 0.05))
        x = np.asarray(x, dtype=np.int64)
        if x.min() == x.max():
            continue
        k = int(y.max()) + 1
        got, want = _null_coefficients(x[:, None].astype(np.float64), y, k)[0], pairwise(x, y, k)
        assert (np.isnan(got) and np.isnan(want)) or abs(got - want) < 1e-9, (trial, got, want)
        checked += 1
    assert checked > 100
