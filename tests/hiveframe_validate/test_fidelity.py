"""Column, pair and detection validators on Adult slices, planted defects, and SDMetrics agreement."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hiveframe_validate.fidelity import ColumnFidelity, Detection, PairFidelity
from scipy import stats

DETECT = {"sample_size": 800, "max_iter": 40, "repeats": 1}


def run(validator, real, synth, meta):
    return validator.validate({"census": real}, {"census": synth}, meta)


def test_column_scores_match_scipy_ks_and_hand_tvd(census, census_meta):
    real, fresh = census["real"], census["fresh"]
    res = run(ColumnFidelity(sample_size=None), real, fresh, census_meta)
    cols = res.details["tables"]["census"]["columns"]
    age_r = real.column("age").to_numpy().astype(float)
    age_s = fresh.column("age").to_numpy().astype(float)
    assert cols["age"]["ks"] == pytest.approx(stats.ks_2samp(age_r, age_s).statistic, abs=1e-12)
    # TVD by hand with Python counters
    from collections import Counter

    cr, cs = Counter(real.column("race").to_pylist()), Counter(fresh.column("race").to_pylist())
    keys = set(cr) | set(cs)
    tvd = 0.5 * sum(abs(cr[k] / real.num_rows - cs[k] / fresh.num_rows) for k in keys)
    assert cols["race"]["tvd"] == pytest.approx(tvd, abs=1e-12)
    assert res.status == "pass" and res.scores["column_shape"] > 0.95
    assert res.details["tables"]["census"]["sample"]["sampled"] is False


def test_dropped_category_lowers_scores(census, census_meta):
    real = census["real"]
    keep = pc.not_equal(census["fresh"].column("relationship"), "Husband")
    dropped = census["fresh"].filter(keep)
    good = run(ColumnFidelity(), real, census["fresh"], census_meta).details["tables"]["census"]["columns"]
    bad = run(ColumnFidelity(), real, dropped, census_meta).details["tables"]["census"]["columns"]
    rel_good, rel_bad = good["relationship"], bad["relationship"]
    assert rel_bad["score"] < rel_good["score"] - 0.3  # Husband is ~40% of rows
    assert rel_bad["category_coverage"] < 1.0 == rel_good["category_coverage"]
    assert rel_bad["chi2_pvalue"] < 1e-10 < rel_good["chi2_pvalue"]
    assert rel_bad["kl"] > rel_good["kl"]


def test_numeric_shift_and_nulls_are_seen(census, census_meta):
    real, fresh = census["real"], census["fresh"]
    shifted = fresh.set_column(0, "age", pc.add(fresh.column("age"), 15))
    hours = fresh.column("hours_per_week").to_numpy().astype(float)
    hours[: len(hours) // 4] = np.nan
    holey = shifted.set_column(shifted.column_names.index("hours_per_week"), "hours_per_week",
                               pa.array(hours, from_pandas=True))
    res = run(ColumnFidelity(), real, holey, census_meta)
    cols = res.details["tables"]["census"]["columns"]
    assert cols["age"]["ks"] > 0.3 and cols["age"]["out_of_range_share"] > 0.0
    assert cols["hours_per_week"]["null_rate_diff"] == pytest.approx(0.25, abs=0.01)
    assert res.status == "fail"  # the null-rate band fails at 0.1
    assert res.details["tables"]["census"]["worst_column"] == "age"


def test_shuffled_column_breaks_pairs_but_not_columns(census, census_meta, planted):
    real = census["real"]
    shuffled = planted.shuffle_column(census["fresh"], "education_num")
    good = run(PairFidelity(), real, census["fresh"], census_meta).details["tables"]["census"]
    bad = run(PairFidelity(), real, shuffled, census_meta).details["tables"]["census"]
    pair = lambda t, a, b: next(p for p in t["pairs"] if {p["a"], p["b"]} == {a, b})  # noqa: E731
    assert pair(bad, "education", "education_num")["score"] < 0.5 < pair(good, "education", "education_num")["score"]
    edu_age_bad = pair(bad, "age", "education_num")
    assert edu_age_bad["kind"] == "numeric" and edu_age_bad["pearson_synthetic"] == pytest.approx(0, abs=0.08)
    assert bad["mean_abs_pearson_diff"] > good["mean_abs_pearson_diff"]
    assert bad["score"] < good["score"]
    cols = run(ColumnFidelity(), real, shuffled, census_meta).details["tables"]["census"]["columns"]
    assert cols["education_num"]["score"] > 0.95


def test_pair_figures_match_scipy(census, census_meta):
    real, fresh = census["real"], census["fresh"]
    t = run(PairFidelity(sample_size=None), real, fresh, census_meta).details["tables"]["census"]
    p = next(p for p in t["pairs"] if {p["a"], p["b"]} == {"age", "hours_per_week"})
    a, h = real.column("age").to_numpy().astype(float), real.column("hours_per_week").to_numpy().astype(float)
    assert p["pearson_real"] == pytest.approx(stats.pearsonr(a, h).statistic)
    assert p["spearman_real"] == pytest.approx(stats.spearmanr(a, h).statistic)
    assert t["matrix"]["columns"][0] == "age" and len(t["matrix"]["difference"]) == len(t["matrix"]["columns"])


def test_detection_separates_fresh_from_broken_and_flags_copies(census, census_meta, planted):
    real = census["real"]
    fresh = run(Detection(**DETECT), real, census["fresh"], census_meta).details["tables"]["census"]
    broken = run(Detection(**DETECT), real, planted.independent_columns(census["fresh"]), census_meta)
    copy = run(Detection(**DETECT), real, real, census_meta)
    assert abs(fresh["auc"] - 0.5) < 0.08 and abs(fresh["baseline_auc"] - 0.5) < 0.08
    assert broken.details["tables"]["census"]["auc"] > 0.85 and broken.status == "fail"
    c = copy.details["tables"]["census"]
    assert c["auc"] < c["baseline_auc"] - 0.07
    assert any(b["metric"] == "detection_below_baseline" and b["status"] == "warn" for b in copy.details["bands"])
    assert fresh["rows_per_class"] == 800


def test_detection_is_repeatable(census, census_meta):
    a = run(Detection(**DETECT, seed=3), census["real"], census["fresh"], census_meta).scores
    b = run(Detection(**DETECT, seed=3), census["real"], census["fresh"], census_meta).scores
    assert a == b


@pytest.mark.filterwarnings("ignore")
def test_agrees_with_sdmetrics(census, census_meta, planted):
    """KSComplement / TVComplement per column, CorrelationSimilarity / ContingencySimilarity per pair.

    Tolerance 1e-9: the definitions are the same (nulls dropped for column shapes; 10 equal-width bins
    of the real range for numbers in mixed pairs), so any gap is floating-point noise.
    """
    pytest.importorskip("sdmetrics")
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    real = census["real"].to_pandas()
    synth = planted.independent_columns(census["fresh"], seed=1).to_pandas()
    synth.loc[synth.index[:300], "workclass"] = None  # nulls, dropped by both
    mine = ColumnFidelity(sample_size=None).validate({"census": census["real"]},
                                                     {"census": pa.Table.from_pandas(synth)}, census_meta)
    cols = mine.details["tables"]["census"]["columns"]
    for name in ("age", "fnlwgt", "capital_gain"):
        assert cols[name]["score"] == pytest.approx(KSComplement.compute(real[name], synth[name]), abs=1e-9)
    for name in ("workclass", "education", "income"):
        assert cols[name]["score"] == pytest.approx(TVComplement.compute(real[name], synth[name]), abs=1e-9)
    pairs = PairFidelity(sample_size=None).validate({"census": census["real"]},
                                                    {"census": pa.Table.from_pandas(synth)}, census_meta)
    found = {frozenset((p["a"], p["b"])): p for p in pairs.details["tables"]["census"]["pairs"]}
    p = found[frozenset(("age", "hours_per_week"))]
    expect = CorrelationSimilarity.compute(real[["age", "hours_per_week"]], synth[["age", "hours_per_week"]])
    assert p["score"] == pytest.approx(expect, abs=1e-9)
    p = found[frozenset(("sex", "income"))]
    expect = ContingencySimilarity.compute(real[["sex", "income"]], synth[["sex", "income"]])
    assert p["score"] == pytest.approx(expect, abs=1e-9)
    p = found[frozenset(("age", "income"))]
    expect = ContingencySimilarity.compute(real[["age", "income"]], synth[["age", "income"]],
                                           continuous_column_names=["age"], num_discrete_bins=10)
    assert p["score"] == pytest.approx(expect, abs=1e-9)
