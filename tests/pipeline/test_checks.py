"""Bad relational input, each through the Synthesizer: one clear error naming tables and columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database
from hiveframe.errors import DataError, MetadataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata.relations import drop_orphans, relational_problems
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import integrity_problems


def ident(name: str, dtype: str = "int64") -> Column:
    return Column(name, ColumnKind.ID, dtype)


def parent_child(*, parent_ids=(1, 2, 3), child_refs=(1, 1, 2, 3, 3), child_type: str = "int64",
                 one_to_one: bool = False) -> tuple[Database, Metadata]:
    parent = pa.table({"pid": pa.array(parent_ids, pa.int64()), "size": [float(i) for i in range(len(parent_ids))]})
    refs = pa.array(child_refs, pa.string() if child_type == "string" else pa.int64())
    child = pa.table({"cid": pa.array(range(1, len(child_refs) + 1), pa.int64()), "pid": refs,
                      "x": [1.0 * i for i in range(len(child_refs))]})
    md = Metadata(
        tables=(Table("parent", (ident("pid"), Column("size", ColumnKind.NUMERICAL, "double")), ("pid",)),
                Table("child", (ident("cid"), ident("pid", child_type), Column("x", ColumnKind.NUMERICAL, "double")),
                      ("cid",))),
        foreign_keys=(ForeignKey("child", ("pid",), "parent", ("pid",), one_to_one=one_to_one),),
    )
    return Database({"parent": parent, "child": child}), md


def test_a_cycle_through_several_tables_is_named() -> None:
    tables = tuple(Table(n, (ident("id"), ident("ref"))) for n in ("a", "b", "c"))
    fks = (ForeignKey("a", ("ref",), "b", ("id",)), ForeignKey("b", ("ref",), "c", ("id",)),
           ForeignKey("c", ("ref",), "a", ("id",)))
    md = Metadata(tables=tuple(Table(t.name, t.columns, ("id",)) for t in tables), foreign_keys=fks)
    db = Database({n: pa.table({"id": [1, 2], "ref": [1, 2]}) for n in ("a", "b", "c")})
    with pytest.raises(MetadataError) as err:
        Synthesizer(md).fit(db)
    text = str(err.value)
    assert "cycle" in text and any(c in text for c in ("a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"))


def test_an_empty_parent_table() -> None:
    db, md = parent_child(parent_ids=())
    with pytest.raises(DataError, match="parent table 'parent' is empty"):
        Synthesizer(md).fit(db)


def test_a_foreign_key_whose_type_does_not_match_its_parent_key() -> None:
    db, md = parent_child(child_refs=("1", "2", "3"), child_type="string")
    with pytest.raises((MetadataError, DataError)) as err:  # declared types differ
        Synthesizer(md).fit(db)
    assert "child" in str(err.value) and "pid" in str(err.value) and "dtype" in str(err.value).lower()
    # declared alike, but the data holds strings: the data check names it
    db, md = parent_child()
    db.tables["child"] = db["child"].set_column(1, "pid", pa.array(["a", "b", "c", "d", "e"]))
    with pytest.raises(DataError) as err:
        Synthesizer(md).fit(db)
    assert "child" in str(err.value) and "pid" in str(err.value)


def test_orphans_are_counted_or_dropped_on_request() -> None:
    db, md = parent_child(child_refs=(1, 9, 2, 9, 7))
    with pytest.raises(DataError) as err:
        Synthesizer(md).fit(db)
    assert "3" in str(err.value) and "orphan" in str(err.value).lower()
    synth = Synthesizer(md, seed=0).fit(db, drop_orphans=True)
    assert synth.dropped_orphans == {"child": 3}
    assert synth.table_rows["child"] == 2
    assert integrity_problems(md, synth.sample(scale=2)) == []
    assert Synthesizer(md, drop_orphans=True).fit(db).dropped_orphans == {"child": 3}


def test_a_one_to_one_link_that_is_not() -> None:
    db, md = parent_child(child_refs=(1, 1, 2), one_to_one=True)
    with pytest.raises(DataError, match="one-to-one"):
        Synthesizer(md).fit(db)


def test_a_composite_key_with_duplicates() -> None:
    link = pa.table({"a": [1, 1, 2], "b": [5, 5, 6]})
    md = Metadata(tables=(Table("link", (ident("a"), ident("b")), ("a", "b")),))
    with pytest.raises(DataError) as err:
        Synthesizer(md).fit(Database({"link": link}))
    assert "link" in str(err.value) and "duplicate" in str(err.value).lower()


def test_engine_checks_list_every_problem_at_once() -> None:
    """The engine's own checks (used after the validator, and on generated databases)."""
    db, md = parent_child(child_refs=(1, 9, 2, 2), one_to_one=True)
    problems = relational_problems(md, db)
    text = "\n".join(p.render() for p in problems)
    assert "1 orphan row" in text and "one-to-one" in text and len(problems) == 2
    cleaned, dropped = drop_orphans(md, db)
    assert dropped == {"child": 1} and cleaned["child"].num_rows == 3


def test_best_cardinality_is_the_exact_floor_of_ks() -> None:
    """Checked against every multiset of k counts (supports and gaps) on small random cases."""
    import itertools

    from hiveframe.pipeline.checks import best_cardinality, ks_statistic

    rng = np.random.default_rng(0)
    for _ in range(150):
        real = rng.integers(0, 5, size=int(rng.integers(1, 8)))
        k = int(rng.integers(1, 5))
        brute = max(1 - ks_statistic(real, np.array(c)) for c in itertools.combinations_with_replacement(range(6), k))
        assert best_cardinality(real, k) == pytest.approx(brute, abs=1e-12)
    # Chinook's 5 media types, 3 generated: no generator can pass 0.9
    assert best_cardinality(np.array([7, 11, 214, 237, 3034]), 3) == pytest.approx(13 / 15)
    assert best_cardinality(np.array([3, 5, 8]), 3) == 1.0


def test_best_cardinality_with_a_total_and_a_cap_matches_brute_force() -> None:
    import itertools

    from hiveframe.pipeline.checks import best_cardinality, ks_statistic

    rng = np.random.default_rng(1)
    for _ in range(120):
        real = rng.integers(0, 6, size=int(rng.integers(1, 7)))
        k, high = int(rng.integers(1, 4)), int(rng.integers(2, 8))
        total = int(rng.integers(0, k * high + 1))
        brute = max(1 - ks_statistic(real, np.array(c)) for c in itertools.product(range(high + 1), repeat=k)
                    if sum(c) == total)
        assert best_cardinality(real, k, total=total, high=high) == pytest.approx(brute, abs=1e-12)
    # Chinook at scale 0.5: 3 media types must share the 1757 tracks
    assert best_cardinality(np.array([7, 11, 214, 237, 3034]), 3, total=1757) == pytest.approx(0.8)
