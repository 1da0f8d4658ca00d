"""The polars plugin: discovery, light entry module, polars objects, and the same Database as builtin."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import polars as pl
import pyarrow as pa
import pytest
from hiveframe_polars.components import PolarsFolderReader, PolarsFolderWriter, PolarsReader

from hiveframe._builtin.io_folder import FolderReader, FolderWriter
from hiveframe.errors import SourceError
from hiveframe.plugins import PluginHost
from tests.conftest import shop_table

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def sample_tables() -> dict[str, pa.Table]:
    shop = shop_table()
    sale = pa.table({
        "sale_id": pa.array([10, 11, 12, 13], pa.int64()),
        "at": pa.array([dt.datetime(2021, 1, 1, 10), dt.datetime(2021, 1, 2, 23, 59, 59, 123456), None,
                        dt.datetime(1970, 1, 1)], pa.timestamp("us")),
        "seen": pa.array([dt.datetime(2021, 1, 1, 8, tzinfo=UTC), None, None, None], pa.timestamp("us", "UTC")),
        "note": ['say "hi", then leave', "", None, "two\nlines"],
        "code": ["0171", "?", None, "1000"],
        "qty": pa.array([1, None, 3, 0], pa.int64()),
    })
    return {"shop": shop, "sale": sale}


def test_registered_through_its_entry_point(host):
    info = host.infos["polars"]
    assert info.source == "entry point" and info.status == "ok"
    assert sorted(info.components["reader"]) == ["polars", "polars_folder"]
    assert info.components["writer"] == ["polars_folder"]


def test_entry_module_is_light():
    code = ("import sys, hiveframe_polars.plugin; from hiveframe.plugins import PluginHost; PluginHost(); "
            "print(sorted(m for m in ('polars', 'pandas', 'pyarrow', 'torch', 'pyspark') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_polars_objects_resolve_to_the_polars_reader(host):
    frame = pl.DataFrame({"id": [1, 2], "s": ["a", None], "c": pl.Series(["x", "y"], dtype=pl.Categorical)})
    assert host.hooks.resolve_reader(source=frame) == "polars"
    assert host.hooks.resolve_reader(source=frame.lazy()) == "polars"
    mixed = {"p": frame, "a": pa.table({"k": [1]})}
    assert host.hooks.resolve_reader(source=mixed) == "polars"
    assert host.hooks.resolve_reader(source={"a": pa.table({"k": [1]})}) == "memory"
    db = host.read(frame)
    assert db.names == ["table"]
    assert db["table"].schema == pa.schema([("id", pa.int64()), ("s", pa.string()), ("c", pa.string())])
    lazy = host.read({"p": frame.lazy().filter(pl.col("id") > 1), "a": pa.table({"k": [1]})})
    assert lazy["p"].to_pylist() == [{"id": 2, "s": None, "c": "y"}]
    assert lazy["a"]["k"].to_pylist() == [1]


def test_same_database_as_builtin_on_real_data(shared_data):
    for name in ("airbnb", "berka", "census_adult"):
        builtin = FolderReader().read(shared_data / name)
        polars = PolarsFolderReader().read(shared_data / name)
        assert builtin.names == polars.names
        for table in builtin.tables:
            assert polars[table].schema == builtin[table].schema, (name, table)
            assert polars[table].equals(builtin[table]), (name, table)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_same_database_as_builtin_on_written_folders(tmp_path, fmt):
    tables = sample_tables()
    FolderWriter(format=fmt).write(tables, tmp_path)
    builtin = FolderReader().read(tmp_path)
    polars = PolarsFolderReader().read(tmp_path)
    for name in tables:
        assert polars[name].equals(builtin[name]), name
        if fmt == "parquet":
            assert polars[name].equals(tables[name])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_polars_writer_round_trip(tmp_path, host, fmt):
    tables = sample_tables()
    frames = {"shop": pl.from_arrow(tables["shop"]), "sale": tables["sale"]}  # polars and Arrow values
    out = host.write(frames, tmp_path / "o", writer=PolarsFolderWriter(format=fmt), provenance={"by": "polars"})
    suffix = ".parquet" if fmt == "parquet" else ".csv"
    assert sorted(p.name for p in out.iterdir()) == sorted(["_provenance.json", f"shop{suffix}", f"sale{suffix}"])
    for reader in ("folder", "polars_folder"):
        back = host.read(out, reader=reader)
        for name, table in tables.items():
            if fmt == "csv" and name == "sale":
                # quoted "?" is a null marker like any other: a literal "?" does not survive CSV
                table = table.set_column(4, "code", pa.array(["0171", None, None, "1000"]))
            assert back[name].equals(table), (reader, name, back[name].to_pylist())


ENTRY = {"format": "hiveframe.catalog", "version": 1, "dataset_id": "hf-0123", "rows": {"shop": 3, "sale": 4},
         "tags": ["synthetic"], "source_profile_digest": "abc"}


@pytest.mark.parametrize("footer_api", [True, False], ids=["polars-metadata", "pyarrow-fallback"])
def test_polars_writer_embeds_the_catalog_entry_in_every_parquet_footer(tmp_path, host, monkeypatch, footer_api):
    import pyarrow.parquet as pq

    import hiveframe

    if not footer_api:  # a polars whose write_parquet takes no metadata: pyarrow writes the file
        monkeypatch.setattr(pl.DataFrame, "write_parquet", lambda self, file, *, compression="zstd": None)
    tables = sample_tables()
    out = host.write(tables, tmp_path / "o", writer=PolarsFolderWriter(format="parquet"),
                     provenance={"by": "polars", "catalog": ENTRY})
    assert sorted(p.name for p in out.iterdir()) == ["_catalog.json", "_provenance.json", "sale.parquet",
                                                     "shop.parquet"]
    assert hiveframe.read_catalog(out) == ENTRY
    for name, table in tables.items():
        assert json.loads(pq.read_metadata(out / f"{name}.parquet").metadata[b"hiveframe.catalog"]) == ENTRY
        assert hiveframe.read_catalog(out / f"{name}.parquet") == ENTRY
        (out / "_catalog.json").rename(tmp_path / "moved.json")  # the file alone still says it
        assert hiveframe.read_catalog(out / f"{name}.parquet") == ENTRY
        (tmp_path / "moved.json").rename(out / "_catalog.json")
        assert host.read(out, reader="polars_folder")[name].equals(table)


def test_polars_writer_never_replaces_files_it_did_not_write(tmp_path, host):
    (tmp_path / "shop.csv").write_text("region\nwest\n")
    for overwrite in (False, True):
        with pytest.raises(SourceError, match="shop.csv"):
            host.write(sample_tables(), tmp_path, writer=PolarsFolderWriter(format="csv"), overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.csv"]
    assert (tmp_path / "shop.csv").read_text() == "region\nwest\n"


def test_polars_components_never_replace_the_builtin_defaults(host, tmp_path):
    assert PolarsFolderWriter.claims(tmp_path, "csv") and not PolarsFolderWriter.claims(tmp_path, "jsonl")
    assert host.hooks.resolve_writer(target=tmp_path, format=None) == "folder"
    assert host.hooks.resolve_writer(target=tmp_path, format="csv") == "csv"
    assert PolarsFolderReader.claims(tmp_path)
    assert host.hooks.resolve_reader(source=tmp_path) == "folder"
    with pytest.raises(Exception, match="format must be one of parquet, csv"):
        PolarsFolderWriter(format="jsonl")


def test_polars_reader_requires_polars():
    assert PolarsReader.requires == ("polars",) and PolarsReader.extra == "polars"
    assert PolarsFolderReader.requires == ("polars",) and PolarsFolderWriter.extra == "polars"


def test_conformance_kit(tmp_path):
    from hiveframe.testing.conformance import check_reader, check_writer

    check_writer(PolarsFolderWriter, tmp_path / "p", format="parquet", reader="polars_folder")
    check_writer(PolarsFolderWriter(format="csv"), tmp_path / "c", format="csv", reader="folder")
    check_reader(PolarsFolderReader, tmp_path / "c")
    check_reader(PolarsReader, {"t": pl.DataFrame({"a": [1, 2]})}, expected_tables=["t"])
