"""SQLite reader and writer: Chinook with its declared keys, keys written back, round trips."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import subprocess
import sys

import pyarrow as pa
import pytest

from hiveframe._builtin.io_sqlite import (
    APPLICATION_ID,
    PROVENANCE_TABLE,
    SqliteReader,
    SqliteWriter,
    declared_arrow_type,
)
from hiveframe.components import Database
from hiveframe.errors import SourceError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.plugins import PluginHost
from tests.conftest import shop_table

CHINOOK_FKS = {
    ("Album", ("ArtistId",), "Artist", ("ArtistId",)),
    ("Track", ("AlbumId",), "Album", ("AlbumId",)),
    ("Track", ("GenreId",), "Genre", ("GenreId",)),
    ("Track", ("MediaTypeId",), "MediaType", ("MediaTypeId",)),
    ("PlaylistTrack", ("PlaylistId",), "Playlist", ("PlaylistId",)),
    ("PlaylistTrack", ("TrackId",), "Track", ("TrackId",)),
    ("Employee", ("ReportsTo",), "Employee", ("EmployeeId",)),
    ("Customer", ("SupportRepId",), "Employee", ("EmployeeId",)),
    ("Invoice", ("CustomerId",), "Customer", ("CustomerId",)),
    ("InvoiceLine", ("InvoiceId",), "Invoice", ("InvoiceId",)),
    ("InvoiceLine", ("TrackId",), "Track", ("TrackId",)),
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def chinook(chinook_path) -> Database:
    return SqliteReader().read(chinook_path)


def metadata_for(db: Database) -> Metadata:
    """Metadata carrying just the declared keys (the writer needs nothing else)."""
    tables = tuple(
        Table(name, columns=tuple(Column(f.name, ColumnKind.CATEGORICAL, dtype=str(f.type)) for f in t.schema),
              primary_key=db.declared_primary_keys.get(name, ()))
        for name, t in db.tables.items()
    )
    return Metadata(tables=tables, foreign_keys=tuple(db.declared_foreign_keys))


def fk_set(fks):
    return {(fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns) for fk in fks}


def test_chinook_tables_and_declared_keys(chinook):
    assert len(chinook) == 11
    assert chinook["Track"].num_rows == 3503 and chinook["PlaylistTrack"].num_rows == 8715
    assert chinook.declared_primary_keys["PlaylistTrack"] == ("PlaylistId", "TrackId")
    assert chinook.declared_primary_keys["Employee"] == ("EmployeeId",)
    assert len(chinook.declared_primary_keys) == 11
    assert len(chinook.declared_foreign_keys) == 11
    assert fk_set(chinook.declared_foreign_keys) == CHINOOK_FKS
    invoice = chinook["Invoice"].schema
    assert invoice.field("InvoiceId").type == pa.int64()
    assert invoice.field("InvoiceDate").type == pa.timestamp("us")
    assert invoice.field("Total").type == pa.float64()
    assert invoice.field("BillingState").type == pa.string()
    assert chinook["Invoice"]["InvoiceDate"][0].as_py() == dt.datetime(2021, 1, 1)
    assert chinook["Employee"]["ReportsTo"].null_count == 1
    assert chinook["Invoice"]["BillingPostalCode"].to_pylist()[1] == "0171"  # text stays text


def test_resolution_picks_sqlite(chinook_path, host, tmp_path):
    assert host.hooks.resolve_reader(source=chinook_path) == "sqlite"
    assert host.hooks.resolve_reader(source=str(chinook_path)) == "sqlite"
    renamed = tmp_path / "chinook.bin"  # no suffix hint: recognised by its header
    renamed.write_bytes(chinook_path.read_bytes())
    assert host.hooks.resolve_reader(source=renamed) == "sqlite"
    db = host.read(renamed, tables=["Artist", "Album"])
    assert db.names == ["Album", "Artist"]
    assert fk_set(db.declared_foreign_keys) == {("Album", ("ArtistId",), "Artist", ("ArtistId",))}


def test_write_chinook_with_keys(tmp_path, chinook, host):
    target = tmp_path / "out.sqlite"
    assert host.write(chinook, target, metadata=metadata_for(chinook), provenance={"seed": 3}) == target
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        declared = set()
        for name in chinook.tables:
            rows = conn.execute(f'PRAGMA foreign_key_list("{name}")').fetchall()
            declared |= {(name, (r[3],), r[2], (r[4],)) for r in rows}
        assert declared == CHINOOK_FKS
        info = conn.execute('PRAGMA table_info("PlaylistTrack")').fetchall()
        assert [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]] == ["PlaylistId", "TrackId"]
        assert conn.execute('SELECT InvoiceDate FROM Invoice WHERE InvoiceId = 1').fetchone()[0] == \
            "2021-01-01 00:00:00"
        prov = dict(conn.execute("SELECT key, value FROM _hiveframe_provenance").fetchall())
        assert json.loads(prov["seed"]) == 3 and json.loads(prov["written_by"]) == "hiveframe"
    finally:
        conn.close()
    back = host.read(target)
    assert back.names == chinook.names  # the provenance table is not a user table
    for name in chinook.tables:
        assert back[name].equals(chinook[name]), name
    assert back.declared_primary_keys == chinook.declared_primary_keys
    assert fk_set(back.declared_foreign_keys) == CHINOOK_FKS


def test_round_trip_types_nulls_and_composite_key(tmp_path):
    shop = shop_table()
    sale = pa.table({
        "sale_id": pa.array([1, 2, 3], pa.int64()),
        "region": ["north", "north", None],
        "shop_no": pa.array([1, 2, None], pa.int64()),
        "at": pa.array([dt.datetime(2021, 1, 1, 10), None, dt.datetime(2021, 1, 2, 3, 4, 5, 6)],
                       pa.timestamp("us")),
        "note": ["", None, "it's"],
    })
    meta = Metadata(
        tables=(
            Table("shop", columns=tuple(Column(n, ColumnKind.CATEGORICAL) for n in shop.column_names),
                  primary_key=("region", "shop_no")),
            Table("sale", columns=tuple(Column(n, ColumnKind.CATEGORICAL) for n in sale.column_names),
                  primary_key=("sale_id",)),
        ),
        foreign_keys=(ForeignKey("sale", ("region", "shop_no"), "shop", ("region", "shop_no")),),
    )
    target = tmp_path / "rt.db"
    SqliteWriter().write({"sale": sale, "shop": shop}, target, metadata=meta)
    back = SqliteReader().read(target)
    assert back["shop"].equals(shop) and back["sale"].equals(sale)
    assert back.declared_primary_keys == {"shop": ("region", "shop_no"), "sale": ("sale_id",)}
    assert fk_set(back.declared_foreign_keys) == {("sale", ("region", "shop_no"), "shop", ("region", "shop_no"))}
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_foreign_key_to_non_key_columns_gets_unique(tmp_path):
    parent = pa.table({"id": [1, 2], "code": ["a", "b"]})
    child = pa.table({"pcode": ["a", "a", "b"]})
    meta = Metadata(
        tables=(Table("p", columns=(Column("id", ColumnKind.ID), Column("code", ColumnKind.ID)), primary_key=("id",)),
                Table("c", columns=(Column("pcode", ColumnKind.ID),))),
        foreign_keys=(ForeignKey("c", ("pcode",), "p", ("code",)),),
    )
    target = tmp_path / "u.sqlite"
    SqliteWriter().write({"c": child, "p": parent}, target, metadata=meta)
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []  # no "foreign key mismatch"
    conn.close()


def test_broken_references_are_reported(tmp_path, caplog):
    parent = pa.table({"id": [1, 2]})
    child = pa.table({"pid": [1, 3, 3]})
    meta = Metadata(
        tables=(Table("p", columns=(Column("id", ColumnKind.ID),), primary_key=("id",)),
                Table("c", columns=(Column("pid", ColumnKind.ID),))),
        foreign_keys=(ForeignKey("c", ("pid",), "p", ("id",)),),
    )
    with caplog.at_level(logging.WARNING):
        SqliteWriter().write({"p": parent, "c": child}, tmp_path / "b.sqlite", metadata=meta)
    assert "2 row(s) break foreign keys (c: 2)" in caplog.text


def test_duplicate_primary_key_is_a_clear_error(tmp_path):
    meta = Metadata(tables=(Table("p", columns=(Column("id", ColumnKind.ID),), primary_key=("id",)),))
    with pytest.raises(SourceError, match="table 'p'.*UNIQUE") as err:
        SqliteWriter().write({"p": pa.table({"id": [1, 1]})}, tmp_path / "d.sqlite", metadata=meta)
    assert "duplicate" in err.value.hint
    assert not (tmp_path / "d.sqlite").exists()


def test_metadata_mismatch_is_a_clear_error(tmp_path):
    meta = Metadata(tables=(Table("p", columns=(Column("id", ColumnKind.ID),), primary_key=("key",)),))
    with pytest.raises(SourceError, match="primary key column.*'key'"):
        SqliteWriter().write({"p": pa.table({"id": [1]})}, tmp_path / "m.sqlite", metadata=meta)


def test_overwrite_rules(tmp_path, chinook_path):
    target = tmp_path / "o.sqlite"
    SqliteWriter().write({"a": pa.table({"x": [1]})}, target)
    SqliteWriter().write({"a": pa.table({"x": [2]})}, target)  # ours: replaced
    assert SqliteReader().read(target)["a"]["x"].to_pylist() == [2]
    foreign = tmp_path / "real.sqlite"
    foreign.write_bytes(chinook_path.read_bytes())
    with pytest.raises(SourceError, match="not written by hiveframe"):
        SqliteWriter().write({"a": pa.table({"x": [1]})}, foreign)
    assert foreign.read_bytes() == chinook_path.read_bytes()
    with pytest.raises(SourceError, match="not written by hiveframe"):  # overwrite changes nothing here
        SqliteWriter().write({"a": pa.table({"x": [1]})}, foreign, overwrite=True)
    assert foreign.read_bytes() == chinook_path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.sqlite", "real.sqlite"]  # no temporary files


def user_database_with_a_provenance_table(path) -> bytes:
    """A user's database that happens to hold a table named like hiveframe's provenance record."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO users VALUES (?, ?)", [(1, "ann"), (2, "bob")])
    conn.execute(f"CREATE TABLE {PROVENANCE_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute(f"INSERT INTO {PROVENANCE_TABLE} VALUES ('written_by', '\"hiveframe\"')")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_a_users_provenance_named_table_is_neither_hidden_nor_a_licence_to_replace(tmp_path, host):
    path = tmp_path / "users.sqlite"
    before = user_database_with_a_provenance_table(path)
    assert host.read(path).names == [PROVENANCE_TABLE, "users"]  # read like any user table
    with pytest.raises(SourceError, match="not written by hiveframe") as err:
        host.write({"users": pa.table({"id": [9]})}, path)
    assert err.value.hint
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.sqlite"]


def test_hiveframe_files_carry_the_application_id(tmp_path, host):
    path = tmp_path / "o.sqlite"
    host.write({"a": pa.table({"x": [1]})}, path, provenance={"seed": 3})
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert dict(conn.execute(f"SELECT * FROM {PROVENANCE_TABLE}").fetchall())["seed"] == "3"
    conn.execute("PRAGMA application_id = 0")  # a copy whose mark is gone is no longer ours
    conn.commit()
    conn.close()
    assert host.read(path).names == [PROVENANCE_TABLE, "a"]
    with pytest.raises(SourceError, match="not written by hiveframe"):
        host.write({"a": pa.table({"x": [2]})}, path)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "o.sqlite"
    SqliteWriter().write({"a": pa.table({"x": [1]})}, path)
    before = path.read_bytes()
    with pytest.raises(SourceError, match="table 'b'"):
        SqliteWriter().write({"a": pa.table({"x": [2]}), "b": pa.table({"k": [1, 1]})}, path,
                             metadata=Metadata(tables=(Table(name="a", columns=(Column("x", ColumnKind.NUMERICAL),)),
                                                       Table(name="b", columns=(Column("k", ColumnKind.ID),),
                                                             primary_key=("k",)))))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.sqlite"]


def test_leftover_of_a_killed_write_is_removed_with_a_message(tmp_path, caplog):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".o.sqlite.hf-stage-{int(proc.stdout)}-0a1b"
    leftover.write_bytes(b"SQLite format 3\x00 half written")
    with caplog.at_level(logging.WARNING):
        SqliteWriter().write({"a": pa.table({"x": [1]})}, tmp_path / "o.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.sqlite"]
    assert "interrupted" in caplog.text and leftover.name in caplog.text


def test_declared_types_and_mismatched_values(tmp_path, caplog):
    path = tmp_path / "odd.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER, b VARCHAR(10), c NUMERIC(10,2), d DATETIME, e BOOLEAN, f, g DATE)")
    conn.execute("INSERT INTO t VALUES (1, 'x', 1, '2020-01-01', 1, 1.5, '2020-02-03')")
    conn.execute("INSERT INTO t VALUES ('oops', NULL, 2.25, NULL, 0, NULL, NULL)")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING):
        t = SqliteReader().read(path)["t"]
    assert dict(zip(t.column_names, map(str, t.schema.types), strict=True)) == {
        "a": "string", "b": "string", "c": "double", "d": "timestamp[us]", "e": "bool", "f": "double",
        "g": "date32[day]"}
    assert t["a"].to_pylist() == ["1", "oops"]
    assert "table 't', column 'a': declared INTEGER" in caplog.text
    assert declared_arrow_type("NVARCHAR(160)") == pa.string()
    assert declared_arrow_type("BIGINT") == pa.int64()


def test_reads_an_open_connection():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)")
    conn.execute("INSERT INTO p VALUES (1, 'a')")
    db = PluginHost().read(conn)
    assert db.names == ["c", "p"]
    assert fk_set(db.declared_foreign_keys) == {("c", ("pid",), "p", ("id",))}  # REFERENCES p: its key
    conn.close()
