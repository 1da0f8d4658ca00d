"""QA filters: each removes exactly the planted bad rows, reports them, and works as a validator too."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_validate.qa import (
    ConstraintFilter,
    DiversityFilter,
    MemorizationFilter,
    RangeFilter,
    SchemaFilter,
)

from hiveframe.components import Database
from hiveframe.errors import ConfigError
from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.pipeline.conditions import fit_domains
from hiveframe.pipeline.qa import apply_filters, make_filters
from hiveframe.plugins import PluginHost

META = Metadata(tables=(Table("people", (
    Column("age", ColumnKind.NUMERICAL, "int64", nullable=False),
    Column("city", ColumnKind.CATEGORICAL),
    Column("score", ColumnKind.NUMERICAL, "double"),
), constraints=({"type": "range", "column": "score", "low": 0, "high": 10},)),))


def real_people(n: int = 400, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"age": rng.integers(18, 80, n), "city": rng.choice(["a", "b", "c"], n),
                     "score": np.round(rng.uniform(0, 10, n), 6)})


def fresh(n: int = 200) -> pa.Table:
    return real_people(n, seed=99)


def with_rows(table: pa.Table, rows: dict[str, list]) -> pa.Table:
    extra = pa.table({k: pa.array(v, type=table.schema.field(k).type) for k, v in rows.items()})
    return pa.concat_tables([table, extra])


def test_schema_filter_removes_nulls_in_required_columns_and_unseen_categories() -> None:
    real = real_people()
    synth = with_rows(fresh(), {"age": [None, 30], "city": ["a", "zz"], "score": [1.0, 2.0]})
    out = SchemaFilter().filter({"people": synth}, META, real={"people": real})
    mask = out.remove["people"]
    assert np.flatnonzero(mask).tolist() == [200, 201]
    assert out.result.details["columns"]["people"] == {"age": 1, "city": 1}
    # the same from the model's domains alone
    domains = fit_domains(META, Database({"people": real}))
    again = SchemaFilter().filter({"people": synth}, META, domains=domains)
    assert np.array_equal(again.remove["people"], mask)


def test_range_filter_uses_the_source_range() -> None:
    real = real_people()
    synth = with_rows(fresh(), {"age": [200, 10], "city": ["a", "a"], "score": [1.0, 2.0]})
    out = RangeFilter().filter({"people": synth}, META, real={"people": real})
    assert np.flatnonzero(out.remove["people"]).tolist() == [200, 201]
    assert out.result.details["removed"] == {"people": 2}
    assert out.result.status == "warn"
    clean = RangeFilter().filter({"people": fresh()}, META, real={"people": real})
    assert clean.remove == {} and clean.result.status == "pass"


def test_constraint_filter_removes_rows_breaking_declared_constraints() -> None:
    synth = with_rows(fresh(), {"age": [30, 31], "city": ["a", "b"], "score": [11.0, -1.0]})
    out = ConstraintFilter().filter({"people": synth}, META, real={"people": real_people()})
    assert np.flatnonzero(out.remove["people"]).tolist() == [200, 201]
    assert out.result.details["constraints"] == {"people#0 range": 2}


def test_diversity_filter_removes_duplicates_beyond_the_source_share_and_reports_collapse() -> None:
    real = real_people()
    base = fresh(100)
    copies = base.take(np.zeros(50, dtype=np.int64))  # one row repeated 50 times
    synth = pa.concat_tables([base, copies])
    out = DiversityFilter().filter({"people": synth}, META, real={"people": real})
    assert int(out.remove["people"].sum()) == 50  # the source has no duplicate rows
    assert not out.remove["people"][:100].any()
    collapsed = pa.table({"age": np.full(100, 30), "city": ["a"] * 100, "score": np.linspace(0, 9, 100)})
    out = DiversityFilter().filter({"people": collapsed}, META, real={"people": real})
    assert "people.city" in out.result.details["mode_collapse"]
    assert not out.remove  # a collapse is reported, not filtered


def test_memorization_filter_removes_copied_real_rows_only() -> None:
    real = real_people(2000)
    synth = pa.concat_tables([fresh(300), real.slice(0, 20)])  # 20 memorized rows at the end
    out = MemorizationFilter().filter({"people": synth}, META, real={"people": real})
    mask = out.remove["people"]
    assert mask[300:].all()
    # about 1% of fresh rows are that close too (the quantile), give or take the baseline's noise
    assert mask[:300].sum() <= 9
    details = out.result.details["tables"]["people"]
    assert details["protocol"] == "split real halves" and details["threshold"] > 0
    # with a holdout, unseen real rows give the baseline
    held = MemorizationFilter().filter({"people": synth}, META, real={"people": real},
                                       holdout={"people": real_people(300, seed=5)})
    assert held.result.details["tables"]["people"]["protocol"] == "holdout"
    assert held.remove["people"][300:].all()


def test_memorization_needs_the_real_rows() -> None:
    domains = fit_domains(META, Database({"people": real_people()}))
    with pytest.raises(ConfigError, match="compares with the real data"):
        MemorizationFilter().filter({"people": fresh()}, META, domains=domains)
    host = PluginHost()
    with pytest.raises(ConfigError, match="--real SOURCE"):
        make_filters(host, ["memorization"], have_real=False)
    assert [f.name for f in make_filters(host, None, have_real=False)] == [
        "qa_schema", "qa_range", "qa_constraint", "qa_diversity"]
    with pytest.raises(ConfigError, match="unknown QA filter 'rnage'"):
        make_filters(host, ["rnage"], have_real=True)


def test_a_filter_is_a_validator_too() -> None:
    synth = with_rows(fresh(), {"age": [200], "city": ["a"], "score": [1.0]})
    result = RangeFilter().validate({"people": real_people()}, {"people": synth}, META)
    assert result.validator == "qa_range" and result.details["removed"] == {"people": 1}


def test_the_report_does_not_run_qa_filters_by_default() -> None:
    from hiveframe_validate.report import _chosen

    chosen = _chosen(PluginHost(), None)
    assert chosen and not any(v.name.startswith("qa_") for v in chosen)


def test_apply_filters_reports_each_filter() -> None:
    real = real_people()
    synth = with_rows(fresh(), {"age": [200, None], "city": ["a", "a"], "score": [1.0, 11.0]})
    filters = make_filters(PluginHost(), ["schema", "range", "constraint"], have_real=True)
    out, report = apply_filters(Database({"people": synth}), META, filters, real={"people": real})
    assert out["people"].num_rows == 200
    assert [(e["filter"], e["removed"]) for e in report["filters"]] == [
        ("qa_schema", {"people": 1}), ("qa_range", {"people": 1}), ("qa_constraint", {})]
    assert report["rows_before"] == {"people": 202} and report["rows_after"] == {"people": 200}
