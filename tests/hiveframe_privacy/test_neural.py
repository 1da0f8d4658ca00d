"""DP-SGD for CTGAN's critic and for TVAE through the ``dp`` wrapper (tiny networks, one or two epochs)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.persistence import save_component
from hiveframe.plugins import PluginHost

pytest.importorskip("torch")

TINY = {"ctgan": {"generator_dim": (16, 16), "discriminator_dim": (16, 16), "embedding_dim": 8, "batch_size": 60,
                  "pac": 1, "epochs": 2, "checkpoint_every": None},
        "tvae": {"compress_dims": (16,), "decompress_dims": (16,), "embedding_dim": 8, "batch_size": 60,
                 "epochs": 2, "checkpoint_every": None}}


def _data(n: int = 400, seed: int = 0) -> tuple[pa.Table, Table]:
    rng = np.random.default_rng(seed)
    x = rng.normal(40, 8, size=n) + rng.random(n) * 1e-7
    kind = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1]).tolist()
    flag = (x > 40).tolist()
    return (pa.table({"x": pa.array(x), "kind": pa.array(kind), "flag": pa.array(flag)}),
            Table("t", (Column("x", ColumnKind.NUMERICAL, "double"), Column("kind", ColumnKind.CATEGORICAL),
                        Column("flag", ColumnKind.BOOLEAN, "bool"))))


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_dp_sgd_reports_epsilon_per_epoch_and_stays_in_budget(kind, tmp_path):
    data, table = _data()
    host = PluginHost()
    wrapper = host.create("privacy_wrapper", "dp", {"epsilon": 4.0, "micro_batch_size": 32, "surrogate_rows": 1000})
    gen = wrapper.wrap(host.create("table_generator", kind, TINY[kind]))
    events: list[dict] = []
    gen.fit(data, table, seed=0, callback=events.append)
    spent = [e["epsilon"] for e in events]
    assert len(spent) == 2 and 0 < spent[0] < spent[1] <= 4.0 + 1e-9
    report = wrapper.report()["tables"]["t"]
    assert report["private"] and report["epsilon_spent"] == pytest.approx(spent[-1])
    assert report["training"]["steps"] == report["training"]["planned_steps"]
    assert report["training"]["clip_unit"] == "row"
    out = gen.sample(50, seed=1)
    assert out.num_rows == 50 and set(out.column("kind").drop_null().to_pylist()) <= {"a", "b", "c"}
    info = gen.inner.fit_info
    assert info["train_rows"] != data.num_rows or abs(info["train_rows"] - data.num_rows) < 60  # noisy count
    save_component(tmp_path, "gen", gen)
    x = np.array(data.column("x").to_pylist())
    counts = sorted(data.column("kind").to_pylist().count(k) for k in "abc")
    for path in tmp_path.rglob("*"):
        if path.suffix == ".json":
            text = path.read_text()
            for value in (x.min(), x.max()):
                assert repr(float(value)) not in text and f"{value:.6f}" not in text
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                for key in npz.files:
                    arr = npz[key]
                    assert not np.isin([x.min(), x.max()], arr).any(), key
                    if key.startswith("counts/") or key.endswith("counts"):
                        assert sorted(arr.tolist()) != counts, key


def test_training_stops_before_the_budget_is_exceeded():
    data, table = _data(300)
    host = PluginHost()
    # a small noise multiplier spends the budget within the first epoch
    wrapper = host.create("privacy_wrapper", "dp", {"epsilon": 1.0, "noise_multiplier": 0.6})
    gen = wrapper.wrap(host.create("table_generator", "tvae", {**TINY["tvae"], "epochs": 5}))
    events: list[dict] = []
    gen.fit(data, table, seed=0, callback=events.append)
    report = wrapper.report()["tables"]["t"]
    assert report["epsilon_spent"] <= 1.0 + 1e-9
    assert report["training"]["steps"] < report["training"]["planned_steps"]
    assert events[-1]["budget_exhausted"] is True and len(events) < 5
    assert gen.inner.fit_info["epochs_trained"] == len(events)


def test_pac_groups_are_clipped_with_twice_the_sensitivity():
    data, table = _data(300)
    host = PluginHost()
    wrapper = host.create("privacy_wrapper", "dp", {"epsilon": 3.0, "pac": 5, "surrogate_rows": 1000})
    gen = wrapper.wrap(host.create("table_generator", "ctgan", {**TINY["ctgan"], "pac": 5, "epochs": 1}))
    gen.fit(data, table, seed=0)
    training = wrapper.report()["tables"]["t"]["training"]
    assert training["clip_unit"].startswith("pac group") and training["steps"] > 0
    assert gen.sample(20, seed=0).num_rows == 20


def test_dp_ctgan_with_declared_context_in_a_child_table():
    from hiveframe.metadata import ForeignKey, Metadata
    from hiveframe.metadata.relations import relational_problems
    from hiveframe.pipeline.synthesizer import Synthesizer

    rng = np.random.default_rng(0)
    users = pa.table({"uid": pa.array(np.arange(200)), "plan": pa.array(rng.choice(["free", "pro"], size=200).tolist())})
    owner = rng.integers(0, 200, size=600)
    plans = np.array(users.column("plan").to_pylist())[owner]
    sessions = pa.table({"sid": pa.array(np.arange(600)), "uid": pa.array(owner),
                         "minutes": pa.array(np.where(plans == "pro", 30.0, 5.0) + rng.normal(0, 2, size=600))})
    md = Metadata(
        tables=(Table("users", (Column("uid", ColumnKind.ID, "int64", nullable=False),
                                Column("plan", ColumnKind.CATEGORICAL, nullable=False)), primary_key=("uid",)),
                Table("sessions", (Column("sid", ColumnKind.ID, "int64", nullable=False),
                                   Column("uid", ColumnKind.ID, "int64", nullable=False),
                                   Column("minutes", ColumnKind.NUMERICAL, "double", nullable=False)),
                      primary_key=("sid",))),
        foreign_keys=(ForeignKey("sessions", ("uid",), "users", ("uid",), context_columns=("plan",)),))
    synth = Synthesizer(md, seed=0, generators={"sessions": "ctgan"}, table_params={"sessions": TINY["ctgan"]},
                        dp={"epsilon": 5.0, "surrogate_rows": 1000})
    events: list[dict] = []
    synth.fit({"users": users, "sessions": sessions}, callback=events.append)
    out = synth.sample(seed=1)
    assert not relational_problems(md, out)
    assert synth.engine.plans["sessions"].context_names == ["users.plan"]  # declared: used under DP
    assert any(e.get("table") == "sessions" and "epsilon" in e for e in events)
    assert synth.privacy_report()["dp"]["tables"]["sessions"]["epsilon_spent"] <= 5.0 + 1e-9
