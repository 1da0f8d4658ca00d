"""Decoding categorical tokens: null and rare ids are nulls, id k >= 2 is category k - 2, types kept."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_autoregressive._tokens import Codec

from hiveframe.metadata import Column, ColumnKind


@pytest.mark.parametrize(("dtype", "values"), [
    ("string", ["b", "a", "b", None, "a", "c"] * 5),
    ("int64", [7, 3, 7, None, 3, 9] * 5),
    ("bool", [True, False, True, None, False, True] * 5),
])
def test_categorical_tokens_decode_to_their_values(dtype: str, values: list) -> None:
    kind = ColumnKind.BOOLEAN if dtype == "bool" else ColumnKind.CATEGORICAL
    column = Column("x", kind, dtype, nullable=True)
    codec = Codec.fit(column, pa.array(values), min_count=5, bins=4, fine_bins=4)
    ids = np.array([[0], [1], *[[2 + k] for k in range(len(codec.categories))]])
    out = codec.decode(ids, np.random.default_rng(0))
    assert out.to_pylist() == [None, None, *codec.categories]
    assert out.type == pa.array(values).type
    encoded = codec.encode(pa.array(values))
    assert codec.decode(encoded, np.random.default_rng(0)).to_pylist() == values


def test_a_column_with_many_rare_categories_keeps_its_null_rate() -> None:
    """Half the rows hold categories seen once (folded into ``rare``, never emitted), 10% are null: the
    rare mass goes to the frequent categories, so the synthetic null rate stays near 10% (it doubled when
    the ban renormalized over null too)."""
    import numpy as np
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind, Table
    from tests.hiveframe_autoregressive.conftest import tiny

    rng = np.random.default_rng(0)
    n = 3000
    kind = rng.random(n)
    title = [None if k < 0.1 else (f"unique {i}" if k < 0.6 else str(rng.choice(["clerk", "nurse", "driver"])))
             for i, k in enumerate(kind)]
    data = pa.table({"title": pa.array(title), "years": pa.array(rng.integers(0, 30, n))})
    table = Table("jobs", (Column("title", ColumnKind.CATEGORICAL, "string"),
                           Column("years", ColumnKind.NUMERICAL, "int64")))
    gen = tiny(epochs=5).fit(data, table, seed=0)
    out = gen.sample(6000, seed=1).column("title")
    null_rate = out.null_count / len(out)
    assert 0.06 < null_rate < 0.14, null_rate
    assert "unique 7" not in set(out.drop_null().to_pylist())
