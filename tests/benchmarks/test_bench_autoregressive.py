"""The autoregressive benchmark's own logic: the contradiction count, the summary it writes, the peer's results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmarks.bench_autoregressive import contradictions, load_peer, score_peer, summarize
from benchmarks.census_split import split_digest


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


def _peer_results(**models: dict) -> dict:
    return {"command": "python -m benchmarks.bench_autoregressive --peer-results p.json", "args": {"threads": 1, "seed": 0},
            "split": "issue (census_split.issue_split)", "models": models,
            "real": {"contradictions_train": 4, "detection_real_vs_real": 0.5, "tstr_auc_real": 0.93},
            "load_average_before": [1.0, 1.0, 1.0], "load_average_after": [2.0, 2.0, 2.0]}


def test_summary_sets_the_peer_beside_ours_and_judges_the_relative_goals():
    ours = {"fit_seconds": 60.0, "quality": 0.98, "detection": 0.53, "tstr_auc": 0.92, "copy_rate": 0.002,
            "copy_rate_holdout": 0.001, "dcr_median": 0.03, "dcr_median_holdout": 0.01, "dcr_too_close": 0.04}
    peer = {"fit_seconds": 150.0, "quality": 0.981, "detection": 0.52, "tstr_auc": 0.923, "epochs": 35.0,
            "best_epoch": 30.0}
    text = summarize(_peer_results(autoregressive=ours, **{"mostlyai-engine": peer}))
    assert "census_adult, issue split" in text
    assert "| figure | autoregressive | mostlyai-engine |" in text
    assert "| copy rate (held-out rows' rate) | 0.0020 (0.0010) | - |" in text
    assert "detection no worse than mostlyai-engine's (0.520): not met" in text
    assert "fit <= 1/3 of mostlyai-engine's (50 s): not met" in text
    text = summarize(_peer_results(autoregressive=dict(ours, fit_seconds=40.0, detection=0.52),
                                   **{"mostlyai-engine": peer}))
    assert "detection no worse than mostlyai-engine's (0.520): met" in text
    assert "fit <= 1/3 of mostlyai-engine's (50 s): met" in text


def test_peer_results_missing_or_foreign_are_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="run `nox -s peer` first"):
        load_peer(tmp_path / "peer_mostlyai.json")
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"fit_seconds": 1.0}), encoding="utf-8")
    with pytest.raises(SystemExit, match="lacks .*'rows'.*not written by benchmarks/peer_mostlyai.py"):
        load_peer(foreign)
    no_rows = tmp_path / "no_rows.json"
    no_rows.write_text(json.dumps({"split": {}, "rows": "gone.parquet", "fit_seconds": 1.0,
                                   "sample_rows_per_second": 1.0, "threads": 1}), encoding="utf-8")
    with pytest.raises(SystemExit, match="gone.parquet"):
        load_peer(no_rows)


def test_peer_rows_with_other_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.bench_ctgan import Case

    train = pa.table({"sex": ["Male", "Female"], "relationship": ["Husband", "Wife"]})
    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"sex": ["Male"], "income": [">50K"]}), rows)
    case = Case("census", train, train, None, "income", ">50K")
    with pytest.raises(SystemExit, match="not the census columns"):
        score_peer({"rows_path": str(rows), "fit_seconds": 1.0, "sample_rows_per_second": 1.0}, case)


def test_split_digest_tells_splits_apart():
    assert split_digest(10, [3, 1, 4]) == split_digest(10, [3, 1, 4])
    assert split_digest(10, [3, 1, 4]) != split_digest(10, [1, 3, 4])
    assert split_digest(10, [3, 1, 4]) != split_digest(11, [3, 1, 4])
