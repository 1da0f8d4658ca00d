"""Rules enforced around every generator: computed, learnt as a free part, or redrawn, and saved with the model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.errors import ConfigError, MetadataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata import rules as R
from hiveframe.pipeline.synthesizer import Synthesizer


def _loans(n: int = 400, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    kind = rng.choice(["individual", "joint"], size=n, p=[0.8, 0.2])
    joint = np.where(kind == "joint", rng.normal(90_000, 20_000, n).round(2), np.nan)
    a = rng.gamma(2.0, 300.0, n).round(2)
    b = rng.gamma(2.0, 50.0, n).round(2)
    opened = rng.uniform(0, 100, n).round(1)
    closed = (opened + rng.exponential(30, n)).round(1)
    sub = rng.choice(["A1", "A2", "B1", "B3", "C2"], size=n)
    city = rng.choice(["Paris", "Lyon", "Nice"], size=n)
    return pa.table({
        "kind": kind, "joint_income": pa.array(joint, mask=np.isnan(joint)), "a": a, "b": b,
        "total": (a + b).round(2), "opened": opened, "closed": closed, "sub": sub, "grade": [s[0] for s in sub],
        "city": city, "zip": [{"Paris": "75", "Lyon": "69", "Nice": "06"}[c] for c in city],
        "ref": [f"R{i:05d}" for i in rng.permutation(n)],
    })


def _metadata(data: pa.Table, *rules: dict) -> Metadata:
    kinds = {"kind": ColumnKind.CATEGORICAL, "sub": ColumnKind.CATEGORICAL, "grade": ColumnKind.CATEGORICAL,
             "city": ColumnKind.CATEGORICAL, "zip": ColumnKind.CATEGORICAL, "ref": ColumnKind.CATEGORICAL}
    cols = tuple(Column(f.name, kinds.get(f.name, ColumnKind.NUMERICAL), dtype=str(f.type),
                        nullable=data.column(f.name).null_count > 0) for f in data.schema)
    return Metadata(tables=(Table("loans", cols, constraints=tuple(rules)),))


RULES = (
    R.if_then("kind == 'individual'", "isnull(joint_income)"),
    R.if_then("kind != 'individual'", "notnull(joint_income)"),
    R.formula("total", "a + b", tolerance=0.005),
    R.formula("grade", "sub[0]"),
    R.inequality("opened", "closed"),
    R.fixed_combinations(["city", "zip"]),
)


def test_every_rule_holds_on_every_synthetic_row():
    data = _loans()
    synth = Synthesizer(_metadata(data, *RULES), seed=1).fit({"loans": data})
    out = synth.sample(scale=2.0)["loans"]
    assert out.num_rows == 800
    for rule in RULES:
        assert R.holds(rule, out, combinations=[["Paris", "75"], ["Lyon", "69"], ["Nice", "06"]]).all(), rule
    # without the rules the copula breaks them: the test could fail
    plain = Synthesizer(_metadata(data), seed=1).fit({"loans": data}).sample(scale=2.0)["loans"]
    assert not R.holds(RULES[2], plain).all()
    # the rejection rate is reported
    report = synth.engine.rule_reports["loans"]
    assert report["rows"] == 800 and report["drawn"] >= 800
    assert report["rejection_rate"] == pytest.approx((report["drawn"] - 800) / report["drawn"])


def test_bound_columns_are_computed_and_the_gap_is_learnt():
    data = _loans()
    synth = Synthesizer(_metadata(data, *RULES), seed=1).fit({"loans": data})
    plan = synth.engine.plans["loans"].rules
    assert [f["column"] for f in plan["formulas"]] == ["total", "grade"]
    assert plan["gaps"] == [{"low": "opened", "high": "closed", "strict": False, "dtype": "double"}]
    model_columns = synth.table_generators["loans"].fitted_table.column_names
    assert "total" not in model_columns and "grade" not in model_columns and "zip" not in model_columns
    # the gap kept its shape: synthetic closed - opened has the real mean within 25%
    out = synth.sample(seed=3)["loans"]
    real_gap = np.mean(np.asarray(data["closed"]) - np.asarray(data["opened"]))
    gap = np.mean(np.asarray(out["closed"]) - np.asarray(out["opened"]))
    assert gap == pytest.approx(real_gap, rel=0.25)


def test_rules_survive_save_and_load(tmp_path):
    data = _loans()
    synth = Synthesizer(_metadata(data, *RULES), seed=1).fit({"loans": data})
    first = synth.sample(seed=5)["loans"]
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model").sample(seed=5)["loans"]
    assert again.equals(first)
    for rule in RULES[:5]:
        assert R.holds(rule, again).all()


def test_rejection_unique_and_regex_and_a_rule_that_cannot_be_met():
    data = _loans()
    rules = (R.unique("ref"), R.regex("ref", r"R0[0-2]\d{3}"), R.range_rule("a", 0, 2000))
    out = Synthesizer(_metadata(data, *rules), seed=1, force_rules=True).fit({"loans": data}).sample(scale=0.5)["loans"]
    for rule in rules:
        assert R.holds(rule, out).all()
    with pytest.raises(ConfigError, match=r"rule 'unique city' cannot be met: after \d+ redraws"):
        Synthesizer(_metadata(data, R.unique("city")), seed=1, force_rules=True).fit({"loans": data}).sample(scale=0.1)


def test_precision_of_each_column_is_kept():
    data = _loans()
    out = Synthesizer(_metadata(data), seed=1).fit({"loans": data}).sample()["loans"]
    for col, d in (("a", 2), ("opened", 1), ("closed", 1)):
        x = np.asarray(out[col])
        assert np.allclose(np.round(x, d), x, atol=1e-9), col


def test_violated_rules_are_refused_unless_forced():
    data = _loans()
    broken = R.formula("total", "a")
    with pytest.raises(MetadataError, match=r"breaks rule 'total = a' on 400 of 400 rows \(100.00%\)"):
        Synthesizer(_metadata(data, broken)).fit({"loans": data})
    out = Synthesizer(_metadata(data, broken), force_rules=True).fit({"loans": data}).sample()["loans"]
    assert R.holds(broken, out).all()
    # a detected rule tolerates the rows detect counted against it
    noted = {**R.formula("total", "a + b + 0.01"), "detection": {"support": 0.0, "rows": 400, "rows_against": 400}}
    Synthesizer(_metadata(data, noted)).fit({"loans": data})


def test_unknown_columns_and_contradictions_fail_before_training():
    data = _loans()
    with pytest.raises(MetadataError, match="(?s)'totl'.*did you mean 'total'"):
        Synthesizer(_metadata(data, R.formula("totl", "a + b"))).fit({"loans": data})
    with pytest.raises(MetadataError, match="contradictory rules"):
        Synthesizer(_metadata(data, R.formula("total", "a + b"), R.formula("total", "a"))).fit({"loans": data})


def test_if_then_with_a_value_on_a_numeric_condition():
    rng = np.random.default_rng(0)
    age = rng.integers(10, 70, 300)
    income = np.where(age < 18, 0.0, rng.gamma(2, 20_000, 300).round(0))
    data = pa.table({"age": age, "income": income})
    md = Metadata(tables=(Table("people", (Column("age", ColumnKind.NUMERICAL, dtype="int64"),
                                          Column("income", ColumnKind.NUMERICAL, dtype="double")),
                                constraints=(R.if_then("age < 18", "income == 0"), R.positive("income"))),))
    out = Synthesizer(md, seed=2).fit({"people": data}).sample(scale=3)["people"]
    young = np.asarray(out["age"]) < 18
    assert young.any() and np.all(np.asarray(out["income"])[young] == 0)


def test_a_childs_date_after_its_parents_across_the_foreign_key():
    rng = np.random.default_rng(0)
    placed = rng.uniform(0, 1000, 60).round(0)
    order_of = rng.integers(0, 60, 300)
    shipped = (placed[order_of] + rng.exponential(5, 300)).round(1)
    db = {"orders": pa.table({"id": np.arange(60), "placed": placed}),
          "items": pa.table({"order_id": order_of, "shipped": shipped, "qty": rng.integers(1, 5, 300)})}
    md = Metadata(
        tables=(Table("orders", (Column("id", ColumnKind.ID, dtype="int64"),
                                 Column("placed", ColumnKind.NUMERICAL, dtype="double")), primary_key=("id",)),
                Table("items", (Column("order_id", ColumnKind.ID, dtype="int64"),
                                Column("shipped", ColumnKind.NUMERICAL, dtype="double"),
                                Column("qty", ColumnKind.NUMERICAL, dtype="int64")),
                      constraints=(R.inequality("placed", "shipped", low_table="orders"),))),
        foreign_keys=(ForeignKey("items", ("order_id",), "orders", ("id",)),))
    synth = Synthesizer(md, seed=0).fit(db)
    out = synth.sample(scale=1.0)
    ok = R.check_rules(md, out, force=True)
    assert ok == []
    assert synth.engine.rule_reports["items"]["drawn"] >= out["items"].num_rows


def test_rules_naming_keys_or_pii_are_refused():
    data = pa.table({"id": [1, 2, 3, 4], "v": [1.0, 2.0, 3.0, 4.0]})
    md = Metadata(tables=(Table("t", (Column("id", ColumnKind.ID, dtype="int64"),
                                      Column("v", ColumnKind.NUMERICAL, dtype="double")), primary_key=("id",),
                                constraints=(R.formula("v", "id * 1.0"),)),))
    with pytest.raises(ConfigError, match="name key, id or PII columns"):
        Synthesizer(md, generator="gaussian_copula").fit({"t": data})


def _public(data: pa.Table, md: Metadata) -> Metadata:
    """Public bounds and categories, as differential privacy needs them."""
    from dataclasses import replace

    t = md.table("loans")
    cols = tuple(replace(c, low=0.0, high=5000.0) if c.kind == ColumnKind.NUMERICAL
                 else replace(c, categories=tuple(sorted(set(data[c.name].to_pylist())))) for c in t.columns)
    return md.with_table(replace(t, columns=cols))


def test_under_dp_declared_and_reviewed_rules_hold_and_fit_time_detection_is_refused():
    data = _loans().select(["kind", "a", "b", "total", "sub", "grade", "opened", "closed"])
    md = _public(data, _metadata(data))
    declared = md.with_rule("loans", R.formula("total", "a + b")).with_rule("loans", R.formula("grade", "sub[0]"))
    declared = declared.with_rule("loans", R.inequality("opened", "closed"))
    synth = Synthesizer(declared, dp={"epsilon": 1.0}, seed=0).fit({"loans": data})
    plan = synth.engine.plans["loans"].rules
    # nothing learnt from the private rows: no precision, the order rule redrawn rather than learnt as a gap
    assert plan["decimals"] == {} and plan["gaps"] == []
    out = synth.sample()["loans"]
    for rule in declared.table("loans").constraints:
        assert R.holds(rule, out).all()
    # a rule `hiveframe detect` wrote into a metadata file the user passes is declared, as its keys are
    # (detect, review, fit: docs/privacy.md); its detection record (exact counts) never reaches the model
    reviewed = md.with_rule("loans", {**R.formula("total", "a + b"),
                                      "detection": {"support": 1.0, "rows": 400, "rows_against": 0}})
    synth = Synthesizer(reviewed, dp={"epsilon": 1.0}, seed=0).fit({"loans": data})
    assert R.holds(R.formula("total", "a + b"), synth.sample()["loans"]).all()
    assert "detection" not in synth.metadata.to_json() and "rows_against" not in synth.metadata.to_json()
    # detecting them at fit from the private rows is detected metadata: refused without the opt-in
    with pytest.raises(MetadataError, match="differential privacy needs declared metadata"):
        Synthesizer(dp={"epsilon": 1.0}, seed=0).fit({"loans": data})
