"""Applying QA filters: removed rows take the rows that reference them along (children, self-references)."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database, FilterOutcome, QAFilter, ValidationResult
from hiveframe.errors import ConfigError
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import integrity_problems
from hiveframe.pipeline.qa import apply_filters, cascade
from hiveframe.plugins import PluginHost


@attrs.define(kw_only=True, eq=False)
class DropRegion(QAFilter):
    """Removes customers of one region (a stand-in for any filter that removes parents)."""

    name: ClassVar[str] = "qa_drop_region"
    region: str = "n"

    def _filter(self, synthetic, metadata, real, domains, holdout):
        mask = np.asarray(synthetic["customer"].column("region").to_pylist(), dtype=object) == self.region
        return FilterOutcome(ValidationResult(self.name, summary="dropped"), {"customer": mask})


class _Plugin:
    @hookimpl
    def hiveframe_register_validators(self):
        return [DropRegion]


def shop() -> tuple[Database, Metadata]:
    rng = np.random.default_rng(1)
    n = 120
    customers = pa.table({"cid": np.arange(n), "region": rng.choice(["n", "s"], n),
                          "referrer": pa.array([None] + list(range(n - 1)), type=pa.int64())})
    owner = np.repeat(np.arange(n), rng.integers(0, 4, n))
    orders = pa.table({"oid": np.arange(len(owner)), "cid": owner, "amount": rng.gamma(2, 30, len(owner))})
    md = Metadata(
        tables=(Table("customer", (Column("cid", ColumnKind.ID, "int64"), Column("region", ColumnKind.CATEGORICAL),
                                   Column("referrer", ColumnKind.ID, "int64")), primary_key=("cid",)),
                Table("orders", (Column("oid", ColumnKind.ID, "int64"), Column("cid", ColumnKind.ID, "int64"),
                                 Column("amount", ColumnKind.NUMERICAL, "double")), primary_key=("oid",))),
        foreign_keys=(ForeignKey("orders", ("cid",), "customer", ("cid",)),
                      ForeignKey("customer", ("referrer",), "customer", ("cid",))),
    )
    return Database({"customer": customers, "orders": orders}), md


def test_cascade_follows_foreign_keys_and_self_references() -> None:
    db, md = shop()
    remove = {"customer": np.zeros(db["customer"].num_rows, dtype=bool)}
    remove["customer"][100] = True  # 100 referred 101, who referred 102 ... up to 119
    out = cascade(md, db.tables, remove)
    assert np.flatnonzero(out["customer"]).tolist() == list(range(100, 120))
    owners = np.asarray(db["orders"].column("cid").to_pylist())
    assert np.array_equal(out["orders"], owners >= 100)


def test_removing_parents_keeps_the_database_intact() -> None:
    db, md = shop()
    host = PluginHost()
    host.register(_Plugin(), name="test-qa")
    synth = Synthesizer(md, host=host, seed=3).fit(db)
    out = synth.sample(qa=["drop_region"])
    assert "n" not in set(out["customer"].column("region").to_pylist())
    assert not integrity_problems(md, out)
    entry = synth.qa_report["filters"][0]
    assert entry["removed"]["customer"] > 0 and entry["cascaded"].get("orders", 0) > 0
    before, after = synth.qa_report["rows_before"], synth.qa_report["rows_after"]
    assert after["orders"] == before["orders"] - entry["cascaded"]["orders"]
    assert after["customer"] == out["customer"].num_rows


def test_qa_arguments_are_checked_before_sampling() -> None:
    db, md = shop()
    synth = Synthesizer(md, seed=3).fit(db)
    with pytest.raises(ConfigError, match="real data is only used by QA filtering"):
        synth.sample(real=db)
    with pytest.raises(ConfigError, match="compares synthetic rows with the real ones"):
        synth.sample(qa=["memorization"])
    with pytest.raises(ConfigError, match="the real data lacks table"):
        synth.sample(qa=True, real={"customer": db["customer"]})
    out = synth.sample(qa=True, real=db)
    assert [e["filter"] for e in synth.qa_report["filters"]][-1] == "qa_memorization"
    assert not integrity_problems(md, out)


def test_a_filter_returning_a_wrong_mask_is_refused() -> None:
    db, md = shop()

    @attrs.define(kw_only=True, eq=False)
    class Short(DropRegion):
        name: ClassVar[str] = "qa_short"

        def _filter(self, synthetic, metadata, real, domains, holdout):
            return FilterOutcome(ValidationResult(self.name), {"customer": np.ones(3, dtype=bool)})

    with pytest.raises(ConfigError, match="returned 3 flags for table 'customer' of 120 rows"):
        apply_filters(db, md, [Short()], domains={"tables": {}})
