"""TableEncoder: per-column transformers chosen by column name, then kind, then the default."""

from __future__ import annotations

import numpy as np
import pytest

from hiveframe.components.encoding import TableEncoder
from hiveframe.metadata import ColumnKind
from hiveframe.testing.conformance import sample_metadata, sample_table
from hiveframe.testing.reference import IdentityTransformer


@pytest.fixture
def numeric():
    data = sample_table(40, seed=2).select(["age", "income"])
    return data, sample_metadata(data)


def test_default_and_overrides(numeric):
    data, table = numeric
    made = []

    def default(column):
        made.append(column.name)
        return IdentityTransformer()

    by_name = IdentityTransformer()
    enc = TableEncoder(default, {"income": by_name}).fit(data, table.columns, seed=1)
    assert made == ["age"]  # income came from the override
    assert enc.width == 4 and enc.widths == [2, 2]
    assert [s.width for _, spans in enc.spans for s in spans] == [1, 1, 1, 1]
    assert enc.column_slices() == [slice(0, 2), slice(2, 4)]


def test_override_by_kind_gives_each_column_its_own_fitted_copy(numeric):
    data, table = numeric
    shared = IdentityTransformer()
    enc = TableEncoder(lambda c: pytest.fail("default used"), {ColumnKind.NUMERICAL.value: shared})
    enc.fit(data, table.columns)
    assert enc.transformers[0] is not enc.transformers[1]
    assert enc.transformers[0]._mean != enc.transformers[1]._mean


def test_transform_reverse_round_trip(numeric):
    data, table = numeric
    enc = TableEncoder(lambda c: IdentityTransformer()).fit(data, table.columns)
    matrix = enc.transform(data)
    assert matrix.shape == (40, 4) and np.isfinite(matrix).all()
    back = enc.reverse(matrix)
    assert back["age"].to_pylist() == data.column("age").to_pylist()
    assert back["income"].to_pylist() == pytest.approx(data.column("income").to_pylist(), nan_ok=True)
    with pytest.raises(ValueError, match="expected a matrix with 4 columns"):
        enc.reverse(matrix[:, :3])


def test_state_round_trip(numeric):
    data, table = numeric
    overrides = {"income": IdentityTransformer()}
    enc = TableEncoder(lambda c: IdentityTransformer(), overrides).fit(data, table.columns)
    state = enc.get_state()
    again = TableEncoder(lambda c: IdentityTransformer(), overrides)
    again.set_state(state, table.columns)
    assert np.array_equal(again.transform(data), enc.transform(data))
