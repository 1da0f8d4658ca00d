"""CTGAN and TVAE as the generators of a whole (tiny) database, saved and loaded like any model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("torch")

from .conftest import TINY_CTGAN, TINY_TVAE


@pytest.mark.parametrize("kind, params", [("ctgan", TINY_CTGAN), ("tvae", TINY_TVAE)])
def test_synthesizer_fits_samples_saves_and_loads(kind, params, tmp_path):
    from hiveframe.pipeline import Synthesizer

    rng = np.random.default_rng(0)
    users = pa.table({"id": [f"u{i}" for i in range(200)], "age": rng.integers(18, 80, 200),
                      "country": rng.choice(["FR", "US"], 200).tolist()})
    orders = pa.table({"order_id": np.arange(500), "user_id": [f"u{i}" for i in rng.integers(0, 200, 500)],
                       "amount": rng.gamma(2, 10, 500), "kind": rng.choice(["a", "b", "c"], 500).tolist()})
    synth = Synthesizer(generator=kind, generator_params=params)
    synth.fit({"users": users, "orders": orders}, workdir=tmp_path / "work")
    db = synth.sample(seed=1)
    assert db["users"].num_rows == 200 and db["orders"].num_rows == 500
    assert set(db["orders"].column("kind").to_pylist()) <= {"a", "b", "c"}
    assert db["users"].schema.field("age").type == pa.int64()
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model").sample(seed=1)
    for name in db.names:
        assert db[name].equals(again[name])
