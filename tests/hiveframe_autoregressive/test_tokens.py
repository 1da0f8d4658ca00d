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
