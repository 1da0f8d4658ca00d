"""The relational engine: fits and samples a whole database, table by table, parents first.

Per table (in topological order of the foreign keys, self-references handled inside the table):

- every foreign key to another table gets a **linkage model** (children per parent row, conditioned
  on the parent's attributes);
- one of them is the **driver**: its parents' sampled counts create the table's rows. The others are
  **secondary** keys, filled by :mod:`hiveframe.pipeline.assign` (degrees from their own linkage
  models, rows matched to parent slots by their likelihood under each parent, same-ancestor and
  unique-pair constraints);
- the table's generator is fitted on its own columns joined with a few **context** columns of the
  driver parent (chosen by :mod:`hiveframe.pipeline.context`, or named in the metadata); a parent's
  context is itself a candidate, so grandparent values can travel down without widening anything;
- **self-references** become forests (:mod:`hiveframe.pipeline.forest`);
- **keys** are generated in the real key's format (:mod:`hiveframe.pipeline.keys`).
- a table whose generator is a **sequence generator** (:class:`hiveframe.components.SequenceGenerator`)
  may get its driver relationship's children from it, all children of one parent together (their
  number, order and rows), instead of from the linkage model plus rows drawn one by one. The rule
  (``_use_sequences``): the generator's ``sequential`` parameter when set; otherwise sequences when
  the children have siblings to learn from (``SEQUENCE_MIN_SIBLINGS`` children on average per parent
  that has any) and no parent has more than ``SEQUENCE_MAX_LENGTH``; never under DP, with rows
  without a driver parent, with a secondary key that fixes the rows per parent, or with null handling
  other than ``model``. The table's first datetime column orders each sequence. Its context columns
  are scored against the parent's number of children too, and never include that number.

The engine works in two phases around a public plan: the fit phase (:mod:`hiveframe.pipeline._fit`)
learns a :class:`hiveframe.pipeline.plan.DatabasePlan` and fits the generators; the sample phase
(:mod:`hiveframe.pipeline._sample`) reads only the plan and the generators. A model directory stores
the plan (:mod:`hiveframe.pipeline.store`); another engine samples partitions of a database with
:meth:`RelationalEngine.sample_partition`.

Everything learned is plain JSON plus numpy arrays (``DatabasePlan.to_state``/``from_state``); linkage
models are components saved with :func:`hiveframe.persistence.save_component`.

Privacy (``pii`` and ``dp``: privacy wrappers, through the public ``PrivacyWrapper`` contract):

- **PII columns** never reach a generator nor any relational model: they are handed, with the
  table's columns, to the table's generator *wrapped by the PII wrapper*, which replaces them before
  its inner generator sees the data and fills them with fakes when sampling; the engine gives the
  wrapper every real PII value of the database first, so that no fake equals one;
- with **differential privacy**, the engine fits with the private policy of
  :mod:`hiveframe.pipeline.policy`: everything it learns from the rows either comes from noisy
  releases charged to the database's budget (children-per-parent histograms, null shares, row
  counts, self-reference fan-outs) or is not learnt: context columns only when the metadata names
  them, no child summaries or derived aggregates, secondary keys matched without looking at content,
  key formats that owe nothing to the real keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hiveframe.pipeline._fit import (
    INHERITED,
    NULL_HANDLING,
    SEQUENCE_MAX_LENGTH,
    SEQUENCE_MIN_SIBLINGS,
    FitPhase,
)
from hiveframe.pipeline._sample import SamplePhase, draw_counts
from hiveframe.pipeline._tables import _spec_name
from hiveframe.pipeline.plan import DatabasePlan, TablePlan, derive_seed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

__all__ = ["DEFAULT_LINKAGE", "INHERITED", "NULL_HANDLING", "SEQUENCE_MAX_LENGTH", "SEQUENCE_MIN_SIBLINGS",
           "RelationalEngine", "derive_seed", "draw_counts"]

DEFAULT_LINKAGE = "conditional"


class RelationalEngine(FitPhase, SamplePhase):
    """Learns how the tables of a database hang together, and regenerates them in that shape."""

    def __init__(self, metadata: Metadata, host: PluginHost, *, linkage: str | type = DEFAULT_LINKAGE,
                 linkage_params: Mapping[str, Any] | None = None, max_context_columns: int = 5,
                 max_summary_columns: int = 2, pii: Any = None, dp: Any = None,
                 null_handling: Mapping[str, str] | None = None, metadata_detected: bool = False) -> None:
        self.metadata = metadata
        self.host = host
        self.linkage = linkage
        self.linkage_params = dict(linkage_params or {})
        self.max_context_columns = int(max_context_columns)
        self.max_summary_columns = int(max_summary_columns)
        self.plan = DatabasePlan(linkage=_spec_name(linkage), linkage_params=self.linkage_params,
                                 max_context_columns=self.max_context_columns,
                                 max_summary_columns=self.max_summary_columns)
        #: the PII wrapper (one per synthesizer, so consistent pseudonyms span tables), or None
        self.pii = pii
        #: the differential privacy wrapper, or None
        self.dp = dp
        #: whether the metadata was detected from the data (refused under DP without the wrapper's opt-in)
        self.metadata_detected = bool(metadata_detected)
        #: per table: "model" (nulls are learnt, the default), "mean" (replaced) or "drop" (rows dropped)
        self.null_handling = dict(null_handling or {})

    @classmethod
    def from_plan(cls, metadata: Metadata, host: PluginHost, plan: DatabasePlan) -> RelationalEngine:
        """An engine that samples what ``plan`` describes (a loaded model)."""
        engine = cls(metadata, host, linkage=plan.linkage, linkage_params=plan.linkage_params,
                     max_context_columns=plan.max_context_columns, max_summary_columns=plan.max_summary_columns)
        engine.plan = plan
        return engine

    @property
    def plans(self) -> dict[str, TablePlan]:
        """The plan of every table (``self.plan.tables``)."""
        return self.plan.tables

    def describe(self) -> dict[str, Any]:
        """What the engine chose, per table (for logs, the CLI and reports)."""
        md = self.metadata
        out = {}
        for name, plan in sorted(self.plans.items(), key=lambda kv: kv[1].index):
            out[name] = {
                "driver": md.foreign_keys[plan.driver.fk_index].name if plan.driver else None,
                "secondary": [md.foreign_keys[r.fk_index].name for r in plan.secondaries],
                "context": plan.context_names,
                "sequence": plan.sequence,
                "child_summaries": plan.summary_names,
                "inherited": [f"{c.child}.{c.child_column}" for c in plan.summaries if c.inherited],
                "aggregates": {d["column"]: f"{d['agg']}({d['child']}.{','.join(d['columns'])})"
                               for d in plan.derived},
                "self_references": [md.foreign_keys[s.fk_index].name for s in plan.self_refs],
                "keys": {k: v["kind"] for k, v in plan.keys.items()},
                "same_ancestor": {md.foreign_keys[r.fk_index].name: r.ancestor["table"]
                                  for r in plan.secondaries if r.ancestor},
            }
        return out
