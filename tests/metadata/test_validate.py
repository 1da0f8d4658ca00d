"""metadata_problems / validate_metadata / validate_data: every bad input named, all in one error."""

from __future__ import annotations

import logging
from dataclasses import replace

import pyarrow as pa
import pytest

from hiveframe import validate_data, validate_metadata
from hiveframe.components import Database
from hiveframe.errors import DataError, MetadataError, Problem
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import (
    Column,
    ColumnKind,
    ForeignKey,
    Metadata,
    Table,
)
from hiveframe.metadata.consistency import metadata_problems
from hiveframe.plugins import PluginHost


def ID(name: str, dtype: str = "int64") -> Column:
    return Column(name=name, kind=ColumnKind.ID, dtype=dtype, nullable=False)


def NUM(name: str, dtype: str = "double", **kw) -> Column:
    return Column(name=name, kind=ColumnKind.NUMERICAL, dtype=dtype, **kw)


def CAT(name: str, **kw) -> Column:
    return Column(name=name, kind=ColumnKind.CATEGORICAL, dtype="string", **kw)


def shop() -> Metadata:
    """customers <- orders <- items; products <- items; employees -> employees (self)."""
    return Metadata(
        tables=(
            Table("customers", (ID("customer_id"), CAT("city")), primary_key=("customer_id",)),
            Table("orders", (ID("order_id"), ID("customer_id"), NUM("total")), primary_key=("order_id",)),
            Table("products", (ID("product_id"), CAT("name")), primary_key=("product_id",)),
            Table(
                "items",
                (ID("order_id"), ID("product_id"), NUM("qty", "int64")),
                primary_key=("order_id", "product_id"),
            ),
            Table(
                "employees",
                (ID("employee_id"), Column("boss_id", ColumnKind.ID, "int64")),
                primary_key=("employee_id",),
            ),
        ),
        foreign_keys=(
            ForeignKey("orders", ("customer_id",), "customers", ("customer_id",)),
            ForeignKey("items", ("order_id",), "orders", ("order_id",)),
            ForeignKey("items", ("product_id",), "products", ("product_id",)),
            ForeignKey("employees", ("boss_id",), "employees", ("employee_id",)),
        ),
    )


def shop_data() -> dict[str, pa.Table]:
    return {
        "customers": pa.table({"customer_id": [1, 2, 3], "city": ["a", "b", "a"]}),
        "orders": pa.table(
            {"order_id": [10, 11, 12, 13], "customer_id": [1, 1, 2, 3], "total": [1.0, 2.5, 3.0, 4.0]}
        ),
        "products": pa.table({"product_id": [100, 101], "name": ["x", "y"]}),
        "items": pa.table(
            {
                "order_id": [10, 10, 11, 12, 13],
                "product_id": [100, 101, 100, 101, 100],
                "qty": [1, 2, 1, 1, 3],
            }
        ),
        "employees": pa.table({"employee_id": [1, 2, 3], "boss_id": [None, 1, 1]}),
    }


# -- metadata --------------------------------------------------------------------------------------
def test_good_metadata_has_no_problems():
    assert metadata_problems(shop()) == []
    validate_metadata(shop(), host=PluginHost(load_entry_points=False))


def _problems(metadata: Metadata) -> list[Problem]:
    with pytest.raises(MetadataError) as info:
        validate_metadata(metadata, host=PluginHost(load_entry_points=False))
    return list(info.value.problems)


def _one(problems: list[Problem], needle: str) -> Problem:
    found = [p for p in problems if needle in p.render()]
    assert found, f"no problem mentions {needle!r} in:\n" + "\n".join(p.render() for p in problems)
    return found[0]


def test_foreign_key_problems_listed_together():
    m = shop()
    m = replace(
        m,
        foreign_keys=m.foreign_keys
        + (
            ForeignKey("orders", ("customer_id",), "clients", ("customer_id",)),  # missing parent table
            ForeignKey("items", ("qty_x",), "products", ("product_id",)),  # missing child column
            ForeignKey("orders", ("total",), "customers", ("customer_nr",)),  # missing parent column
            ForeignKey("products", ("name",), "customers", ("city",)),  # not the parent's key
            ForeignKey("items", ("order_id", "qty"), "orders", ("order_id",)),  # count mismatch
            ForeignKey("ghost", ("x",), "orders", ("order_id",)),  # missing child table
        ),
    )
    with pytest.raises(MetadataError) as info:
        validate_metadata(m, host=PluginHost(load_entry_points=False))
    err = info.value
    text = str(err)
    assert len(err.problems) >= 6
    p = _one(err.problems, "parent table 'clients' does not exist")
    assert p.table == "orders" and "customers" in (p.hint or "")
    p = _one(err.problems, "child column does not exist")
    assert (p.table, p.column) == ("items", "qty_x") and "qty" in p.hint
    p = _one(err.problems, "customers.customer_nr does not exist")
    assert (p.table, p.column) == ("customers", "customer_nr") and "customer_id" in p.hint
    p = _one(err.problems, "not the parent's primary key")
    assert (p.table, p.column) == ("customers", "city") and "unique" in p.hint
    p = _one(err.problems, "2 child column(s)")
    assert p.table == "items"
    p = _one(err.problems, "child table does not exist")
    assert p.table == "ghost"
    assert text.startswith("invalid metadata (")


def test_unique_constraint_makes_a_valid_parent_key():
    m = shop()
    customers = replace(m.table("customers"), constraints=({"type": "unique", "columns": ["city"]},))
    m = m.with_table(customers).with_foreign_key(ForeignKey("products", ("name",), "customers", ("city",)))
    assert metadata_problems(m) == []


def test_table_and_column_problems():
    m = shop()
    bad_customers = Table(
        "customers",
        (
            ID("customer_id"),
            CAT("city"),
            CAT("city"),
            NUM("score", categories=(1, 2)),  # categories on a numerical column
            CAT("tier", low=0.0),  # low on a categorical column
            NUM("age", low=10.0, high=5.0),  # low > high
            Column("blob", ColumnKind.TEXT, dtype="not_a_type"),
        ),  # unknown dtype
        primary_key=("customer_key",),  # missing primary-key column
    )
    m = m.with_table(bad_customers)
    m = m.with_table(replace(m.table("items"), driver="qty"))  # names no foreign key
    problems = _problems(m)
    p = _one(problems, "column name appears 2 times")
    assert (p.table, p.column) == ("customers", "city")
    p = _one(problems, "primary-key column does not exist")
    assert (p.table, p.column) == ("customers", "customer_key")
    assert _one(problems, "categories declared on a numerical column").column == "score"
    assert _one(problems, "low declared on a categorical column").column == "tier"
    assert _one(problems, "low 10.0 is greater than high 5.0").column == "age"
    assert _one(problems, "unknown dtype 'not_a_type'").column == "blob"
    p = _one(problems, "driver 'qty' names no foreign key")
    assert p.table == "items" and "order_id" in p.hint and "product_id" in p.hint
    # with its primary key gone, customers.customer_id is no longer a key orders may reference
    assert _one(problems, "not the parent's primary key").table == "customers"
    assert len(problems) == 8


def test_context_columns_and_key_dtypes():
    m = shop()
    m = m.with_foreign_key(
        ForeignKey(
            "orders", ("customer_id",), "customers", ("customer_id",), context_columns=("city", "segment")
        )
    )
    m = m.with_column("items", Column("product_id", ColumnKind.ID, "string", nullable=False))
    problems = _problems(m)
    p = _one(problems, "context column 'segment'")
    assert (p.table, p.column) == ("customers", "segment")
    p = _one(problems, "child dtype string cannot match parent key products.product_id of dtype int64")
    assert (p.table, p.column) == ("items", "product_id")
    assert len(problems) == 2


def test_cycle_through_several_tables_names_them():
    m = shop()
    m = m.with_column("customers", ID("favourite_item"))
    m = m.with_foreign_key(ForeignKey("customers", ("favourite_item",), "orders", ("order_id",)))
    p = _one(_problems(m), "cycle")
    assert "customers" in p.message and "orders" in p.message
    assert "employees" not in p.message  # a self-reference is not a cycle


def test_duplicate_table_and_foreign_key():
    m = shop()
    m = replace(m, tables=m.tables + (m.tables[0],), foreign_keys=m.foreign_keys + (m.foreign_keys[0],))
    problems = _problems(m)
    assert _one(problems, "table is declared twice").table == "customers"
    assert _one(problems, "declared twice").table in ("customers", "orders")
    assert len(problems) == 2


class ExtraRules:
    """A third-party plugin with its own metadata rule."""

    @hookimpl
    def hiveframe_validate_metadata(self, metadata):
        return [Problem("too many tables for this plugin", table=metadata.table_names[0], hint="use fewer")]


def test_validate_metadata_collects_problems_from_every_plugin():
    m = shop().with_table(Table("x", (ID("a"), ID("a")), primary_key=("a",)))
    host = PluginHost(load_entry_points=False, plugins={"extra-rules": ExtraRules()})
    with pytest.raises(MetadataError) as info:
        validate_metadata(m, host=host)
    problems = info.value.problems
    assert {p.plugin for p in problems} == {None, "extra-rules"}
    assert "[from plugin extra-rules]" in str(info.value)
    assert _one(list(problems), "appears 2 times").table == "x"


def test_validate_metadata_default_host():
    with pytest.raises(MetadataError, match="primary-key column does not exist"):
        validate_metadata(shop().with_table(Table("t", (CAT("a"),), primary_key=("b",))))


# -- data ------------------------------------------------------------------------------------------
def test_good_data_passes_and_is_cast():
    data = shop_data()
    data["orders"] = data["orders"].set_column(0, "order_id", pa.array([10, 11, 12, 13], pa.int32()))
    data["extra"] = pa.table({"a": [1]})
    data["products"] = data["products"].append_column("unused", pa.array([1, 2]))
    out = validate_data(shop(), data)
    assert isinstance(out, Database)
    assert out.names == shop().table_names  # the extra table left out
    assert out["orders"].column("order_id").type == pa.int64()
    assert out["products"].column_names == ["product_id", "name"]


def _data_problems(data, metadata=None, **kw) -> list[Problem]:
    with pytest.raises(DataError) as info:
        validate_data(metadata or shop(), data, **kw)
    return list(info.value.problems)


def test_key_problems_listed_together():
    data = shop_data()
    data["customers"] = pa.table({"customer_id": [1, 2, 2, None, 2], "city": ["a", "b", "c", "d", "e"]})
    data["items"] = pa.table(
        {"order_id": [10, 10, 11, 10, 13], "product_id": [100, 101, 100, 100, 100], "qty": [1, 2, 3, 4, 5]}
    )
    data["orders"] = pa.table({"order_id": [10, 11, 12], "customer_id": [1, 7, 8], "total": [1.0, 2.0, 3.0]})
    problems = _data_problems(data)
    p = _one(problems, "null primary-key value")
    assert (p.table, p.column, p.row) == ("customers", "customer_id", 3)
    p = _one(problems, "3 rows share a primary key value")
    assert (p.table, p.row) == ("customers", 1) and "2" in p.message and "rows 1, 2, 4" in p.message
    p = _one(problems, "share a composite key value")
    assert (p.table, p.column) == ("items", "order_id,product_id") and "(10, 100)" in p.message
    p = _one(problems, "2 of 3 rows reference a customers.customer_id that does not exist")
    assert (p.table, p.column, p.row) == ("orders", "customer_id", 1) and "7, 8" in p.message
    assert "drop_orphans=True" in p.hint and "--orphans null" in p.hint
    # item row 4 references order 13, which is gone
    p = _one(problems, "items.order_id->orders")
    assert "13" in p.message and p.row == 4
    assert len(problems) == 5


def test_composite_foreign_key_orphans():
    nullable_ids = (Column("order_id", ColumnKind.ID, "int64"), Column("product_id", ColumnKind.ID, "int64"))
    m = shop().with_table(Table("returns", nullable_ids, primary_key=()))
    m = m.with_foreign_key(
        ForeignKey("returns", ("order_id", "product_id"), "items", ("order_id", "product_id"))
    )
    data = shop_data()
    data["returns"] = pa.table({"order_id": [10, 10, 13, None], "product_id": [100, 999, 100, 5]})
    (p,) = _data_problems(data, m)
    assert (p.table, p.column, p.row) == ("returns", "order_id,product_id", 1)
    assert "(10, 999)" in p.message and "1 of 4 rows" in p.message


def test_drop_orphans_cascades(caplog):
    data = shop_data()
    # customer 3 is missing: order 13 is an orphan, and item (13, 100) depends on it
    data["customers"] = data["customers"].slice(0, 2)
    # employee 2 reports to missing 9; employee 3 reports to 2 (orphaned in cascade)
    data["employees"] = pa.table({"employee_id": [1, 2, 3], "boss_id": [None, 9, 2]})
    with caplog.at_level(logging.WARNING, logger="hiveframe.metadata.validate"):
        out = validate_data(shop(), data, drop_orphans=True)
    assert out["orders"].column("order_id").to_pylist() == [10, 11, 12]
    assert out["items"].column("order_id").to_pylist() == [10, 10, 11, 12]
    assert out["employees"].column("employee_id").to_pylist() == [1]
    assert "cascade" in caplog.text and "orders: 1" in caplog.text and "items: 1" in caplog.text
    assert "employees: 2" in caplog.text


def test_one_to_one_violation():
    m = shop()
    m = m.with_foreign_key(
        ForeignKey("orders", ("customer_id",), "customers", ("customer_id",), one_to_one=True)
    )
    (p,) = _data_problems(shop_data(), m)
    assert (p.table, p.column, p.row) == ("orders", "customer_id", 0)
    assert "one-to-one" in p.message and "1" in p.message


def test_table_and_column_presence():
    data = shop_data()
    del data["products"]
    data["orders"] = data["orders"].drop_columns(["total"])
    problems = _data_problems(data)
    assert _one(problems, "table is in the metadata but not in the data").table == "products"
    p = _one(problems, "column is in the metadata but not in the data")
    assert (p.table, p.column) == ("orders", "total")
    assert len(problems) == 2


def test_empty_tables():
    data = shop_data()
    data["customers"] = data["customers"].slice(0, 0)
    data["products"] = data["products"].slice(0, 0)
    data["items"] = data["items"].slice(0, 0)
    problems = _data_problems(data)
    p = _one(problems, "the parent table 'customers' is empty but 'orders' has 4 rows")
    assert p.table == "customers"
    assert {p.table for p in problems if "has no rows" in p.message} == {"customers", "products", "items"}
    assert not any("does not exist" in p.message for p in problems)  # no orphan noise on top
    assert len(problems) == 4


def test_value_problems_listed_together():
    pd = pytest.importorskip("pandas")
    m = shop().with_column("customers", Column("since", ColumnKind.NUMERICAL, "double", nullable=False))
    m = m.with_column("customers", NUM("score", nullable=False))
    m = m.with_column("orders", Column("note", ColumnKind.NUMERICAL, "string"))
    m = m.with_column("products", NUM("weight", "int64"))
    m = m.with_column("employees", CAT("team"))
    data = shop_data()
    data["customers"] = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "city": ["a", "b", "a"],
            "since": [1.0, 2.0, 3.0],
            "score": [1.0, None, 2.0],
        }
    )
    data["customers"]["since"] = pd.Series([1.0, "two", 3.0], dtype=object)  # mixed object column
    data["orders"] = data["orders"].append_column("note", pa.array(["1", "2.5", "abc", "?"]))
    data["products"] = data["products"].append_column("weight", pa.array([1.5, 2.0]))
    data["employees"] = data["employees"].append_column("team", pa.nulls(3, pa.string()))
    problems = _data_problems(data, m)
    p = _one(problems, "mixes Python types")
    assert (p.table, p.column, p.row) == ("customers", "since", 1) and "'two'" in p.message
    p = _one(problems, "are not numbers")
    assert (p.table, p.column, p.row) == ("orders", "note", 2) and "'abc'" in p.message
    p = _one(problems, "not whole numbers")
    assert (p.table, p.column, p.row) == ("products", "weight", 0)
    p = _one(problems, "entirely null")
    assert (p.table, p.column) == ("employees", "team") and "dtype 'null'" in p.hint
    # the pandas table could not be converted: its presence is not reported again
    assert not any("not in the data" in p.message for p in problems)
    assert len(problems) == 4


def test_not_nullable_and_numeric_strings():
    m = shop().with_column("customers", NUM("score", "int64", nullable=False))
    data = shop_data()
    data["customers"] = data["customers"].append_column("score", pa.array(["1", "?", " 3 "]))
    (p,) = _data_problems(data, m)
    assert (p.table, p.column, p.row) == ("customers", "score", 1) and "not nullable" in p.message
    out = validate_data(m.with_column("customers", NUM("score", "int64")), data)
    assert out["customers"].column("score").to_pylist() == [1, None, 3]


def test_foreign_key_type_mismatch():
    data = shop_data()
    data["orders"] = data["orders"].set_column(1, "customer_id", pa.array(["1", "1", "2", "3"]))
    m = shop().with_column("orders", ID("customer_id", "string"))
    problems = _data_problems(data, m)
    p = _one(problems, "cannot match the parent key customers.customer_id of type int64")
    assert (p.table, p.column) == ("orders", "customer_id")
    assert "cast" in p.hint


def test_float_foreign_keys_from_pandas_are_matched():
    pd = pytest.importorskip("pandas")
    m = shop().with_column("orders", Column("customer_id", ColumnKind.ID, "double"))
    data = shop_data()
    data["orders"] = pd.DataFrame(
        {"order_id": [10, 11, 12, 13], "customer_id": [1, None, 2, 5], "total": [1.0, 2.0, 3.0, 4.0]}
    )
    problems = _data_problems(data, m)
    assert len(problems) == 1 and "5.0" in problems[0].message and problems[0].row == 3


def test_all_null_columns_marked_by_detect_pass():
    from hiveframe import detect

    data = {"t": pa.table({"t_id": [1, 2, 3], "empty": pa.nulls(3, pa.float64())})}
    metadata = detect(data)
    assert metadata.table("t").column("empty").dtype == "null"
    out = validate_data(metadata, data)
    assert out["t"].column("empty").type == pa.null()
    # a column declared all-null that has values is a problem
    data["t"] = data["t"].set_column(1, "empty", pa.array([1.0, None, 2.0]))
    (p,) = _data_problems(data, metadata)
    assert (p.table, p.column) == ("t", "empty") and "2 value(s)" in p.message


def test_extra_tables_and_columns_are_left_out_with_a_warning(caplog):
    data = shop_data()
    data["audit"] = pa.table({"a": [1]})
    data["orders"] = data["orders"].append_column("debug", pa.array([0, 0, 0, 0]))
    with caplog.at_level(logging.WARNING, logger="hiveframe.metadata.validate"):
        out = validate_data(shop(), data)
    assert "audit" not in out and "debug" not in out["orders"].column_names
    assert "table 'audit' is not in the metadata" in caplog.text
    assert "'orders' has columns not in the metadata, left out: debug" in caplog.text
