"""The autoregressive benchmark's own logic: the contradiction count and the summary it writes."""

from __future__ import annotations

import pandas as pd

from benchmarks.bench_autoregressive import contradictions, summarize


def test_contradictions_count_female_husbands_and_male_wives():
    df = pd.DataFrame({"sex": ["Female", " Male", "Male", "Female", "Female"],
                       "relationship": [" Husband", "Wife", "Husband", "Wife", "Own-child"]})
    assert contradictions(df) == 2


def test_summary_reports_goals_met_and_not_met():
    model = {"fit_seconds": 90.0, "epochs": 20, "best_epoch": 18, "sample_rows_per_second": 30000.0,
             "quality": 0.97, "detection": 0.54, "tstr_auc": 0.93, "contradictions": 7}
    results = {"command": "python -m benchmarks.bench_autoregressive --threads 1", "args": {"threads": 1, "seed": 0},
               "models": {"autoregressive": model, "gaussian_copula": {"fit_seconds": 2.0, "quality": 0.95}},
               "real": {"contradictions_train": 4, "detection_real_vs_real": 0.5, "tstr_auc_real": 0.93},
               "load_average_before": [1.0, 1.0, 1.0], "load_average_after": [2.0, 2.0, 2.0]}
    text = summarize(results)
    assert "| detection accuracy | 0.540 | - |" in text and "20 (18)" in text
    assert "detection <= 0.55: met" in text and "quality >= 0.98: not met" in text
    assert "fit_seconds <= 120.0: met" in text
