"""The CTGAN benchmark's own helpers (the figures in RESULTS.md depend on them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import bench_ctgan

    return bench_ctgan


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_numeric_dates_are_seconds_whatever_the_unit(bench, unit):
    """A datetime64[s] column was once divided by 1e9 as if it held nanoseconds."""
    when = pd.Series(pd.to_datetime(["1970-01-02", None, "2000-01-01"])).astype(f"datetime64[{unit}]")
    out = bench.numeric_dates(pd.DataFrame({"when": when, "n": [1, 2, 3]}))
    assert out["when"].iloc[0] == pytest.approx(86_400.0)
    assert pd.isna(out["when"].iloc[1])
    assert out["when"].iloc[2] == pytest.approx(946_684_800.0)
    assert out["n"].tolist() == [1, 2, 3]


def test_smoke_runs_are_kept_apart(bench, tmp_path, monkeypatch):
    import benchmarks.common as common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    assert bench.record({"x": 1}, "census 3 epochs", smoke=True) == tmp_path / "ctgan_smoke.json"
    assert bench.record({"x": 2}, "census 100 epochs", smoke=False) == tmp_path / "ctgan.json"
    assert bench.SMOKE_BELOW_EPOCHS == 50


def test_seed_table_pairs_speed_ratios_but_not_quality(bench):
    """Speed: median of per-run ratios (a busy run slows both sides); quality: ratio of medians."""

    def run(seed, fit_ours, fit_theirs, tstr_ours, tstr_theirs):
        return {"dataset": "census", "mode": "100 epochs", "seed": seed,
                "hiveframe": {"fit_seconds": fit_ours, "tstr_auc": tstr_ours},
                "ctgan": {"fit_seconds": fit_theirs, "tstr_auc": tstr_theirs}}

    # per-run fit ratios 0.30 / 0.30 / 0.50: median 0.30 (the ratio of the medians would be 0.400)
    runs = [run(0, 30.0, 100.0, 0.80, 0.90), run(1, 40.0, 133.3333, 0.90, 0.70), run(2, 50.0, 100.0, 0.85, 0.88)]
    table = bench.summarize_seeds(runs)
    fit_row = next(line for line in table.splitlines() if line.startswith("| total fit"))
    tstr_row = next(line for line in table.splitlines() if line.startswith("| TSTR AUC"))
    assert "| 0.300 |" in fit_row and "met (ratio <= 0.333)" in fit_row
    assert "| 0.966 |" in tstr_row and "missed (ratio >= 1)" in tstr_row
