"""The DP autoregressive benchmark's table (the figures themselves come from a census run)."""

from __future__ import annotations

from benchmarks.bench_ar_dp import summarize


def _run(epsilon: float | None) -> dict:
    run = {"epsilon": epsilon, "tstr_auc": 0.83, "quality": None, "detection": 0.87, "mia_auc": 0.503,
           "copy_rate": 0.0, "copy_rate_holdout": 0.001, "dcr_median": 0.029, "dcr_median_holdout": 0.009,
           "contradictions": 1837, "fit_seconds": 101.2}
    if epsilon is not None:
        run["epsilon_spent"] = 0.9941
    return run


def test_summary_shows_each_epsilon_and_its_spend():
    results = {"command": "python -m benchmarks.bench_ar_dp", "train_rows": 39074, "load_average_before": [1.0, 1.0, 1.0],
               "load_average_after": [2.0, 2.0, 2.0], "runs": [_run(1.0), _run(None)],
               "args": {"hidden": 32, "epochs": 5, "batch_size": 512, "learning_rate": 0.002, "threads": 1}}
    text = summarize(results)
    assert "| 1 (0.994) | 0.830 | - | 0.870 | 0.503 |" in text
    assert "| none | 0.830 |" in text and "39,074 training rows" in text
