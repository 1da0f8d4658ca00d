"""Rules found in the data: proposed with their support, and kept by detect -> fit -> sample."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from hiveframe import detect
from hiveframe.metadata import rules as R
from hiveframe.pipeline.synthesizer import Synthesizer


def _data(n: int = 600, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.integers(10, 400, n) * 100
    rate = rng.choice([5.32, 7.97, 10.9, 13.59, 17.47, 22.9], n)
    term = rng.choice([36, 60], n)
    monthly = rate / 1200
    installment = np.round(amount * monthly / (1 - (1 + monthly) ** -term), 2)
    principal = np.round(rng.uniform(0, 1, n) * amount / 3, 2)
    interest = np.round(principal * rng.uniform(0.05, 0.3, n), 2)
    fees = np.where(rng.random(n) < 0.05, np.round(rng.uniform(5, 30, n), 2), 0.0)
    kind = rng.choice(["individual", "joint"], n, p=[0.85, 0.15])
    joint = np.where(kind == "joint", np.round(rng.normal(120_000, 30_000, n), 0), np.nan)
    sub = rng.choice(["A1", "A4", "B2", "C3", "D1", "E5"], n)
    opened = np.datetime64("2015-01-01") + rng.integers(0, 1000, n).astype("timedelta64[D]")
    closed = opened + rng.integers(1, 400, n).astype("timedelta64[D]")
    noise = rng.normal(0, 1, n)
    return pa.table({
        "amount": amount, "rate": rate, "term": term, "installment": installment, "paid_principal": principal,
        "paid_interest": interest, "paid_fees": fees, "paid_total": np.round(principal + interest + fees, 2),
        "application": kind, "joint_income": pa.array(joint, mask=np.isnan(joint)), "sub_grade": sub,
        "grade": [s[0] for s in sub], "opened": opened, "closed": closed, "noise": noise,
        "other": rng.normal(5, 2, n).round(3),
    })


def test_detect_finds_formulas_null_rules_and_date_order_with_their_support():
    md = detect({"loans": _data()}, rules=True)
    found = {R.describe(r): r["detection"] for r in md.table("loans").constraints}
    assert found["paid_total = paid_principal + paid_interest + paid_fees"]["support"] == 1.0
    assert found["installment = amount * (rate / 1200) / (1 - (1 + rate / 1200) ** (-term))"]["rows"] == 600
    assert "grade = sub_grade[0]" in found
    assert found["if application == 'individual' then isnull(joint_income)"]["rows_against"] == 0
    assert "if application != 'individual' then notnull(joint_income)" in found
    assert "opened <= closed" in found
    # nothing invented between unrelated columns
    assert not any("noise" in k or "other" in k for k in found)
    assert detect({"loans": _data()}).table("loans").constraints == ()  # only on request


def test_support_below_one_is_recorded_and_tolerated_by_fit():
    data = _data()
    totals = np.asarray(data["paid_total"]).copy()
    totals[5] += 1.0
    data = data.set_column(data.schema.get_field_index("paid_total"), "paid_total", pa.array(totals))
    md = detect({"loans": data}, rules=True, min_rule_support=0.99)
    rule = next(r for r in md.table("loans").constraints if r.get("column") == "paid_total")
    assert rule["detection"] == {"support": round(1 - 1 / 600, 6), "rows": 600, "rows_against": 1}
    assert detect({"loans": data}, rules=True).table("loans").constraints != md.table("loans").constraints
    out = Synthesizer(md, seed=0).fit({"loans": data}).sample()["loans"]
    assert R.holds(rule, out).all()


def test_detect_fit_sample_keeps_the_rules_through_json(tmp_path):
    data = _data()
    path = tmp_path / "metadata.json"
    detect({"loans": data}, rules=True).to_json(path)
    md = type(detect({"loans": data})).from_json(path)
    synth = Synthesizer(md, seed=0).fit({"loans": data})
    out = synth.sample(scale=2.0)["loans"]
    rules = md.table("loans").constraints
    assert len(rules) >= 6
    for rule in rules:
        assert R.holds(rule, out).all(), R.describe(rule)
    saved = json.loads((synth.save(tmp_path / "model") / "metadata.json").read_text())
    assert all("detection" not in r for r in saved["tables"]["loans"]["constraints"])  # exact counts stay out


@pytest.mark.slow
def test_the_four_rules_of_loans_are_found(shared_data):
    from hiveframe.pipeline.io import as_database
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    md = detect(as_database(shared_data / "loans", host=host), host=host, rules=True)
    found = [R.describe(r) for r in md.table("loans").constraints]
    assert "paid_total = paid_principal + paid_interest + paid_late_fees" in found
    assert "grade = sub_grade[0]" in found
    assert ("installment = loan_amount * (interest_rate / 1200) / (1 - (1 + interest_rate / 1200) ** (-term))"
            in found)
    assert any(f.startswith("if application_type == 'individual' then isnull(annual_income_joint)") for f in found)
