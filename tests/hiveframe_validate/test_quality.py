"""Quality checks: schema, ranges, declared constraints (counted by hand), duplicates, diversity."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hiveframe_validate.quality import Quality, duplicate_share, violations

from hiveframe.metadata import Column, ColumnKind, Metadata, Table

N = ColumnKind.NUMERICAL
C = ColumnKind.CATEGORICAL


def small():
    real = pa.table({"lo": [1, 2, 3, 4, 5, 6], "hi": [2, 3, 4, 5, 6, 7], "cat": list("aabbcc"),
                     "day": [dt.date(2020, 1, d) for d in range(1, 7)]})
    synth = pa.table({"lo": [1, 5, 3, -4, 5, 9], "hi": [2, 3, 4, 5, 6, 7], "cat": ["a", "a", "b", "z", None, "c"],
                      "day": [dt.date(2020, 1, 1)] * 5 + [dt.date(2021, 1, 1)]})
    cols = (Column("lo", N, "int64", nullable=False), Column("hi", N, "int64"), Column("cat", C, "string"),
            Column("day", ColumnKind.DATETIME, "date32[day]"))
    return real, synth, cols


def test_constraints_counted_by_hand():
    real, synth, cols = small()
    table = Table("t", cols)
    check = lambda c: violations(c, synth, table, reference=real)  # noqa: E731
    assert check({"type": "range", "column": "lo", "low": 0, "high": 6})["violations"] == 2  # -4 and 9
    assert check({"type": "range", "column": "lo", "low": 1, "high": 5, "strict": True})["violations"] == 5
    assert check({"type": "positive", "column": "lo"})["violations"] == 1
    assert check({"type": "negative", "column": "hi"})["violations"] == 6
    assert check({"type": "inequality", "low_column": "lo", "high_column": "hi"})["violations"] == 2  # 5>3, 9>7
    assert check({"type": "unique", "columns": ["lo"]})["violations"] == 1  # the second 5
    assert check({"type": "not_null", "column": "cat"})["violations"] == 1
    assert check({"type": "one_of", "column": "cat", "values": ["a", "b", "c"]})["violations"] == 1  # z
    assert check({"type": "fixed_combinations", "columns": ["lo", "hi"]})["violations"] == 3
    assert check({"type": "range", "column": "day", "high": "2020-12-31"})["violations"] == 1
    # SDV-style names are understood too
    assert check({"constraint_class": "ScalarRange", "column_name": "lo", "low_value": 0, "high_value": 6})[
        "violations"] == 2
    assert "not checked" in check({"type": "formula", "column": "lo"})["unsupported"]


def test_quality_validator_reports_every_check():
    real, synth, cols = small()
    cons = ({"type": "inequality", "low_column": "lo", "high_column": "hi"}, {"type": "made_up"})
    meta = Metadata((Table("t", cols, constraints=cons),))
    synth = synth.set_column(1, "hi", pa.array([2.0, 3, 4, 5, 6, 7]))  # double instead of int64
    res = Quality().validate({"t": real}, {"t": synth}, meta)
    t = res.details["tables"]["t"]
    assert t["schema"]["type_mismatches"] == [{"column": "hi", "expected": "int64", "actual": "double"}]
    assert t["ranges"]["lo"]["outside_share"] == pytest.approx(2 / 6)
    assert t["ranges"]["cat"]["outside_share"] == pytest.approx(1 / 5)  # z among five non-null values
    assert t["constraints"][0]["synthetic"]["violations"] == 2 and t["constraints"][0]["real"]["violations"] == 0
    assert "unsupported" in t["constraints"][1]
    assert res.status == "fail"
    failing = {b["metric"] for b in res.details["bands"] if b["status"] == "fail"}
    assert {"schema", "outside_range", "constraint"} <= failing


def test_declared_bounds_win_over_real_ones():
    real, synth, cols = small()
    cols = (Column("lo", N, "int64", low=-10, high=10),) + cols[1:]
    res = Quality().validate({"t": real}, {"t": synth}, Metadata((Table("t", cols),)))
    assert res.details["tables"]["t"]["ranges"]["lo"] == {"bounds": "declared", "outside_share": 0.0}


def test_duplicates_and_diversity_on_adult(census, census_meta):
    real = census["real"]
    dup = pa.concat_tables([real.slice(0, 1500), real.slice(0, 1500)])
    good = Quality().validate({"census": real}, {"census": census["fresh"]}, census_meta)
    bad = Quality().validate({"census": real}, {"census": dup}, census_meta)
    assert good.details["tables"]["census"]["duplicates"]["synthetic_share"] < 0.01
    assert bad.details["tables"]["census"]["duplicates"]["synthetic_share"] == pytest.approx(0.5, abs=0.01)
    assert bad.details["tables"]["census"]["diversity"]["ratio"] == pytest.approx(0.5, abs=0.01)
    assert bad.status == "fail" and good.status in ("pass", "warn")
    import numpy as np

    assert duplicate_share(np.array([[1.0, np.nan], [1.0, np.nan], [2.0, 0.0]])) == pytest.approx(1 / 3)
