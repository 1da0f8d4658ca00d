"""The engine's sequence seam: a table whose generator is a SequenceGenerator gets its driver
relationship's children (their number, order and rows) from it, with every foreign key intact."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database, SequenceGenerator
from hiveframe.errors import ConfigError
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Metadata
from hiveframe.pipeline import Synthesizer
from hiveframe.plugins import PluginHost
from hiveframe.testing.reference import ResampleGenerator, ResampleSequences
from tests.conftest import users_sessions_metadata


class _BackwardsSequences(ResampleSequences):
    """Returns its rows with parent indexes descending: the engine must refuse them."""

    name: ClassVar[str] = "backwards_sequences"

    def sample_sequences(self, parents, *, seed=None):
        rows, index = super().sample_sequences(parents, seed=seed)
        return rows, index[::-1].copy()


class _Plugin:
    @hookimpl
    def hiveframe_register_table_generators(self):
        return [ResampleGenerator, ResampleSequences, _BackwardsSequences]


def _host() -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), name="sequences_test")
    return host


def _database(users: int = 120, *, max_children: int = 8, seed: int = 0) -> tuple[Database, Metadata]:
    """Users with a plan; each user's sessions share a device and come in time order (stored shuffled)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_children + 1, size=users)
    user_id = np.arange(users)
    plan = rng.choice(["free", "pro"], size=users)
    device = rng.choice(["phone", "desktop", "tablet"], size=users)
    owner = np.repeat(user_id, counts)
    start = np.repeat(rng.integers(0, 10_000, size=users), counts)
    step = np.concatenate([np.cumsum(rng.integers(1, 100, size=c)) for c in counts]) if counts.sum() else []
    shuffle = rng.permutation(len(owner))
    sessions = pa.table({
        "user_id": pa.array(owner[shuffle]),
        "device": pa.array(device[owner][shuffle]),
        "at": pa.array((start + np.asarray(step, dtype=np.int64))[shuffle] * 1_000_000).cast(pa.timestamp("us")),
    })
    md = users_sessions_metadata()
    return Database({"users": pa.table({"user_id": user_id, "plan": plan}), "sessions": sessions}), md


def _fit(db: Database, md: Metadata, **params) -> Synthesizer:
    return Synthesizer(md, generator="reference_resample", generators={"sessions": "reference_sequences"},
                       table_params={"sessions": params} if params else None, host=_host(), seed=3).fit(db)


def test_the_reference_implements_the_protocol() -> None:
    assert isinstance(ResampleSequences(), SequenceGenerator)
    assert not isinstance(ResampleGenerator(), SequenceGenerator)


def test_sequences_keep_counts_order_and_keys() -> None:
    db, md = _database()
    synth = _fit(db, md)
    plan = synth.engine.plan.tables["sessions"]
    assert plan.sequence == {"order_by": "at"}  # the table's time column orders each sequence
    assert synth.describe()["sessions"]["sequence"] == {"order_by": "at"}
    out = synth.sample(scale=2.0, seed=1)
    users, sessions = out["users"], out["sessions"]
    assert users.num_rows == 240
    owner = sessions.column("user_id").to_numpy()
    assert set(owner) <= set(users.column("user_id").to_numpy())  # every foreign key points to a user
    real_counts = set(np.bincount(db["sessions"].column("user_id").to_numpy(), minlength=120).tolist())
    counts = np.bincount(np.searchsorted(users.column("user_id").to_numpy(), owner), minlength=240)
    assert set(counts.tolist()) <= real_counts  # whole real sequences, not counts drawn apart
    assert counts.sum() == sessions.num_rows
    # siblings agree on the device (it is one per user in the real data), which rows drawn alone would not
    devices = {}
    for u, d in zip(owner.tolist(), sessions.column("device").to_pylist(), strict=True):
        devices.setdefault(u, set()).add(d)
    assert all(len(v) == 1 for v in devices.values())
    # time order within each user's sessions
    at = sessions.column("at").cast(pa.int64()).to_numpy()
    same = owner[1:] == owner[:-1]
    assert (np.diff(at)[same] >= 0).all()


def test_a_saved_model_samples_the_same_sequences(tmp_path) -> None:
    db, md = _database()
    synth = _fit(db, md)
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model", host=_host())
    assert again.engine.plan.tables["sessions"].sequence == {"order_by": "at"}
    assert again.sample(seed=4)["sessions"].equals(synth.sample(seed=4)["sessions"])


def test_sequential_false_keeps_the_count_model() -> None:
    db, md = _database()
    synth = _fit(db, md, sequential=False)
    assert synth.engine.plan.tables["sessions"].sequence is None
    assert synth.describe()["sessions"]["sequence"] is None


def test_the_rule_leaves_lone_children_to_the_count_model() -> None:
    db, md = _database(max_children=1)  # at most one session per user: no siblings to learn from
    assert _fit(db, md).engine.plan.tables["sessions"].sequence is None
    forced = _fit(db, md, sequential=True)  # a table parameter overrides the rule
    assert forced.engine.plan.tables["sessions"].sequence == {"order_by": "at"}


def test_sequential_true_on_a_table_that_cannot_be_sequences_is_one_clear_error() -> None:
    db, md = _database()
    sessions = db["sessions"]
    ids = sessions.column("user_id").to_numpy().astype(float)
    ids[:3] = np.nan  # rows without a driver parent
    db = Database({"users": db["users"], "sessions": sessions.set_column(
        0, "user_id", pa.array(ids, mask=np.isnan(ids)).cast(pa.int64()))})
    with pytest.raises(ConfigError, match="sessions.*no driver parent"):
        _fit(db, md, sequential=True)


def test_parent_indexes_out_of_order_are_refused() -> None:
    db, md = _database()
    synth = Synthesizer(md, generator="reference_resample", generators={"sessions": "backwards_sequences"},
                        host=_host(), seed=3).fit(db)
    with pytest.raises(ConfigError, match="sessions.*not ascending"):
        synth.sample(seed=1)
