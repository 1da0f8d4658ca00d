"""Each statistic against an independent computation (scipy) or a case worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hiveframe_validate import metrics as M
from hiveframe_validate._frame import shared_codes
from scipy import stats


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def test_ks_statistic_matches_scipy(rng):
    for _ in range(5):
        a = rng.normal(size=rng.integers(20, 400))
        b = rng.normal(0.3, 1.4, size=rng.integers(20, 400))
        expected = stats.ks_2samp(a, b, method="asymp")
        assert M.ks_statistic(a, b) == pytest.approx(expected.statistic, abs=1e-12)
        assert M.ks_pvalue(expected.statistic, len(a), len(b)) == pytest.approx(expected.pvalue, rel=1e-6)


def test_ks_with_ties_and_nulls_matches_scipy_on_present_values(rng):
    a = rng.integers(0, 5, 300).astype(float)
    b = rng.integers(0, 6, 200).astype(float)
    a[:30] = np.nan
    assert M.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a[30:], b).statistic, abs=1e-12)


def test_ks_hand_case():
    # CDFs at 1,2,3,4: a = .5,1,1,1 and b = 0,0,.5,1 -> largest gap 1.0 at x=2
    assert M.ks_statistic(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert M.ks_statistic(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 4])) == 0.0
    assert math.isnan(M.ks_statistic(np.array([np.nan]), np.array([1.0])))


def test_tvd_hand_case():
    real = np.array([0, 0, 1, 1, 2, -1])  # frequencies (non-null) .4 .4 .2
    synth = np.array([0, 1, 1, 1])  # .25 .75 0
    # 0.5 * (|.4-.25| + |.4-.75| + |.2-0|) = 0.5 * (.15 + .35 + .2) = 0.35
    assert M.category_tvd(real, synth, 3) == pytest.approx(0.35)


def test_chi_square_matches_scipy(rng):
    real = rng.integers(0, 4, 500)
    synth = rng.choice(4, size=300, p=[0.4, 0.3, 0.2, 0.1])
    stat, p, dof = M.chi_square(real, synth, 4)
    ref = np.bincount(real, minlength=4)
    expected = (ref + 0.5) / (ref.sum() + 2.0) * 300
    sp = stats.chisquare(np.bincount(synth, minlength=4), f_exp=expected)
    assert stat == pytest.approx(sp.statistic)
    assert p == pytest.approx(sp.pvalue)
    assert dof == 3


def test_chi_square_flags_a_category_the_real_column_lacks():
    real = np.array([0] * 50 + [1] * 50)
    synth = np.array([0] * 40 + [1] * 40 + [2] * 20)
    _, p, _ = M.chi_square(real, synth, 3)
    assert p < 1e-6


def test_kl_matches_scipy_entropy():
    p, q = np.array([10.0, 20, 30]), np.array([30.0, 20, 10])
    expected = stats.entropy((p + 0.5) / (p + 0.5).sum(), (q + 0.5) / (q + 0.5).sum())
    assert M.kl_divergence(p, q) == pytest.approx(expected)
    assert M.kl_divergence(p, p) == pytest.approx(0.0)


def test_binned_kl_hand_case():
    real = np.arange(100, dtype=float)  # quartile bins of 25 values each
    synth = np.r_[np.arange(50, dtype=float), np.full(50, 99.0)]  # 25, 25, 0, 50
    got = M.binned_kl(real, synth, bins=4)
    pr = np.array([25.5, 25.5, 25.5, 25.5]) / 102
    ps = np.array([25.5, 25.5, 0.5, 50.5]) / 102
    assert got == pytest.approx(float(np.sum(pr * np.log(pr / ps))))
    assert M.binned_kl(real, real.copy(), bins=4) == pytest.approx(0.0)


def test_range_and_category_coverage_hand_cases():
    real = np.array([0.0, 10.0])
    assert M.range_coverage(real, np.array([0.0, 10.0])) == 1.0
    assert M.range_coverage(real, np.array([2.0, 7.0])) == pytest.approx(0.5)
    assert M.range_coverage(real, np.array([-5.0, 20.0])) == 1.0
    assert M.out_of_range_share(real, np.array([-1.0, 5.0, 11.0, 3.0])) == pytest.approx(0.5)
    assert M.category_coverage(np.array([0, 1, 2]), np.array([0, 0, 2, 3]), 3) == pytest.approx(2 / 3)
    assert M.new_category_share(np.array([0, 0, 2, 3, -1]), 3) == pytest.approx(0.25)
    assert M.null_rate(np.array([1.0, np.nan, 2.0, np.nan])) == 0.5
    assert M.null_rate(np.array([0, -1, -1, 2])) == 0.5


def test_correlations_match_scipy(rng):
    x = rng.normal(size=200)
    y = 0.6 * x + rng.normal(size=200)
    y[::7] = np.round(y[::7])  # some ties
    assert M.pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert M.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    np.testing.assert_allclose(M.ranks(y), stats.rankdata(y))
    x2 = x.copy()
    x2[:10] = np.nan
    assert M.pearson(x2, y) == pytest.approx(stats.pearsonr(x[10:], y[10:]).statistic)
    assert math.isnan(M.pearson(np.ones(5), np.arange(5.0)))


def test_contingency_similarity_hand_case():
    # real pairs: (0,0) (0,1) (1,1) (1,1): .25 .25 0 .5 ; synthetic: (0,0) x2, (1,0), (1,1): .5 0 .25 .25
    xr, yr = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    xs, ys = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
    # TVD = .5 * (.25 + .25 + .25 + .25) = .5
    assert M.contingency_similarity(xr, yr, xs, ys) == pytest.approx(0.5)
    assert M.contingency_similarity(xr, yr, xr, yr) == pytest.approx(1.0)


def test_cramers_v_matches_scipy(rng):
    x = rng.integers(0, 3, 400)
    y = (x + rng.integers(0, 2, 400)) % 4
    table = np.zeros((3, 4))
    np.add.at(table, (x, y), 1)
    expected = stats.contingency.association(table.astype(int), method="cramer")
    assert M.cramers_v(x, y) == pytest.approx(expected)


def test_correlation_ratio_hand_case():
    codes = np.array([0, 0, 1, 1])
    assert M.correlation_ratio(codes, np.array([1.0, 1.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert M.correlation_ratio(codes, np.array([1.0, 3.0, 1.0, 3.0])) == pytest.approx(0.0)
    # group means 1 and 2, total mean 1.5: between = 2 * 2 * .25 = 1; total = 1 + .5 + ... computed:
    v = np.array([0.0, 2.0, 2.0, 2.0])
    between = 2 * (1 - 1.5) ** 2 + 2 * (2 - 1.5) ** 2
    total = float(((v - v.mean()) ** 2).sum())
    assert M.correlation_ratio(codes, v) == pytest.approx(math.sqrt(between / total))


def test_equal_width_codes_follow_the_real_range():
    xr, xs, k = M.equal_width_codes(np.array([0.0, 10.0, np.nan]), np.array([-50.0, 5.0, 50.0]), bins=10)
    assert xr[0] == 1 and xr[1] == 10 and xr[2] == 11  # NaN past the last edge
    assert xs[0] == 1 and xs[2] == 10  # open outer bins
    assert k == 12


def test_shared_codes_order_real_categories_first():
    real = np.array(["b", "a", "b", None, "c", "b"], dtype=object)
    synth = np.array(["z", "a", None, "z", "b"], dtype=object)
    cr, cs, cats, n_real = shared_codes(real, synth)
    assert cats[:3] == ["b", "a", "c"] and cats[3] == "z" and n_real == 3
    assert cr.tolist() == [0, 1, 0, -1, 2, 0]
    assert cs.tolist() == [3, 1, -1, 3, 0]


def test_count_histogram_pools_wide_ranges():
    h = M.count_histogram(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 3]))
    assert h["labels"] == ["0", "1", "2", "3"]
    assert h["real"] == [0.25, 0.5, 0.25, 0.0]
    wide = M.count_histogram(np.arange(0, 500), np.arange(0, 500))
    assert len(wide["labels"]) <= 25 and sum(wide["real"]) == pytest.approx(1.0)
