"""The sampling benchmark's summary: medians per model and the goal against CTGAN."""

from __future__ import annotations

from benchmarks.bench_ar_sampling import summarize


def results(autoregressive: list[float], ctgan: list[float]) -> dict:
    return {"command": "python -m benchmarks.bench_ar_sampling --models m", "args": {"threads": 1}, "rows": 39074,
            "plugin_path": "plugins/hiveframe_autoregressive",
            "rows_per_second": {"autoregressive": autoregressive, "ctgan": ctgan},
            "load_average_before": [1.0, 1.0, 1.0], "load_average_after": [2.0, 2.0, 2.0]}


def test_summary_reports_medians_and_the_goal_met():
    text = summarize(results([90_000.0, 10.0, 80_000.0], [60_000.0, 61_000.0, 1.0]))
    assert "| autoregressive | 80,000 | 10 | 90,000 | 3 |" in text
    assert "| ctgan | 60,000 | 1 | 61,000 | 3 |" in text
    assert "Median autoregressive / CTGAN: 1.33" in text and "CTGAN: met" in text


def test_summary_reports_the_goal_not_met():
    text = summarize(results([25_000.0], [61_000.0]))
    assert "Median autoregressive / CTGAN: 0.41" in text and "not met" in text
