"""detect(): kinds, dtypes, primary and foreign keys, checked against the real datasets' schema.json."""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest

from hiveframe import detect, validate_data, validate_metadata
from hiveframe.components import Database
from hiveframe.errors import DataError
from hiveframe.metadata import ColumnKind, ForeignKey, Metadata
from hiveframe.plugins import PluginHost


def _truth_keys(schema: dict) -> tuple[dict[str, tuple[str, ...]], set[tuple]]:
    pks = {}
    for name, info in schema["tables"].items():
        pk = info.get("pk")
        pks[name] = () if pk is None else (pk,) if isinstance(pk, str) else tuple(pk)
    fks = set()
    for fk in schema["foreign_keys"]:
        if isinstance(fk, list):  # chinook: ["Child.col", "Parent.col"]
            (child, ccol), (parent, pcol) = (s.split(".") for s in fk)
        else:
            child, ccol, parent, pcol = fk["child"], fk["column"], fk["parent"], fk["parent_column"]
        fks.add((child, (ccol,), parent, (pcol,)))
    return pks, fks


def _found_keys(metadata: Metadata) -> tuple[dict[str, tuple[str, ...]], set[tuple]]:
    pks = {t.name: t.primary_key for t in metadata.tables}
    fks = {
        (fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns) for fk in metadata.foreign_keys
    }
    return pks, fks


@pytest.mark.parametrize("name", ["berka", "airbnb", "biodegradability", "chinook", "census_adult"])
def test_keys_match_schema_truth(datasets, name):
    database, schema = datasets(name)
    metadata = detect(database)
    assert set(metadata.table_names) == set(schema["tables"])
    assert _found_keys(metadata) == _truth_keys(schema)
    # every key column is an id, and the detected metadata is consistent and fits its own data
    for table in metadata.tables:
        for col in table.primary_key:
            assert table.column(col).kind == ColumnKind.ID
    for fk in metadata.foreign_keys:
        for col in fk.child_columns:
            assert metadata.table(fk.child_table).column(col).kind == ColumnKind.ID
    validate_metadata(metadata, host=PluginHost(load_entry_points=False))
    validate_data(metadata, database)


def test_one_to_one_links_berka(datasets):
    metadata = detect(datasets("berka")[0])
    one_to_one = {(fk.child_table, fk.child_columns[0]) for fk in metadata.foreign_keys if fk.one_to_one}
    # disp -> client is exactly 1:1; card -> disp and loan -> account are 0..1 per parent
    assert one_to_one == {("disp", "client_id"), ("card", "disp_id"), ("loan", "account_id")}


def test_no_one_to_one_where_parents_have_several_children(datasets):
    for name in ("airbnb", "biodegradability", "chinook"):
        metadata = detect(datasets(name)[0])
        assert not any(fk.one_to_one for fk in metadata.foreign_keys), name


def test_airbnb_column_kinds_match_schema(datasets):
    database, schema = datasets("airbnb")
    metadata = detect(database)
    for table, info in schema["tables"].items():
        for col, kind in info["columns"].items():
            assert metadata.table(table).column(col).kind.value == kind, (table, col)
    users = metadata.table("users")
    assert users.column("signup_flow").dtype == "int64"  # integer-coded categorical keeps its dtype
    assert users.column("age").nullable and not users.column("gender").nullable
    assert users.column("id").id_format == "[0-9a-z]{10}"


def test_biodegradability_column_kinds(datasets):
    database, schema = datasets("biodegradability")
    metadata = detect(database)
    for table, info in schema["tables"].items():
        for col, kind in info["columns"].items():
            if (table, col) == ("bond", "type"):  # bond-order codes {1,2,3,7}: categorical here, on purpose
                assert metadata.table(table).column(col).kind == ColumnKind.CATEGORICAL
                continue
            assert metadata.table(table).column(col).kind.value == kind, (table, col)


def test_berka_question_marks_make_a_numeric_column(datasets):
    database, _ = datasets("berka")
    metadata = detect(database)
    a12, a15 = metadata.table("district").column("A12"), metadata.table("district").column("A15")
    assert (a12.kind, a12.dtype, a12.nullable) == (ColumnKind.NUMERICAL, "double", True)
    assert (a15.kind, a15.dtype) == (ColumnKind.NUMERICAL, "int64")
    cleaned = validate_data(metadata, database)
    col = cleaned["district"].column("A12")
    assert col.type == pa.float64() and col.null_count == 1


def test_chinook_declared_keys_win(datasets):
    database, _ = datasets("chinook")
    assert database.declared_foreign_keys, "the reader must pass SQLite's declared keys"
    metadata = detect(database)
    assert metadata.table("PlaylistTrack").primary_key == ("PlaylistId", "TrackId")
    self_refs = [fk for fk in metadata.foreign_keys if fk.is_self_reference]
    assert [(fk.child_columns, fk.parent_columns) for fk in self_refs] == [(("ReportsTo",), ("EmployeeId",))]


# -- column kinds on small hand-made tables --------------------------------------------------------
def _kinds(metadata: Metadata, table: str = "t") -> dict[str, tuple[str, str]]:
    return {c.name: (c.kind.value, c.dtype) for c in metadata.table(table).columns}


def test_column_kinds():
    n = 200
    t = pa.table(
        {
            "code": [i % 5 for i in range(n)],  # few small integers -> categorical
            "amount": [i * 1.5 for i in range(n)],  # real numbers
            "count": list(range(n)),  # many integers -> numerical
            "flag": [i % 2 == 0 for i in range(n)],
            "when": pa.array([i * 86_400 for i in range(n)], pa.timestamp("s")),
            "day": [f"2020-01-{1 + i % 28:02d}" for i in range(n)],  # date-like strings
            "stamp": [f"03/{1 + i % 28:02d}/2021 10:00:00" for i in range(n)],
            "colour": [["red", "green", "blue"][i % 3] for i in range(n)],
            "token": [f"k{i:05d}x" for i in range(n)],  # unique key-like strings -> id
            "comment": [f"free text number {i} here" for i in range(n)],  # unique strings with spaces
            "price_txt": ["?" if i == 3 else f"{i}.25" for i in range(n)],  # numbers with a missing marker
            "zip": [f"0{i % 30 + 1000}" for i in range(n)],  # leading zeros: not a number
            "maybe": [None if i % 4 == 0 else i * 0.1 for i in range(n)],
            "empty": pa.nulls(n, pa.float64()),
        }
    )
    metadata = detect({"t": t}, detect_pii=False)
    kinds = _kinds(metadata)
    assert kinds["code"] == ("categorical", "int64")
    assert kinds["amount"] == ("numerical", "double")
    assert kinds["count"] == ("numerical", "int64")
    assert kinds["flag"] == ("boolean", "bool")
    assert kinds["when"] == ("datetime", "timestamp[s]")
    assert kinds["day"] == ("datetime", "string")
    assert metadata.table("t").column("day").datetime_format == "%Y-%m-%d"
    assert metadata.table("t").column("stamp").datetime_format == "%m/%d/%Y %H:%M:%S"
    assert kinds["colour"] == ("categorical", "string")
    assert kinds["token"] == ("id", "string")
    assert metadata.table("t").column("token").id_format == "[0-9a-z]{7}"
    assert kinds["comment"] == ("text", "string")
    assert kinds["price_txt"] == ("numerical", "double")
    assert kinds["zip"][0] == "categorical"
    assert metadata.table("t").column("maybe").nullable
    assert not metadata.table("t").column("amount").nullable
    assert kinds["empty"] == ("categorical", "null")
    # a table without a key-named unique column has no primary key
    assert metadata.table("t").primary_key == ()
    # with PII detection (the privacy plugin's answer to the detect hook) the postcode-like column is PII
    with_pii = detect({"t": t})
    assert with_pii.table("t").column("zip").kind.value == "pii"
    assert with_pii.table("t").column("zip").pii_kind.value == "postcode"
    assert _kinds(with_pii)["colour"] == ("categorical", "string")


def test_datetime_strings_round_trip_through_validate_data():
    t = pa.table({"d": ["01.02.2020", "15.03.2021", None, "30.12.1999"]})
    metadata = detect({"t": t})
    col = metadata.table("t").column("d")
    assert (col.kind, col.datetime_format) == (ColumnKind.DATETIME, "%d.%m.%Y")
    # declaring it a timestamp makes validate_data parse it with the format
    from dataclasses import replace

    metadata = metadata.with_column("t", replace(col, dtype="timestamp[us]"))
    out = validate_data(metadata, {"t": t})
    assert out["t"].column("d").type == pa.timestamp("us")
    assert out["t"].column("d").null_count == 1


def test_pandas_and_polars_input():
    pd = pytest.importorskip("pandas")
    users = pd.DataFrame({"user_id": [1, 2, 3, 4], "age": [20.0, None, 30.5, 41.0]})
    orders = pd.DataFrame({"order_id": range(10), "user_id": [1, 1, 2, 2, 3, 3, 4, 4, 1, None]})
    metadata = detect({"users": users, "orders": orders})
    assert metadata.table("users").primary_key == ("user_id",)
    # pandas made the nullable foreign key a float column: still linked
    (fk,) = metadata.foreign_keys
    assert (fk.child_table, fk.child_columns, fk.parent_table) == ("orders", ("user_id",), "users")
    assert metadata.table("orders").column("user_id").nullable
    pl = pytest.importorskip("polars")
    again = detect({"users": pl.from_pandas(users), "orders": pl.from_pandas(orders)})
    assert [f.name for f in again.foreign_keys] == [fk.name]


def test_mixed_pandas_column_is_reported_with_rows():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1, 2, "three", 4], "y": ["a", 5, "b", "c"]})
    with pytest.raises(DataError) as info:
        detect({"t": frame})
    text = str(info.value)
    assert "'x'" in text and "'y'" in text and "row 2" in text and "'three'" in text
    assert len(info.value.problems) == 2


# -- keys on small hand-made tables ----------------------------------------------------------------
def _db(**tables: pa.Table) -> Database:
    return Database(dict(tables))


def test_primary_key_names():
    db = _db(
        Users=pa.table({"name": ["a", "b"], "UserId": [1, 2]}),  # <table>Id, singular
        category=pa.table({"categories_id": [5, 6], "x": [1, 1]}),  # plural/singular variants
        item=pa.table({"id": ["a", "a"], "item_id": [1, 2]}),  # 'id' not unique: next
        log=pa.table({"log_id": [1, None], "v": [1, 2]}),  # nulls: not a key
        link=pa.table({"a_id_b_id": ["1_2", "1_3"], "a_id": [1, 1]}),  # fallback: an id-named unique
    )
    metadata = detect(db)
    assert {t.name: t.primary_key for t in metadata.tables} == {
        "Users": ("UserId",),
        "category": ("categories_id",),
        "item": ("item_id",),
        "log": (),
        "link": ("a_id_b_id",),
    }


def test_declared_primary_key_wins():
    db = Database({"t": pa.table({"id": [1, 2], "code": ["x", "y"]})}, declared_primary_keys={"t": ("code",)})
    assert detect(db).table("t").primary_key == ("code",)


def _shop(orders_customer_id: list) -> Database:
    return _db(
        customers=pa.table({"customer_id": [1, 2, 3, 4], "city": ["a", "b", "a", "c"]}),
        orders=pa.table(
            {"order_id": list(range(len(orders_customer_id))), "customer_id": orders_customer_id}
        ),
    )


def test_foreign_key_needs_containment_and_logs_near_misses(caplog):
    ok = detect(_shop([1, 1, 2, 3, 3, 3]))
    assert [fk.name for fk in ok.foreign_keys] == ["orders.customer_id->customers"]
    with caplog.at_level(logging.WARNING, logger="hiveframe.metadata.detect"):
        miss = detect(_shop([1, 1, 2, 3, 3, 99]))
    assert miss.foreign_keys == ()
    assert "orders.customer_id looks like a foreign key to customers.customer_id" in caplog.text
    assert "1 of 6 values have no parent" in caplog.text and "99" in caplog.text


def test_foreign_key_types_must_be_compatible():
    db = _db(
        customers=pa.table({"customer_id": [1, 2, 3]}),
        orders=pa.table({"order_id": [1, 2], "customer_id": ["1", "2"]}),
    )
    assert detect(db).foreign_keys == ()


def test_foreign_key_names():
    atoms = pa.table({"atom_id": ["a1", "a2", "a3"]})
    db = _db(
        atom=atoms,
        users=pa.table({"id": ["u1", "u2"]}),
        bond=pa.table(
            {
                "bond_id": [1, 2],
                "atom_id": ["a1", "a2"],
                "atom_id2": ["a2", "a3"],
                "sender_user_id": ["u1", "u1"],
                "id": ["a1", "a2"],
            }
        ),
        sessions=pa.table({"user_id": ["u1", "u1", "u2"]}),
    )
    metadata = detect(db)
    found = {(fk.child_table, fk.child_columns[0], fk.parent_table) for fk in metadata.foreign_keys}
    assert found == {
        ("bond", "atom_id", "atom"),
        ("bond", "atom_id2", "atom"),  # two links to one parent
        ("bond", "sender_user_id", "users"),  # role prefix
        ("sessions", "user_id", "users"),  # <parent singular>_id -> parent's 'id'
    }  # bond.id is not linked to users.id: a generic name is no evidence
    assert metadata.table("sessions").primary_key == ()


def test_inferred_foreign_keys_never_form_a_cycle():
    # two tables that share a key name and the same key values could point at each other
    db = _db(
        person=pa.table({"person_id": [1, 2, 3], "x": [1, 2, 3]}),
        profile=pa.table({"profile_id": [7, 8, 9], "person_id": [1, 2, 3]}),
        passport=pa.table({"passport_id": [1, 2], "profile_id": [7, 8], "person_id": [1, 2]}),
    )
    metadata = detect(db)
    assert metadata.topological_order()[0] == "person"
    assert {fk.name for fk in metadata.foreign_keys} == {
        "profile.person_id->person",
        "passport.profile_id->profile",
        "passport.person_id->person",
    }


def test_declared_foreign_keys_switch_off_inference_unless_asked():
    declared = ForeignKey(
        child_table="orders", child_columns=("customer_id",), parent_table="customers", parent_columns=()
    )  # SQL "REFERENCES customers": the parent's primary key
    base = _shop([1, 2, 3])
    db = Database(dict(base.tables), declared_foreign_keys=[declared])
    db.tables["notes"] = pa.table({"note_id": [1], "customer_id": [2]})
    metadata = detect(db)
    assert [(fk.name, fk.parent_columns) for fk in metadata.foreign_keys] == [
        ("orders.customer_id->customers", ("customer_id",))
    ]
    both = detect(db, infer_foreign_keys=True)
    assert {fk.name for fk in both.foreign_keys} == {
        "orders.customer_id->customers",
        "notes.customer_id->customers",
    }


def test_detect_reads_a_source_through_the_host(tmp_path):
    import pyarrow.csv as pv

    host = PluginHost(load_entry_points=False)
    pv.write_csv(pa.table({"customer_id": [1, 2], "x": ["a", "b"]}), tmp_path / "customers.csv")
    pv.write_csv(pa.table({"order_id": [1, 2, 3], "customer_id": [1, 1, 2]}), tmp_path / "orders.csv")
    metadata = detect(tmp_path, host=host)
    assert [fk.name for fk in metadata.foreign_keys] == ["orders.customer_id->customers"]


def test_metadata_json_round_trip(datasets):
    metadata = detect(datasets("berka")[0])
    assert Metadata.from_json(metadata.to_json()) == metadata


def test_detect_name_is_the_function_not_the_module():
    import sys

    import hiveframe
    import hiveframe.metadata
    import hiveframe.metadata.detect  # noqa: F401 - importing the submodule must not rebind the name

    assert callable(hiveframe.metadata.detect)
    assert hiveframe.metadata.detect is sys.modules["hiveframe.metadata.detect"].detect
    # the top-level entry point is the one convenience default: it adds the installed plugins' host
    assert callable(hiveframe.detect) and hiveframe.detect is not hiveframe.metadata.detect
