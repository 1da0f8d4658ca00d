"""Sequential child tables: the autoregressive generator as a SequenceGenerator, alone and in the engine."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database, SequenceGenerator
from hiveframe.errors import ConfigError, DataError, NotFittedError
from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.persistence import load_component, save_component
from tests.conftest import users_sessions_metadata
from tests.hiveframe_autoregressive.conftest import TINY, tiny

#: tiny, but enough to learn that the number of sessions depends on the plan (fit ≈ 6 s)
_SMALL = {**TINY, "epochs": 25, "hidden": 32, "learning_rate": 1e-2}


def _users_sessions(users: int = 300, seed: int = 0) -> tuple[Database, Metadata]:
    """Pro users have many sessions, free users few or none; a user's sessions share a device, come in
    time order (stored shuffled), and the last one of each user has no duration."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro"], size=users, p=[0.6, 0.4])
    counts = np.where(plan == "pro", rng.integers(6, 12, size=users), rng.integers(0, 3, size=users))
    device = rng.choice(["phone", "desktop"], size=users)
    owner = np.repeat(np.arange(users), counts)
    place = np.concatenate([np.arange(c) for c in counts])
    last = np.concatenate([np.arange(c) == c - 1 for c in counts])
    start = np.repeat(rng.integers(0, 1_000_000, size=users), counts)
    at = (start + place * 3600 + rng.integers(0, 600, size=len(owner))) * 1_000_000
    secs = np.round(rng.exponential(300, size=len(owner)), 0)
    shuffle = rng.permutation(len(owner))
    sessions = pa.table({
        "user_id": pa.array(owner[shuffle]),
        "device": pa.array(device[owner][shuffle]),
        "at": pa.array(at[shuffle]).cast(pa.timestamp("us")),
        "secs": pa.array(secs[shuffle], mask=last[shuffle]),
    })
    md = users_sessions_metadata(Column("secs", ColumnKind.NUMERICAL, dtype="double", nullable=True),
                                 context_columns=("plan",))
    return Database({"users": pa.table({"user_id": np.arange(users), "plan": plan}), "sessions": sessions}), md


def test_the_generator_is_a_sequence_generator() -> None:
    assert isinstance(tiny(), SequenceGenerator)
    with pytest.raises(ConfigError, match="sequential"):
        tiny(sequential="yes")


def test_the_engine_generates_sessions_as_sequences(autoregressive_host) -> None:
    from hiveframe.pipeline import Synthesizer

    db, md = _users_sessions()
    synth = Synthesizer(md, generator="autoregressive", generator_params=_SMALL,
                        host=autoregressive_host, seed=0).fit(db)
    assert synth.describe()["sessions"]["sequence"] == {"order_by": "at"}  # the rule picks sequences
    out = synth.sample(seed=1)
    users, sessions = out["users"], out["sessions"]
    owner = sessions.column("user_id").to_numpy()
    assert np.isin(owner, users.column("user_id").to_numpy()).all()  # every key points to a user
    counts = np.bincount(owner, minlength=users.num_rows)
    plan = np.asarray(users.column("plan").to_pylist())
    # the number of children follows the parent: pro users have many sessions, free users few
    assert counts[plan == "pro"].mean() > 4 * max(counts[plan == "free"].mean(), 0.1)
    # time runs forwards within each user's sessions
    at = sessions.column("at").cast(pa.int64()).to_numpy()
    same = owner[1:] == owner[:-1]
    assert (np.diff(at)[same] >= 0).all()
    # siblings agree on the device more than rows drawn one by one would (real: always)
    devices = {}
    for u, d in zip(owner.tolist(), sessions.column("device").to_pylist(), strict=True):
        devices.setdefault(u, []).append(d)
    agree = np.mean([max(v.count(x) for x in set(v)) / len(v) for v in devices.values() if len(v) > 1])
    assert agree > 0.8


def test_sequential_false_keeps_flat_rows(autoregressive_host) -> None:
    from hiveframe.pipeline import Synthesizer

    db, md = _users_sessions(users=120)
    synth = Synthesizer(md, generator="autoregressive", generator_params=TINY,
                        table_params={"sessions": {**TINY, "sequential": False}},
                        host=autoregressive_host, seed=0).fit(db)
    assert synth.describe()["sessions"]["sequence"] is None


def _direct(users: int = 200):
    db, md = _users_sessions(users=users)
    sessions = db["sessions"]
    owner = sessions.column("user_id").to_numpy()
    order = np.lexsort([sessions.column("at").cast(pa.int64()).to_numpy(), owner])
    data = sessions.take(pa.array(order)).select(["device", "at", "secs"])
    parents = db["users"].select(["plan"])
    table = Table("sessions", tuple(md.table("sessions").column(c) for c in ("device", "at", "secs"))
                  + (md.table("users").column("plan"),))
    return data, table, owner[order], parents


def test_saved_sequences_sample_the_same(tmp_path, autoregressive_host) -> None:
    data, table, index, parents = _direct()
    gen = tiny().fit_sequences(data, table, parent_index=index, parents=parents, order_by="at", seed=0)
    rows, parent_index = gen.sample_sequences(parents, seed=5)
    assert rows.column_names == ["device", "at", "secs"]
    assert len(parent_index) == rows.num_rows and (np.diff(parent_index) >= 0).all()
    save_component(tmp_path, "gen", gen)
    again = load_component(tmp_path, "gen", autoregressive_host)
    rows2, index2 = again.sample_sequences(parents, seed=5)
    assert rows2.equals(rows) and (index2 == parent_index).all()
    with pytest.raises(ConfigError, match="sequences"):
        gen.sample(context=parents)


@pytest.mark.slow  # 5,000 sampling steps: about 25 s on one thread
def test_sequences_of_length_zero_and_one_long_sequence() -> None:
    import datetime as dt

    table = Table("events", (Column("kind", ColumnKind.CATEGORICAL, dtype="string"),
                             Column("at", ColumnKind.DATETIME, dtype="timestamp[us]")))
    n = 5000  # one parent with 5,000 children, two with none
    start = dt.datetime(2024, 1, 1)
    data = pa.table({"kind": pa.array(np.where(np.arange(n) % 3 == 0, "open", "click").tolist()),
                     "at": pa.array([start + dt.timedelta(seconds=int(s)) for s in range(n)])})
    index = np.ones(n, dtype=np.int64)
    parents = pa.table({"p": pa.nulls(3)}).select([])
    gen = tiny(epochs=1).fit_sequences(data, table, parent_index=index, parents=parents, order_by="at", seed=0)
    rows, parent_index = gen.sample_sequences(pa.table({"p": pa.nulls(4)}).select([]), seed=1)
    assert rows.num_rows == len(parent_index) and set(rows.column("kind").to_pylist()) <= {"open", "click"}
    assert np.bincount(parent_index, minlength=4).max() <= n  # never longer than the longest real sequence


def test_no_children_at_all_samples_none() -> None:
    table = Table("events", (Column("kind", ColumnKind.CATEGORICAL, dtype="string"),))
    parents = pa.table({"p": pa.nulls(60)}).select([])
    gen = tiny().fit_sequences(pa.table({"kind": pa.array([], type=pa.string())}), table,
                               parent_index=np.zeros(0, dtype=np.int64), parents=parents, seed=0)
    rows, index = gen.sample_sequences(parents, seed=0)
    assert rows.num_rows == 0 and len(index) == 0 and rows.column_names == ["kind"]


def test_bad_sequence_input_is_one_error() -> None:
    table = Table("events", (Column("kind", ColumnKind.CATEGORICAL, dtype="string"),
                             Column("__length", ColumnKind.NUMERICAL, dtype="int64")))
    data = pa.table({"kind": ["a", "b"], "__length": [1, 2]})
    with pytest.raises(DataError) as err:
        tiny().fit_sequences(data, table, parent_index=np.array([1, 0]), parents=pa.table({"x": [1, 2]}).select([]))
    assert "ascending" in str(err.value) and "reserved" in str(err.value)
    with pytest.raises(NotFittedError):
        tiny().sample_sequences(pa.table({"x": [1]}))


def test_a_date_column_orders_the_sequences() -> None:
    """Bug: a date32 time column crashed sampling (Arrow refuses date32 -> int64)."""
    import datetime as dt

    from hiveframe_autoregressive._sequences import _sort_key

    days = pa.array([dt.date(2024, 1, 3), None, dt.date(2024, 1, 1)])
    assert list(_sort_key(days)) == [19725.0, np.inf, 19723.0]
    assert list(_sort_key(pa.chunked_array([days]))) == [19725.0, np.inf, 19723.0]
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 5, size=40)
    index = np.repeat(np.arange(40), counts)
    day = [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 60, len(index))]
    table = Table("visits", (Column("day", ColumnKind.DATETIME, dtype="date32[day]"),))
    parents = pa.table({"p": pa.nulls(40)}).select([])
    gen = tiny().fit_sequences(pa.table({"day": pa.array(day)}), table, parent_index=index, parents=parents,
                               order_by="day", seed=0)
    rows, parent_index = gen.sample_sequences(parents, seed=1)
    assert rows.schema.field("day").type == pa.date32()
    values = np.asarray(rows.column("day").cast(pa.int32()).to_numpy(zero_copy_only=False), dtype=float)
    same = np.diff(parent_index) == 0
    assert (np.diff(values)[same] >= 0).all()  # time never runs backwards within a sequence


def test_earlier_siblings_null_counts() -> None:
    from hiveframe_autoregressive._sequences import null_counts_before, positions

    index = np.array([0, 0, 0, 2, 2, 3])
    data = pa.table({"x": pa.array([None, 1, None, None, None, 5]), "y": pa.array([1, 2, 3, 4, 5, 6])})
    counts = null_counts_before(data, ["x"], positions(index))
    assert counts.column_names == ["__nulls_before.x"]
    assert counts.column(0).to_pylist() == [0, 1, 1, 0, 1, 0]
    assert null_counts_before(data, [], positions(index)).num_columns == 0


def test_sequences_keep_one_null_per_sequence() -> None:
    """Each sequence has exactly one null duration, at any place: only the earlier siblings' null count
    (not the previous or first sibling) tells the model whether it is still to come."""
    rng = np.random.default_rng(0)
    counts = rng.integers(2, 6, size=150)
    index = np.repeat(np.arange(150), counts)
    where = np.concatenate([np.arange(c) == rng.integers(0, c) for c in counts])
    data = pa.table({"secs": pa.array(np.round(rng.exponential(100, len(index))), mask=where)})
    table = Table("visits", (Column("secs", ColumnKind.NUMERICAL, dtype="double", nullable=True),))
    parents = pa.table({"p": pa.nulls(150)}).select([])
    gen = tiny(**{**_SMALL, "epochs": 30}).fit_sequences(data, table, parent_index=index, parents=parents, seed=0)
    assert gen._sequences["null_counted"] == ["secs"]
    rows, parent_index = gen.sample_sequences(parents, seed=1)
    nulls = np.bincount(parent_index, weights=np.asarray(rows.column("secs").is_null()), minlength=150)
    has_rows = np.bincount(parent_index, minlength=150) > 0
    assert (nulls[has_rows] == 1).mean() > 0.88  # 0.94 with the null counts, 0.75 without
