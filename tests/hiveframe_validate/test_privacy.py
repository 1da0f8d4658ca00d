"""Privacy: a copy of the training rows must be flagged by every privacy figure; a fresh sample not."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_validate._frame import Col
from hiveframe_validate.privacy import Gower, Privacy

from hiveframe.components import ValidationContext


def test_gower_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    num = Col("x", "numerical", rng.normal(size=40), rng.normal(size=30))
    num.real[3] = np.nan
    num.synthetic[:4] = np.nan
    cat = Col("c", "categorical", rng.integers(-1, 3, 40), rng.integers(-1, 4, 30), ["a", "b", "c", "d"], 3)
    g = Gower([num, cat])
    q = g.encode([num.synthetic, cat.synthetic])
    r = g.encode([num.real, cat.real])
    span = np.nanmax(num.real) - np.nanmin(num.real)

    def dist(i, j):
        a, b = num.synthetic[i], num.real[j]
        dn = (0.0 if np.isnan(a) and np.isnan(b) else 1.0) if np.isnan(a) or np.isnan(b) else min(abs(a - b) / span, 1)
        dc = 0.0 if cat.synthetic[i] == cat.real[j] else 1.0
        return (dn + dc) / 2

    expected = [min(dist(i, j) for j in range(40)) for i in range(30)]
    np.testing.assert_allclose(g.nearest(q, r, block=7), expected, atol=1e-6)


def run(census, meta, synth, holdout=True):
    context = ValidationContext(holdout={"census": census["holdout"]} if holdout else None)
    return Privacy(sample_size=800).validate({"census": census["real"]}, {"census": synth}, meta, context)


def test_fresh_sample_passes(census, census_meta):
    res = run(census, census_meta, census["fresh"])
    t = res.details["tables"]["census"]
    assert t["exact_match_rate"] < 0.01 and t["dcr"]["too_close_share"] < 0.1
    assert abs(t["membership_inference"]["auc"] - 0.5) < 0.06
    assert t["dcr"]["median_ratio"] == pytest.approx(1.0, abs=0.25)
    assert res.status == "pass" and t["protocol"] == "holdout"


def test_copy_of_training_rows_is_flagged(census, census_meta):
    res = run(census, census_meta, census["real"])
    t = res.details["tables"]["census"]
    assert t["exact_match_rate"] == 1.0 and t["dcr"]["zero_distance_share"] == 1.0
    assert t["dcr"]["too_close_share"] > 0.9
    assert t["membership_inference"]["auc"] > 0.95 and t["membership_inference"]["accuracy"] > 0.9
    assert res.status == "fail"
    failing = {b["metric"] for b in res.details["bands"] if b["status"] == "fail"}
    assert failing == {"exact_match_excess", "dcr_too_close", "mia_auc"}


def test_partial_copy_without_holdout_is_flagged(census, census_meta):
    """No holdout: halves of the real table; a synthetic set that is 30% copies still stands out."""
    real, fresh = census["real"], census["fresh"]
    leaky = pa.concat_tables([real.slice(0, 900), fresh.slice(0, 2100)])
    res = run(census, census_meta, leaky, holdout=False)
    t = res.details["tables"]["census"]
    assert "membership_inference" not in t and t["protocol"] == "split real halves"
    assert t["exact_match_rate_any_real"] == pytest.approx(0.3, abs=0.05)
    assert t["dcr"]["too_close_share"] > 0.15
    assert res.status == "fail"
    assert "attack skipped" in res.summary
