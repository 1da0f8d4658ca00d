"""The relational engine: fits and samples a whole database, table by table, parents first.

Per table (in topological order of the foreign keys, self-references handled inside the table):

- every foreign key to another table gets a **linkage model** (children per parent row, conditioned
  on the parent's attributes);
- one of them is the **driver**: its parents' sampled counts create the table's rows. The others are
  **secondary** keys, filled by :mod:`hiveframe.pipeline.assign` (degrees from their own linkage
  models, rows matched to parent slots by content, same-ancestor and unique-pair constraints);
- the table's generator is fitted on its own columns joined with a few **context** columns of the
  driver parent (chosen by :mod:`hiveframe.pipeline.context`, or named in the metadata); a parent's
  context is itself a candidate, so grandparent values can travel down without widening anything;
- **self-references** become forests (:mod:`hiveframe.pipeline.forest`);
- **keys** are generated in the real key's format (:mod:`hiveframe.pipeline.keys`).

Everything learned is plain JSON plus numpy arrays (``to_state``/``from_state``); linkage models are
components saved with :func:`hiveframe.persistence.save_component`.

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

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError, MetadataError, Problem
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.persistence import component_key
from hiveframe.pipeline import keys as keyfmt
from hiveframe.pipeline.assign import AssignmentModel, adjust_counts, assign, bigraphic
from hiveframe.pipeline.forest import ForestModel
from hiveframe.pipeline.unique import make_unique, unique_columns

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database, LinkageModel, TableGenerator, TrainingCallback
    from hiveframe.pipeline.conditions import ConditionSampler
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

DEFAULT_LINKAGE = "conditional"
#: sibling agreement from which children copy a summary from their parent instead of drawing it
INHERITED = 0.98


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


def _holds_pii(column: Column) -> bool:
    """A key or id column that holds personal data (its metadata gives a ``pii_kind``)."""
    return column.kind == ColumnKind.PII or column.pii_kind is not None


def _pii_label(column: Column) -> str:
    return column.pii_kind.value if column.pii_kind is not None else "pii"


NULL_HANDLING = ("model", "mean", "drop")


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
    assign: AssignmentModel | None = None
    ancestor: dict[str, Any] | None = None
    unique_pair: bool = False
    no_self: bool = False
    #: orphan policy "keep": {"share": of the rows without a parent, those with a key no parent has;
    #: "distinct": distinct such keys per row; "formats": per child column, the format of those keys}
    dangling: dict[str, Any] | None = None


@dataclass
class SelfRef:
    fk_index: int
    forest: ForestModel


@dataclass
class TablePlan:
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


class RelationalEngine:
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
        self.plans: dict[str, TablePlan] = {}
        #: the PII wrapper (one per synthesizer, so consistent pseudonyms span tables), or None
        self.pii = pii
        #: the differential privacy wrapper, or None
        self.dp = dp
        #: whether the metadata was detected from the data (refused under DP without the wrapper's opt-in)
        self.metadata_detected = bool(metadata_detected)
        #: per table: "model" (nulls are learnt, the default), "mean" (replaced) or "drop" (rows dropped)
        self.null_handling = dict(null_handling or {})

    # ============================================================================================
    # fit
    # ============================================================================================
    def fit(self, database: Database, *, make_generator: Callable[[Table], TableGenerator],
            seed: int, callback: TrainingCallback | None = None,
            workdir: Path | None = None) -> dict[str, TableGenerator]:
        import pyarrow as pa

        from hiveframe.pipeline.checks import resolve
        from hiveframe.pipeline.policy import fit_policy

        md = self.metadata
        order = md.topological_order()
        self.plans = {}
        generators: dict[str, TableGenerator] = {}
        links: dict[str, dict[int, np.ndarray]] = {}
        features: dict[str, pa.Table] = {}  # per table: what its generator learned, real rows
        contexts: dict[str, pa.Table] = {}
        self.policy = policy = fit_policy(self, self.dp, metadata_detected=self.metadata_detected)
        if self.pii is not None and hasattr(self.pii, "exclude_values"):
            for t in md.tables:  # no fake value may equal a real one, in any table
                for c in pii_columns(md, t):
                    self.pii.exclude_values(database[t.name].column(c).drop_null().to_pylist())
        made: dict[str, TableGenerator] = {}  # generators made early (under DP their budget needs them)

        def generator_for(table: Table) -> TableGenerator:
            if table.name not in made:
                made[table.name] = make_generator(table)
            return made[table.name]

        # under DP: one budget for the database, planned before any release (children beyond a cap left out)
        database = policy.start(database, generator_for)
        # -- relationships and drivers first: a parent learns summaries of the children it drives
        relations: dict[str, list[Relation]] = {}
        for index, name in enumerate(order):
            data = database[name]
            links[name] = {}
            relations[name] = []
            table = md.table(name)
            for j, fk in enumerate(md.foreign_keys):
                if fk.child_table != name or fk.is_self_reference:
                    continue
                parent = database[fk.parent_table]
                idx, orphans = resolve(data, fk.child_columns, parent, fk.parent_columns)
                links[name][j] = idx
                valid = idx >= 0
                counts = np.bincount(idx[valid], minlength=parent.num_rows)
                rel = policy.relation(j, table, data, counts, int((~valid).sum()), database,
                                      seed=derive_seed(seed, index, "linkage", j))
                if self.dp is None:  # orphan policy 'keep' is refused under DP
                    rel.dangling = _dangling_model(fk, data, orphans, int((~valid).sum()))
                relations[name].append(rel)
            driver = self._choose_driver(table, relations[name])
            if driver is not None:
                driver.role = "driver"
                relations[name].sort(key=lambda r: r.role != "driver")
        summaries = policy.summaries(database, relations, links, seed)
        derived = policy.derived(database, relations, links)
        for index, name in enumerate(order):
            table = md.table(name)
            data = database[name]
            plan = TablePlan(name=name, index=index, real_rows=data.num_rows,
                             modelled=modelled_columns(md, table), schema=data.schema,
                             pii=pii_columns(md, table) if self.pii is not None else [])
            rng = np.random.default_rng(derive_seed(seed, index, "fit"))
            plan.real_rows = policy.rows(table, data)
            plan.relations = relations[name]
            plan.derived = derived.get(name, [])
            if self.dp is None:  # under DP the real values are not released
                plan.unique = unique_columns(data, plan.modelled)
            for rel in plan.relations:
                if rel.linkage is not None:  # fitted privately with the relationship
                    continue
                fk = md.foreign_keys[rel.fk_index]
                idx = links[name][rel.fk_index]
                counts = np.bincount(idx[idx >= 0], minlength=database[fk.parent_table].num_rows)
                rel.linkage = self.host.create("linkage_model", self.linkage, self.linkage_params)
                rel.linkage.fit(features[fk.parent_table], counts,
                                seed=derive_seed(seed, index, "linkage", rel.fk_index))
            driver = plan.driver
            policy.before_generator(plan, table, data)  # under DP, every release comes before the training
            # -- context and the generator ------------------------------------------------------
            plan.summaries = [c for c, _ in summaries.get(name, [])]
            own = data.select(plan.modelled)
            if plan.summaries:
                own = _hstack(own, pa.table([a for _, a in summaries[name]], names=plan.summary_names))
            if own.num_columns or plan.pii:
                generator = generator_for(table)
            else:
                from hiveframe.pipeline.empty import NoColumnsGenerator

                plan.has_columns = False
                generator = NoColumnsGenerator()
            ctx_table = None
            if driver is not None and own.num_columns and type(generator).conditional:
                ctx_table = self._choose_context(plan, table, own, driver, links[name][driver.fk_index],
                                                 features, contexts, rng)
            contexts[name] = ctx_table if ctx_table is not None else _empty_like(data.num_rows)
            fit_data = _hstack(_hstack(own, data.select(plan.pii)), contexts[name])
            model_table = Table(
                name=name,
                columns=(tuple(table.column(c) for c in plan.modelled) + tuple(c.column for c in plan.summaries)
                         + tuple(table.column(c) for c in plan.pii) + tuple(c.column for c in plan.context)),
                constraints=_constraints_for(table, plan.modelled),
            )
            fit_data = self._handle_nulls(name, fit_data, model_table, plan, generator)
            log.info("fitting table %s (%d of %d): %d rows, %d columns%s%s%s with %s", name, index + 1,
                     len(order), data.num_rows, len(plan.modelled),
                     f", child summaries {plan.summary_names}" if plan.summaries else "",
                     f", context {plan.context_names}" if plan.context else "",
                     f", driver {md.foreign_keys[driver.fk_index].name}" if driver else "", generator.name)
            fitted = self.host.hooks.fit_table(
                table_name=name, generator=generator, data=fit_data, table=model_table,
                context_columns=tuple(plan.context_names), seed=derive_seed(seed, index, "generator"),
                callback=callback, workdir=(workdir / component_key(name)) if workdir is not None else None,
            )
            generators[name] = fitted if fitted is not None else generator
            # what children and relational models may see: never PII
            features[name] = _hstack(own, contexts[name])
            # -- secondary keys, self-references, keys --------------------------------------------
            for rel in plan.secondaries:
                policy.secondary(plan, rel, data, driver, links, features, database, rng)
            policy.after_generator(plan, table, data, database, features)
            self.plans[name] = plan
        return generators

    # -- null handling ---------------------------------------------------------------------------
    def _handle_nulls(self, name: str, fit_data: pa.Table, model_table: Table, plan: TablePlan,
                      generator: TableGenerator) -> pa.Table:
        """Per table: nulls modelled (default), replaced by the column mean, or their rows dropped.

        Only the generator's training rows change (the table keeps its rows and relationships):
        ``drop`` trains it on complete rows, ``mean`` on rows whose nulls hold the mean (numbers,
        datetimes) or the most common value (other columns); under DP the replacement value is the
        private one (the ``dp`` wrapper computes it from its noisy histograms).
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        mode = self.null_handling.get(name, self.null_handling.get("*", "model"))
        if mode not in NULL_HANDLING:
            raise ConfigError(f"table {name!r}: null handling {mode!r} is not one of {', '.join(NULL_HANDLING)}")
        cols = [c for c in plan.generated if c in fit_data.column_names]
        if mode == "model" or not cols or fit_data.num_rows == 0:
            return fit_data
        if mode == "drop" and self.policy.private_drop(name):  # the wrapper drops them with their privacy units
            return fit_data
        if mode == "drop":
            keep = np.ones(fit_data.num_rows, dtype=bool)
            for c in cols:
                keep &= ~np.asarray(pc.is_null(fit_data.column(c)).to_numpy(zero_copy_only=False), dtype=bool)
            if not keep.any():
                raise ConfigError(f"table {name!r}: null handling 'drop' leaves no complete row to learn from",
                                  hint="use 'model' or 'mean' for this table")
            log.info("table %s: %d of %d rows with nulls are left out of training", name,
                     int((~keep).sum()), fit_data.num_rows)
            return fit_data.filter(pa.array(keep))
        if self.policy.private_mean(name):  # the private mean, from the noisy histograms
            return fit_data
        from hiveframe.pipeline.features import numeric_values

        for c in cols:
            arr = _combine(fit_data.column(c))
            if not arr.null_count:
                continue
            kind = model_table.column(c).kind
            if kind in (ColumnKind.NUMERICAL, ColumnKind.DATETIME) and numeric_values(arr) is not None:
                t = arr.type
                if pa.types.is_timestamp(t) or pa.types.is_date(t):
                    from hiveframe.builtin.transformers import ints_to_temporal, temporal_ints

                    ints = temporal_ints(arr)
                    mean = int(round(float(pc.mean(ints).as_py())))
                    filled = ints_to_temporal(ints.fill_null(mean), t)
                else:
                    mean = pc.mean(arr.cast(pa.float64())).as_py()
                    filled = arr.fill_null(pa.scalar(mean).cast(t, safe=False)) if mean is not None else arr
            else:
                counts = pc.value_counts(arr.drop_null())
                if not len(counts):
                    continue
                top = counts.field(0)[int(np.argmax(counts.field(1).to_numpy()))]
                filled = arr.fill_null(top)
            fit_data = fit_data.set_column(fit_data.schema.get_field_index(c), c, filled)
        return fit_data

    def _derived(self, database: Database, relations: dict[str, list[Relation]],
                 links: dict[str, dict[int, np.ndarray]]) -> dict[str, list[dict[str, Any]]]:
        """Per parent table: columns equal to an aggregate of the children it drives."""
        from hiveframe.pipeline.summaries import derived_aggregates

        md = self.metadata
        out: dict[str, list[dict[str, Any]]] = {}
        for name, rels in relations.items():
            driver = next((r for r in rels if r.role == "driver"), None)
            if driver is None:
                continue
            fk = md.foreign_keys[driver.fk_index]
            parent = md.table(fk.parent_table)
            pcols = [c for c in modelled_columns(md, parent) if parent.column(c).kind == ColumnKind.NUMERICAL]
            ccols = modelled_columns(md, md.table(name))
            if not pcols:
                continue
            for entry in derived_aggregates(database[fk.parent_table], pcols, database[name], ccols,
                                            links[name][driver.fk_index]):
                entry.update({"child": name, "fk_index": driver.fk_index})
                log.debug("%s.%s is the %s of %s %s", fk.parent_table, entry["column"], entry["agg"], name,
                          entry["columns"])
                out.setdefault(fk.parent_table, []).append(entry)
        return out

    def _summaries(self, database: Database, relations: dict[str, list[Relation]],
                   links: dict[str, dict[int, np.ndarray]], seed: int) -> dict[str, list[tuple[SummaryColumn, Any]]]:
        """Per parent table: summaries of the children it drives, for its generator to learn.

        Siblings are often alike (the tracks of an album are all audio or all video, a user's
        sessions come from one device); a child generator conditioned on its parent's columns cannot
        know that unless the parent carries it. So a parent table learns, as extra columns, the mean
        (numbers) or most common value (categories) of the child columns whose siblings agree most
        (at most ``max_summary_columns`` per relationship), and its children are conditioned on them.
        """
        from hiveframe.pipeline.summaries import child_summaries

        md = self.metadata
        out: dict[str, list[tuple[SummaryColumn, Any]]] = {}
        if self.max_summary_columns <= 0:
            return out
        for name, rels in relations.items():
            driver = next((r for r in rels if r.role == "driver"), None)
            if driver is None:
                continue
            fk = md.foreign_keys[driver.fk_index]
            child = md.table(name)
            cols = modelled_columns(md, child)
            if not cols:
                continue
            found = child_summaries(database[name], child, cols, links[name][driver.fk_index],
                                    database[fk.parent_table].num_rows, k=self.max_summary_columns)
            taken = set(md.table(fk.parent_table).column_names)
            for col, column, values, score in found:
                label = f"@{name}.{col}"
                if label in taken:
                    continue
                log.debug("summary %s of %s (sibling agreement %.2f)", label, fk.parent_table, score)
                out.setdefault(fk.parent_table, []).append(
                    (SummaryColumn(label, name, col, replace(column, name=label), inherited=score >= INHERITED),
                     values))
        return out

    def _choose_driver(self, table: Table, relations: list[Relation]) -> Relation | None:
        """The relationship whose parents create this table's rows.

        ``Table.driver`` (a foreign key named by its first child column) wins. Otherwise: not an
        exact 1:1 link (a secondary 1:1 key is a matching without replacement, which only works
        when the rows already exist), preferably without nulls, then the parent table whose rows
        most often have children (mandatory participation: invoices own their lines, albums their
        tracks, accounts their dispositions, groups their members; an optional reference such as a
        track that was bought is better matched afterwards), then the parent with most rows (the
        most specific entity, e.g. an album rather than a genre).
        """
        if not relations:
            return None
        fks = self.metadata.foreign_keys
        if table.driver:
            for rel in relations:
                fk = fks[rel.fk_index]
                if table.driver in (fk.child_columns[0], fk.name, ",".join(fk.child_columns)):
                    return rel
            raise ConfigError(
                f"table {table.name!r} names driver {table.driver!r}, which is none of its foreign keys",
                hint="foreign keys: " + ", ".join(fks[r.fk_index].child_columns[0] for r in relations))
        pool = [r for r in relations if not r.exact_one] or relations
        pool = [r for r in pool if r.null_rate == 0] or pool
        return max(pool, key=lambda r: (round(r.coverage * 20) / 20, r.parent_rows, -r.fk_index))

    def _choose_context(self, plan: TablePlan, table: Table, own: pa.Table, driver: Relation,
                        idx: np.ndarray, features: dict[str, pa.Table], contexts: dict[str, pa.Table],
                        rng: np.random.Generator) -> pa.Table | None:
        import pyarrow as pa

        from hiveframe.pipeline import context as ctxsel

        fk = self.metadata.foreign_keys[driver.fk_index]
        if not self.policy.context_allowed(fk):
            return None  # choosing context by its dependence on the rows would not be private
        parent_name = fk.parent_table
        parent_plan = self.plans[parent_name]
        parent_table = self.metadata.table(parent_name)
        candidates: dict[str, ContextColumn] = {}
        taken = set(table.column_names)

        def label(ref: str) -> str:
            base = f"{parent_name}.{ref}"
            out, k = base, 1
            while out in taken or out in candidates:
                k += 1
                out = f"{base}~{k}"
            return out

        parent_rows = features[parent_name]
        for c in parent_plan.modelled:
            if _describes(parent_table.column(c), parent_rows.column(c)):
                candidates[label(c)] = ContextColumn(label(c), "column", c, parent_table.column(c))
        for sc in parent_plan.summaries:
            if _describes(sc.column, parent_rows.column(sc.name)):
                candidates[label(sc.name)] = ContextColumn(label(sc.name), "column", sc.name, sc.column)
        for cc in parent_plan.context:
            if _describes(cc.column, parent_rows.column(cc.name)):
                candidates[label(cc.name)] = ContextColumn(label(cc.name), "context", cc.name, cc.column)
        count_label = label(f"#{table.name}")
        candidates[count_label] = ContextColumn(
            count_label, "count", "", Column(count_label, ColumnKind.NUMERICAL, dtype="int64"))
        counts = np.bincount(idx[idx >= 0], minlength=features[parent_name].num_rows)
        values = _context_values(list(candidates.values()), features[parent_name], idx, counts)
        if fk.context_columns is not None:
            wanted = list(fk.context_columns)
            by_ref = {c.ref: c.name for c in candidates.values() if c.source != "count"}
            by_ref.update({c.name: c.name for c in candidates.values()})
            by_ref["#"] = count_label
            missing = [w for w in wanted if w not in by_ref]
            if missing:
                raise MetadataError([Problem(
                    f"context column(s) {missing} of foreign key {fk.name} are not columns of "
                    f"{parent_name!r} (or its context)", table=table.name,
                    hint="modelled columns of the parent: " + ", ".join(parent_plan.modelled))])
            chosen = [by_ref[w] for w in wanted]
        else:
            scores = ctxsel.score_candidates(values, own, rng=rng)
            chosen = ctxsel.select(scores, self.max_context_columns)
            log.debug("context scores for %s: %s", table.name, {k: round(v, 3) for k, v in scores.items()})
        plan.context = [replace(candidates[c], column=_as_context_column(candidates[c], driver.null_rate > 0))
                        for c in chosen]
        if not chosen:
            return None
        return pa.table([values.column(c) for c in chosen], names=chosen)

    def _fit_secondary(self, plan: TablePlan, rel: Relation, data: pa.Table, own: pa.Table,
                       driver: Relation | None, links: dict[str, dict[int, np.ndarray]],
                       features: dict[str, pa.Table], database: Database, rng: np.random.Generator) -> None:
        md = self.metadata
        fk = md.foreign_keys[rel.fk_index]
        sec_idx = links[plan.name][rel.fk_index]
        drv_idx = links[plan.name][driver.fk_index] if driver is not None else None
        drv_parent = md.foreign_keys[driver.fk_index].parent_table if driver is not None else None
        view = _row_view(own, features.get(drv_parent) if drv_parent else None, drv_idx)
        rel.assign = AssignmentModel().fit(view, features[fk.parent_table], sec_idx, rng=rng)
        if drv_idx is None:
            return
        both = (drv_idx >= 0) & (sec_idx >= 0)
        if both.sum() >= 2:
            m = max(1, features[fk.parent_table].num_rows)
            codes = drv_idx[both] * m + sec_idx[both]
            rel.unique_pair = len(np.unique(codes)) == len(codes)
        if drv_parent == fk.parent_table and both.any():
            rel.no_self = not bool((drv_idx[both] == sec_idx[both]).any())
        rel.ancestor = self._find_ancestor(drv_parent, fk.parent_table, drv_idx, sec_idx, links, database)

    def _find_ancestor(self, p_table: str, q_table: str, drv_idx: np.ndarray, sec_idx: np.ndarray,
                       links: dict[str, dict[int, np.ndarray]], database: Database) -> dict[str, Any] | None:
        """A table both parents descend from, when the real rows keep the two in the same ancestor."""
        paths_p = self._ancestor_paths(p_table)
        paths_q = self._ancestor_paths(q_table)
        common = sorted(set(paths_p) & set(paths_q), key=lambda a: (len(paths_p[a]) + len(paths_q[a]), a))
        both = (drv_idx >= 0) & (sec_idx >= 0)
        if not both.any():
            return None
        for anc in common:
            if not paths_p[anc] and not paths_q[anc]:
                continue  # the same table: that is the no-self rule, not an ancestor
            ap = ancestor_rows(p_table, paths_p[anc], links, self.metadata, database[p_table].num_rows)
            aq = ancestor_rows(q_table, paths_q[anc], links, self.metadata, database[q_table].num_rows)
            a1, a2 = ap[drv_idx[both]], aq[sec_idx[both]]
            ok = (a1 >= 0) & (a2 >= 0)
            if ok.sum() < 2:
                continue
            p_same = float((a1[ok] == a2[ok]).mean())
            n_anc = database[anc].num_rows
            share_p = np.bincount(a1[ok], minlength=n_anc) / ok.sum()
            share_q = np.bincount(a2[ok], minlength=n_anc) / ok.sum()
            chance = float(share_p @ share_q)
            if p_same >= 0.5 and p_same > 2 * chance:
                return {"table": anc, "path_driver": paths_p[anc], "path_secondary": paths_q[anc],
                        "p_same": p_same, "hard": p_same >= 0.999}
        return None

    def _ancestor_paths(self, table: str, max_depth: int = 3) -> dict[str, list[int]]:
        """Tables reachable upwards from ``table`` through single foreign keys: the path to each."""
        paths: dict[str, list[int]] = {table: []}
        frontier = [table]
        for _ in range(max_depth):
            nxt = []
            for t in frontier:
                for j, fk in enumerate(self.metadata.foreign_keys):
                    if fk.child_table == t and not fk.is_self_reference and fk.parent_table not in paths:
                        paths[fk.parent_table] = paths[t] + [j]
                        nxt.append(fk.parent_table)
            frontier = nxt
        return paths

    def _fit_keys(self, plan: TablePlan, table: Table, data: pa.Table, database: Database) -> None:
        import pyarrow.compute as pc

        md = self.metadata
        fk_cols = md.foreign_key_columns(table.name)
        pk = list(table.primary_key)
        for col in pk:
            if col in fk_cols:
                continue
            if _holds_pii(table.column(col)):  # an email or phone used as a key: surrogates, nothing real
                fmt = keyfmt.surrogate_format(_pii_label(table.column(col)), data.schema.field(col).type)
                if len(pk) > 1:
                    fmt["group"] = [c for c in pk if c != col]
                plan.keys[col] = fmt
                continue
            fmt = keyfmt.detect_concat(data, col, sorted(fk_cols) + [c for c in pk if c != col])
            if fmt is None:
                for fk in md.parents_of(table.name):
                    if fk.is_self_reference or len(fk.child_columns) != 1:
                        continue
                    fmt = keyfmt.detect_prefixed(_combine(data.column(col)), _combine(data.column(fk.child_columns[0])),
                                                 _combine(database[fk.parent_table].column(fk.parent_columns[0])))
                    if fmt is not None:
                        fmt["fk_column"] = fk.child_columns[0]
                        break
            if fmt is None:
                fmt = keyfmt.learn_format(data.column(col))
                if len(pk) > 1:
                    fmt["group"] = [c for c in pk if c != col]
            plan.keys[col] = fmt
        modelled = set(plan.modelled) | set(plan.pii)
        for column in table.columns:
            name = column.name
            if name in modelled or name in pk or name in fk_cols:
                continue
            if column.kind == ColumnKind.PII:  # no PII wrapper: never learn from real PII, leave it empty
                log.warning("table %s, column %s is PII and the privacy plugin is not installed: it is left "
                            "empty (pip install 'hiveframe[privacy]' for realistic fake values)", table.name, name)
                plan.fills[name] = {"format": {"kind": "int", "start": 1}, "unique": False, "null_rate": 1.0}
                continue
            values = data.column(name)
            non_null = values.drop_null()
            unique = len(non_null) > 1 and len(pc.unique(non_null)) == len(non_null)
            fmt = (keyfmt.surrogate_format(_pii_label(column), values.type) if _holds_pii(column)
                   else keyfmt.learn_format(values))
            plan.fills[name] = {"format": fmt, "unique": bool(unique),
                                "null_rate": float(values.null_count / max(1, len(values)))}

    # ============================================================================================
    # sample
    # ============================================================================================
    def sample(self, generators: Mapping[str, TableGenerator], *, scale: float, rows: Mapping[str, int],
               seed: int, conditions: ConditionSampler | None = None) -> dict[str, pa.Table]:
        """Every table in topological order; ``conditions`` draws the rows of conditioned tables."""
        md = self.metadata
        roots = {n for n, p in self.plans.items() if p.driver is None}
        wrong = sorted(set(rows) - roots)
        if wrong:
            raise ConfigError(f"rows can only be set for root tables; {wrong} get their rows from their parents",
                              hint=f"root tables: {sorted(roots)}; use scale for the rest")
        out: dict[str, pa.Table] = {}
        features: dict[str, pa.Table] = {}
        links: dict[str, dict[int, np.ndarray]] = {}
        generated_rows: dict[str, pa.Table] = {}  # per table: its generator's output (with summaries)
        order = sorted(self.plans.values(), key=lambda p: p.index)
        for plan in order:
            name = plan.name
            table = md.table(name)
            rng = np.random.default_rng(derive_seed(seed, plan.index, "sample"))
            links[name] = {}
            driver = plan.driver
            counts = None
            if driver is None:
                n = int(rows[name]) if name in rows else (
                    max(1, int(np.floor(plan.real_rows * scale + 0.5))) if plan.real_rows else 0)
                drv_idx = None
            else:
                parent_name = md.foreign_keys[driver.fk_index].parent_table
                exact = next((r for r in plan.secondaries if r.exact_one), None)
                if exact is not None:  # a secondary 1:1 parent: one row per row of that parent
                    target = out[md.foreign_keys[exact.fk_index].parent_table].num_rows
                else:  # the real number of children per parent, times the generated parents
                    target = int(np.floor(driver.total * features[parent_name].num_rows
                                          / max(1, driver.parent_rows) + 0.5))
                    if conditions is not None and conditions.shapes(parent_name):  # the model's total instead
                        target = conditions.children_total(driver, features[parent_name],
                                                           derive_seed(seed, plan.index, "counts"))
                counts = draw_counts(driver, features[parent_name], target, rng,
                                     seed=derive_seed(seed, plan.index, "counts"))
                for rel in plan.secondaries:
                    m = out[md.foreign_keys[rel.fk_index].parent_table].num_rows
                    if m == 0 and rel.null_rate == 0:  # rows would need a parent that does not exist
                        counts = np.zeros_like(counts)
                    elif rel.unique_pair:  # a row per (driver, secondary) pair: at most m per driver parent
                        counts = np.minimum(counts, m)
                n_parented = int(counts.sum())
                n_null = (int(round(driver.null_rate / (1 - driver.null_rate) * n_parented))
                          if driver.null_rate < 1 else 0)
                drv_idx = np.concatenate([np.repeat(np.arange(len(counts)), counts),
                                          np.full(n_null, -1, dtype=np.int64)])
                links[name][driver.fk_index] = drv_idx
                n = len(drv_idx)
            ctx = None
            if plan.context:
                parent_name = md.foreign_keys[driver.fk_index].parent_table
                values = _context_values(plan.context, features[parent_name], drv_idx, counts)
                ctx = values.select(plan.context_names)
            log.info("sampling table %s: %d rows", name, n)
            if conditions is not None and conditions.covers(name):
                generated = conditions.sample_table(name, generators[name], n, ctx,
                                                    derive_seed(seed, plan.index, "generator"))
            else:
                generated = self.host.hooks.sample_table(
                    table_name=name, generator=generators[name], num_rows=n, context=ctx,
                    seed=derive_seed(seed, plan.index, "generator"),
                ) if (n > 0 or not plan.has_columns) else None
            own = _own_columns(plan, generated, n)
            pii = generated.select(plan.pii) if (plan.pii and generated is not None) else None
            if driver is not None:
                own = self._inherit(plan, own, generated_rows, drv_idx,
                                    keep=conditions.columns(name) if conditions is not None else set())
            own = _keep_unique(plan, own, np.random.default_rng(derive_seed(seed, plan.index, "unique")))
            for rel in plan.secondaries:
                links[name][rel.fk_index] = self._sample_secondary(plan, rel, own, drv_idx, links, features,
                                                                   out, n, seed)
            features[name] = _hstack(own, ctx if ctx is not None else _empty_like(n))
            generated_rows[name] = own
            out[name] = self._assemble(plan, table, own, features[name], links, out, rng, pii=pii)
            if driver is not None:
                self._recompute_aggregates(plan, out, features, drv_idx)
        return out

    def _inherit(self, plan: TablePlan, own: pa.Table, generated_rows: Mapping[str, pa.Table],
                 drv_idx: np.ndarray, keep: set[str] | frozenset[str] = frozenset()) -> pa.Table:
        """Columns that siblings share: copied from the parent's summary, so siblings agree again.

        ``keep``: conditioned columns, never overwritten (the condition wins over sibling agreement).
        """
        assert plan.driver is not None
        parent = self.metadata.foreign_keys[plan.driver.fk_index].parent_table
        for sc in self.plans[parent].summaries:
            if sc.child != plan.name or not sc.inherited or sc.child_column not in own.column_names \
                    or sc.child_column in keep:
                continue
            source = _take(generated_rows[parent].column(sc.name), drv_idx)
            current = own.column(sc.child_column)
            try:
                source = source.cast(current.type)
            except Exception:  # noqa: BLE001 - a mean that is not a value of the column: keep it drawn
                continue
            import pyarrow.compute as pc

            merged = pc.if_else(pc.is_null(source), current, source)
            own = own.set_column(own.schema.get_field_index(sc.child_column), sc.child_column, merged)
        return own

    def _recompute_aggregates(self, plan: TablePlan, out: dict[str, pa.Table], features: dict[str, pa.Table],
                              drv_idx: np.ndarray) -> None:
        """Parent columns that are aggregates of this table's rows, recomputed from the rows drawn."""
        import pyarrow as pa

        from hiveframe.pipeline.features import numeric_values
        from hiveframe.pipeline.summaries import aggregate

        assert plan.driver is not None
        parent = self.metadata.foreign_keys[plan.driver.fk_index].parent_table
        for entry in self.plans[parent].derived:
            if entry["child"] != plan.name:
                continue
            child = out[plan.name]
            values = aggregate(entry["agg"], [numeric_values(child.column(c)) for c in entry["columns"]],
                               drv_idx, out[parent].num_rows)
            if entry["decimals"] is not None:
                values = np.round(values, int(entry["decimals"]))
            col = entry["column"]
            for store in (out, features):
                table = store[parent]
                if col not in table.column_names:
                    continue
                old = table.column(col)
                mask = np.isnan(values)
                arr = pa.array(np.where(mask, 0, values), mask=mask)
                try:
                    arr = arr.cast(old.type, safe=False)
                except Exception:  # noqa: BLE001
                    continue
                store[parent] = table.set_column(table.schema.get_field_index(col), col, arr)

    def _sample_secondary(self, plan: TablePlan, rel: Relation, own: pa.Table, drv_idx: np.ndarray | None,
                          links: dict[str, dict[int, np.ndarray]], features: dict[str, pa.Table],
                          out: dict[str, pa.Table], n: int, seed: int) -> np.ndarray:
        md = self.metadata
        fk = md.foreign_keys[rel.fk_index]
        q_name = fk.parent_table
        rng = np.random.default_rng(derive_seed(seed, plan.index, "assign", rel.fk_index))
        result = np.full(n, -1, dtype=np.int64)
        m = out[q_name].num_rows
        if n == 0 or m == 0:
            return result
        n_null = int(round(rel.null_rate * n))
        rows = np.sort(rng.choice(n, size=n - n_null, replace=False)) if n_null else np.arange(n)
        owners = None
        if rel.unique_pair and drv_idx is not None:  # a parent can take one row per driver parent
            owners = int(len(np.unique(drv_idx[rows][drv_idx[rows] >= 0])))
        repair = None
        if rel.unique_pair and drv_idx is not None:  # degrees that unique pairs can realize
            sub_owner = drv_idx[rows]
            multiplicity = np.bincount(sub_owner[sub_owner >= 0])

            def repair(d: np.ndarray) -> np.ndarray:
                return bigraphic(d, multiplicity)
        degrees = draw_counts(rel, features[q_name], len(rows), rng, high=owners, repair=repair,
                              seed=derive_seed(seed, plan.index, "degrees", rel.fk_index))
        driver = plan.driver
        drv_parent = md.foreign_keys[driver.fk_index].parent_table if driver is not None else None
        view = _row_view(own, features.get(drv_parent) if drv_parent else None, drv_idx)
        assert rel.assign is not None
        sub_view = view.take(rows) if view.num_columns else _empty_like(len(rows))
        enc = rel.assign.encode_rows(sub_view)
        prof = rel.assign.profiles(features[q_name])
        row_group = parent_group = None
        hard = False
        if rel.ancestor is not None and drv_idx is not None:
            anc = rel.ancestor
            ap = ancestor_rows(drv_parent, anc["path_driver"], links, md, out[drv_parent].num_rows)
            parent_group = ancestor_rows(q_name, anc["path_secondary"], links, md, m)
            sub = drv_idx[rows]
            row_group = np.where(sub >= 0, ap[np.maximum(sub, 0)], -1)
            row_group[rng.random(len(rows)) >= anc["p_same"]] = -1
            hard = bool(anc["hard"])
            if hard:  # slots per group = rows per group, so no row has to leave its group or overflow
                draws = [degrees] + [rel.linkage.sample(features[q_name], seed=derive_seed(
                    seed, plan.index, "degrees", rel.fk_index, t)) for t in range(15)]
                degrees = _match_group_totals(draws, parent_group, row_group, rng, rel)
        owner = drv_idx[rows] if (rel.unique_pair and drv_idx is not None) else None
        exclude = drv_idx[rows] if (rel.no_self and drv_idx is not None) else None
        result[rows] = assign(enc, prof, degrees, rng, row_group=row_group, parent_group=parent_group,
                              hard_group=hard, pair_owner=owner, exclude=exclude)
        return result

    def _assemble(self, plan: TablePlan, table: Table, own: pa.Table, content: pa.Table,
                  links: dict[str, dict[int, np.ndarray]], out: dict[str, pa.Table],
                  rng: np.random.Generator, pii: pa.Table | None = None) -> pa.Table:
        """Keys, foreign keys, self-references and filled columns around the generated columns."""
        import pyarrow as pa

        md = self.metadata
        n = own.num_rows
        schema = plan.schema
        assert schema is not None
        cols: dict[str, pa.Array] = {c: _combine(own.column(c)) for c in plan.modelled}
        if pii is not None:
            cols.update({c: _combine(pii.column(c)) for c in plan.pii})
        for rel in plan.relations:
            fk = md.foreign_keys[rel.fk_index]
            idx = links[plan.name][rel.fk_index]
            parent = out[fk.parent_table]
            for cc, pc_ in zip(fk.child_columns, fk.parent_columns, strict=False):
                cols[cc] = _take(parent.column(pc_), idx)
            if rel.dangling and n:
                cols.update(_dangling_keys(rel.dangling, fk, idx, parent, cols, rng))
        pk = list(table.primary_key)
        for col in pk:
            if col in cols:
                continue
            fmt = plan.keys[col]
            kind = fmt["kind"]
            group = None
            if fmt.get("group"):
                from hiveframe.pipeline.checks import key_strings

                ready = [g for g in fmt["group"] if g in cols]
                if ready:
                    part = pa.table({g: cols[g] for g in ready})
                    group = np.asarray(key_strings(part, ready).dictionary_encode().indices.to_numpy(
                        zero_copy_only=False), dtype=np.int64)
            if kind == "concat":
                values = keyfmt.generate(fmt, n, rng, columns=cols)
            elif kind == "prefixed":
                values = keyfmt.generate(fmt, n, rng, parent_keys=cols[fmt["fk_column"]])
            else:
                values = keyfmt.generate(fmt, n, rng, unique=True, group=group)
            cols[col] = keyfmt.to_arrow(values, schema.field(col).type)
        for ref in plan.self_refs:
            fk = md.foreign_keys[ref.fk_index]
            parent_idx = ref.forest.sample(content, rng)
            for cc, pc_ in zip(fk.child_columns, fk.parent_columns, strict=False):
                if pc_ not in cols:
                    raise ConfigError(f"self-reference {fk.name} points to {pc_!r}, which is not generated")
                cols[cc] = _take(cols[pc_], parent_idx)
        for name, spec in plan.fills.items():
            values = keyfmt.generate(spec["format"], n, rng, unique=spec["unique"])
            arr = keyfmt.to_arrow(values, schema.field(name).type) if n else pa.nulls(0, schema.field(name).type)
            if spec["null_rate"] > 0 and n:
                mask = rng.random(n) < spec["null_rate"]
                arr = pa.array(arr.to_pylist(), type=arr.type, mask=mask) if mask.any() else arr
            cols[name] = arr
        arrays = []
        for column in table.columns:
            target = schema.field(column.name).type
            arr = cols.get(column.name)
            if arr is None:
                arr = pa.nulls(n, target)
            arrays.append(_cast(arr, target))
        return pa.table(arrays, names=table.column_names)

    # ============================================================================================
    # state
    # ============================================================================================
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, LinkageModel]]:
        """JSON values, arrays and the linkage components (to save with save_component)."""
        values: dict[str, Any] = {"linkage": _spec_name(self.linkage), "linkage_params": self.linkage_params,
                                  "max_context_columns": self.max_context_columns,
                                  "max_summary_columns": self.max_summary_columns, "tables": {}}
        arrays: dict[str, np.ndarray] = {}
        components: dict[str, LinkageModel] = {}
        for name, plan in self.plans.items():
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
                "unique": plan.unique,
            }
        return values, arrays, components

    def set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                  components: Mapping[str, LinkageModel]) -> None:
        import pyarrow as pa

        self.plans = {}
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
            plan.schema = pa.ipc.read_schema(pa.py_buffer(np.asarray(arrays[f"{prefix}_schema"]).tobytes()))
            self.plans[name] = plan

    def describe(self) -> dict[str, Any]:
        """What the engine chose, per table (for logs, the CLI and reports)."""
        md = self.metadata
        out = {}
        for name, plan in sorted(self.plans.items(), key=lambda kv: kv[1].index):
            out[name] = {
                "driver": md.foreign_keys[plan.driver.fk_index].name if plan.driver else None,
                "secondary": [md.foreign_keys[r.fk_index].name for r in plan.secondaries],
                "context": plan.context_names,
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


# -- helpers ---------------------------------------------------------------------------------------
def _dangling_model(fk: ForeignKey, data: pa.Table, orphans: np.ndarray, unlinked: int) -> dict[str, Any] | None:
    """Orphan policy ``keep``: how many parent-less rows carry a key no parent has, and its format."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if fk.orphans != "keep" or not orphans.any() or unlinked == 0:
        return None
    mask = pa.array(orphans)
    formats = {c: keyfmt.learn_format(data.column(c).filter(mask)) for c in fk.child_columns}
    first = data.column(fk.child_columns[0]).filter(mask)
    return {"share": float(orphans.sum() / unlinked),
            "distinct": float(len(pc.unique(first)) / max(1, len(first))), "formats": formats}


def _dangling_keys(dangling: Mapping[str, Any], fk: ForeignKey, idx: np.ndarray, parent: pa.Table,
                   cols: Mapping[str, pa.Array], rng: np.random.Generator) -> dict[str, pa.Array]:
    """Keys for the parent-less rows of a ``keep`` relationship, absent from the generated parent keys
    (the first column's values alone already differ from every parent's, so the tuple does too)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    free = np.nonzero(idx < 0)[0]
    rows = free[rng.random(len(free)) < float(dangling["share"])]
    if not len(rows):
        return {}
    pool_size = max(1, int(round(len(rows) * float(dangling["distinct"]))))
    draw = rng.integers(0, pool_size, size=len(rows))
    mask = np.zeros(len(idx), dtype=bool)
    mask[rows] = True
    out = {}
    for j, (cc, pc_) in enumerate(zip(fk.child_columns, fk.parent_columns, strict=False)):
        taken = set(parent.column(pc_).drop_null().to_pylist()) if j == 0 else set()
        pool = keyfmt.generate_absent(dangling["formats"][cc], pool_size, rng, taken)
        current = cols[cc]
        values = keyfmt.to_arrow([pool[k] for k in draw], current.type)  # in row order: rows are sorted
        out[cc] = pc.replace_with_mask(current, pa.array(mask), values)
    return out


def _match_group_totals(draws: list[np.ndarray], parent_group: np.ndarray, row_group: np.ndarray,
                        rng: np.random.Generator, rel: Relation) -> np.ndarray:
    """Degrees whose sum in every group is the number of rows of that group.

    Groups are disjoint, so each group may take its degrees from whichever of several draws of
    the linkage model comes closest to its rows (keeping each parent's conditional distribution),
    and only the small remainder is moved by hand.
    """
    size = int(max(parent_group.max(), row_group.max())) + 1 if len(parent_group) else 0
    need = np.bincount(row_group[row_group >= 0], minlength=size)
    valid = parent_group >= 0
    gaps = np.stack([np.abs(np.bincount(parent_group[valid], weights=d[valid], minlength=size) - need)
                     for d in draws])
    pick = np.argmin(gaps, axis=0)
    stacked = np.stack(draws)
    degrees = stacked[pick[np.maximum(parent_group, 0)], np.arange(len(parent_group))]
    degrees = np.where(valid, degrees, draws[0])
    order = np.argsort(parent_group, kind="stable")
    groups, starts = np.unique(parent_group[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    for g, a, b in zip(groups, starts, ends, strict=False):
        if g < 0:
            continue
        members = order[a:b]
        if degrees[members].sum() != need[g]:
            degrees[members] = adjust_counts(degrees[members], int(need[g]), rng, low=rel.low, high=rel.high,
                                             fine=True)
    return degrees


def draw_counts(rel: Relation, parents: pa.Table, target: int, rng: np.random.Generator, *, seed: int,
                tries: int = 16, high: int | None = None, few_parents: int = 64,
                repair: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Children per parent from the linkage model, summing to ``target``.

    Keeps the draw (of up to ``tries``) whose total is nearest the target, then moves the few
    counts still needed. Few parents with a heavy-tailed count (38 districts, one of them Prague)
    make a single draw's total swing by a tenth or more; every table below would inherit the swing,
    and a secondary 1:1 key, or a secondary parent's degrees, could then only be met by bending the
    distributions.
    """
    cap = rel.high if high is None else min(rel.high, high)
    repair = repair or (lambda d: d)
    if parents.num_rows <= few_parents:
        return _fit_few(rel, parents, target, rng, seed=seed, tries=tries, cap=cap, repair=repair)
    best = None
    for t in range(tries):
        counts = rel.linkage.sample(parents, seed=derive_seed(seed, t))
        gap = abs(int(counts.sum()) - target)
        if best is None or gap < best[0]:
            best = (gap, counts)
        if gap <= max(1, 0.005 * target):
            break
    assert best is not None
    counts = np.minimum(best[1], cap) if high is not None else best[1]
    return repair(adjust_counts(counts, target, rng, low=rel.low, high=cap))


def _fit_few(rel: Relation, parents: pa.Table, target: int, rng: np.random.Generator, *, seed: int, tries: int,
             cap: int, repair: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``draw_counts`` for a handful of parents, where meeting the total moves the distribution most.

    Each of ``tries`` draws is brought to the total in two ways (random big parents, or the largest
    first), and the result whose counts stay closest (Kolmogorov-Smirnov) to the model's own
    distribution for these parents, pooled over all the draws, wins.
    """
    from hiveframe.pipeline.checks import ks_statistic

    draws = [np.minimum(rel.linkage.sample(parents, seed=derive_seed(seed, t)), cap) for t in range(tries)]
    pooled = np.concatenate(draws)
    best: tuple[float, int, np.ndarray] | None = None
    for counts in draws:
        gap = abs(int(counts.sum()) - target)
        for largest in (False, True):
            fitted = repair(adjust_counts(counts, target, rng, low=rel.low, high=cap, largest_first=largest))
            key = (ks_statistic(pooled, fitted), gap)
            if best is None or key < best[:2]:
                best = (key[0], key[1], fitted)
    assert best is not None
    return best[2]


def ancestor_rows(table: str, path: list[int], links: Mapping[str, Mapping[int, np.ndarray]],
                  metadata: Metadata, n_rows: int) -> np.ndarray:
    """Row index, in the ancestor table, of every row of ``table`` (-1 where a link is null)."""
    current = table
    rows = np.arange(n_rows, dtype=np.int64)
    for j in path:
        step = links[current][j]
        rows = np.where(rows >= 0, step[np.maximum(rows, 0)], -1)
        current = metadata.foreign_keys[j].parent_table
    return rows


def _combine(col: Any) -> pa.Array:
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks else pa.array([], type=col.type)
    return col


def _take(values: Any, idx: np.ndarray) -> pa.Array:
    """values[idx], null where idx is -1."""
    import pyarrow as pa

    values = _combine(values)
    if len(values) == 0:
        return pa.nulls(len(idx), values.type)
    return values.take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    arr = _combine(arr)
    if arr.type == target:
        return arr
    try:
        return arr.cast(target)
    except Exception:  # noqa: BLE001 - e.g. float -> int with fractions: keep the generator's values
        try:
            return arr.cast(target, safe=False)
        except Exception:  # noqa: BLE001
            return arr


def _empty_like(n: int) -> pa.Table:
    import pyarrow as pa

    return pa.table({"__n__": pa.nulls(n)}).drop(["__n__"])  # no columns, n rows


def _hstack(left: pa.Table, right: pa.Table) -> pa.Table:
    import pyarrow as pa

    names = list(left.column_names) + list(right.column_names)
    arrays = [left.column(c) for c in left.column_names] + [right.column(c) for c in right.column_names]
    if not arrays:
        return left
    return pa.table(arrays, names=names)


def _keep_unique(plan: TablePlan, own: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Columns unique in the real table made unique again (see :mod:`hiveframe.pipeline.unique`)."""
    import pyarrow as pa

    for name, pool in plan.unique.items():
        if name not in own.column_names or own.num_rows < 2:
            continue
        col = own.column(name)
        fixed = make_unique(col.to_pylist(), pool, rng)
        typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        own = own.set_column(own.column_names.index(name), name, _cast(pa.array(fixed, type=typ), col.type))
    return own


def _own_columns(plan: TablePlan, generated: pa.Table | None, n: int) -> pa.Table:
    """The generated table's own columns and child summaries (n rows, even with nothing to model)."""
    import pyarrow as pa

    from hiveframe.pipeline.summaries import summary_type

    schema = plan.schema
    assert schema is not None
    names = plan.generated
    if not names:
        return _empty_like(n)
    if generated is None:
        types = [schema.field(c).type for c in plan.modelled] + [summary_type(c.column) for c in plan.summaries]
        return pa.table([pa.nulls(0, t) for t in types], names=names)
    missing = [c for c in names if c not in generated.column_names]
    if missing or generated.num_rows != n:
        raise ConfigError(f"the generator of table {plan.name!r} returned {generated.num_rows} rows with "
                          f"columns {generated.column_names}; expected {n} rows with {names}")
    return generated.select(names)


def _context_values(context: list[ContextColumn], parent_features: pa.Table, idx: np.ndarray | None,
                    counts: np.ndarray | None) -> pa.Table:
    """Context columns for each child row, from its driver parent's row (null for no parent)."""
    import pyarrow as pa

    assert idx is not None
    arrays, names = [], []
    for cc in context:
        if cc.source == "count":
            assert counts is not None
            arr = pa.array(np.asarray(counts, dtype=np.int64)[np.maximum(idx, 0)], mask=idx < 0, type=pa.int64())
        else:
            arr = _take(parent_features.column(cc.ref), idx)
        arrays.append(arr)
        names.append(cc.name)
    return pa.table(arrays, names=names) if arrays else _empty_like(len(idx))


def _row_view(own: pa.Table, parent_features: pa.Table | None, drv_idx: np.ndarray | None) -> pa.Table:
    """A row's content plus its driver parent's attributes: what a secondary key may depend on."""
    if parent_features is None or drv_idx is None or parent_features.num_columns == 0:
        return own
    import pyarrow as pa

    extra = pa.table([_take(parent_features.column(c), drv_idx) for c in parent_features.column_names],
                     names=[f"^{c}" for c in parent_features.column_names])
    if own.num_columns == 0:
        return extra
    return _hstack(own, extra)


def _describes(column: Column, values: Any) -> bool:
    """Whether a parent column can condition children: not free text, not one value per row.

    A generator conditioned on a name, title or address of the parent learns that parent's own
    children, not how children depend on their parent's attributes, and a copula conditioned on
    dozens of near-unique categories bends its marginals.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import is_identity

    if column.kind in (ColumnKind.TEXT, ColumnKind.ID, ColumnKind.PII):
        return False
    t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        non_null = len(values) - values.null_count
        return not is_identity(len(pc.unique(values.drop_null())), non_null)
    return True


def _as_context_column(cc: ContextColumn, nullable: bool) -> Column:
    col = replace(cc.column, name=cc.name)
    if nullable and not col.nullable:
        col = replace(col, nullable=True)
    if col.kind in (ColumnKind.ID, ColumnKind.PII):
        col = replace(col, kind=ColumnKind.CATEGORICAL)
    return col


def _constraints_for(table: Table, modelled: list[str]) -> tuple[Mapping[str, Any], ...]:
    """The table's constraints that only name modelled columns (keys are not the generator's)."""
    names = set(table.column_names)
    keep = []
    for c in table.constraints:
        mentioned = {v for v in _strings(c) if v in names}
        if mentioned <= set(modelled):
            keep.append(c)
    return tuple(keep)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or type(spec).__name__
