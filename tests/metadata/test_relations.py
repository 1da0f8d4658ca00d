"""The one relational check (hiveframe.metadata.relations): one type rule for the metadata check, the
data check and the engine's measure of a generated database; a kernel that builds no plugin host."""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pytest

from hiveframe import validate_data
from hiveframe.components import Database
from hiveframe.errors import DataError, SourceError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata.consistency import metadata_problems
from hiveframe.metadata.relations import drop_orphans, orphan_rows, relational_problems, resolve


def _events(child_type: pa.DataType, parent_type: pa.DataType, child_values: list, parent_values: list
            ) -> tuple[Metadata, Database]:
    md = Metadata(
        tables=(Table("day", (Column("at", ColumnKind.ID, str(parent_type)),), ("at",)),
                Table("event", (Column("id", ColumnKind.ID, "int64"), Column("at", ColumnKind.ID, str(child_type))),
                      ("id",))),
        foreign_keys=(ForeignKey("event", ("at",), "day", ("at",)),),
    )
    db = Database({"day": pa.table({"at": pa.array(parent_values, parent_type)}),
                   "event": pa.table({"id": pa.array(range(len(child_values)), pa.int64()),
                                      "at": pa.array(child_values, child_type)})})
    return md, db


def test_timestamp_units_are_one_family_for_every_check():
    """The engine's old rule compared ``str(type)``: timestamp[ms] against timestamp[us] was a type error
    there and fine in validate_data. One rule now: the keys match, and only the real orphan is named."""
    from datetime import datetime

    days = [datetime(2024, 1, d) for d in (1, 2, 3)]
    md, db = _events(pa.timestamp("ms"), pa.timestamp("us"), [days[0], days[2], datetime(2024, 2, 9), None], days)
    assert metadata_problems(md) == []
    (problem,) = relational_problems(md, db)
    assert "1 of 4 rows" in problem.message and "1 orphan row" in problem.message and problem.row == 2
    with pytest.raises(DataError) as err:
        validate_data(md, db)
    assert [p.message for p in err.value.problems] == [problem.message]
    idx, orphans = resolve(db["event"], ("at",), db["day"], ("at",))
    assert idx.tolist() == [0, 2, -1, -1] and orphans.tolist() == [False, False, True, False]


def test_a_boolean_key_cannot_reference_an_integer_key_anywhere():
    """The engine's old rule called booleans numbers, so ``relational_problems`` let a boolean foreign
    key point at an integer key that the metadata check and validate_data refused."""
    md, db = _events(pa.bool_(), pa.int64(), [True, False, True], [0, 1])
    assert any("cannot match parent key" in p.message for p in metadata_problems(md))
    (problem,) = relational_problems(md, db)
    assert "values of type bool cannot match the parent key day.at of type int64" in problem.message
    assert (problem.table, problem.column) == ("event", "at")
    # incomparable keys: every reference is an orphan, no exception from deep inside pyarrow
    _, orphans = resolve(db["event"], ("at",), db["day"], ("at",))
    assert orphans.all()


def test_integral_floats_match_integer_keys_and_fractions_are_named():
    md, db = _events(pa.float64(), pa.int64(), [1.0, 2.0, None, 7.0], [1, 2, 3])
    rows, values = orphan_rows(md.foreign_keys[0], db["event"], db["day"])
    assert rows == [3] and values == [7.0]
    md, db = _events(pa.float64(), pa.int64(), [1.0, 2.5], [1, 2, 3])
    (problem,) = relational_problems(md, db)
    assert "not whole numbers" in problem.message and problem.row == 1


def test_drop_orphans_cascades_through_a_self_reference():
    md = Metadata(tables=(Table("emp", (Column("id", ColumnKind.ID, "int64"), Column("boss", ColumnKind.ID, "int64")),
                                ("id",)),),
                  foreign_keys=(ForeignKey("emp", ("boss",), "emp", ("id",)),))
    db = Database({"emp": pa.table({"id": [1, 2, 3, 4], "boss": [None, 9, 2, 1]})})
    cleaned, dropped = drop_orphans(md, db)
    assert dropped == {"emp": 2} and cleaned["emp"].column("id").to_pylist() == [1, 4]
    assert relational_problems(md, cleaned) == []


def test_the_kernel_functions_take_the_host():
    """detect and validate_metadata use the host they are given; the top level adds the default."""
    import hiveframe
    from hiveframe.metadata import detect, validate_metadata
    from hiveframe.metadata.coercion import as_arrow_database
    from hiveframe.plugins import PluginHost

    md, db = _events(pa.int64(), pa.int64(), [1, 2], [1, 2])
    with pytest.raises(TypeError):
        detect(db)  # type: ignore[call-arg]
    host = PluginHost(load_entry_points=False)
    validate_metadata(md, host=host)
    validate_metadata(md, host=host.hooks)  # the hook relay is enough
    assert detect(db, host=host, detect_pii=False).table_names == hiveframe.detect(db, detect_pii=False).table_names
    with pytest.raises(SourceError, match="without a plugin host"):
        as_arrow_database("some/folder", host=None)


def test_kernel_metadata_modules_build_no_plugin_host():
    """hiveframe.metadata imports no hiveframe.plugins at run time: that import tied the metadata
    package, the plugin host and the builtin plugin into one import loop."""
    package = Path(__file__).resolve().parents[2] / "hiveframe" / "metadata"
    offenders = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "hiveframe.plugins" and id(node) not in guarded:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
