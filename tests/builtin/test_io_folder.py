"""Folder reader and writers: round trips per format, real datasets, overwrite rules, resolution."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hiveframe._builtin.io_folder import FolderReader, FolderWriter
from hiveframe.errors import SourceError
from hiveframe.plugins import PluginHost

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def rich_tables() -> dict[str, pa.Table]:
    """Two tables with the awkward values: nulls everywhere, whole floats, empty strings, quotes,
    newlines, dates, timestamps with and without fractions, zoned timestamps, a composite key."""
    parent = pa.table({
        "region": pa.array(["north", "south", "north", "east"]),
        "shop_no": pa.array([1, 1, 2, 1], pa.int64()),
        "opened": pa.array([dt.date(2001, 1, 31), None, dt.date(1999, 12, 1), dt.date(2020, 2, 29)]),
        "rating": pa.array([4.0, None, 3.5, -1.0]),
        "active": pa.array([True, False, None, True]),
    })
    child = pa.table({
        "sale_id": pa.array([10, 11, 12, 13, 14], pa.int64()),
        "region": pa.array(["north", "north", "south", "east", "north"]),
        "shop_no": pa.array([1, 2, 1, 1, 1], pa.int64()),
        "at": pa.array([dt.datetime(2021, 1, 1, 10, 0, 0), dt.datetime(2021, 1, 2, 23, 59, 59, 123456), None,
                        dt.datetime(1970, 1, 1), dt.datetime(2021, 6, 1, 0, 0, 1)], pa.timestamp("us")),
        "seen_utc": pa.array([dt.datetime(2021, 1, 1, 8, tzinfo=UTC), None, None, None,
                              dt.datetime(2022, 3, 4, 5, 6, 7, tzinfo=UTC)], pa.timestamp("us", "UTC")),
        "note": pa.array(['say "hi", then leave', "", None, "two\nlines", " padded "]),
        "code": pa.array(["0171", "0042", None, "1000", "0001"]),
        "qty": pa.array([1, None, 3, 0, -5], pa.int64()),
    })
    return {"shop": parent, "sale": child}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_round_trip_each_format(tmp_path, host, fmt):
    tables = rich_tables()
    out = tmp_path / "out"
    host.write(tables, out, format=fmt)
    suffix = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}[fmt]
    assert sorted(p.name for p in out.iterdir()) == sorted(["_provenance.json", f"sale{suffix}", f"shop{suffix}"])
    back = host.read(out)
    assert back.names == ["sale", "shop"]
    for name, table in tables.items():
        assert back[name].schema == table.schema, name
        assert back[name].equals(table), (name, back[name].to_pylist(), table.to_pylist())


def test_round_trip_keeps_whole_floats_and_fractions_in_csv(tmp_path):
    table = pa.table({"age": [39.0, 28.0, None], "t": pa.array([0, 1_500_000, None], pa.timestamp("us"))})
    FolderWriter(format="csv").write({"u": table}, tmp_path)
    text = (tmp_path / "u.csv").read_text()
    assert text.splitlines() == ["age,t", "39.0,1970-01-01 00:00:00.000000", "28.0,1970-01-01 00:00:01.500000", ","]
    assert FolderReader().read(tmp_path)["u"].equals(table)


def test_mixed_formats_in_one_folder_and_single_file(tmp_path, host):
    tables = rich_tables()
    pq.write_table(tables["shop"], tmp_path / "shop.parquet")
    FolderWriter(format="jsonl").write({"sale": tables["sale"]}, tmp_path / "tmp")
    data = (tmp_path / "tmp" / "sale.jsonl").read_bytes()
    (tmp_path / "sale.ndjson.gz").write_bytes(gzip.compress(data))
    (tmp_path / "notes.txt").write_text("not a table")
    (tmp_path / "sub").mkdir(exist_ok=True)
    (tmp_path / "extra.csv.gz").write_bytes(gzip.compress(b"k,v\n1,a\n2,\n"))
    db = host.read(tmp_path)
    assert db.names == ["extra", "sale", "shop"]
    assert db["sale"].equals(tables["sale"])
    assert db["shop"].equals(tables["shop"])
    assert db["extra"].to_pylist() == [{"k": 1, "v": "a"}, {"k": 2, "v": None}]
    single = host.read(tmp_path / "shop.parquet")
    assert single.names == ["shop"] and single["shop"].equals(tables["shop"])
    only = host.read(tmp_path, tables=["extra"])
    assert only.names == ["extra"]


def test_census_adult_question_marks_are_nulls(shared_data, host):
    census = host.read(shared_data / "census_adult")["census"]
    assert census.shape == (48842, 15)
    types = dict(zip(census.column_names, census.schema.types, strict=True))
    assert types["age"] == pa.int64() and types["fnlwgt"] == pa.int64() and types["workclass"] == pa.string()
    for col in ("workclass", "occupation", "native_country"):
        assert census[col].null_count > 0
        assert "?" not in pc.unique(census[col].drop_null()).to_pylist()
    rows_with_missing = pc.sum(pc.or_(pc.or_(pc.is_null(census["workclass"]), pc.is_null(census["occupation"])),
                                      pc.is_null(census["native_country"]))).as_py()
    assert rows_with_missing == 3620  # as documented in schema.json
    assert census["age"].null_count == 0


def test_census_keeps_question_marks_when_asked(shared_data):
    census = FolderReader(null_values=("",)).read(shared_data / "census_adult")["census"]
    assert census["workclass"].null_count == 0
    assert "?" in pc.unique(census["workclass"]).to_pylist()


def test_airbnb_dates_and_timestamps(shared_data, host):
    db = host.read(shared_data / "airbnb")
    users, sessions = db["users"], db["sessions"]
    assert users.num_rows == 10000 and sessions.num_rows == 47217
    assert users.schema.field("date_account_created").type == pa.date32()
    assert users.schema.field("date_first_booking").type == pa.date32()
    assert users.schema.field("timestamp_first_active").type == pa.timestamp("us")
    assert users["date_account_created"][0].as_py() == dt.date(2014, 4, 26)
    assert users["timestamp_first_active"][0].as_py() == dt.datetime(2014, 4, 26, 11, 45, 20)
    assert users["date_first_booking"].null_count == 5900
    assert users.schema.field("age").type == pa.float64() and users["age"].null_count == 4196
    assert users.schema.field("id").type == pa.string()
    assert sessions["secs_elapsed"].null_count == 2424


def test_berka_question_mark_in_numeric_column(shared_data, host):
    district = host.read(shared_data / "berka", tables=["district"])["district"]
    assert district.schema.field("A12").type == pa.float64()
    assert district.schema.field("A15").type == pa.int64()
    assert district["A12"].null_count == 1 and district["A15"].null_count == 1


# -- writing ---------------------------------------------------------------------------------------
def test_provenance_is_recorded(tmp_path, host):
    host.write(rich_tables(), tmp_path / "o", provenance={"seed": 7, "source": "unit test"})
    manifest = json.loads((tmp_path / "o" / "_provenance.json").read_text())
    assert manifest["provenance"] == {"seed": 7, "source": "unit test"}
    assert manifest["files"] == {"shop": "shop.parquet", "sale": "sale.parquet"}
    assert manifest["written_by"] == "hiveframe"


def test_rewrite_replaces_own_output_whole(tmp_path, host):
    out = tmp_path / "o"
    tables = rich_tables()
    host.write(tables, out)
    host.write({"shop": tables["shop"]}, out, format="csv")  # sale gone, shop now csv
    assert sorted(p.name for p in out.iterdir()) == ["_provenance.json", "shop.csv"]
    assert host.read(out)["shop"].equals(tables["shop"])
    host.write(tables, out, format="csv")
    assert host.read(out).names == ["sale", "shop"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no staging left beside it


def test_rewrite_refuses_a_file_hiveframe_did_not_write_unless_overwrite(tmp_path, host):
    out = tmp_path / "o"
    tables = rich_tables()
    host.write(tables, out)
    (out / "README.md").write_text("mine")
    with pytest.raises(SourceError, match="README.md") as err:
        host.write(tables, out, format="csv")
    assert "--overwrite" in err.value.hint
    assert (out / "README.md").read_text() == "mine"
    assert host.read(out).names == ["sale", "shop"]
    host.write({"shop": tables["shop"]}, out, format="csv", overwrite=True)  # asked for: the whole folder
    assert sorted(p.name for p in out.iterdir()) == ["_provenance.json", "shop.csv"]


def test_writer_never_replaces_a_users_table_files(tmp_path, host):
    """The folder a model was fitted from (or any folder with unrelated files of the same names)."""
    real = {"shop.csv": "region,shop_no\nwest,7\n", "sale.csv": "sale_id\n1\n", "notes/": None}
    for name, text in real.items():
        (tmp_path / name).mkdir() if text is None else (tmp_path / name).write_text(text)
    for options in ({"format": "csv"}, {"format": "csv", "overwrite": True}, {}):
        with pytest.raises(SourceError, match="sale.csv, shop.csv") as err:
            host.write(rich_tables(), tmp_path, **options)
        assert "notes/" in str(err.value) and err.value.hint
        assert "provenance" in str(err.value) if options.get("overwrite") else "did not write" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "sale.csv", "shop.csv"]
    assert (tmp_path / "shop.csv").read_text() == real["shop.csv"]


def test_a_write_that_fails_midway_keeps_the_old_output_whole(tmp_path, host, monkeypatch):
    out = tmp_path / "o"
    tables = rich_tables()
    host.write(tables, out, format="csv", provenance={"seed": 1})
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    written = []

    def disk_full_at_the_second_table(self, table, path):
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        write_table(self, table, path)

    write_table = FolderWriter._write_table
    monkeypatch.setattr(FolderWriter, "_write_table", disk_full_at_the_second_table)
    with pytest.raises(SourceError, match="No space left on device") as err:
        host.write(tables, out, format="csv", provenance={"seed": 2})
    assert err.value.hint
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old tables and provenance, no mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # the staging folder is gone


def test_reading_an_output_whose_replacement_was_killed_between_renames(tmp_path, host, caplog):
    import subprocess
    import sys

    host.write(rich_tables(), tmp_path / "o")
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True).stdout)
    (tmp_path / "o").rename(tmp_path / f".o.hf-old-{pid}-0a1b")  # what a kill between the renames leaves
    with caplog.at_level("WARNING"):
        assert host.read(tmp_path / "o").names == ["sale", "shop"]
    assert "restored the previous output" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_writer_refuses_to_make_a_folder_ambiguous(tmp_path, host):
    tables = rich_tables()
    (tmp_path / "shop.csv").write_text("a\n1\n")
    with pytest.raises(SourceError, match="did not write: shop.csv") as err:
        host.write(tables, tmp_path)
    assert err.value.hint
    assert not (tmp_path / "sale.parquet").exists()  # nothing written
    assert (tmp_path / "shop.csv").read_text() == "a\n1\n"


def test_writer_errors(tmp_path):
    with pytest.raises(SourceError, match="looks like a file name"):
        FolderWriter().write(rich_tables(), tmp_path / "out.csv")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SourceError, match="not a folder"):
        FolderWriter().write(rich_tables(), tmp_path / "file")
    with pytest.raises(SourceError, match="cannot hold.*'b'"):
        FolderWriter(format="csv").write({"t": pa.table({"b": pa.array([b"\x00"])})}, tmp_path / "o")
    with pytest.raises(SourceError, match="cannot be a file name"):
        FolderWriter().write({"../up": pa.table({"a": [1]})}, tmp_path / "o")
    with pytest.raises(SourceError, match="differ only by case"):
        FolderWriter().write({"A": pa.table({"a": [1]}), "a": pa.table({"a": [1]})}, tmp_path / "o")
    from hiveframe.errors import ConfigError

    with pytest.raises(ConfigError):
        FolderWriter.from_params({"format": "xlsx"})


def test_writer_resolution(tmp_path, host):
    resolve = host.hooks.resolve_writer
    assert resolve(target=tmp_path / "o", format=None) == "folder"
    assert resolve(target=tmp_path / "o", format="parquet") == "folder"
    assert resolve(target=str(tmp_path / "o"), format="csv") == "csv"
    assert resolve(target=tmp_path / "o", format="jsonl") == "jsonl"
    assert resolve(target=tmp_path / "o.sqlite", format=None) == "sqlite"
    assert resolve(target=tmp_path / "o", format="xlsx") is None


def test_pandas_values_are_written(tmp_path, host):
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    host.write({"t": df}, tmp_path / "o", format="jsonl")
    assert host.read(tmp_path / "o")["t"].to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]


def test_empty_and_header_only_tables(tmp_path, host):
    empty = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    host.write({"e": empty}, tmp_path / "p")
    assert host.read(tmp_path / "p")["e"].equals(empty)
    host.write({"e": empty}, tmp_path / "c", format="csv")
    back = host.read(tmp_path / "c")["e"]
    assert back.num_rows == 0 and back.column_names == ["a", "s"]


@pytest.mark.parametrize("writer", ["folder", "csv", "jsonl", "sqlite"])
def test_conformance_kit(tmp_path, host, writer):
    from hiveframe.testing.conformance import check_reader, check_writer

    target = tmp_path / ("out.sqlite" if writer == "sqlite" else "out")
    fmt = None if writer in ("folder", "sqlite") else writer
    reader = "sqlite" if writer == "sqlite" else "folder"
    check_writer(host.component_class("writer", writer), target, format=fmt, reader=reader, host=host)
    check_reader(host.component_class("reader", reader), target)


def test_unwritable_targets_are_source_errors(tmp_path):
    from hiveframe._builtin.io_sqlite import SqliteWriter

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SourceError, match="cannot write to folder"):
        FolderWriter().write({"t": pa.table({"a": [1]})}, blocker / "out")
    with pytest.raises(SourceError, match="cannot write SQLite file"):
        SqliteWriter().write({"t": pa.table({"a": [1]})}, blocker / "out.sqlite")


def test_reader_resolution(tmp_path, host, shared_data):
    resolve = host.hooks.resolve_reader
    assert resolve(source=shared_data / "airbnb") == "folder"
    assert resolve(source=str(shared_data / "airbnb" / "users.csv.gz")) == "folder"
    assert resolve(source=tmp_path / "missing") == "folder"  # so that the error says what is wrong
    assert resolve(source=tmp_path / "missing.sqlite") == "sqlite"
    assert not FolderReader.claims("s3://bucket/data")  # URLs are left to plugins that know them
    users = host.read(str(shared_data / "airbnb" / "users.csv.gz"))
    assert users.names == ["users"] and users["users"].num_rows == 10000


# -- folders of part files (what Spark writes) -----------------------------------------------------------
SPARK_PART_SUFFIX = {"parquet": ".snappy.parquet", "csv": ".csv", "jsonl": ".json"}


def write_spark_like(folder, table, fmt, cuts=(1, 4)):
    """``table`` split into part files as Spark lays them out, with its bookkeeping files beside them."""
    from hiveframe._builtin.io_folder import write_csv_file, write_jsonl_file, write_parquet_file

    folder.mkdir(parents=True)
    bounds = [0, *cuts, table.num_rows]
    for index, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part = folder / f"part-{index:05d}-8f1c2a7e-c000{SPARK_PART_SUFFIX[fmt]}"
        piece = table.slice(start, stop - start)
        if fmt == "csv":
            write_csv_file(piece, part)
        elif fmt == "parquet":
            write_parquet_file(piece, part)
        else:  # Spark's default JSON writer leaves null fields out of each line
            write_jsonl_file(piece, part)
            lines = [json.loads(line) for line in part.read_text().splitlines()]
            part.write_text("".join(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n"
                                    for row in lines))
        (folder / f".{part.name}.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "._SUCCESS.crc").write_bytes(b"crc")
    (folder / "_provenance.json").write_text(json.dumps({"synthetic": True}))


@pytest.mark.parametrize("reader", ["folder", "polars_folder"])
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_sub_folders_of_part_files_read_as_tables(tmp_path, host, fmt, reader):
    if reader == "polars_folder":
        pytest.importorskip("polars")
    tables = rich_tables()
    out = tmp_path / "out"
    for name, table in tables.items():
        write_spark_like(out / name, table, fmt, cuts=(1, 4) if table.num_rows > 4 else (2,))
    (out / "_provenance.json").write_text(json.dumps({"synthetic": True}))
    back = host.read(out, reader=reader)
    assert back.names == ["sale", "shop"]
    for name, table in tables.items():
        # sale's middle part has no zoned timestamp at all: its type comes from all parts together
        assert back[name].schema == table.schema, (name, back[name].schema)
        assert back[name].equals(table), (name, back[name].to_pylist())
    one = host.read(out / "sale", reader=reader)  # the folder of one table's part files
    assert one.names == ["sale"] and one["sale"].equals(tables["sale"])
    assert host.read(out, reader=reader, tables=["shop"]).names == ["shop"]


def test_part_files_that_disagree_are_one_error_naming_the_folder(tmp_path, host):
    mixed = tmp_path / "mixed" / "t"
    mixed.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1]}), mixed / "part-00000-x.snappy.parquet")
    (mixed / "part-00001-x.csv").write_text("a\n2\n")
    with pytest.raises(SourceError, match=r"mixes part files of different formats.*part-00001-x\.csv") as err:
        host.read(tmp_path / "mixed")
    assert str(mixed) in str(err.value)

    typed = tmp_path / "typed" / "t"
    typed.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), typed / "part-00000-x.parquet")
    pq.write_table(pa.table({"a": ["1"], "b": ["y"]}), typed / "part-00001-x.parquet")
    with pytest.raises(SourceError, match=r"different columns.*part-00000-x\.parquet and part-00001-x\.parquet "
                       r"differ \(column 'a' is int64 vs string\)"):
        host.read(tmp_path / "typed")

    headers = tmp_path / "headers" / "t"
    headers.mkdir(parents=True)
    (headers / "part-00000-x.csv").write_text("a,b\n1,2\n")
    (headers / "part-00001-x.csv").write_text("3,4\n5,6\n")  # written without header=true
    with pytest.raises(SourceError, match=r"different headers.*missing 'a', 'b'; extra '3', '4'") as err:
        host.read(tmp_path / "headers")
    assert "header=true" in err.value.hint and str(headers) in str(err.value)

    clash = tmp_path / "jsonclash" / "t"
    clash.mkdir(parents=True)
    (clash / "part-00000-x.json").write_text('{"a": 1}\n')
    (clash / "part-00001-x.json").write_text('{"a": "one"}\n')
    with pytest.raises(SourceError, match=r"JSON part files in folder .*jsonclash.* disagree"):
        host.read(tmp_path / "jsonclash")


def test_part_folder_edge_cases(tmp_path, host):
    both = tmp_path / "both"
    write_spark_like(both / "t", pa.table({"a": [1, 2, 3]}), "parquet")
    (both / "t.csv").write_text("a\n1\n")
    with pytest.raises(SourceError, match=r"several files for the same table \('t': t/, t\.csv\)"):
        host.read(both)

    running = tmp_path / "running"
    write_spark_like(running / "t", pa.table({"a": [1, 2, 3]}), "parquet")
    (running / "t" / "_temporary" / "0").mkdir(parents=True)
    with pytest.raises(SourceError, match="_temporary/: its Spark write has not finished"):
        host.read(running)

    empty_parts = tmp_path / "empty_parts"
    write_spark_like(empty_parts / "t", pa.table({"a": [1, 2, 3]}), "csv")
    (empty_parts / "t" / "part-00009-x.csv").write_bytes(b"")  # an empty partition: nothing to read
    assert host.read(empty_parts)["t"].to_pylist() == [{"a": 1}, {"a": 2}, {"a": 3}]

    all_empty = tmp_path / "all_empty" / "t"
    all_empty.mkdir(parents=True)
    (all_empty / "part-00000-x.json").write_bytes(b"")
    with pytest.raises(SourceError, match="only empty jsonl part files"):
        host.read(tmp_path / "all_empty")

    codec = tmp_path / "codec" / "t"
    codec.mkdir(parents=True)
    (codec / "part-00000-x.csv.bz2").write_bytes(b"x")
    with pytest.raises(SourceError, match=r"part files hiveframe cannot read: part-00000-x\.csv\.bz2"):
        host.read(tmp_path / "codec")

    # a sub-folder without part files is skipped as before, and named when nothing else is readable
    (tmp_path / "plain" / "notes").mkdir(parents=True)
    (tmp_path / "plain" / "notes" / "readme.txt").write_text("hi")
    with pytest.raises(SourceError, match=r"no readable tables \(found: notes/\)"):
        host.read(tmp_path / "plain")


@pytest.mark.parametrize("reader", ["folder", "polars_folder"])
def test_spark_int96_instants_read_as_utc(tmp_path, host, reader):
    """Spark writes its TIMESTAMP (an instant) as naive INT96 and says which columns are instants in the
    footer's own schema; timestamp_ntz columns stay naive."""
    if reader == "polars_folder":
        pytest.importorskip("polars")
    naive = pa.array([dt.datetime(2022, 3, 4, 5, 6, 7, 250001), None])
    spark_schema = {"type": "struct", "fields": [
        {"name": "seen", "type": "timestamp", "nullable": True, "metadata": {}},
        {"name": "wall", "type": "timestamp_ntz", "nullable": True, "metadata": {}}]}
    table = pa.table({"seen": naive, "wall": naive}).replace_schema_metadata(
        {"org.apache.spark.sql.parquet.row.metadata": json.dumps(spark_schema)})
    (tmp_path / "t").mkdir()
    pq.write_table(table, tmp_path / "t" / "part-00000-x.snappy.parquet", use_deprecated_int96_timestamps=True)
    back = host.read(tmp_path, reader=reader)["t"]
    assert back.schema.field("seen").type == pa.timestamp("us", "UTC")
    assert back.schema.field("wall").type == pa.timestamp("us")
    assert back["seen"].to_pylist() == [dt.datetime(2022, 3, 4, 5, 6, 7, 250001, tzinfo=UTC), None]
    assert back["wall"].to_pylist() == naive.to_pylist()
