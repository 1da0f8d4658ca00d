"""The privacy unit of a database (a root entity), one budget across tables, caps, and DP metadata rules.

Attacks: a user with k sessions is protected at the requested epsilon whatever k (the accounted epsilon
per user is recomputed from every release and step of every table, in RDP); the cap is enforced; a
sampled DP-SGD unit is a whole user; metadata detected from the private rows and the sibling-count
context are refused.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_privacy.accountant import DEFAULT_ORDERS, epsilon_from_rdp, step_rdp
from hiveframe_privacy.dp import DPWrapper
from hiveframe_privacy.units import DEFAULT_MAX_CHILDREN, plan_units

from hiveframe.components import Database
from hiveframe.errors import ConfigError, MetadataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline.synthesizer import Synthesizer


def _users_sessions(n_users: int = 400, seed: int = 0, heavy: int = 50) -> tuple[Database, Metadata]:
    """Users with 1 to 8 sessions, and one heavy user with ``heavy`` sessions (the attacked person)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 9, size=n_users)
    k[0] = heavy
    users = pa.table({"user_id": np.arange(n_users), "age": rng.integers(18, 80, n_users),
                      "country": rng.choice(["fr", "us", "de"], n_users).tolist()})
    owner = np.repeat(np.arange(n_users), k)
    sessions = pa.table({"session_id": np.arange(len(owner)), "user_id": owner,
                         "seconds": np.minimum(rng.gamma(2.0, 5.0, len(owner)) * k[owner], 999.0),
                         "device": rng.choice(["ios", "web"], len(owner)).tolist()})
    md = Metadata(tables=(
        Table("users", (Column("user_id", ColumnKind.ID, "int64", nullable=False),
                        Column("age", ColumnKind.NUMERICAL, "int64", nullable=False, low=0, high=120),
                        Column("country", ColumnKind.CATEGORICAL, nullable=False, categories=("fr", "us", "de"))),
              primary_key=("user_id",)),
        Table("sessions", (Column("session_id", ColumnKind.ID, "int64", nullable=False),
                           Column("user_id", ColumnKind.ID, "int64", nullable=False),
                           Column("seconds", ColumnKind.NUMERICAL, "double", nullable=False, low=0, high=1000),
                           Column("device", ColumnKind.CATEGORICAL, nullable=False, categories=("ios", "web"))),
              primary_key=("session_id",)),
    ), foreign_keys=(ForeignKey("sessions", ("user_id",), "users", ("user_id",)),))
    return Database({"users": users, "sessions": sessions}), md


def _composed_epsilon(report: dict) -> float:
    """Epsilon per root entity recomputed from the ledgers of every table (independently of the accountant)."""
    rdp = np.zeros(len(DEFAULT_ORDERS))
    for table in report["tables"].values():
        for r in table["releases"]:
            if r["mechanism"] == "gaussian":  # noise std = sigma * sensitivity * unit_rows
                sigma = r["noise_std"] / (r["sensitivity"] * r["unit_rows"])
                rdp += step_rdp(1.0, sigma, DEFAULT_ORDERS)
        t = table.get("training")
        if t and t["steps"]:
            rdp += t["steps"] * step_rdp(float(t["sampling_rate"]), float(t["noise_multiplier"]), DEFAULT_ORDERS)
    return epsilon_from_rdp(rdp.tolist(), DEFAULT_ORDERS, report["delta_conversion"])[0]


def test_one_budget_per_user_whatever_their_sessions():
    db, md = _users_sessions()
    synth = Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 1.0, "max_children": 5}, seed=0)
    synth.fit(db)
    report = synth.privacy_report()["dp"]
    assert report["privacy_unit"] == "users entity" and report["roots"] == ["users"]
    # the composed epsilon over BOTH tables (recomputed from the ledgers) is the requested budget
    composed = _composed_epsilon(report)
    assert math.isclose(composed, report["epsilon_spent"], rel_tol=1e-6)
    assert 0.97 <= composed <= 1.0 + 1e-9
    # a user owns at most 5 sessions: every sessions release is scaled to 5 rows
    sessions = report["tables"]["sessions"]
    assert sessions["unit_rows"] == 5 and report["unit_rows"] == {"users": 1.0, "sessions": 5.0}
    assert all(r["unit_rows"] == 5 for r in sessions["releases"])
    assert report["tables"]["users"]["unit_rows"] == 1
    # the heavy user's 45 extra sessions, and everyone's beyond 5, are left out and reported
    k = np.bincount(np.asarray(db["sessions"].column("user_id")))
    left = {"sessions": int(np.maximum(k - 5, 0).sum())}
    assert synth.dp_wrapper.rows_left_out() == left
    assert "rows_left_out" not in json.dumps(report)  # exact counts of the private data: never saved
    assert report["epsilon_per_row"] < report["epsilon_per_entity"]
    assert "per users entity" in report["guarantee"] and "per single row" in report["guarantee"]
    out = synth.sample(seed=1)
    assert np.bincount(np.asarray(out["sessions"].column("user_id").to_numpy())).max() <= 5


def test_the_budget_is_split_across_tables_not_spent_per_table():
    """Before: each table spent the whole epsilon. Now the tables' shares compose to it."""
    db, md = _users_sessions(seed=1)
    synth = Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 2.0}, seed=0).fit(db)
    report = synth.privacy_report()["dp"]
    users_alone = _composed_epsilon({**report, "tables": {"users": report["tables"]["users"]}})
    sessions_alone = _composed_epsilon({**report, "tables": {"sessions": report["tables"]["sessions"]}})
    assert users_alone < 2.0 * 0.8 and sessions_alone < 2.0 * 0.8  # neither table had the budget to itself
    assert _composed_epsilon(report) <= 2.0 + 1e-9
    assert report["max_children"] == {"sessions.user_id": DEFAULT_MAX_CHILDREN}


def test_the_cap_is_enforced_down_a_chain():
    rng = np.random.default_rng(0)
    users = pa.table({"id": np.arange(3)})
    sessions = pa.table({"id": np.arange(12), "user": np.repeat(np.arange(3), 4)})
    clicks = pa.table({"id": np.arange(36), "session": np.repeat(np.arange(12), 3)})
    md = Metadata(tables=(Table("users", (Column("id", ColumnKind.ID, "int64"),), ("id",)),
                          Table("sessions", (Column("id", ColumnKind.ID, "int64"), Column("user", ColumnKind.ID, "int64")),
                                ("id",)),
                          Table("clicks", (Column("id", ColumnKind.ID, "int64"), Column("session", ColumnKind.ID, "int64")),
                                ("id",))),
                  foreign_keys=(ForeignKey("sessions", ("user",), "users", ("id",)),
                                ForeignKey("clicks", ("session",), "sessions", ("id",))))
    units, out = plan_units(md, {"users": users, "sessions": sessions, "clicks": clicks},
                            {"sessions": 2, "clicks": 2}, rng)
    assert np.bincount(np.asarray(out["sessions"].column("user"))).max() == 2
    kept_sessions = set(out["sessions"].column("id").to_pylist())
    assert set(out["clicks"].column("session").to_pylist()) <= kept_sessions  # clicks of dropped sessions go
    assert np.bincount(np.asarray(out["clicks"].column("session")))[sorted(kept_sessions)].max() == 2
    assert units.left_out == {"users": 0, "sessions": 6, "clicks": 36 - 12}
    assert units.unit_rows("clicks") == 4  # the product of the caps down the chain
    # every kept click belongs to the user of its session
    user_of_session = dict(zip(out["sessions"].column("id").to_pylist(), units.entity["sessions"].tolist(), strict=True))
    assert units.entity["clicks"].tolist() == [user_of_session[s] for s in out["clicks"].column("session").to_pylist()]


def test_a_many_to_many_link_is_bounded_for_both_roots():
    rng = np.random.default_rng(0)
    users, products = pa.table({"id": np.arange(20)}), pa.table({"id": np.arange(5)})
    # product 0 is bought by every user, 3 times each
    buys = pa.table({"id": np.arange(80), "user": np.r_[np.repeat(np.arange(20), 3), np.arange(20)],
                     "product": np.r_[np.zeros(60, dtype=np.int64), rng.integers(1, 5, 20)]})
    md = Metadata(tables=(Table("users", (Column("id", ColumnKind.ID, "int64"),), ("id",)),
                          Table("products", (Column("id", ColumnKind.ID, "int64"),), ("id",)),
                          Table("buys", (Column("id", ColumnKind.ID, "int64"), Column("user", ColumnKind.ID, "int64"),
                                         Column("product", ColumnKind.ID, "int64")), ("id",))),
                  foreign_keys=(ForeignKey("buys", ("user",), "users", ("id",)),
                                ForeignKey("buys", ("product",), "products", ("id",))))
    units, out = plan_units(md, {"users": users, "products": products, "buys": buys},
                            {"buys.user": 2, "buys.product": 10}, rng)
    assert units.roots == ["users", "products"] and units.describe() == "users or products entity"
    assert units.per_root["buys"] == {"users": 2.0, "products": 10.0} and units.unit_rows("buys") == 10
    assert np.bincount(np.asarray(out["buys"].column("user"))).max() <= 2
    assert np.bincount(np.asarray(out["buys"].column("product"))).max() <= 10
    assert units.entity["buys"] is None  # a link row belongs to two entities: no single sampling unit


def test_dpsgd_on_a_link_table_is_refused():
    from hiveframe_privacy.budget import TableBudget
    from hiveframe_privacy.dp import PrivateTraining

    budget = TableBudget("buys", 1.0, 1e-6, preprocess_share=0.2, planned_releases=2, planned_selections=0,
                         unit_rows=3, rows=100)
    private = PrivateTraining(data=pa.table({"x": np.zeros(100)}), surrogate=pa.table({"x": np.zeros(10)}),
                              statistics=None, budget=budget, units=None)
    with pytest.raises(ConfigError, match="several parents"):
        private.plan(batch_size=10, epochs=1)


def test_dpsgd_samples_and_clips_whole_entities():
    torch = pytest.importorskip("torch")
    from hiveframe_privacy.budget import TableBudget
    from hiveframe_privacy.dp import PrivateTraining

    from hiveframe.components import NoiseSource

    units = np.repeat(np.arange(25), 4)  # 25 users with 4 sessions each
    budget = TableBudget("sessions", 1e9, 1e-6, preprocess_share=0.2, planned_releases=2, planned_selections=0,
                         unit_rows=4, rows=100)
    private = PrivateTraining(data=pa.table({"x": np.ones(100)}), surrogate=pa.table({"x": np.ones(10)}),
                              statistics=None, budget=budget, units=units, noise=NoiseSource.fixed(1),
                              max_grad_norm=1.0, noise_multiplier=1e-2)
    plan = private.plan(batch_size=40, epochs=1)
    rows = plan.sample()[:, 0]  # drawn from the secret (here: fixed) noise source
    sampled = np.unique(units[rows])
    assert sorted(rows.tolist()) == sorted(np.flatnonzero(np.isin(units, sampled)).tolist())  # whole users
    # one user's 4 huge per-row gradients add up to at most C: each row is clipped to C / 4
    x = torch.full((4, 3), 1000.0)
    params = {"w": torch.zeros(3)}

    def loss(p, xi):
        return (p["w"] * xi).sum()

    grads = plan.gradient(loss, params, (x,))
    assert float(grads["w"].norm()) * plan.expected_units <= 1.0 + 0.1  # C plus the (tiny) noise
    assert float(grads["w"].norm()) * plan.expected_units >= 0.9  # each row clipped to C / 4, not to 0
    assert budget.training["unit_rows"] == 4


def test_dp_needs_declared_metadata_or_the_opt_in():
    db, _ = _users_sessions(n_users=100)
    with pytest.raises(MetadataError, match="needs declared metadata") as err:
        Synthesizer(generator="gaussian_copula", dp={"epsilon": 1.0}).fit(db)
    assert "detect_metadata" in str(err.value)
    synth = Synthesizer(generator="gaussian_copula", dp={"epsilon": 1.0, "detect_metadata": True}).fit(db)
    report = synth.privacy_report()["dp"]
    assert report["metadata"].startswith("DETECTED") and "outside the guarantee" in report["guarantee"]


def test_the_sibling_count_context_is_refused_under_dp():
    db, md = _users_sessions(n_users=100)
    fk = md.foreign_keys[0]
    counted = Metadata(tables=md.tables, foreign_keys=(ForeignKey(
        fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns, context_columns=("age", "#")),))
    wrapper = DPWrapper(epsilon=1.0)
    with pytest.raises(MetadataError, match="sibling count") as err:
        wrapper.begin(counted, db, planned={}, generators={})
    assert "table 'sessions'" in str(err.value)
    with pytest.raises(MetadataError, match="'#'"):  # declared in metadata, it never reaches a fit
        Synthesizer(counted, generator="gaussian_copula", dp={"epsilon": 1.0}).fit(db)
    # chosen automatically, the count is a candidate without DP and never under DP
    plain = Synthesizer(md, generator="gaussian_copula", seed=0, max_context_columns=5).fit(db)
    assert any(c.source == "count" for c in plain.engine.plans["sessions"].context)
    private = Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 1.0}).fit(db)
    assert private.engine.plans["sessions"].context == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, {"sessions": 0}, "ten"])
def test_a_children_cap_below_one_is_refused(bad):
    with pytest.raises(ConfigError, match="max_children"):
        DPWrapper(epsilon=1.0, max_children=bad)


@pytest.mark.parametrize("epsilon", [0, -1, float("nan"), float("inf")])
def test_bad_epsilon_is_refused(epsilon):
    with pytest.raises(ConfigError, match="epsilon"):
        DPWrapper(epsilon=epsilon)


@pytest.mark.parametrize("delta", [0, -0.1, 1, 1.5])
def test_bad_delta_is_refused(delta):
    with pytest.raises(ConfigError, match="delta"):
        DPWrapper(epsilon=1.0, delta=delta)


def test_dpsgd_child_table_end_to_end():
    pytest.importorskip("torch")
    db, md = _users_sessions(n_users=300)
    synth = Synthesizer(md, generator="tvae", generator_params={"epochs": 2, "batch_size": 100},
                        dp={"epsilon": 3.0, "max_children": 4}, seed=0).fit(db)
    report = synth.privacy_report()["dp"]
    training = report["tables"]["sessions"]["training"]
    assert training["unit_rows"] == 4 and training["steps"] > 0
    assert _composed_epsilon(report) <= 3.0 + 1e-9
    assert math.isclose(_composed_epsilon(report), report["epsilon_spent"], rel_tol=1e-6)
    assert synth.sample(seed=0)["sessions"].num_rows > 0


def test_removing_one_user_moves_every_release_by_at_most_its_declared_sensitivity(monkeypatch):
    """The neighbouring-database attack on the declared sensitivities: D and D minus its heaviest user
    (50 sessions), capped at 5; every statistic released in both must differ by at most its declared
    per-row sensitivity times the table's rows per user."""
    from hiveframe_privacy.budget import TableBudget

    from hiveframe.components import NoiseSource

    seen: dict[str, list] = {}
    release = TableBudget.release

    def spy(self, values, *, sensitivity, label):
        seen[self._spy].append((self.table, label, np.array(values, dtype=float), sensitivity * self.unit_rows))
        return release(self, values, sensitivity=sensitivity, label=label)

    monkeypatch.setattr(TableBudget, "release", spy)
    db, md = _users_sessions(n_users=300, seed=3)
    users, sessions = db["users"], db["sessions"]
    without = Database({"users": users.slice(1), "sessions": sessions.filter(
        pa.array(np.asarray(sessions.column("user_id")) != 0))})
    for name, data in (("with", db), ("without", without)):
        seen[name] = []
        monkeypatch.setattr(TableBudget, "_spy", name, raising=False)
        wrapper = DPWrapper(epsilon=1.0, max_children=5, noise=NoiseSource.fixed(11))
        Synthesizer(md, generator="gaussian_copula", dp=wrapper, seed=0).fit(data)
    compared = 0
    for (t1, l1, v1, bound), (t2, l2, v2, _) in zip(seen["with"], seen["without"], strict=False):
        assert (t1, l1) == (t2, l2)
        if v1.shape != v2.shape:  # bins chosen from a (different) noisy count: not comparable
            continue
        compared += 1
        assert np.linalg.norm(v1 - v2) <= bound + 1e-9, f"{t1} {l1}: moved {np.linalg.norm(v1 - v2)} > {bound}"
    assert len(seen["with"]) == len(seen["without"]) >= 7 and compared >= 6  # linkage, counts, histograms
    sessions_count = [(v1, v2) for (t, label, v1, _), (_, _, v2, _) in zip(seen["with"], seen["without"], strict=False)
                      if t == "sessions" and label == "row count"]
    assert sessions_count and sessions_count[0][0][0] - sessions_count[0][1][0] == 5  # the user's 5 kept sessions


def test_a_link_with_one_way_up_is_released_with_the_entitys_own_parent_rows():
    """sessions -> users is the sessions' only parent: removing a user removes its own count and moves
    no other user between bins, so the children histogram's sensitivity is 1 count, a tenth of a
    sessions row's bound at cap 10 (the neighbouring-database test above checks the bound holds)."""
    db, md = _users_sessions(n_users=300)
    report = Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 1.0, "max_children": 10},
                         seed=0).fit(db).privacy_report()["dp"]["tables"]["sessions"]
    [link] = [r for r in report["releases"] if r["release"] == "children per parent: histogram"]
    [count] = [r for r in report["releases"] if r["release"] == "row count"]
    assert link["unit_rows"] == 10 and abs(link["sensitivity"] * link["unit_rows"] - 1.0) < 1e-9
    assert abs(link["noise_std"] * 10 - count["noise_std"]) < 1e-6


def test_delta_is_fixed_and_max_rows_bounds_root_entities_not_child_rows():
    """Per-entity accounting: delta never depends on the exact counts, and the public bound is on people.

    400 users own about 1,850 sessions: max_rows=500 bounds the users (the privacy units), so the fit
    goes on although sessions has more rows; max_rows=300 is below the users and is refused before any
    release. Without a bound the delta is the fixed default, the same for 60 or 400 users.
    """
    from hiveframe_privacy.accountant import DEFAULT_DELTA, default_delta
    from hiveframe_privacy.budget import TableBudget

    db, md = _users_sessions(n_users=400, seed=5, heavy=8)
    assert db["sessions"].num_rows > 500
    report = Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 1.0, "max_rows": 500}, seed=0,
                         pii=False).fit(db).privacy_report()["dp"]
    assert report["delta"] == default_delta(500) < 1 / 500
    released: list[str] = []
    real_release = TableBudget.release

    def spy(self, values, *, sensitivity, label):
        released.append(label)
        return real_release(self, values, sensitivity=sensitivity, label=label)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TableBudget, "release", spy)
        with pytest.raises(ConfigError, match="more root entities"):
            Synthesizer(md, generator="gaussian_copula", dp={"epsilon": 1.0, "max_rows": 300}, seed=0,
                        pii=False).fit(db)
    assert released == []  # refused before anything was released
    small, md_small = _users_sessions(n_users=60, seed=5, heavy=8)
    deltas = {Synthesizer(m, generator="gaussian_copula", dp={"epsilon": 1.0}, seed=0, pii=False).fit(d)
              .privacy_report()["dp"]["delta"] for d, m in ((small, md_small), (db, md))}
    assert deltas == {DEFAULT_DELTA}
