"""Repeats across partitions get new values on the executors: unused real values, then styled ones."""

from __future__ import annotations

import pytest

pa = pytest.importorskip("pyarrow")

from hiveframe_spark._unique import fill_batches, pool_digest  # noqa: E402

POOL = ["Rock", "Jazz", "Blues", "Bossa Nova", "Metal", "Soul", "Reggae", "Latin", "Pop", "Classical"]


def repeats(rows: list[tuple[int, int, str]], size: int) -> list[pa.RecordBatch]:
    """``(part, pos, value)`` rows sorted by partition and position, in batches of ``size``."""
    table = pa.table({"p": pa.array([r[0] for r in rows], pa.int32()), "q": pa.array([r[1] for r in rows], pa.int64()),
                      "v": [r[2] for r in rows]})
    return table.to_batches(max_chunksize=size)


def fill(rows: list[tuple[int, int, str]], *, unused: list[str], offsets: dict[int, int], size: int = 100,
         numbered_from: int | None = None, seed: int = 3) -> list[str]:
    out = fill_batches(iter(repeats(rows, size)), pool=POOL, digest=pool_digest(POOL), unused=unused,
                       offsets=offsets, seed=seed, round_=0, numbered_from=numbered_from)
    table = pa.Table.from_batches(list(out))
    assert table.column(0).to_pylist() == [r[0] for r in rows]  # the rows keep their place
    assert table.column(1).to_pylist() == [r[1] for r in rows]
    return table.column(2).to_pylist()


def test_unused_real_values_first_then_new_ones_in_style():
    rows = [(1, i, "Rock") for i in range(6)] + [(2, i, "Jazz") for i in range(8)]
    values = fill(rows, unused=["Soul", "Latin", "Pop"], offsets={1: 0, 2: 6})
    assert values[:3] == ["Soul", "Latin", "Pop"]  # repeats 0..2 across partitions take the unused real values
    new = values[3:]
    for part_new in (new[:3], new[3:]):  # distinct within a partition (across them: the next round's check)
        assert len(set(part_new)) == len(part_new)
    assert not set(new) & set(POOL) and all(v and v[0].isupper() for v in new), new
    # the same seed, however the rows are batched: the same values; another seed: others
    assert fill(rows, unused=["Soul", "Latin", "Pop"], offsets={1: 0, 2: 6}, size=3) == values
    assert fill(rows, unused=["Soul", "Latin", "Pop"], offsets={1: 0, 2: 6}, seed=4)[3:] != new


def test_numbering_across_partitions_never_meets_itself():
    """Partitions numbered apart: two partitions' repeats of one value get different numbers."""
    rows = [(0, i, "Rock") for i in range(5)] + [(3, i, "Rock") for i in range(5)]
    values = fill(rows, unused=["Soul"], offsets={0: 0, 3: 5}, numbered_from=2)
    assert values[0] == "Soul"
    assert values[1:] == [f"Rock {k}" for k in range(3, 12)]
