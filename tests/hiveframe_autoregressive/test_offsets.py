"""Ordered columns learnt as gaps: which pairs are chosen, the exact round trip, and the generator's use."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hiveframe_autoregressive._offsets import find, from_gaps, to_gaps

from hiveframe.errors import ConfigError, DataError
from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.persistence import load_component, save_component

from .conftest import tiny


def _bookings(n: int = 400, seed: int = 0, broken: int = 0) -> tuple[pa.Table, Table]:
    """Accounts created on a day, first active within that day, a booking 0..90 days later or none
    (NDF), a price and a total at least the price, and a score unrelated to either."""
    rng = np.random.default_rng(seed)
    created = np.datetime64("2014-01-01") + rng.integers(0, 180, n)
    active = created.astype("datetime64[s]") + rng.integers(0, 86400, n)
    booked = created + rng.integers(0, 90, n)
    booked[:broken] = created[:broken] - 5
    none = rng.random(n) < 0.4
    none[:broken] = False
    price = np.round(rng.uniform(10, 100, n), 2)
    data = pa.table(
        {
            "created": pa.array(created),
            "active": pa.array(active),
            "booked": pa.array(booked, mask=none),
            "destination": np.where(none, "NDF", rng.choice(["US", "FR"], n)).tolist(),
            "price": price,
            "total": np.round(price + rng.uniform(0, 50, n), 2),
            "score": rng.normal(50, 20, n),
        }
    )
    table = Table(
        "users",
        (
            Column("created", ColumnKind.DATETIME, "date32[day]"),
            Column("active", ColumnKind.DATETIME, "timestamp[s]"),
            Column("booked", ColumnKind.DATETIME, "date32[day]", nullable=True),
            Column("destination", ColumnKind.CATEGORICAL, "string"),
            Column("price", ColumnKind.NUMERICAL, "double"),
            Column("total", ColumnKind.NUMERICAL, "double"),
            Column("score", ColumnKind.NUMERICAL, "double"),
        ),
    )
    return data, table


def _pairs(data: pa.Table, table: Table, **kw) -> dict[str, str]:
    return {o.column: o.anchor for o in find(data, table, table.column_names, **kw)}


def test_ordered_pairs_are_found_and_unordered_ones_left() -> None:
    data, table = _bookings()
    assert _pairs(data, table) == {"active": "created", "booked": "created", "total": "price"}


def test_a_few_breaks_are_tolerated_and_many_are_not() -> None:
    data, table = _bookings(broken=1)  # 1 of ~240 known bookings before its account: 0.4%
    assert _pairs(data, table)["booked"] == "created"
    data, table = _bookings(broken=10)
    assert "booked" not in _pairs(data, table)


def test_pairs_that_say_nothing_are_left() -> None:
    n = 100
    base = np.arange(n, dtype=float)
    table = Table("t", tuple(Column(c, ColumnKind.NUMERICAL, "double", nullable=True) for c in "abcd"))
    data = pa.table(
        {
            "a": base,
            "b": base + 1000,  # ranges apart: b >= a follows from the ranges alone
            "c": pa.array(base + 1, mask=np.arange(n) < 5),
            "d": pa.array(base + 2, mask=np.arange(n) > 50),  # tighter after c, but known where c is null
        }
    )
    assert _pairs(data, table) == {"c": "a", "d": "a"}
    assert _pairs(data.slice(0, 15), table) == {}  # too few rows


def test_equal_columns_make_no_cycle() -> None:
    table = Table(
        "t", (Column("a", ColumnKind.NUMERICAL, "int64"), Column("b", ColumnKind.NUMERICAL, "int64"))
    )
    data = pa.table({"a": np.arange(50), "b": np.arange(50)})
    assert _pairs(data, table) == {"b": "a"}
    data = pa.table({"a": np.arange(50) + 3, "b": np.arange(50)})  # the later column comes first
    assert _pairs(data, table) == {"a": "b"}


def test_gaps_round_trip_exactly_and_keep_nulls() -> None:
    data, table = _bookings()
    offsets = find(data, table, table.column_names)
    gaps = to_gaps(data, offsets)
    assert gaps.column("booked").null_count == data.column("booked").null_count
    assert pc.min(gaps.column("active")).as_py() >= 0 and gaps.column("total").type == pa.float64()
    back = from_gaps({c: gaps.column(c).combine_chunks() for c in gaps.column_names}, offsets)
    for c in data.column_names:
        assert back[c].equals(data.column(c).combine_chunks()), c


def _fitted(**params):
    data, table = _bookings()
    return tiny(epochs=10, hidden=32, **params).fit(data, table, seed=0), data, table


def _count_before(out: pa.Table, later: str, anchor: str) -> int:
    a, b = out.column(anchor), out.column(later)
    if a.type != b.type:
        a, b = a.cast(pa.timestamp("s")), b.cast(pa.timestamp("s"))
    return int(pc.sum(pc.fill_null(pc.less(b, a), False)).as_py() or 0)


def test_the_generator_keeps_the_order_and_the_nulls(tmp_path, autoregressive_host) -> None:
    gen, data, _ = _fitted()
    assert gen.fit_info["offsets"] == {"active": "created", "booked": "created", "total": "price"}
    out = gen.sample(1000, seed=1)
    assert out.schema == data.schema
    for later, anchor in gen.fit_info["offsets"].items():
        assert _count_before(out, later, anchor) == 0
    assert 0.25 < out.column("booked").null_count / 1000 < 0.55
    save_component(tmp_path, "gen", gen)
    again = load_component(tmp_path, "gen", autoregressive_host)
    assert again.sample(200, seed=3).equals(gen.sample(200, seed=3))


def test_offsets_off_learns_the_columns_as_they_are() -> None:
    gen, data, _ = _fitted(offsets=False)
    assert gen.fit_info["offsets"] == {}
    assert gen.sample(50, seed=1).schema == data.schema
    with pytest.raises(ConfigError, match="offsets"):
        tiny(offsets="yes")


def test_conditions_on_either_column_of_a_pair() -> None:
    gen, _, _ = _fitted()
    out = gen.sample(200, seed=1, conditions={"created": dt.date(2014, 3, 1)})
    assert set(out.column("created").to_pylist()) == {dt.date(2014, 3, 1)}
    assert _count_before(out, "booked", "created") == 0 and _count_before(out, "active", "created") == 0
    out = gen.sample(200, seed=1, conditions={"booked": dt.date(2014, 3, 1)})  # the later column fixed
    assert set(out.column("booked").to_pylist()) == {dt.date(2014, 3, 1)}
    assert out.column("created").null_count == 0 and _count_before(out, "booked", "created") == 0
    assert _count_before(out, "active", "created") == 0
    out = gen.sample(100, seed=1, conditions={"booked": None})
    assert out.column("booked").null_count == 100
    out = gen.sample(100, seed=1, conditions={"total": 60.5, "price": 20.25})
    assert set(out.column("total").to_pylist()) == {60.5} and set(out.column("price").to_pylist()) == {20.25}
    with pytest.raises(DataError, match="range"):
        gen.sample(10, seed=1, conditions={"booked": dt.date(2030, 1, 1)})


def test_a_private_fit_uses_no_offsets() -> None:
    data, table = _bookings()
    gen = tiny()
    out, gaps = gen._learn_offsets(data, table, list(table.columns), private=True)
    assert out is data and gaps == {} and gen._offsets == []


def test_a_pair_ordered_by_chance_is_left_and_integers_stay_integers() -> None:
    """Berka's order.account_to (an account number) is above the order's amount on every row, because
    the numbers are of another scale: only 0.03% of them are below the largest amount."""
    rng = np.random.default_rng(0)
    amount = np.round(rng.uniform(0, 15_000, 400), 2)
    account = rng.integers(20_000, 90_000_000, 400)
    account[0] = 14_000 + int(amount[0])  # one account number below the largest amount
    table = Table(
        "t",
        (Column("amount", ColumnKind.NUMERICAL, "double"), Column("account", ColumnKind.NUMERICAL, "int64")),
    )
    data = pa.table({"amount": amount, "account": account})
    assert _pairs(data, table) == {}
    account = (amount * 3).astype(np.int64) + rng.integers(0, 100, 400)  # now really ordered, overlapping
    data = pa.table({"amount": amount, "account": account})
    offsets = find(data, table, table.column_names)
    assert [(o.column, o.anchor) for o in offsets] == [("account", "amount")]
    gaps = to_gaps(data, offsets)
    back = from_gaps({c: gaps.column(c).combine_chunks() for c in gaps.column_names}, offsets)
    assert back["account"].type == pa.int64()
    assert (np.abs(back["account"].to_numpy() - account) <= 1).all()  # the gap is whole: within rounding
