"""pandas in, pandas out: nullable integers and categories come back as they went in."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")


def test_nullable_and_categorical_dtypes_round_trip():
    import hiveframe

    rng = np.random.default_rng(0)
    n = 400
    ages = pd.array(rng.integers(18, 90, n), dtype="Int64")
    ages[rng.random(n) < 0.1] = pd.NA
    df = pd.DataFrame({
        "age": ages,
        "city": pd.Categorical(rng.choice(["Oslo", "Rome", "Lima"], n)),
        "member": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        "income": rng.normal(50_000, 9_000, n),
    })
    real = hiveframe.read({"people": df})
    synth = hiveframe.Synthesizer(seed=0).fit(real)
    out = synth.sample().to_pandas(synth.metadata)["people"]
    assert str(out["age"].dtype) == "Int64" and out["age"].isna().any()   # not float64 with NaN
    assert isinstance(out["city"].dtype, pd.CategoricalDtype)
    assert set(out["city"].cat.categories) <= {"Oslo", "Rome", "Lima"}
    assert str(out["member"].dtype) == "boolean" and out["income"].dtype == np.float64
    assert real.to_pandas(synth.metadata)["people"]["age"].equals(df["age"])  # the real data, unchanged
