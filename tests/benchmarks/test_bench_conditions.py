"""The conditions and missingness benchmarks' own logic: forcing rejection, and the figures they compute."""

from __future__ import annotations

import pyarrow as pa

from benchmarks.bench_conditions import conditional_tvd, share, without_native_conditioning
from benchmarks.bench_missingness import joint_rule_kept


def test_rejection_is_forced_for_the_draw_and_native_conditioning_comes_back():
    from hiveframe.baseline import GaussianCopula

    model = GaussianCopula()
    assert model.conditional
    with without_native_conditioning(model):
        assert not model.conditional and not GaussianCopula.conditional
    assert model.conditional and "conditional" not in GaussianCopula.__dict__


def test_shares_and_the_conditional_distance_to_the_real_class():
    real = pa.table({"income": [">50K", ">50K", "<=50K", "<=50K"], "sex": ["Male", "Female", "Female", "Female"]})
    synthetic = pa.table({"income": [">50K", ">50K"], "sex": ["Male", "Male"]})
    assert share(synthetic, "income", ">50K") == 1.0
    assert conditional_tvd(synthetic, real, "income", ">50K", ["sex"]) == 0.5
    assert conditional_tvd(real.slice(0, 2), real, "income", ">50K", ["sex"]) == 0.0


def test_the_joint_income_rule_counts_individual_rows_with_every_joint_column_null():
    t = pa.table({"application_type": ["individual", "individual", "joint", "joint"],
                  "annual_income_joint": [None, 1.0, 2.0, None],
                  "verification_income_joint": [None, None, "Verified", "Verified"],
                  "debt_to_income_joint": [None, None, 3.0, 4.0]})
    assert joint_rule_kept(t) == 0.5
