"""The data profile: its figures match the data, its digest identifies the data, bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.cli import main
from hiveframe.components import Database
from hiveframe.errors import DataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline.profile import FORMAT, VERSION, digest, profile


def shop() -> tuple[Database, Metadata]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    users = pa.table({"user_id": pa.array(range(100)), "age": pa.array(rng.integers(18, 80, 100)),
                      "plan": pa.array(rng.choice(["free", "pro"], 100))})
    orders = pa.table({"order_id": pa.array(range(400)),
                       "user_id": pa.array(np.r_[np.repeat(np.arange(80), 5)[:399], [999]]),
                       "x": pa.array(x), "y": pa.array(2 * x + 1),
                       "note": pa.array([None if i % 4 == 0 else "ok" for i in range(400)])})
    metadata = Metadata(tables=(
        Table("users", (Column("user_id", ColumnKind.ID), Column("age", ColumnKind.NUMERICAL),
                        Column("plan", ColumnKind.CATEGORICAL)), primary_key=("user_id",)),
        Table("orders", (Column("order_id", ColumnKind.ID), Column("user_id", ColumnKind.ID),
                         Column("x", ColumnKind.NUMERICAL), Column("y", ColumnKind.NUMERICAL),
                         Column("note", ColumnKind.CATEGORICAL)), primary_key=("order_id",),
              constraints=({"type": "range", "column": "x", "low": -10, "high": 10},))),
        foreign_keys=(ForeignKey("orders", ("user_id",), "users", ("user_id",)),))
    return Database({"users": users, "orders": orders}), metadata


def test_profile_figures_match_the_data():
    database, metadata = shop()
    doc = profile(database, metadata, source="shop")
    assert doc["format"] == FORMAT and doc["version"] == VERSION and doc["source"] == "shop"
    orders = doc["tables"]["orders"]
    assert orders["rows"] == 400 and orders["primary_key"] == ["order_id"]
    x = database["orders"].column("x").to_numpy()
    assert orders["columns"]["x"]["mean"] == pytest.approx(x.mean())
    assert orders["columns"]["x"]["quantiles"]["p50"] == pytest.approx(np.median(x))
    assert orders["columns"]["note"]["nulls"] == 100 and orders["columns"]["note"]["null_share"] == 0.25
    assert orders["columns"]["note"]["top_values"] == [{"value": "ok", "count": 300}]
    pearson = orders["correlations"]["pearson"]
    assert pearson["columns"] == ["x", "y"] and pearson["matrix"][0][1] == pytest.approx(1.0)
    assert orders["rules"] == [{"type": "range", "column": "x", "low": -10, "high": 10}]
    (rel,) = doc["relationships"]
    assert rel["orphans"] == 1 and rel["parents_without_children"] == 20
    assert rel["children_per_parent"]["max"] == 5 and rel["children_per_parent"]["min"] == 0
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_digest_identifies_the_data_not_the_run():
    database, metadata = shop()
    first = profile(database, metadata, source="a")
    again = profile(database, metadata, source="b")
    assert first["digest"] == again["digest"] == digest(again)
    changed = database["orders"].set_column(2, "x", pa.array(database["orders"].column("x").to_numpy() + 1e-6))
    other = profile(Database({"users": database["users"], "orders": changed}), metadata)
    assert other["digest"] != first["digest"]


def test_a_source_without_rows_is_refused_naming_the_tables():
    empty = Database({"a": pa.table({"x": pa.array([], pa.int64())}),
                      "b": pa.table({"y": pa.array([], pa.string())})})
    with pytest.raises(DataError) as info:
        profile(empty)
    assert "nothing to profile" in str(info.value) and "'a'" in str(info.value) and "'b'" in str(info.value)


def test_cli_profile_writes_a_new_file_and_never_replaces_one(tmp_path: Path, capsys, shared_data: Path):
    out = tmp_path / "profile.json"
    assert main(["profile", str(shared_data / "berka"), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["tables"]) == {"account", "card", "client", "disp", "district", "loan", "order"}
    assert {(r["child_table"], r["parent_table"]) for r in doc["relationships"]} >= {("loan", "account")}
    assert doc["digest"] in capsys.readouterr().out
    before = out.read_text()
    assert main(["profile", str(shared_data / "berka"), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == before


def test_cli_profile_of_an_empty_source_is_one_clear_error(tmp_path: Path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("a,b\n")
    assert main(["profile", str(tmp_path / "data"), "-o", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert "nothing to profile" in err and "'t'" in err and "Traceback" not in err
    assert not (tmp_path / "p.json").exists()
