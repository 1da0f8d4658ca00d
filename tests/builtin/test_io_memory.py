"""In-memory reader: Arrow and pandas objects, alone or in mappings; polars goes to its plugin."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hiveframe._builtin.io_memory import MemoryReader
from hiveframe.components import Database
from hiveframe.errors import SourceError
from hiveframe.plugins import PluginHost


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def test_single_arrow_table_is_named_table(host):
    table = pa.table({"a": pa.array([1, None]), "s": pa.array(["x", "y"], pa.large_string())})
    assert host.hooks.resolve_reader(source=table) == "memory"
    db = host.read(table)
    assert db.names == ["table"]
    assert db["table"].schema == pa.schema([("a", pa.int64()), ("s", pa.string())])


def test_pandas_frame_is_converted_at_the_edge(host):
    df = pd.DataFrame({
        "n": [1.5, np.nan, 3.0],
        "cat": pd.Categorical(["a", "b", "a"]),
        "when": pd.to_datetime(["2020-01-01 00:00", None, "2020-01-03 10:00"]),
        "s": ["x", None, "z"],
    })
    assert host.hooks.resolve_reader(source=df) == "memory"
    t = host.read(df)["table"]
    assert t.schema == pa.schema([("n", pa.float64()), ("cat", pa.string()), ("when", pa.timestamp("us")),
                                  ("s", pa.string())])
    assert t["n"].null_count == 1 and t["when"].null_count == 1
    assert t["when"][2].as_py() == dt.datetime(2020, 1, 3, 10)


def test_pandas_named_index_is_kept_and_range_index_dropped():
    df = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["a", "b"], name="id"))
    assert MemoryReader().read(df)["table"].column_names == ["v", "id"]
    assert MemoryReader().read(pd.DataFrame({"v": [1, 2]}))["table"].column_names == ["v"]


def test_mapping_of_mixed_arrow_and_pandas(host):
    source = {"users": pa.table({"id": [1, 2]}), "orders": pd.DataFrame({"uid": [1, 1, 2]})}
    assert host.hooks.resolve_reader(source=source) == "memory"
    db = host.read(source)
    assert db.names == ["users", "orders"]
    assert db["orders"]["uid"].to_pylist() == [1, 1, 2]
    assert host.read(source, tables=["orders"]).names == ["orders"]
    with pytest.raises(SourceError, match="no table.*'nope'"):
        host.read(source, tables=["nope"])


def test_database_passes_through_with_its_keys(host):
    from hiveframe.metadata import ForeignKey

    fk = ForeignKey("c", ("pid",), "p", ("id",))
    db = Database(tables={"p": pa.table({"id": [1]}), "c": pa.table({"pid": [1]})},
                  declared_primary_keys={"p": ("id",)}, declared_foreign_keys=[fk])
    back = host.read(db)
    assert back.declared_foreign_keys == [fk] and back.declared_primary_keys == {"p": ("id",)}
    assert host.read(db, tables=["c"]).declared_foreign_keys == []


def test_bad_in_memory_inputs():
    reader = MemoryReader()
    with pytest.raises(SourceError, match="empty"):
        reader.read({})
    with pytest.raises(SourceError, match="table names must be strings"):
        reader.read({1: pa.table({"a": [1]})})
    with pytest.raises(SourceError, match="table 'x', column 'mixed'.*cannot convert") as err:
        reader.read({"x": pd.DataFrame({"ok": [1, 2], "mixed": [1, "a"]})})
    assert "astype(str)" in err.value.hint


def test_polars_objects_belong_to_the_polars_reader():
    import polars as pl

    frame = pl.DataFrame({"a": [1]})
    assert not MemoryReader.claims(frame)
    assert not MemoryReader.claims({"t": frame, "u": pa.table({"a": [1]})})
    with pytest.raises(SourceError, match="polars plugin") as err:
        MemoryReader().read({"t": frame})
    assert "reader='polars'" in err.value.hint


def test_unknown_objects_are_not_claimed(host):
    with pytest.raises(SourceError, match="no reader knows how to read an object of type list"):
        host.read([1, 2, 3])


def test_conformance_kit():
    from hiveframe.testing.conformance import check_reader

    check_reader(MemoryReader, {"a": pa.table({"x": [1]}), "b": pd.DataFrame({"y": [2.5]})},
                 expected_tables=["a", "b"])
