"""The builtin plugin's components pass the same conformance kit a third-party author runs."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from hiveframe.plugins import PluginHost
from hiveframe.testing.conformance import (
    check_linkage_model,
    check_reader,
    check_table_generator,
    check_transformer,
    check_writer,
    sample_metadata,
    sample_table,
)

HOST = PluginHost(load_entry_points=False)


def builtin(kind: str) -> list[str]:
    return [n for n in HOST.names(kind) if HOST.registration(kind, n).plugin == "builtin"]


@pytest.mark.parametrize("name", builtin("table_generator"))
def test_generator(name):
    report = check_table_generator(HOST.component_class("table_generator", name), host=HOST)
    assert "honours conditions on columns" in report.passed  # the baseline must condition (parent context)


@pytest.mark.parametrize("name", builtin("transformer"))
def test_transformer(name):
    cls = HOST.component_class("transformer", name)
    kwargs = {}
    if name == "integer":  # made for integer columns: give it one
        data = sample_table(300, seed=3)
        kwargs = {"values": data.column("age").combine_chunks(), "column": sample_metadata(data).column("age")}
    assert check_transformer(cls, host=HOST, **kwargs).passed


@pytest.mark.parametrize("name", builtin("linkage_model"))
def test_linkage_model(name):
    assert check_linkage_model(HOST.component_class("linkage_model", name), host=HOST).passed


def test_readers(tmp_path, chinook_path):
    from hiveframe.testing.conformance import _sample_database

    db, _ = _sample_database()
    folder = tmp_path / "tables"
    folder.mkdir()
    for name, table in db.tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    check_reader(HOST.component_class("reader", "folder"), folder, expected_tables=["people", "orders"])
    check_reader(HOST.component_class("reader", "sqlite"), chinook_path, expected_tables=["Track", "PlaylistTrack"])
    check_reader(HOST.component_class("reader", "memory"), dict(db.tables), expected_tables=["people"])


@pytest.mark.parametrize(("name", "target", "fmt", "reader"), [
    ("sqlite", "out.sqlite", None, "sqlite"),
    ("folder", "parquet", "parquet", "folder"),
    ("csv", "csv", "csv", "folder"),
    ("jsonl", "jsonl", "jsonl", "folder"),
])
def test_writers(name, target, fmt, reader, tmp_path):
    report = check_writer(HOST.component_class("writer", name), tmp_path / target, format=fmt, reader=reader,
                          host=HOST)
    assert "what it writes reads back unchanged" in report.passed
