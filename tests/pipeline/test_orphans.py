"""Orphan policies at fit: drop, null, keep; a natural-code database with dirty keys fits and samples."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe import detect
from hiveframe.components import Database
from hiveframe.errors import ConfigError, DataError, MetadataError
from hiveframe.metadata import ForeignKey
from hiveframe.metadata.relations import resolve
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import integrity_problems
from hiveframe.testing.keys import flights_database

DIRTY = ("flights.tailnum->planes", "flights.dest->airports")


@pytest.fixture(scope="module")
def flights():
    database = flights_database(seed=0, flights=1500)
    return database, detect(database, detect_pii=False)


def _orphans(database: Database, fk: ForeignKey) -> tuple[int, int]:
    child = database[fk.child_table]
    _, orphans = resolve(child, fk.child_columns, database[fk.parent_table], fk.parent_columns)
    return int(orphans.sum()), child.num_rows


@pytest.mark.parametrize("policy", ["drop", "null"])
def test_drop_and_null_sample_with_every_foreign_key_intact(flights, policy):
    database, metadata = flights
    synth = Synthesizer(metadata, orphans=policy, seed=0).fit(database)
    assert set(synth.orphan_report) == set(DIRTY)
    assert {r["policy"] for r in synth.orphan_report.values()} == {policy}
    out = synth.sample(seed=1)
    assert integrity_problems(synth.metadata, out) == []
    for fk in synth.metadata.foreign_keys:
        assert _orphans(out, fk)[0] == 0
    dest = out["flights"].column("dest")
    if policy == "null":  # the orphans' share comes back as nulls, and the column says it may be null
        assert synth.metadata.table("flights").column("dest").nullable
        assert 0.005 < dest.null_count / len(dest) < 0.05
    else:
        assert dest.null_count == 0 and out["flights"].num_rows < database["flights"].num_rows


def test_keep_generates_parent_less_rows_at_the_real_rate_and_keeps_the_other_keys(flights, tmp_path):
    database, metadata = flights
    synth = Synthesizer(metadata, orphans="keep", seed=0).fit(database)
    out = synth.sample(seed=2)
    by_name = {fk.name: fk for fk in synth.metadata.foreign_keys}
    for name, fk in by_name.items():
        got, rows = _orphans(out, fk)
        if name in DIRTY:
            assert fk.orphans == "keep"
            real, real_rows = _orphans(database, fk)
            assert abs(got / rows - real / real_rows) < 0.02, name
            # the dangling keys look like real keys, and no generated parent has them
            child = out[fk.child_table].column(fk.child_columns[0])
            parents = set(out[fk.parent_table].column(fk.parent_columns[0]).to_pylist())
            dangling = [v for v in child.to_pylist() if v is not None and v not in parents]
            assert len(dangling) == got and all(isinstance(v, str) and v.isalnum() for v in dangling)
        else:
            assert got == 0, name
    # the dirty keys are accepted by the relational checks, the others checked as always
    assert integrity_problems(synth.metadata, out) == []
    # the policy and what it learnt survive saving
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model").sample(seed=2)
    assert again["flights"].equals(out["flights"])


def test_a_policy_declared_on_the_foreign_key_wins(flights):
    database, metadata = flights
    fks = [ForeignKey(fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns,
                      orphans="null" if fk.name == DIRTY[0] else None) for fk in metadata.foreign_keys]
    declared = metadata.without_detection()
    from dataclasses import replace

    declared = replace(declared, foreign_keys=tuple(fks))
    synth = Synthesizer(declared, orphans="drop", seed=0).fit(database)
    assert synth.orphan_report[DIRTY[0]]["policy"] == "null"
    assert synth.orphan_report[DIRTY[1]]["policy"] == "drop"
    # the fitted model carries no detection evidence (it quotes exact counts of the data)
    assert all(fk.detection is None for fk in synth.metadata.foreign_keys)


def test_null_is_refused_for_a_key_column_and_bad_policies_fail_early():
    parent = pa.table({"p_id": [1, 2, 3]})
    link = pa.table({"p_id": [1, 2, 9], "q": [1, 1, 1]})
    from hiveframe.metadata import Column, ColumnKind, Metadata, Table

    md = Metadata(
        tables=(Table("p", (Column("p_id", ColumnKind.ID, "int64", nullable=False),), ("p_id",)),
                Table("link", (Column("p_id", ColumnKind.ID, "int64", nullable=False),
                               Column("q", ColumnKind.ID, "int64", nullable=False)), ("p_id", "q"))),
        foreign_keys=(ForeignKey("link", ("p_id",), "p", ("p_id",)),))
    with pytest.raises(DataError) as info:
        Synthesizer(md, orphans="null").fit(Database({"p": parent, "link": link}))
    assert "part of the primary key" in str(info.value) and "'drop' or 'keep'" in str(info.value)
    with pytest.raises(ConfigError):
        Synthesizer(md, orphans="ignore")
    with pytest.raises(ConfigError):
        Synthesizer(md, orphans="keep", drop_orphans=True)
    with pytest.raises(MetadataError):
        ForeignKey("link", ("p_id",), "p", ("p_id",), orphans="dangle")


def test_keep_is_refused_under_differential_privacy(flights):
    pytest.importorskip("hiveframe_privacy")
    database, metadata = flights
    with pytest.raises(MetadataError) as info:
        Synthesizer(metadata, orphans="keep", dp={"epsilon": 3, "allow_non_dp": True}).fit(database)
    assert "not available under differential privacy" in str(info.value)


def test_keep_with_integer_keys_counts_above_the_parents():
    rng = np.random.default_rng(0)
    parent = pa.table({"dept_id": np.arange(1, 21), "size": rng.integers(1, 50, 20)})
    staff_dept = rng.integers(1, 21, 300)
    staff_dept[:9] = 99  # a department that is not in the table
    staff = pa.table({"staff_id": np.arange(1, 301), "dept_id": staff_dept, "salary": rng.normal(50, 5, 300)})
    database = Database({"dept": parent, "staff": staff})
    metadata = detect(database, detect_pii=False)
    assert metadata.foreign_keys[0].detection["orphans"] == 9
    synth = Synthesizer(metadata, orphans="keep", seed=0).fit(database)
    out = synth.sample(seed=0)
    depts = set(out["dept"].column("dept_id").to_pylist())
    dangling = [v for v in out["staff"].column("dept_id").to_pylist() if v not in depts]
    assert 2 <= len(dangling) <= 25 and min(dangling) > max(depts)


def test_keep_writes_a_sqlite_file_whose_declared_keys_all_hold(flights, tmp_path):
    import sqlite3

    from hiveframe.plugins import PluginHost

    database, metadata = flights
    synth = Synthesizer(metadata, orphans="keep", seed=0).fit(database)
    out = synth.sample(seed=3)
    target = tmp_path / "flights.sqlite"
    PluginHost(load_entry_points=False).write(out, str(target), format="sqlite", metadata=synth.metadata)
    con = sqlite3.connect(target)
    try:
        declared = {(row[2], row[3]) for row in con.execute("PRAGMA foreign_key_list(flights)")}
        assert declared == {("airlines", "carrier"), ("airports", "origin")}  # the dirty keys are not declared
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
