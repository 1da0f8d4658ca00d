"""The shared type decisions: text inference, null markers, canonical Arrow types."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from hiveframe._builtin.io_arrow import (
    DEFAULT_NULL_VALUES,
    canonical_type,
    infer_text_column,
    mask_null_markers,
    normalize_table,
    split_suffix,
)
from hiveframe.errors import SourceError


def infer(values):
    return infer_text_column(pa.chunked_array([pa.array(values, pa.string())]))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", None, "30"], pa.int64()),
        (["1", "2.5", None], pa.float64()),
        (["39.0", "1e3", "-0.5"], pa.float64()),
        (["0171", "1234"], pa.string()),  # a leading zero: a code, not a number
        (["007.5", "1.0"], pa.string()),
        (["0", "10"], pa.int64()),
        (["true", "False", None], pa.bool_()),
        (["2014-04-26", None, "2012-12-02"], pa.date32()),
        (["2014-04-26 11:45:20", "2014-04-26T11:45:20.123456"], pa.timestamp("us")),
        (["2014-04-26", "2014-04-26 11:45:20"], pa.timestamp("us")),
        (["2014-04-26T11:45:20Z", "2014-04-26 11:45:20+02:00"], pa.timestamp("us", "UTC")),
        (["2014-04-26T11:45:20Z", "2014-04-26 11:45:20"], pa.string()),  # zoned and naive mixed
        (["2014-13-45"], pa.string()),
        (["a", "1"], pa.string()),
        ([None, None], pa.string()),
        (["12345678901234567890123"], pa.string()),  # too big for int64: an id
        (["0x10"], pa.string()),
    ],
)
def test_text_inference(values, expected):
    assert infer(values).type == expected


def test_text_inference_values():
    assert infer(["2014-04-26 11:45:20+02:00"]).to_pylist() == [
        dt.datetime(2014, 4, 26, 9, 45, 20, tzinfo=dt.timezone.utc)
    ]
    assert infer(["true", None, "FALSE"]).to_pylist() == [True, None, False]
    assert infer(["-3", None]).to_pylist() == [-3, None]


def test_null_markers_include_question_mark_but_keep_empty_strings_alone():
    assert "?" in DEFAULT_NULL_VALUES
    table = pa.table({"s": ["?", "", "NA", "x", None], "n": [1, 2, 3, 4, 5]})
    out = mask_null_markers(table, DEFAULT_NULL_VALUES)
    assert out["s"].to_pylist() == [None, "", None, "x", None]
    assert out["n"].to_pylist() == [1, 2, 3, 4, 5]
    assert mask_null_markers(table, ("",))["s"].to_pylist() == ["?", "", "NA", "x", None]


def test_canonical_types():
    assert canonical_type(pa.large_string()) == pa.string()
    assert canonical_type(pa.dictionary(pa.uint32(), pa.large_string())) == pa.string()
    assert canonical_type(pa.timestamp("s", "UTC")) == pa.timestamp("us", "UTC")
    assert canonical_type(pa.large_list(pa.large_string())) == pa.list_(pa.string())
    assert canonical_type(pa.int32()) == pa.int32()  # widths are kept


def test_normalize_table():
    table = pa.table({
        "cat": pa.array(["a", "b", "a"]).dictionary_encode(),
        "big": pa.array(["x", None, "z"], pa.large_string()),
        "ns": pa.array([1_000, None, 2_000], pa.timestamp("ns")),
        "ns_fine": pa.array([1, None, 2], pa.timestamp("ns")),
    }).replace_schema_metadata({"pandas": "{}"})
    out = normalize_table(table, table="t")
    assert out.schema.types == [pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("ns")]
    assert out["cat"].to_pylist() == ["a", "b", "a"]
    assert out.schema.metadata is None


def test_normalize_rejects_duplicate_columns():
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(SourceError, match="duplicate column name.*'a'"):
        normalize_table(table, table="t")


def test_split_suffix():
    from pathlib import Path

    assert split_suffix(Path("users.csv.gz")) == ("users", ".csv.gz")
    assert split_suffix(Path("a.b.parquet")) == ("a.b", ".parquet")
    assert split_suffix(Path("s.NDJSON.GZ")) == ("s", ".ndjson.gz")
    assert split_suffix(Path("x.xlsx")) == ("x", ".xlsx")
