"""The Spark reader and writer: sources, in-Spark sampling, relational subsetting, provenance."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

from hiveframe.components import Database  # noqa: E402
from hiveframe.errors import ConfigError, SourceError  # noqa: E402
from hiveframe.plugins import PluginHost  # noqa: E402
from hiveframe_spark import provenance as prov  # noqa: E402
from hiveframe_spark.io import SparkReader, SparkWriter  # noqa: E402
from hiveframe_spark.source import SparkSource  # noqa: E402

pytestmark = pytest.mark.spark


def people(n: int = 1000) -> pa.Table:
    rng = np.random.default_rng(0)
    grade = np.array(["a"] * int(n * 0.9) + ["b"] * int(n * 0.09) + ["c"] * (n - int(n * 0.9) - int(n * 0.09)))
    return pa.table({"id": pa.array(np.arange(n), pa.int64()), "grade": pa.array(rng.permutation(grade)),
                     "x": pa.array(rng.normal(size=n))})


def test_reads_dataframes_and_mappings(spark):
    table = people(50)
    df = spark.createDataFrame(table)
    db = SparkReader(spark=spark, table_name="people").read(df)
    assert db.names == ["people"] and db["people"].equals(table)
    db = SparkReader(spark=spark).read({"a": df, "b": df.limit(5)})
    assert db.names == ["a", "b"] and db["b"].num_rows == 5


def test_host_resolves_spark_sources(spark):
    host = PluginHost()
    assert host.hooks.resolve_reader(source=spark.range(3)) == "spark"
    assert host.hooks.resolve_reader(source="catalog:default") == "spark"
    assert host.hooks.resolve_reader(source=SparkSource.path("/x")) == "spark"
    assert host.hooks.resolve_writer(target="catalog:synthetic", format=None) == "spark"
    db = host.read({"r": spark.range(4)})
    assert db["r"].column("id").to_pylist() == [0, 1, 2, 3]


def test_reads_parquet_and_csv_folders(spark, tmp_path, berka_small):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq_dir, csv_dir = tmp_path / "pq", tmp_path / "csv"
    pq_dir.mkdir()
    csv_dir.mkdir()
    for name in ("district", "account", "loan"):
        pq.write_table(berka_small[name], pq_dir / f"{name}.parquet")
        pacsv.write_csv(berka_small[name], csv_dir / f"{name}.csv")
    db = SparkReader(spark=spark).read(SparkSource.path(pq_dir))
    assert sorted(db.names) == ["account", "district", "loan"]
    assert db["loan"].sort_by("loan_id").equals(berka_small["loan"].sort_by("loan_id"))
    db = SparkReader(spark=spark).read(f"spark:{csv_dir}", tables=["loan"])
    assert db.names == ["loan"]
    assert sorted(db["loan"]["loan_id"].to_pylist()) == sorted(berka_small["loan"]["loan_id"].to_pylist())
    # a Spark output folder (part files) is one table named after the folder
    spark.createDataFrame(berka_small["account"]).write.parquet(str(tmp_path / "out" / "acc"))
    db = SparkReader(spark=spark).read(SparkSource.path(tmp_path / "out" / "acc"))
    assert db.names == ["acc"] and db["acc"].num_rows == berka_small["account"].num_rows


def test_reads_catalog_tables(spark, berka_small):
    spark.sql("CREATE DATABASE IF NOT EXISTS hf_src")
    for name in ("district", "loan"):
        spark.createDataFrame(berka_small[name]).write.mode("overwrite").saveAsTable(f"hf_src.{name}")
    db = SparkReader(spark=spark).read("catalog:hf_src")
    assert sorted(db.names) == ["district", "loan"]
    db = SparkReader(spark=spark).read(SparkSource.catalog("hf_src.loan"))
    assert db.names == ["loan"] and db["loan"].num_rows == berka_small["loan"].num_rows


def test_uniform_sampling_is_exact_and_seeded(spark):
    df = spark.createDataFrame(people(1000))
    a = SparkReader(spark=spark, max_rows=100, seed=1).read(df)["table"]
    b = SparkReader(spark=spark, max_rows=100, seed=1).read(df)["table"]
    c = SparkReader(spark=spark, max_rows=100, seed=2).read(df)["table"]
    assert a.num_rows == 100 and a.equals(b) and not a.equals(c)
    assert len(set(a["id"].to_pylist())) == 100 and set(a["id"].to_pylist()) <= set(range(1000))
    small = SparkReader(spark=spark, max_rows=2000).read(df)["table"]  # under budget: untouched
    assert small.num_rows == 1000
    budget = SparkReader(spark=spark, max_rows=500, sample_size=50).read(df)["table"]
    assert budget.num_rows == 50


def test_stratified_sampling_keeps_every_stratum(spark):
    df = spark.createDataFrame(people(1000))  # a: 900, b: 90, c: 10
    reader = SparkReader(spark=spark, max_rows=50, sampling_strategy="stratified", stratify_by="grade", seed=3)
    got = Counter(reader.read(df)["table"]["grade"].to_pylist())
    assert got == {"a": 45, "b": 4, "c": 1}  # proportional allocation, rare strata kept
    assert reader.sampling_report["table"]["how"] == "stratified by grade"
    with pytest.raises(ConfigError, match="stratify_by"):
        SparkReader(spark=spark, max_rows=50, sampling_strategy="stratified")
    with pytest.raises(ConfigError, match="nope"):
        SparkReader(spark=spark, max_rows=50, sampling_strategy="stratified", stratify_by="nope").read(df)


def test_relational_subset_keeps_children_and_integrity(spark, berka_small, berka_metadata):
    frames = {n: spark.createDataFrame(t) for n, t in berka_small.items()}
    reader = SparkReader(spark=spark, max_rows=300, metadata=berka_metadata, seed=5)
    db = reader.read(frames)
    sizes = {n: db[n].num_rows for n in db.names}
    assert sizes["order"] < berka_small["order"].num_rows
    for fk in berka_metadata.foreign_keys:  # every kept reference resolves
        child = set(db[fk.child_table][fk.child_columns[0]].to_pylist())
        parent = set(db[fk.parent_table][fk.parent_columns[0]].to_pylist())
        assert child <= parent, fk.name
    # accounts of sampled districts keep all their orders and loans (real children per parent)
    sampled = set(db["district"]["district_id"].to_pylist())
    real_orders = Counter(berka_small["order"]["account_id"].to_pylist())
    got_orders = Counter(db["order"]["account_id"].to_pylist())
    accounts = [a for a, d in zip(db["account"]["account_id"].to_pylist(),
                                  db["account"]["district_id"].to_pylist(), strict=True) if d in sampled]
    assert accounts and all(got_orders[a] == real_orders[a] for a in accounts)
    assert "root" in reader.sampling_report["district"]["how"]


def test_writer_parquet_with_provenance(spark, tmp_path):
    import pyarrow.parquet as pq

    data = Database({"people": people(20), "other": people(5)})
    out = tmp_path / "synthetic"
    locations = SparkWriter(spark=spark).write(data, out, provenance={"model_id": "m-123", "seed": 7,
                                                                      "generator": "gaussian_copula"})
    assert set(locations) == {"people", "other"}
    back = pq.read_table(out / "people").sort_by("id")
    assert back.select(["id", "grade", "x"]).equals(people(20))
    rec = json.loads((out / "people" / prov.FILE_NAME).read_text())
    assert rec["synthetic"] is True and rec["model_id"] == "m-123" and rec["seed"] == 7
    assert rec["versions"]["hiveframe_spark"] and rec["versions"]["pyspark"]
    assert json.loads((out / prov.FILE_NAME).read_text())["tables"]["other"].endswith("other")
    part = next((out / "people").glob("part-*.parquet"))
    footer = pq.read_metadata(part).metadata[b"org.apache.spark.sql.parquet.row.metadata"].decode()
    assert prov.KEY_SYNTHETIC in footer and "m-123" in footer
    field = spark.read.parquet(str(out / "people")).schema["grade"]
    assert field.metadata[prov.KEY_SYNTHETIC] is True
    with pytest.raises(SourceError, match="already exists") as err:  # nothing overwritten silently
        SparkWriter(spark=spark).write(data, out)
    assert "people" in str(err.value) and "other" in str(err.value)
    SparkWriter(spark=spark, mode="overwrite").write({"people": people(3)}, out)
    assert pq.read_table(out / "people").num_rows == 3


def test_writer_overwrite_never_replaces_a_folder_hiveframe_did_not_write(spark, tmp_path):
    mine = tmp_path / "out" / "people"
    mine.mkdir(parents=True)
    (mine / "real.csv").write_text("id\n1\n")
    with pytest.raises(SourceError, match="not written by hiveframe") as err:
        SparkWriter(spark=spark).write({"people": people(3)}, tmp_path / "out", overwrite=True)
    assert "people" in str(err.value) and err.value.hint
    assert (mine / "real.csv").read_text() == "id\n1\n"


def test_writer_catalog_tables_with_properties(spark):
    SparkWriter(spark=spark).write({"people": people(10)}, "catalog:hf_synth",
                                   provenance={"model_id": "m-9", "seed": 1})
    assert spark.table("hf_synth.people").count() == 10
    props = {r["key"]: r["value"] for r in spark.sql("SHOW TBLPROPERTIES hf_synth.people").collect()}
    assert props[prov.KEY_SYNTHETIC] == "true" and props[prov.KEY_MODEL] == "m-9"
    assert json.loads(props[prov.KEY_PROVENANCE])["synthetic"] is True
    assert PluginHost().hooks.resolve_writer(target="catalog:hf_synth", format=None) == "spark"


def awkward() -> pa.Table:
    """Values a text format can get wrong: quotes, newlines, empty vs null text, microsecond timestamps
    (naive and zoned), dates, whole and huge floats, booleans."""
    import datetime as dt

    utc = dt.timezone.utc
    return pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "note": pa.array(['say "hi", then leave', "", None, "two\nlines"]),
        "at": pa.array([dt.datetime(2021, 1, 2, 23, 59, 59, 123456), None, dt.datetime(1970, 1, 1),
                        dt.datetime(2021, 6, 1, 0, 0, 1)], pa.timestamp("us")),
        "seen": pa.array([dt.datetime(2022, 3, 4, 5, 6, 7, 250001, tzinfo=utc), None, None,
                          dt.datetime(2021, 1, 1, 8, tzinfo=utc)], pa.timestamp("us", "UTC")),
        "day": pa.array([dt.date(2001, 1, 31), None, dt.date(1999, 12, 1), dt.date(2020, 2, 29)]),
        "x": pa.array([39.0, 1.5e20, None, -0.25]),
        "ok": pa.array([True, False, None, True]),
    })


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_writer_output_reads_back_with_the_folder_reader(spark, tmp_path, fmt):
    """Spark's part files read back, without Spark, as the table that was written (values and types)."""
    from hiveframe._builtin.io_folder import FolderReader

    table = awkward()
    out = tmp_path / "synthetic"
    SparkWriter(spark=spark, format=fmt, partitions=2).write(Database({"awkward": table}), out)
    assert len(list((out / "awkward").glob("part-*"))) == 2
    readers = [FolderReader()]
    try:
        from hiveframe_polars.components import PolarsFolderReader

        readers.append(PolarsFolderReader())
    except ImportError:  # polars is optional; the builtin reader is the one that must work
        pass
    for reader in readers:
        back = reader.read(out)["awkward"].sort_by("id")
        assert back.schema == table.schema, (reader.name, back.schema)
        assert back.equals(table), (reader.name, back.to_pylist())
