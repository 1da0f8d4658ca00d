"""Missingness: null patterns compared jointly, and MCAR / MAR mechanisms told apart with their driver."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hiveframe_validate.missingness import Missingness, pattern_tvd

from hiveframe.metadata import Column, ColumnKind, Metadata, Table


def _tables(n: int = 2000, seed: int = 0, mar: bool = True, joint: bool = True):
    rng = np.random.default_rng(seed)
    kind = rng.choice(["individual", "joint"], n, p=[0.7, 0.3])
    income = rng.normal(50, 10, n)
    random_nulls = rng.random(n) < 0.2
    joint_null = (kind == "individual") if mar else (rng.random(n) < 0.7)
    other_null = joint_null if joint else (rng.random(n) < joint_null.mean())
    t = pa.table({
        "kind": kind,
        "income": pa.array(income, mask=random_nulls),
        "joint_income": pa.array(income * 2, mask=joint_null),
        "joint_dti": pa.array(rng.uniform(0, 40, n), mask=other_null),
    })
    md = Metadata(tables=(Table("loans", (Column("kind", ColumnKind.CATEGORICAL),
                                          Column("income", ColumnKind.NUMERICAL, dtype="double"),
                                          Column("joint_income", ColumnKind.NUMERICAL, dtype="double"),
                                          Column("joint_dti", ColumnKind.NUMERICAL, dtype="double"))),))
    return t, md


def test_mcar_and_mar_are_told_apart_with_the_driver():
    real, md = _tables()
    result = Missingness().validate({"loans": real}, {"loans": real}, md)
    cols = result.details["tables"]["loans"]["columns"]
    assert cols["income"]["pattern_real"] == "MCAR" and cols["income"]["driver_real"] is None
    assert cols["joint_income"]["pattern_real"] == "MAR"
    assert cols["joint_income"]["driver_real"] in ("kind", "joint_dti")
    assert result.details["tables"]["loans"]["pattern_tvd"] == 0.0
    assert result.scores["mechanism_agreement"] == 1.0


def test_synthetic_nulls_that_lost_their_mechanism_and_joint_pattern_are_flagged():
    real, md = _tables()
    broken, _ = _tables(seed=1, mar=False, joint=False)
    result = Missingness().validate({"loans": real}, {"loans": broken}, md)
    t = result.details["tables"]["loans"]
    assert t["columns"]["joint_income"]["pattern_synthetic"] == "MCAR"
    assert t["mechanism_agreement"] < 1.0
    assert t["pattern_tvd"] > 0.2
    assert result.status == "fail"


def test_pattern_tvd_counts_rows_by_which_columns_are_null_together():
    a = np.array([[True, True], [False, False]])
    b = np.array([[True, False], [False, True]])
    assert pattern_tvd(a, a) == 0.0
    assert pattern_tvd(a, b) == 1.0


def test_the_quality_check_counts_rows_breaking_formulas_and_if_then_rules():
    from hiveframe_validate.quality import violations

    from hiveframe.metadata import rules as R

    t = pa.table({"a": [1.0, 2.0, 3.0], "b": [1.0, 1.0, 1.0], "total": [2.0, 3.0, 5.0], "kind": ["x", "y", "x"]})
    meta = Table("t", (Column("a", ColumnKind.NUMERICAL, dtype="double"),))
    assert violations(R.formula("total", "a + b"), t, meta) == {"checked": 3, "violations": 1, "share": 1 / 3}
    assert violations(R.if_then("kind == 'x'", "a < 2"), t, meta)["violations"] == 1
    assert "across a foreign key" in violations(R.inequality("p", "a", low_table="parent"), t, meta)["unsupported"]
