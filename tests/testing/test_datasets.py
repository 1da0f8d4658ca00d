"""load_dataset: the real example databases with the keys their schema states, and metadata_from_keys."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from hiveframe import validate_metadata
from hiveframe.errors import SourceError
from hiveframe.metadata import ColumnKind, ForeignKey
from hiveframe.testing import DATASETS, load_dataset, metadata_from_keys

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def root() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.mark.parametrize("name", [d for d in DATASETS if d != "chinook"])
def test_folder_datasets_carry_the_keys_of_schema_json(root, name):
    schema = json.loads((root / name / "schema.json").read_text())
    db, md = load_dataset(root, name)
    assert md.table_names == list(schema["tables"]) == db.names
    for table, spec in schema["tables"].items():
        assert db[table].num_rows == spec["rows"]
        pk = spec.get("pk")
        assert md.table(table).primary_key == (() if pk is None else (pk,) if isinstance(pk, str) else tuple(pk))
        assert [c.name for c in md.table(table).columns] == db[table].column_names
    expected = {(f["child"], f["column"], f["parent"], f["parent_column"]) for f in schema["foreign_keys"]}
    got = {(fk.child_table, fk.child_columns[0], fk.parent_table, fk.parent_columns[0]) for fk in md.foreign_keys}
    assert got == expected
    for fk in md.foreign_keys:  # every key column is an ID
        assert md.table(fk.child_table).column(fk.child_columns[0]).kind is ColumnKind.ID
        assert md.table(fk.parent_table).column(fk.parent_columns[0]).kind is ColumnKind.ID
    validate_metadata(md)


def test_berka_question_marks_are_missing_numbers(root):
    db, md = load_dataset(root, "berka")
    district = db["district"]
    for col in ("A12", "A15"):
        assert district.schema.field(col).type == pa.float64()
        assert district.column(col).null_count == 1
        assert md.table("district").column(col).nullable


def test_chinook_has_its_declared_keys_and_second_timestamps(root):
    db, md = load_dataset(root, "chinook")
    assert db.names == sorted(db.names) and len(db.names) == 11
    assert md.table("PlaylistTrack").primary_key == ("PlaylistId", "TrackId")
    assert ForeignKey("Employee", ("ReportsTo",), "Employee", ("EmployeeId",)) in md.foreign_keys
    assert len(md.foreign_keys) == 11
    # SQLite's order: the last declared key of a table first
    assert [fk.child_columns[0] for fk in md.parents_of("Track")] == ["MediaTypeId", "GenreId", "AlbumId"]
    assert db["Invoice"].schema.field("InvoiceDate").type == pa.timestamp("s")
    assert md.table("Invoice").column("InvoiceDate").kind is ColumnKind.DATETIME
    assert db["Track"].num_rows == 3503
    validate_metadata(md)


def test_a_subset_drops_keys_to_tables_left_out(root):
    db, md = load_dataset(root, "berka", tables=["disp", "account"])
    assert db.names == md.table_names == ["disp", "account"]
    assert [(fk.child_table, fk.parent_table) for fk in md.foreign_keys] == [("disp", "account")]
    assert md.table("disp").column("client_id").kind is not ColumnKind.ID
    assert md.table("account").column("district_id").kind is not ColumnKind.ID
    _, chinook = load_dataset(root, "chinook", tables=["Artist", "Album", "Genre"])
    assert [(fk.child_table, fk.parent_table) for fk in chinook.foreign_keys] == [("Album", "Artist")]


def test_unknown_dataset_or_table_is_a_clear_error(root, tmp_path):
    with pytest.raises(SourceError, match="no dataset 'nope'"):
        load_dataset(root, "nope")
    with pytest.raises(SourceError, match="no table.*'nope'"):
        load_dataset(root, "berka", tables=["account", "nope"])
    with pytest.raises(SourceError, match="no Chinook database"):
        load_dataset(tmp_path, "chinook")


def test_metadata_from_keys_kinds():
    n = 100
    parent = pa.table({"id": list(range(n)), "flag": [i % 2 == 0 for i in range(n)],
                       "level": [i % 5 for i in range(n)], "amount": [float(i) for i in range(n)],
                       "count": list(range(1000, 1000 + n)), "city": [f"c{i % 7}" for i in range(n)],
                       "note": [f"free text {i}" for i in range(n)]})
    child = pa.table({"parent_id": [i % n for i in range(3 * n)],
                      "at": pa.array(list(range(3 * n)), pa.int64()).cast(pa.timestamp("s")),
                      "maybe": [None if i % 3 else 1.5 for i in range(3 * n)]})
    fk = ForeignKey("child", ("parent_id",), "parent", ("id",))
    md = metadata_from_keys({"parent": parent, "child": child}, {"parent": ("id",)}, [fk])
    kinds = {c.name: c.kind for t in md.tables for c in t.columns}
    assert kinds == {"id": ColumnKind.ID, "flag": ColumnKind.BOOLEAN, "level": ColumnKind.CATEGORICAL,
                     "amount": ColumnKind.NUMERICAL, "count": ColumnKind.NUMERICAL, "city": ColumnKind.CATEGORICAL,
                     "note": ColumnKind.TEXT, "parent_id": ColumnKind.ID, "at": ColumnKind.DATETIME,
                     "maybe": ColumnKind.NUMERICAL}
    assert md.table("child").primary_key == () and md.foreign_keys == (fk,)
    assert md.table("child").column("maybe").nullable and not md.table("parent").column("id").nullable
    assert md.table("parent").column("amount").dtype == "double"
