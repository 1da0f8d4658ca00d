"""The ``dp`` privacy wrapper: parameters, budgets, the DP copula, refusal of non-private generators,
and a saved DP model that holds no exact statistic of the real data."""

from __future__ import annotations

import json
import re
from typing import ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pytest
from hiveframe_privacy.budget import check_epsilon_delta
from hiveframe_privacy.dp import DPWrapper, NonPrivateWarning

from hiveframe.components import TableGenerator
from hiveframe.errors import ConfigError, PluginError
from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.persistence import load_component, save_component
from hiveframe.plugins import PluginHost


def _data(n: int = 1500, seed: int = 0) -> tuple[pa.Table, Table]:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, size=n) + rng.random(n) * 1e-7  # many decimals: exact values are unmistakable
    y = 2 * x + rng.normal(0, 3, size=n)
    kind = np.where(x + rng.normal(0, 5, size=n) > 50, "high", "low").astype(object)
    kind[rng.random(n) < 0.1] = "mid"
    data = pa.table({"x": pa.array(x), "y": pa.array(y), "kind": pa.array(kind.tolist())})
    table = Table("t", (Column("x", ColumnKind.NUMERICAL, "double"), Column("y", ColumnKind.NUMERICAL, "double"),
                        Column("kind", ColumnKind.CATEGORICAL)))
    return data, table


@pytest.mark.parametrize(("params", "message"), [
    ({}, "epsilon is required"),
    ({"epsilon": 0}, "epsilon must be positive"),
    ({"epsilon": -1}, "epsilon must be positive"),
    ({"epsilon": 1, "delta": 0}, "delta must be positive"),
    ({"epsilon": 1, "preprocess_share": 1.5}, "preprocess_share"),
    ({"epsilon": 1, "max_grad_norm": 0}, "max_grad_norm"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ConfigError, match=message):
        DPWrapper(**params)


def test_delta_must_be_below_one_over_rows():
    with pytest.raises(ConfigError, match="below 1/rows"):
        check_epsilon_delta("t", 1.0, 0.01, 1000)
    eps, delta = check_epsilon_delta("t", 1.0, None, 1000)
    assert eps == 1.0 and 0 < delta < 1e-3
    data, table = _data(200)
    gen = DPWrapper(epsilon=1.0, delta=0.01).wrap(PluginHost().create("table_generator", "gaussian_copula"))
    with pytest.raises(ConfigError, match="below 1/rows"):
        gen.fit(data, table, seed=0)


def test_dp_copula_keeps_the_budget_and_the_dependence():
    data, table = _data()
    wrapper = DPWrapper(epsilon=2.0)
    gen = wrapper.wrap(PluginHost().create("table_generator", "gaussian_copula"))
    events = []
    gen.fit(data, table, seed=0, callback=events.append)
    report = wrapper.report()["tables"]["t"]
    assert report["private"] is True
    assert report["epsilon_spent"] <= 2.0 + 1e-9
    assert report["split"]["preprocessing_epsilon"] < report["epsilon_spent"]
    assert events and events[-1]["epsilon"] == pytest.approx(report["epsilon_spent"])
    out = gen.sample(2000, seed=1)
    x, y = np.array(out.column("x").to_pylist()), np.array(out.column("y").to_pylist())
    assert np.corrcoef(x, y)[0, 1] > 0.8  # the noisy correlation keeps a strong dependence
    assert set(out.column("kind").to_pylist()) <= {"high", "low", "mid"}
    assert gen.released_rows is not None and abs(gen.released_rows - data.num_rows) < 100


def test_saved_dp_model_holds_no_exact_real_statistic(tmp_path):
    data, table = _data(800, seed=3)
    wrapper = DPWrapper(epsilon=1.0)
    host = PluginHost()
    gen = wrapper.wrap(host.create("table_generator", "gaussian_copula"))
    gen.fit(data, table, seed=0)
    save_component(tmp_path, "gen", gen)
    x = np.array(data.column("x").to_pylist())
    counts = {k: data.column("kind").to_pylist().count(k) for k in ("high", "low", "mid")}
    forbidden_numbers = [x.min(), x.max(), np.median(x), x.mean()]
    blobs = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert any(name.endswith(".npz") for name in blobs)
    for name, blob in blobs.items():
        text = blob.decode("latin-1")
        for value in forbidden_numbers:
            for shown in (repr(float(value)), f"{value:.6f}", f"{value:.4f}"):
                assert shown not in text, f"{name} holds the real statistic {shown}"
        if name.endswith(".npz"):
            with np.load(tmp_path.joinpath(*[p for p in _find(tmp_path, name)]), allow_pickle=False) as npz:
                for key in npz.files:
                    arr = npz[key]
                    if arr.dtype.kind in "iuf" and arr.size:
                        assert not np.isin(np.asarray(forbidden_numbers), arr).any(), key
                        assert not (arr.size == 3 and sorted(arr.tolist()) == sorted(counts.values())), key
        else:
            numbers = [int(v) for v in re.findall(r"(?<![\d.])\d+(?![\d.])", text)]
            assert data.num_rows not in numbers or "rows" not in text  # the row count is noisy
    loaded = load_component(tmp_path, "gen", host)
    assert loaded.sample(10, seed=0).num_rows == 10
    assert json.loads((tmp_path / "components" / "gen.json").read_text())["state"]["report"]["private"] is True


def _find(root, name):
    for p in root.rglob(name):
        return p.relative_to(root).parts
    raise FileNotFoundError(name)


@attrs.define(kw_only=True, eq=False)
class _Memorizer(TableGenerator):
    """A generator with no private training: it replays its rows."""

    name: ClassVar[str] = "memorizer"
    _rows: pa.Table | None = attrs.field(default=None, init=False)

    def _fit(self, data, table, *, context_columns, seed, callback, workdir):
        self._rows = data

    def _sample(self, num_rows, *, context, conditions, seed):
        assert self._rows is not None
        return self._rows.slice(0, num_rows)


def test_a_generator_without_private_training_is_refused():
    data, table = _data(300)
    gen = DPWrapper(epsilon=1.0).wrap(_Memorizer())
    with pytest.raises(ConfigError, match="cannot train with differential privacy"):
        gen.fit(data, table, seed=0)


def test_allow_non_dp_trains_with_a_loud_warning_and_says_so():
    data, table = _data(300)
    wrapper = DPWrapper(epsilon=1.0, allow_non_dp=True)
    gen = wrapper.wrap(_Memorizer())
    with pytest.warns(NonPrivateWarning, match="WITHOUT differential privacy"):
        gen.fit(data, table, seed=0)
    report = wrapper.report()
    assert report["non_private_tables"] == ["t"]
    assert "NO differential privacy" in report["guarantee"]
    assert report["tables"]["t"]["private"] is False


def test_explicit_noise_too_small_for_the_budget_is_refused_for_the_copula():
    data, table = _data(500)
    gen = DPWrapper(epsilon=0.5, noise_multiplier=0.01).wrap(PluginHost().create("table_generator",
                                                                                   "gaussian_copula"))
    with pytest.raises((ConfigError, PluginError), match="would exceed epsilon"):
        gen.fit(data, table, seed=0)


def test_the_dp_wrapper_passes_the_conformance_kit():
    from hiveframe.builtin.copula import GaussianCopula
    from hiveframe.testing.conformance import check_privacy_wrapper, sample_table

    report = check_privacy_wrapper(DPWrapper, params={"epsilon": 3.0, "max_children": {"*": 5}},
                                   generator=GaussianCopula(), data=sample_table(2000))
    assert "parameters round-trip as JSON through get_params/from_params" in report.passed
    assert "differentially private: implements what the engine asks" in report.passed
    assert "differentially private: refuses a generator without supports_dp" in report.passed
