"""What the relational engine learns from real rows: plainly, or under differential privacy.

The engine picks one policy per fit (:func:`fit_policy`) instead of branching on DP throughout:

- :class:`PlainFit` learns relationships, child summaries, derived aggregates, context choices,
  secondary-key matching, self-reference forests and key formats from the rows;
- :class:`PrivateFit` asks the differentially private wrapper (its public methods, declared on
  :class:`hiveframe.components.PrivacyWrapper`) for every number it learns: the wrapper first plans
  one budget for the whole database (:meth:`~hiveframe.components.PrivacyWrapper.begin`), then
  children-per-parent histograms, null shares, row counts and self-reference fan-outs are noisy
  releases charged to the table's account, and the rest is not learnt (context columns only when the
  metadata names them, no child summaries or derived aggregates, secondary keys matched without
  looking at content, key formats that owe nothing to the real keys).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.pipeline._tables import _empty_like
from hiveframe.pipeline.assign import AssignmentModel
from hiveframe.pipeline.plan import Relation, SelfRef, TablePlan, derive_seed, modelled_columns, pii_columns

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database, PrivacyWrapper, TableGenerator
    from hiveframe.pipeline.engine import RelationalEngine


def _self_references(metadata: Metadata, table: Table, data: pa.Table) -> Iterator[tuple[int, np.ndarray]]:
    """Each self-referencing foreign key of ``table`` (its index) with the parent row of every row (the
    forests of both policies are fitted on it); orphans kept under 'keep' are said once, as roots."""
    from hiveframe.metadata.relations import resolve

    for j, fk in enumerate(metadata.foreign_keys):
        if fk.child_table == table.name and fk.is_self_reference:
            idx, orphans = resolve(data, fk.child_columns, data, fk.parent_columns)
            if fk.orphans == "keep" and orphans.any():
                log.warning("self-reference %s: %d row(s) point at no row of %s; under the orphan policy "
                            "'keep' they are generated as roots (null), since a generated key must never "
                            "collide with a generated row", fk.name, int(orphans.sum()), table.name)
            yield j, idx


class PlainFit:
    """Learn everything the engine models from the real rows."""

    private = False

    def __init__(self, engine: RelationalEngine) -> None:
        self.engine = engine

    def start(self, database: Database, generator_for: Callable[[Table], TableGenerator]) -> Database:
        return database

    def relation(self, j: int, table: Table, data: pa.Table, counts: np.ndarray, nulls: int,
                 database: Database, *, seed: int) -> Relation:
        parent = database[self.engine.metadata.foreign_keys[j].parent_table]
        n = data.num_rows
        null_rate = float(nulls / n) if n else 0.0
        return Relation(
            fk_index=j, role="secondary", null_rate=null_rate,
            low=int(counts.min()) if len(counts) else 0, high=int(counts.max()) if len(counts) else 0,
            coverage=float((counts > 0).mean()) if len(counts) else 0.0,
            exact_one=bool(len(counts) and counts.min() == 1 and counts.max() == 1 and null_rate == 0),
            parent_rows=parent.num_rows, total=int(counts.sum()),
        )

    def summaries(self, database: Database, relations: dict[str, list[Relation]],
                  links: dict[str, dict[int, np.ndarray]], seed: int) -> dict[str, list[tuple[Any, Any]]]:
        return self.engine._summaries(database, relations, links, seed)

    def derived(self, database: Database, relations: dict[str, list[Relation]],
                links: dict[str, dict[int, np.ndarray]]) -> dict[str, list[dict[str, Any]]]:
        return self.engine._derived(database, relations, links)

    def rows(self, table: Table, data: pa.Table) -> int:
        return data.num_rows

    def before_generator(self, plan: TablePlan, table: Table, data: pa.Table) -> None:
        """What must be released before the table's generator trains (nothing, without DP)."""

    def context_allowed(self, fk: Any) -> bool:
        return True

    def secondary(self, plan: TablePlan, rel: Relation, data: pa.Table, driver: Relation | None,
                  links: dict[str, dict[int, np.ndarray]], features: dict[str, pa.Table], database: Database,
                  rng: np.random.Generator) -> None:
        self.engine._fit_secondary(plan, rel, data, data.select(plan.modelled), driver, links, features,
                                   database, rng)

    def after_generator(self, plan: TablePlan, table: Table, data: pa.Table, database: Database,
                        features: dict[str, pa.Table]) -> None:
        from hiveframe.pipeline.forest import ForestModel

        for j, idx in _self_references(self.engine.metadata, table, data):
            plan.self_refs.append(SelfRef(j, ForestModel().fit(idx, features[table.name])))
        self.engine._fit_keys(plan, table, data, database)

    def private_mean(self, table: str) -> bool:
        """Whether null handling "mean" is done by the privacy wrapper (from released histograms)."""
        return False

    def private_drop(self, table: str) -> bool:
        """Whether null handling "drop" is done by the privacy wrapper (with the rows' privacy units)."""
        return False


class PrivateFit(PlainFit):
    """Learn only through the differentially private wrapper's noisy, accounted releases."""

    private = True

    def __init__(self, engine: RelationalEngine, dp: PrivacyWrapper, *, metadata_detected: bool) -> None:
        super().__init__(engine)
        self.dp = dp
        self.metadata_detected = metadata_detected

    def start(self, database: Database, generator_for: Callable[[Table], TableGenerator]) -> Database:
        """Plan the database's budget (and cap children per parent) before any release."""
        from hiveframe.components import Database

        md = self.engine.metadata
        planned: dict[str, tuple[Table, int]] = {}
        generators: dict[str, TableGenerator | None] = {}
        for table in md.tables:
            planned[table.name] = self._planned(table)
            learnt = modelled_columns(md, table) + pii_columns(md, table)
            generators[table.name] = generator_for(table) if learnt else None
        tables = self.dp.begin(md, database, planned=planned, generators=generators,
                               metadata_detected=self.metadata_detected)
        return Database(dict(tables), dict(database.declared_primary_keys), list(database.declared_foreign_keys))

    def _planned(self, table: Table) -> tuple[Table, int]:
        """The columns the table's statistics describe, and the releases the engine makes itself."""
        md = self.engine.metadata
        fks = list(md.parents_of(table.name))
        extra = 3 * sum(1 for fk in fks if not fk.is_self_reference) + 2 * sum(1 for fk in fks if fk.is_self_reference)
        extra += sum(1 for c in table.columns if c.name not in set(table.primary_key) | md.foreign_key_columns(table.name)
                     and c.kind == ColumnKind.ID)
        learnt = modelled_columns(md, table) + pii_columns(md, table)
        columns = [table.column(c) for c in learnt]
        for fk in fks:  # declared context columns are learnt with the table's own
            parent = md.table(fk.parent_table)
            for c in fk.context_columns or ():
                if fk.is_self_reference:
                    continue
                if parent.has_column(c):
                    columns.append(replace(parent.column(c), name=f"{fk.parent_table}.{c}"))
                else:  # a context of the parent's context: plan for the costlier kind
                    columns.append(Column(f"{fk.parent_table}.{c}", ColumnKind.NUMERICAL, "double"))
                    columns.append(Column(f"{fk.parent_table}.{c}~", ColumnKind.CATEGORICAL))
        return Table(name=table.name, columns=tuple(columns)), extra

    def relation(self, j: int, table: Table, data: pa.Table, counts: np.ndarray, nulls: int,
                 database: Database, *, seed: int) -> Relation:
        """A relationship learnt from noisy releases only (children-per-parent histogram, null share)."""
        import pyarrow as pa

        md = self.engine.metadata
        fk = md.foreign_keys[j]
        parent = database[fk.parent_table]
        linkage = self.dp.linkage_model(table.name, j)
        # no seed: every draw of this fit is DP noise, from the wrapper's secret source (``seed`` is unused)
        linkage.fit(pa.table({"__n__": pa.nulls(parent.num_rows)}).drop(["__n__"]), counts, seed=None)
        info = linkage.summary()
        rows = self.dp.table_budget(table.name).rows()
        null_rate = self.dp.noisy_share(table.name, nulls, rows, label=f"{fk.name}: null share") \
            if any(table.column(c).nullable for c in fk.child_columns) else 0.0
        parent_rows = self.dp.table_budget(fk.parent_table).rows()
        return Relation(fk_index=j, role="secondary", null_rate=null_rate if null_rate > 0.005 else 0.0,
                        low=info["low"], high=info["high"], coverage=info["coverage"],
                        exact_one=bool(info["exact_one"] and null_rate <= 0.005), linkage=linkage,
                        parent_rows=parent_rows, total=int(round(info["mean"] * parent_rows)))

    def summaries(self, database: Database, relations: dict[str, list[Relation]],
                  links: dict[str, dict[int, np.ndarray]], seed: int) -> dict[str, list[tuple[Any, Any]]]:
        return {}  # what children share would be a statistic without noise

    def derived(self, database: Database, relations: dict[str, list[Relation]],
                links: dict[str, dict[int, np.ndarray]]) -> dict[str, list[dict[str, Any]]]:
        return {}

    def rows(self, table: Table, data: pa.Table) -> int:
        return self.dp.table_budget(table.name).rows()

    def before_generator(self, plan: TablePlan, table: Table, data: pa.Table) -> None:
        """Self-reference forests and id null shares: released before the generator's training."""
        for j, idx in _self_references(self.engine.metadata, table, data):
            plan.self_refs.append(SelfRef(j, self.dp.forest(table.name, idx, plan.real_rows)))
        self._fit_keys(plan, table, data)

    def _fit_keys(self, plan: TablePlan, table: Table, data: pa.Table) -> None:
        """Key and id formats that owe nothing to the real values; null shares of ids are noisy."""
        md = self.engine.metadata
        fk_cols = md.foreign_key_columns(table.name)
        pk = list(table.primary_key)
        for col in pk:
            if col in fk_cols:
                continue
            fmt = self.dp.key_format(data.schema.field(col).type)
            if len(pk) > 1:
                fmt["group"] = [c for c in pk if c != col]
            plan.keys[col] = fmt
        skip = set(plan.modelled) | set(plan.pii) | set(pk) | fk_cols
        for column in table.columns:
            if column.name in skip:
                continue
            values = data.column(column.name)
            share = (self.dp.noisy_share(table.name, values.null_count, plan.real_rows,
                                         label=f"{column.name}: null share")
                     if column.nullable else 0.0)
            plan.fills[column.name] = {"format": self.dp.key_format(values.type), "unique": True,
                                       "null_rate": share if share > 0.005 else 0.0}

    def context_allowed(self, fk: Any) -> bool:
        return fk.context_columns is not None  # choosing context by its dependence on the rows would not be private

    def secondary(self, plan: TablePlan, rel: Relation, data: pa.Table, driver: Relation | None,
                  links: dict[str, dict[int, np.ndarray]], features: dict[str, pa.Table], database: Database,
                  rng: np.random.Generator) -> None:
        """Matched to parents without looking at content."""
        md = self.engine.metadata
        fk = md.foreign_keys[rel.fk_index]
        rel.assign = AssignmentModel().fit(_empty_like(data.num_rows), _empty_like(database[fk.parent_table].num_rows),
                                           links[plan.name][rel.fk_index], rng=rng)
        # a primary key made of the two foreign keys (a link table) makes pairs unique: public
        table = md.table(plan.name)
        pair = set(fk.child_columns) | set(md.foreign_keys[driver.fk_index].child_columns if driver else ())
        rel.unique_pair = bool(table.primary_key) and set(table.primary_key) <= pair

    def after_generator(self, plan: TablePlan, table: Table, data: pa.Table, database: Database,
                        features: dict[str, pa.Table]) -> None:
        return None  # released before the generator trained

    def private_mean(self, table: str) -> bool:
        self.dp.set_null_handling(table, "mean")
        return True

    def private_drop(self, table: str) -> bool:
        self.dp.set_null_handling(table, "drop")
        return True


def fit_policy(engine: RelationalEngine, dp: PrivacyWrapper | None, *, metadata_detected: bool = False) -> PlainFit:
    """The policy of one fit: private when a differentially private wrapper is given."""
    if dp is None:
        return PlainFit(engine)
    if not getattr(type(dp), "differentially_private", False):
        from hiveframe.errors import ConfigError

        raise ConfigError(f"privacy wrapper {getattr(dp, 'name', dp)!r} given as `dp` is not differentially private")
    return PrivateFit(engine, dp, metadata_detected=metadata_detected)


__all__ = ["PlainFit", "PrivateFit", "derive_seed", "fit_policy"]
