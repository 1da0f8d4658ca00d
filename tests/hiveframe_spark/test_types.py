"""Where Spark and Arrow disagree: safe conversions, and one clear error listing the rest."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

from hiveframe.errors import DataError, SourceError  # noqa: E402
from hiveframe_spark.io import SparkReader, SparkWriter  # noqa: E402
from hiveframe_spark.source import SparkSource  # noqa: E402
from hiveframe_spark.types import spark_compatible  # noqa: E402

pytestmark = pytest.mark.spark


def test_safe_conversions_keep_every_value():
    t = pa.table({
        "u32": pa.array([1, 2**32 - 1], pa.uint32()),
        "u64": pa.array([1, 2**63 - 1], pa.uint64()),
        "u64big": pa.array([1, 2**64 - 1], pa.uint64()),
        "d256": pa.array([decimal.Decimal("1.25"), None], pa.decimal256(20, 2)),
        "f16": pa.array([1.5, None], pa.float16()),
        "cat": pa.array(["a", "b"]).dictionary_encode(),
        "ns": pa.array([1_000, 2_000_000], pa.timestamp("ns", tz="Europe/Prague")),
        "big": pa.array(["x", "y"], pa.large_string()),
    })
    out = spark_compatible(t, name="t")
    assert out.schema.field("u32").type == pa.int64() and out["u32"].to_pylist() == [1, 2**32 - 1]
    assert out.schema.field("u64").type == pa.int64()
    assert out["u64big"].to_pylist() == [1, 2**64 - 1]
    assert out.schema.field("d256").type == pa.decimal128(20, 2) and out["d256"][0].as_py() == decimal.Decimal("1.25")
    assert out.schema.field("cat").type == pa.string()
    assert out.schema.field("ns").type == pa.timestamp("us", tz="UTC")
    assert out["ns"].cast(pa.int64()).to_pylist() == [1, 2_000]  # same instants, in microseconds


def test_unsafe_conversions_are_listed_together():
    t = pa.table({
        "wide": pa.array([decimal.Decimal(1)], pa.decimal256(40, 2)),
        "nanos": pa.array([1_234], pa.timestamp("ns")),
        "d64": pa.array([86_400_000 + 5], pa.date64()),
        "fine": pa.array([1]),
    })
    with pytest.raises(DataError) as err:
        spark_compatible(t, name="events")
    columns = {p.column for p in err.value.problems}
    assert columns == {"wide", "nanos", "d64"}
    assert all(p.table == "events" and p.hint for p in err.value.problems)


def test_timestamps_and_decimals_round_trip_through_spark(spark, tmp_path):
    naive = [dt.datetime(2020, 3, 29, 1, 30), None]
    zoned = [dt.datetime(2020, 3, 29, 1, 30, tzinfo=dt.timezone.utc), None]
    t = pa.table({
        "naive": pa.array(naive, pa.timestamp("us")),
        "zoned": pa.array(zoned, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz="Europe/Prague")),
        "money": pa.array([decimal.Decimal("12.34"), None], pa.decimal128(12, 2)),
    })
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")  # naive values must not shift
    try:
        SparkWriter(spark=spark).write({"t": t}, tmp_path / "out")
        back = SparkReader(spark=spark).read(SparkSource.path(tmp_path / "out" / "t"))["t"]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert back["naive"].to_pylist() == naive
    assert back["zoned"].cast(pa.int64()).to_pylist() == t["zoned"].cast(pa.int64()).to_pylist()
    assert back["money"].type == pa.decimal128(12, 2) and back["money"].to_pylist()[0] == decimal.Decimal("12.34")


def test_nested_columns_refused_or_read_as_json(spark):
    df = spark.sql("select 1 as id, named_struct('a', 1) as st, array(1, 2) as arr, map('k', 2) as m, "
                   "interval '1' year as ym")
    with pytest.raises(DataError) as err:
        SparkReader(spark=spark).read(df)
    assert {p.column for p in err.value.problems} == {"st", "arr", "m", "ym"}
    flat = SparkReader(spark=spark, nested="json").read(df.drop("ym"))["table"]
    assert json.loads(flat["st"][0].as_py()) == {"a": 1} and json.loads(flat["arr"][0].as_py()) == [1, 2]


def test_unreadable_sources_say_what_is_wrong(spark, tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        SparkReader(spark=spark).read(SparkSource.path(tmp_path / "missing"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(SourceError, match="bad"):
        SparkReader(spark=spark).read(SparkSource.path(bad))
    spark.sql("CREATE DATABASE IF NOT EXISTS hf_types")
    spark.range(3).write.mode("overwrite").saveAsTable("hf_types.accounts")
    with pytest.raises(SourceError, match="not in the Spark catalog") as err:
        SparkReader(spark=spark).read("catalog:hf_types.acounts")
    assert "accounts" in str(err.value)  # did you mean
    with pytest.raises(SourceError, match="no database"):
        SparkReader(spark=spark).read("catalog:nodb.accounts")
