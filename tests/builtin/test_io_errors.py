"""Bad inputs: each one a SourceError with a hint, never a raw pyarrow/sqlite3/polars traceback.

The folder cases run against both the builtin ``folder`` reader and the polars plugin's
``polars_folder`` reader, which must fail the same way.
"""

from __future__ import annotations

import gzip

import pytest

from hiveframe.errors import HiveframeError, PluginError, SourceError
from hiveframe.plugins import PluginHost

FOLDER_READERS = ["folder", "polars_folder"]


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def expect_source_error(host, source, match, reader=None):
    with pytest.raises(HiveframeError) as err:
        host.read(source, reader=reader)
    assert type(err.value) is SourceError, f"{type(err.value).__name__}: {err.value}"
    assert not isinstance(err.value, PluginError)
    assert err.value.hint, f"no hint in: {err.value}"
    assert err.value.__cause__ is None or isinstance(err.value.__cause__, HiveframeError)
    import re

    assert re.search(match, str(err.value)), str(err.value)
    return err.value


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_missing_path(tmp_path, host, reader):
    expect_source_error(host, tmp_path / "nope", r"'.*nope' does not exist", reader=reader)


def test_missing_sqlite_path(tmp_path, host):
    expect_source_error(host, tmp_path / "nope.sqlite", r"does not exist")


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_unsupported_file_type(tmp_path, host, reader):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    err = expect_source_error(host, path, r"unsupported file type '\.xlsx'", reader=reader)
    assert ".parquet" in err.hint and ".csv.gz" in err.hint and ".sqlite" in err.hint


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_folder_without_tables(tmp_path, host, reader):
    (tmp_path / "schema.json").write_text("{}")
    (tmp_path / "README.md").write_text("hi")
    err = expect_source_error(host, tmp_path, r"no readable tables \(found: README\.md, schema\.json\)",
                              reader=reader)
    assert ".jsonl" in err.hint
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_source_error(host, empty, r"no readable tables \(found: nothing\)", reader=reader)


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_corrupt_parquet(tmp_path, host, reader):
    (tmp_path / "x.parquet").write_bytes(b"this is not parquet at all" * 10)
    expect_source_error(host, tmp_path, r"cannot read Parquet file '.*x\.parquet'", reader=reader)


@pytest.mark.parametrize("content", [b"garbage, not a database" * 20, b""])
def test_not_a_sqlite_file(tmp_path, host, content):
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    expect_source_error(host, path, r"(not a SQLite database|empty file)")


def test_sqlite_reader_on_a_csv(tmp_path, host):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    expect_source_error(host, path, r"not a SQLite database", reader="sqlite")


def test_folder_reader_on_a_sqlite_file(chinook_path, host):
    expect_source_error(host, chinook_path, r"is a SQLite database", reader="folder")


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n", r"cannot parse CSV file '.*ragged\.csv'"),
        ("latin.csv", "a,b\n1,caf\xe9\n".encode("latin-1"), r"(not UTF-8|cannot parse CSV)"),
        ("empty.csv", b"", r"empty \(no header row\)"),
        ("dupe.csv", b"a,a\n1,2\n", r"duplicate column name.*'a'"),
        ("bad.csv.gz", b"not gzip at all", r"not a valid gzip file"),
        ("bad.jsonl", b'{"a": 1}\n{"a": \n', r"cannot parse JSON lines file"),
        ("empty.jsonl", b"\n", r"is empty"),
    ],
)
def test_unparseable_files(tmp_path, host, reader, name, content, match):
    (tmp_path / name).write_bytes(content)
    expect_source_error(host, tmp_path / name, match, reader=reader)


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_two_files_for_one_table(tmp_path, host, reader):
    (tmp_path / "users.csv").write_text("id\n1\n")
    (tmp_path / "users.parquet").write_bytes(b"x")
    (tmp_path / "orders.csv.gz").write_bytes(gzip.compress(b"id\n1\n"))
    (tmp_path / "orders.jsonl").write_text('{"id": 1}\n')
    err = expect_source_error(host, tmp_path, r"several files for the same table", reader=reader)
    assert "users.csv, users.parquet" in str(err) and "orders.csv.gz, orders.jsonl" in str(err)


def test_write_errors_are_source_errors(tmp_path, host):
    import pyarrow as pa

    with pytest.raises(SourceError, match="no writer for"):
        host.write({"t": pa.table({"a": [1]})}, tmp_path / "o", format="xlsx")
    with pytest.raises(SourceError, match="no tables"):
        host.write({}, tmp_path / "o")
    with pytest.raises(SourceError, match="is a folder"):
        host.write({"t": pa.table({"a": [1]})}, tmp_path, writer="sqlite")


@pytest.mark.parametrize("reader", [None, *FOLDER_READERS])
def test_unknown_table_requested_from_a_folder(shared_data, host, reader):
    with pytest.raises(SourceError, match=r"folder '.*berka' has no table\(s\) 'acount'") as err:
        host.read(shared_data / "berka", reader=reader, tables=["acount"])
    assert "did you mean 'account'" in err.value.hint


def test_unknown_table_requested_from_sqlite(chinook_path, host):
    with pytest.raises(SourceError, match=r"has no table\(s\) 'Nope'") as err:
        host.read(chinook_path, tables=["Nope", "Album"])
    assert "Album" in err.value.hint
