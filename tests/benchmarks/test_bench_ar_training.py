"""The training-step benchmark: its smoke run measures every variant, and its summary states speed-ups."""

from __future__ import annotations

import pytest

from benchmarks import bench_ar_training


def test_summary_reports_medians_and_speed_ups():
    results = {"command": "python -m benchmarks.bench_ar_training", "args": {"rounds": 3, "steps": 30, "threads": 1},
               "auto_precision": "bfloat16", "load_average_before": [1.0], "load_average_after": [2.0],
               "step_seconds": {"plain": [0.09, 0.08, 0.10], "fast_float32": [0.05, 0.04, 0.06],
                                "fast_bfloat16": [0.03, 0.02, 0.04]}}
    text = bench_ar_training.summarize(results)
    assert "| plain | 90.0 | 80.0 | 100.0 | 1.00 |" in text
    assert "| fast_float32 | 50.0 | 40.0 | 60.0 | 1.80 |" in text
    assert "| fast_bfloat16 | 30.0 | 20.0 | 40.0 | 3.00 |" in text


@pytest.mark.slow
def test_smoke_run_times_every_variant():
    results = bench_ar_training.main(["--steps", "2", "--rounds", "1"])
    assert set(results["step_seconds"]) == set(bench_ar_training.VARIANTS)
    assert all(len(v) == 1 and v[0] > 0 for v in results["step_seconds"].values())
