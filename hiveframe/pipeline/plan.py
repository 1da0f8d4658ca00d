"""The relational plan: what the engine learnt about a database, table by table.

The plan is the seam between the engine's phases and everyone who reads what was learnt (the model
store, the Spark engine, reports): per table its rows, modelled columns, child summaries, context
columns, relations (which foreign key drives the table's rows, which are matched afterwards),
self-references, key formats and filled columns, and whether its children come as sequences. It is
plain data: JSON values plus numpy arrays (:meth:`DatabasePlan.to_state`), with the linkage models as
components saved with :func:`hiveframe.persistence.save_component`.

Example::

    plan = synth.engine.plan
    for name in plan.order():
        print(name, plan.driver_parent(name), sorted(plan.key_formats(name)))

:func:`derive_seed` is the one way seeds of steps and tables are derived from the user's seed, so that
another engine (Spark, one call per partition) draws exactly what the kernel's engine draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.pipeline.assign import AssignmentModel, GaussianAssignment
from hiveframe.pipeline.forest import ForestModel

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import LinkageModel


def derive_seed(seed: int, *parts: Any) -> int:
    """A seed for one step of one table, stable across runs and platforms (no ``hash()``)."""
    text = repr((int(seed),) + tuple(parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def modelled_columns(metadata: Metadata, table: Table) -> list[str]:
    """Columns a table generator learns: everything but keys, ids and PII."""
    skip = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    return [
        c.name for c in table.columns
        if c.name not in skip and c.kind not in (ColumnKind.ID, ColumnKind.PII)
    ]


def pii_columns(metadata: Metadata, table: Table) -> list[str]:
    """PII columns that are not keys: replaced by the PII wrapper of the table's generator."""
    skip = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    return [c.name for c in table.columns if c.name not in skip and c.kind == ColumnKind.PII]


# -- the plan: what was learned per table ----------------------------------------------------------
@dataclass
class ContextColumn:
    """One context column of a child table: where its value comes from in the driver parent."""

    name: str
    source: str  # "column" (a parent column), "context" (the parent's own context), "count"
    ref: str
    column: Column

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "ref": self.ref, "column": self.column.to_dict()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContextColumn:
        return cls(data["name"], data["source"], data["ref"], Column.from_dict(data["name"], data["column"]))


@dataclass
class SummaryColumn:
    """A column a parent's generator learns: a summary of the children it drives."""

    name: str
    child: str
    child_column: str
    column: Column
    #: siblings (nearly) always share the value: children copy it from their parent
    inherited: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "child": self.child, "child_column": self.child_column,
                "column": self.column.to_dict(), "inherited": self.inherited}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SummaryColumn:
        return cls(data["name"], data["child"], data["child_column"], Column.from_dict(data["name"], data["column"]),
                   bool(data["inherited"]))


@dataclass
class Relation:
    """A foreign key to another table, as the engine uses it."""

    fk_index: int
    role: str  # "driver" or "secondary"
    null_rate: float
    low: int
    high: int
    coverage: float
    exact_one: bool
    linkage: LinkageModel = None  # type: ignore[assignment]  # set once the parent's features are known
    parent_rows: int = 0
    total: int = 0
    assign: AssignmentModel | GaussianAssignment | None = None
    ancestor: dict[str, Any] | None = None
    unique_pair: bool = False
    no_self: bool = False
    #: orphan policy "keep": {"share": of the rows without a parent, those with a key no parent has;
    #: "distinct": distinct such keys per row; "formats": per child column, the format of those keys}
    dangling: dict[str, Any] | None = None


@dataclass
class SelfRef:
    """A foreign key of a table to itself, generated as a forest."""

    fk_index: int
    forest: ForestModel


@dataclass
class TablePlan:
    """What the engine learnt about one table."""

    name: str
    index: int
    real_rows: int
    modelled: list[str]
    summaries: list[SummaryColumn] = field(default_factory=list)
    #: columns that are aggregates of the children this table drives (recomputed after sampling them)
    derived: list[dict[str, Any]] = field(default_factory=list)
    context: list[ContextColumn] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    self_refs: list[SelfRef] = field(default_factory=list)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema: pa.Schema | None = None
    has_columns: bool = True
    #: PII columns: given to the (PII-wrapped) generator, never to a relational model
    pii: list[str] = field(default_factory=list)
    #: string columns unique in the real table, with their real values (kept unique when sampling)
    unique: dict[str, list[str]] = field(default_factory=dict)
    #: how the table's rules are enforced (see :mod:`hiveframe.pipeline.rules`); empty without rules
    rules: dict[str, Any] = field(default_factory=dict)
    #: the driver's children come as sequences from the table's sequence generator (see
    #: :class:`hiveframe.components.SequenceGenerator`): ``{"order_by": column or None}``, else None
    sequence: dict[str, Any] | None = None

    @property
    def driver(self) -> Relation | None:
        for rel in self.relations:
            if rel.role == "driver":
                return rel
        return None

    @property
    def secondaries(self) -> list[Relation]:
        return [r for r in self.relations if r.role == "secondary"]

    @property
    def context_names(self) -> list[str]:
        return [c.name for c in self.context]

    @property
    def summary_names(self) -> list[str]:
        return [c.name for c in self.summaries]

    @property
    def generated(self) -> list[str]:
        """What the table's generator outputs: its modelled columns, then child summaries."""
        return self.modelled + self.summary_names



@dataclass(frozen=True)
class KeyFormat:
    """How the engine generates one key or filled column: the format (see
    :mod:`hiveframe.pipeline.keys`; ``kind`` is ``int``, ``counter``, ``template``, ``concat``,
    ``prefixed``...) and whether its values are unique in the table."""

    column: str
    format: Mapping[str, Any]
    unique: bool
    #: "key" (a primary key column) or "fill" (an id-like column that is not modelled)
    role: str

    @property
    def kind(self) -> str:
        return str(self.format["kind"])


@dataclass
class DatabasePlan:
    """The plan of every table, with the engine settings it was made with."""

    tables: dict[str, TablePlan] = field(default_factory=dict)
    linkage: str = "conditional"
    linkage_params: dict[str, Any] = field(default_factory=dict)
    max_context_columns: int = 5
    max_summary_columns: int = 2

    def order(self) -> list[str]:
        """Tables in generation order (parents before the children they drive)."""
        return [p.name for p in sorted(self.tables.values(), key=lambda p: p.index)]

    def roots(self) -> list[str]:
        """Tables whose rows no parent drives: their row counts are set by ``scale`` or ``rows``."""
        return [n for n in self.order() if self.tables[n].driver is None]

    def driver_parent(self, name: str, metadata: Metadata) -> str | None:
        """The table whose rows create ``name``'s rows, or None for a root."""
        driver = self.tables[name].driver
        return None if driver is None else metadata.foreign_keys[driver.fk_index].parent_table

    def key_formats(self, name: str) -> dict[str, KeyFormat]:
        """Per generated key or filled column of table ``name``: how its values are made."""
        plan = self.tables[name]
        out = {c: KeyFormat(c, dict(fmt), True, "key") for c, fmt in plan.keys.items()}
        out.update({c: KeyFormat(c, dict(spec["format"]), bool(spec["unique"]), "fill")
                    for c, spec in plan.fills.items()})
        return out

    def rows_at_scale(self, name: str, scale: float) -> int:
        """The rows a root table gets at ``scale`` (at least one where the real table had any)."""
        real = self.tables[name].real_rows
        return max(1, int(np.floor(real * scale + 0.5))) if real else 0

    # -- state -----------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, LinkageModel]]:
        """JSON values, arrays and the linkage components (to save with save_component)."""
        values: dict[str, Any] = {"linkage": self.linkage, "linkage_params": self.linkage_params,
                                  "max_context_columns": self.max_context_columns,
                                  "max_summary_columns": self.max_summary_columns, "tables": {}}
        arrays: dict[str, np.ndarray] = {}
        components: dict[str, LinkageModel] = {}
        for name, plan in self.tables.items():
            prefix = f"t{plan.index}"
            rels = []
            for rel in plan.relations:
                key = f"{prefix}_fk{rel.fk_index}"
                components[key] = rel.linkage
                entry = {"fk_index": rel.fk_index, "role": rel.role, "null_rate": rel.null_rate, "low": rel.low,
                         "high": rel.high, "coverage": rel.coverage, "exact_one": rel.exact_one, "parent_rows": rel.parent_rows,
                         "total": rel.total,
                         "ancestor": rel.ancestor, "unique_pair": rel.unique_pair, "no_self": rel.no_self,
                         "linkage": key}
                if rel.dangling is not None:
                    entry["dangling"] = rel.dangling
                if rel.assign is not None:
                    v, a = rel.assign.to_state()
                    entry["assign"] = v
                    arrays.update({f"{key}_assign_{k}": x for k, x in a.items()})
                rels.append(entry)
            selfs = []
            for ref in plan.self_refs:
                v, a = ref.forest.to_state()
                selfs.append({"fk_index": ref.fk_index, "forest": v})
                arrays.update({f"{prefix}_self{ref.fk_index}_{k}": x for k, x in a.items()})
            assert plan.schema is not None
            arrays[f"{prefix}_schema"] = np.frombuffer(plan.schema.serialize().to_pybytes(), dtype=np.uint8)
            values["tables"][name] = {
                "index": plan.index, "real_rows": plan.real_rows, "modelled": plan.modelled,
                "summaries": [c.to_json() for c in plan.summaries], "derived": plan.derived,
                "context": [c.to_json() for c in plan.context], "relations": rels, "self_refs": selfs,
                "keys": plan.keys, "fills": plan.fills, "has_columns": plan.has_columns, "pii": plan.pii,
                "unique": plan.unique, "rules": plan.rules,
            }
            if plan.sequence is not None:
                values["tables"][name]["sequence"] = plan.sequence
        return values, arrays, components

    @classmethod
    def from_state(cls, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                   components: Mapping[str, LinkageModel]) -> DatabasePlan:
        import pyarrow as pa

        out = cls(linkage=str(values["linkage"]), linkage_params=dict(values["linkage_params"]),
                  max_context_columns=int(values["max_context_columns"]),
                  max_summary_columns=int(values["max_summary_columns"]))
        for name, t in values["tables"].items():
            prefix = f"t{t['index']}"
            plan = TablePlan(name=name, index=int(t["index"]), real_rows=int(t["real_rows"]),
                             modelled=list(t["modelled"]), has_columns=bool(t["has_columns"]),
                             pii=list(t.get("pii", [])))
            plan.context = [ContextColumn.from_json(c) for c in t["context"]]
            plan.summaries = [SummaryColumn.from_json(c) for c in t["summaries"]]
            plan.derived = [dict(d) for d in t["derived"]]
            for r in t["relations"]:
                key = r["linkage"]
                rel = Relation(fk_index=int(r["fk_index"]), role=r["role"], null_rate=float(r["null_rate"]),
                               low=int(r["low"]), high=int(r["high"]), coverage=float(r["coverage"]),
                               exact_one=bool(r["exact_one"]), linkage=components[key], ancestor=r["ancestor"],
                               parent_rows=int(r["parent_rows"]), total=int(r["total"]),
                               unique_pair=bool(r["unique_pair"]), no_self=bool(r["no_self"]),
                               dangling=dict(r["dangling"]) if r.get("dangling") else None)
                if "assign" in r:
                    sub = {k[len(key) + 8:]: v for k, v in arrays.items() if k.startswith(f"{key}_assign_")}
                    rel.assign = AssignmentModel.from_state(r["assign"], sub)
                plan.relations.append(rel)
            for s in t["self_refs"]:
                tag = f"{prefix}_self{s['fk_index']}_"
                sub = {k[len(tag):]: v for k, v in arrays.items() if k.startswith(tag)}
                plan.self_refs.append(SelfRef(int(s["fk_index"]), ForestModel.from_state(s["forest"], sub)))
            plan.keys = {k: dict(v) for k, v in t["keys"].items()}
            plan.fills = {k: dict(v) for k, v in t["fills"].items()}
            plan.unique = {k: [str(x) for x in v] for k, v in (t.get("unique") or {}).items()}
            plan.rules = dict(t.get("rules") or {})
            plan.sequence = dict(t["sequence"]) if t.get("sequence") else None
            plan.schema = pa.ipc.read_schema(pa.py_buffer(np.asarray(arrays[f"{prefix}_schema"]).tobytes()))
            out.tables[name] = plan
        return out
