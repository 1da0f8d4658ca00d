"""Every validator refuses bad input with one clear hiveframe error naming the table and column."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hiveframe_validate.validators import VALIDATORS, Utility

from hiveframe.errors import ConfigError, DataError, HiveframeError
from hiveframe.metadata import Column, ColumnKind, Metadata, Table

META = Metadata((Table("t", (Column("x", ColumnKind.NUMERICAL, "double"), Column("c", ColumnKind.CATEGORICAL),
                             Column("y", ColumnKind.NUMERICAL, "double"))),))
REAL = pa.table({"x": [1.0, 2.0, 3.0] * 20, "c": list("abc") * 20, "y": [0.5, 1.5, 2.5] * 20})


def make(cls):
    return cls(target="t.c") if cls is Utility else cls()


@pytest.mark.parametrize("cls", VALIDATORS, ids=lambda c: c.name)
def test_column_missing_on_one_side(cls):
    with pytest.raises(DataError) as info:
        make(cls).validate({"t": REAL}, {"t": REAL.drop_columns(["y"])}, META)
    p = info.value.problems[0]
    assert (p.table, p.column) == ("t", "y") and "missing from the synthetic table" in p.message
    assert cls.name in str(info.value)


@pytest.mark.parametrize("cls", VALIDATORS, ids=lambda c: c.name)
def test_incompatible_types(cls):
    bad = REAL.set_column(0, "x", pa.array(["1", "2", "x"] * 20))
    with pytest.raises(DataError) as info:
        make(cls).validate({"t": REAL}, {"t": bad}, META)
    p = info.value.problems[0]
    assert (p.table, p.column) == ("t", "x") and "incompatible types" in p.message and "string" in p.message
    assert p.hint


@pytest.mark.parametrize("cls", VALIDATORS, ids=lambda c: c.name)
def test_empty_input(cls):
    with pytest.raises(DataError, match="the synthetic table is empty"):
        make(cls).validate({"t": REAL}, {"t": REAL.slice(0, 0)}, META)
    with pytest.raises(DataError, match="table is missing from the real data"):
        make(cls).validate({}, {"t": REAL}, META)


def test_all_problems_are_listed_at_once():
    bad = REAL.drop_columns(["y"]).set_column(0, "x", pa.array([True, False, True] * 20))
    with pytest.raises(DataError) as info:
        VALIDATORS[0]().validate({"t": REAL}, {"t": bad}, META)
    assert {(p.column, "missing" in p.message) for p in info.value.problems} == {("y", True), ("x", False)}


def test_bad_parameters_and_tables():
    with pytest.raises(ConfigError, match="no parameter"):
        VALIDATORS[0].from_params({"sample_sise": 5})
    with pytest.raises(ConfigError, match="unknown table"):
        VALIDATORS[0](tables=["nope"]).validate({"t": REAL}, {"t": REAL}, META)
    with pytest.raises(HiveframeError, match="single table"):
        VALIDATORS[0]().validate({"t": REAL}, REAL, META)  # type: ignore[arg-type]
