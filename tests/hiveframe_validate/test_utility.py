"""TSTR against TRTR on Adult slices: a fresh sample keeps utility, a shuffled target loses it."""

from __future__ import annotations

import pytest
from hiveframe_validate.utility import Utility, resolve_target

from hiveframe.components import ValidationContext
from hiveframe.errors import ConfigError

FAST = {"sample_size": 1500, "max_iter": 40, "fractions": (0.0, 0.5, 1.0)}


def run(census, meta, synth, **kw):
    v = Utility(target="income", **{**FAST, **kw})
    context = ValidationContext(holdout={"census": census["holdout"]})
    return v.validate({"census": census["real"]}, {"census": synth}, meta, context)


def test_fresh_sample_keeps_utility(census, census_meta):
    res = run(census, census_meta, census["fresh"])
    t = res.details["tables"]["census"]
    assert t["task"] == "classification" and t["metric"] == "auc" and t["positive_class"] == ">50K"
    assert t["trtr"]["auc"] > 0.85
    assert res.scores["ratio"] == pytest.approx(t["tstr"]["auc"] / t["trtr"]["auc"])
    assert res.scores["ratio"] > 0.95 and res.status == "pass"
    assert [p["real_share"] for p in t["augmentation"]] == [0.0, 0.5, 1.0]
    assert t["augmentation"][-1]["auc"] == pytest.approx(t["trtr"]["auc"])  # 100% real is TRTR
    assert "holdout" in t["note"] and t["rows"]["test"] == 1500  # the holdout, sampled


def test_shuffled_target_loses_utility(census, census_meta, planted):
    res = run(census, census_meta, planted.shuffle_column(census["fresh"], "income"))
    t = res.details["tables"]["census"]
    assert t["tstr"]["auc"] < 0.65 and res.scores["ratio"] < 0.75 and res.status == "fail"
    curve = [p["auc"] for p in t["augmentation"]]
    assert curve[0] < curve[-1]  # more real rows, better model


def test_regression_target_and_no_holdout(census, census_meta):
    v = Utility(target="census.hours_per_week", **FAST)
    res = v.validate({"census": census["real"]}, {"census": census["fresh"]}, census_meta)
    t = res.details["tables"]["census"]
    assert t["task"] == "regression" and t["metric"] == "r2" and "r2" in t["tstr"] and "mae" in t["tstr"]
    assert "saw them" in t["note"]
    assert 0.0 < t["trtr"]["r2"] < 1.0


def test_no_target_is_informative_and_bad_targets_are_errors(census, census_meta):
    res = Utility().validate({"census": census["real"]}, {"census": census["fresh"]}, census_meta)
    assert res.status == "info" and "no target" in res.summary
    with pytest.raises(ConfigError, match="did you mean 'income'"):
        resolve_target(census_meta, "incme")
    with pytest.raises(ConfigError, match="in no table"):
        Utility(target="nope").validate({"census": census["real"]}, {"census": census["fresh"]}, census_meta)
