"""The association measures and the clustering that forms batches."""

from __future__ import annotations

import numpy as np
import pytest
from hiveframe_batches import _cluster as clustering


def test_cramers_v_is_one_for_a_copy_and_near_zero_for_independent_codes():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 2000)
    assert clustering.cramers_v(a, a) == pytest.approx(1.0, abs=1e-6)
    assert clustering.cramers_v(a, rng.integers(0, 4, 2000)) < 0.05


def test_correlation_ratio_sees_a_number_that_follows_its_category():
    rng = np.random.default_rng(0)
    cats = rng.integers(0, 3, 2000)
    assert clustering.correlation_ratio(cats, cats * 10.0 + rng.normal(size=2000)) > 0.95
    assert clustering.correlation_ratio(cats, rng.normal(size=2000)) < 0.1


def test_association_matrix_mixes_kinds(grouped):
    data, table = grouped
    names = ["a1", "a2", "b3", "colour", "c1"]
    a = clustering.association_matrix(data, table, names)
    assert a.shape == (5, 5) and np.allclose(a, a.T) and np.allclose(np.diag(a), 1)
    assert a[0, 1] > 0.9  # numbers: rank correlation
    assert a[3, 4] > 0.7  # category vs number: correlation ratio
    assert a[0, 4] < 0.15 and a[2, 3] < 0.15  # across independent groups: Cramer's V and the rest


def test_clusters_keep_dependent_columns_together_within_the_width(grouped):
    data, table = grouped
    names = [c for c in table.column_names if c != "code"]
    assoc = clustering.association_matrix(data, table, names)
    groups = clustering.cluster(names, assoc, max_width=3, merge_below=0)
    assert all(len(g) <= 3 for g in groups) and sorted(sum(groups, [])) == sorted(names)
    assert {"c1", "c2", "colour"} in [set(g) for g in groups]


def test_small_neighbouring_clusters_are_merged():
    # three pairs of decreasing strength and a loner: the loner joins its neighbouring pair when it fits
    names = list("abcdefg")
    assoc = np.full((7, 7), 0.02)
    for (x, y), value in ((("a", "b"), 0.9), (("c", "d"), 0.6), (("e", "f"), 0.3)):
        assoc[names.index(x), names.index(y)] = assoc[names.index(y), names.index(x)] = value
    np.fill_diagonal(assoc, 1.0)
    split = clustering.cluster(names, assoc, max_width=3, merge_below=0)
    merged = clustering.cluster(names, assoc, max_width=3, merge_below=2)
    assert ["g"] in split and len(merged) == len(split) - 1
    assert all(len(g) <= 3 for g in merged) and sorted(sum(merged, [])) == names
    assert ["a", "b"] in merged and ["c", "d"] in merged


def test_id_like_columns_are_found(grouped):
    data, table = grouped
    assert clustering.id_like(table, data, table.column_names) == ["code"]


def test_anchors_are_the_earlier_columns_most_associated_with_the_batch(grouped):
    data, table = grouped
    names = [c for c in table.column_names if c != "code"]
    assoc = clustering.association_matrix(data, table, names)
    index = {c: i for i, c in enumerate(names)}
    anchors = clustering.choose_anchors([["a1", "a2", "a3"], ["c1", "c2", "colour"], ["b1", "b2", "b3"]], assoc,
                                        index, count=1)
    assert anchors[0] == [] and anchors[2][0] in ("a1", "a2", "a3")



def test_a_null_pattern_is_an_association():
    """b is missing exactly where kind is 'single': among the rows where b is present kind is constant
    (no spread to explain), yet the two are tied, and must share a batch or anchor each other."""
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind, Table

    rng = np.random.default_rng(1)
    kind = np.where(rng.random(500) < 0.8, "single", "joint")
    b = np.where(kind == "joint", rng.normal(size=500), np.nan)
    data = pa.table({"kind": kind.tolist(), "b": pa.array(b, from_pandas=True), "c": rng.normal(size=500)})
    table = Table("t", (Column("kind", ColumnKind.CATEGORICAL, "string"), Column("b", ColumnKind.NUMERICAL, "double", nullable=True),
                        Column("c", ColumnKind.NUMERICAL, "double")))
    assoc = clustering.association_matrix(data, table, ["kind", "b", "c"])
    assert assoc[0, 1] > 0.95 and assoc[1, 2] < 0.1 and assoc[0, 2] < 0.1


def test_ranks_match_scipy_rankdata_with_ties_and_missing_values():
    from hiveframe_batches._cluster import _ranks
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    values = rng.integers(0, 7, size=200).astype(float)
    values[rng.choice(200, size=20, replace=False)] = np.nan
    ok = ~np.isnan(values)
    got = _ranks(values)
    assert np.isnan(got[~ok]).all()
    np.testing.assert_array_equal(got[ok], rankdata(values[ok]))
    assert np.isnan(_ranks(np.array([np.nan, np.nan]))).all()


def test_average_linkage_makes_the_merges_scipy_makes():
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(2, 30))
        distance = rng.random((k, k))
        distance = (distance + distance.T) / 2
        np.fill_diagonal(distance, 0.0)
        expected = linkage(squareform(distance, checks=False), method="average")
        children, sizes = clustering.average_linkage(distance)
        assert children == [(int(a), int(b)) for a, b in expected[:, :2]]
        assert sizes[k:] == [int(n) for n in expected[:, 3]]


def test_planning_imports_neither_scipy_stats_nor_scipy_cluster():
    """Those imports cost more than ranking and clustering a wide table (checked in a fresh process)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from conftest import grouped_table; "
            "from hiveframe_batches.generators import BatchesGenerator; data, table = grouped_table(); "
            "BatchesGenerator(max_width=4).create_batches(data, table, seed=0); "
            "print(sorted(m for m in ('scipy.stats', 'scipy.cluster') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
