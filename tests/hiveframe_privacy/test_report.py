"""The privacy section: epsilon from the manifest next to the privacy validator's measurements."""

from __future__ import annotations

from hiveframe_privacy.report import privacy_section, to_markdown


def test_section_joins_budget_and_evidence():
    manifest = {"privacy": {"dp": {"guarantee": "each table is (epsilon, delta)-DP", "non_private_tables": [],
                                   "tables": {"census": {"private": True, "epsilon": 3.0, "epsilon_spent": 2.97,
                                                         "delta_spent": 1e-6, "split": {"preprocessing_epsilon": 0.9},
                                                         "training": {"mechanism": "dp-sgd", "steps": 120,
                                                                      "noise_multiplier": 1.1}}}}}}
    report = {"results": [{"validator": "privacy", "details": {"tables": {"census": {
        "exact_match_rate": 0.0, "baseline_exact_match_rate": 0.0, "dcr": {"median_ratio": 1.02},
        "membership_inference": {"auc": 0.51}}}}}]}
    section = privacy_section(manifest, report)
    row = section["tables"]["census"]
    assert row["epsilon_spent"] == 2.97 and row["membership_inference_auc"] == 0.51 and row["steps"] == 120
    text = to_markdown(section)
    assert "2.97 / 3" in text and "0.51" in text


def test_a_model_without_dp_says_so():
    section = privacy_section({"privacy": {}}, None)
    assert section["guarantee"] == "no differential privacy" and section["tables"] == {}
