"""The engine's fit phase: relationships, drivers, summaries, context, generators, keys -> the plan.

Part of :class:`hiveframe.pipeline.engine.RelationalEngine` (see that module for the whole picture).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError, MetadataError, Problem
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Table
from hiveframe.persistence import component_key
from hiveframe.pipeline import keys as keyfmt
from hiveframe.pipeline._tables import (
    PhaseSettings,
    _combine,
    _context_values,
    _empty_like,
    _hstack,
    _row_view,
    ancestor_rows,
)
from hiveframe.pipeline.assign import AssignmentModel
from hiveframe.pipeline.plan import (
    ContextColumn,
    Relation,
    SummaryColumn,
    TablePlan,
    derive_seed,
    modelled_columns,
    pii_columns,
)
from hiveframe.pipeline.rules import fit_rules
from hiveframe.pipeline.unique import unique_columns

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database, TableGenerator, TrainingCallback
    from hiveframe.pipeline.policy import PlainFit

log = logging.getLogger("hiveframe.pipeline.engine")

#: sibling agreement from which children copy a summary from their parent instead of drawing it
INHERITED = 0.98
#: the sequence rule: siblings per parent (mean over parents with children) from which a sequence
#: generator models the children together, and the longest sequence it is asked to draw step by step
SEQUENCE_MIN_SIBLINGS = 2.0
SEQUENCE_MAX_LENGTH = 1000
NULL_HANDLING = ("model", "mean", "drop")


class FitPhase(PhaseSettings):
    """Learns the plan (:class:`hiveframe.pipeline.plan.DatabasePlan`) and fits each table's generator."""

    policy: PlainFit

    def fit(self, database: Database, *, make_generator: Callable[[Table], TableGenerator],
            seed: int, callback: TrainingCallback | None = None,
            workdir: Path | None = None) -> dict[str, TableGenerator]:
        import pyarrow as pa

        from hiveframe.metadata.relations import resolve
        from hiveframe.pipeline.policy import fit_policy

        md = self.metadata
        order = md.topological_order()
        self.plan.tables = {}
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
            sequences = driver is not None and own.num_columns > 0 and self._use_sequences(
                plan, table, generator, links[name][driver.fk_index])
            if driver is not None and own.num_columns and generator.conditional:
                ctx_table = self._choose_context(plan, table, own, driver, links[name][driver.fk_index],
                                                 features, contexts, rng, with_count=not sequences)
            contexts[name] = ctx_table if ctx_table is not None else _empty_like(data.num_rows)
            if sequences:
                assert driver is not None
                generators[name] = self._fit_sequences(plan, table, own, driver, links[name][driver.fk_index],
                                                       features, generator, seed=derive_seed(seed, index, "generator"),
                                                       callback=callback, workdir=workdir)
                features[name] = _hstack(own, contexts[name])
                for rel in plan.secondaries:
                    policy.secondary(plan, rel, data, driver, links, features, database, rng)
                policy.after_generator(plan, table, data, database, features)
                self.plans[name] = plan
                continue
            fit_data = _hstack(_hstack(own, data.select(plan.pii)), contexts[name])
            model_table = Table(
                name=name,
                columns=(tuple(table.column(c) for c in plan.modelled) + tuple(c.column for c in plan.summaries)
                         + tuple(table.column(c) for c in plan.pii) + tuple(c.column for c in plan.context)),
                constraints=_constraints_for(table, plan.modelled),
            )
            driver_table = md.foreign_keys[driver.fk_index].parent_table if driver is not None else None
            fit_data, model_table, plan.rules = fit_rules(
                table, fit_data, model_table, modelled=plan.modelled, private=self.dp is not None,
                driver_table=driver_table, parent=database[driver_table] if driver is not None else None,
                parent_index=links[name][driver.fk_index] if driver is not None else None)
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

    def _use_sequences(self, plan: TablePlan, table: Table, generator: Any, idx: np.ndarray) -> bool:
        """Whether the driver relationship of ``table`` is modelled as sequences (see the module doc).

        The generator must implement :class:`hiveframe.components.SequenceGenerator`. Its
        ``sequential`` parameter decides when set (``True`` raises if the table cannot be sequences);
        otherwise the rule: sequences when siblings exist to learn from (at least
        ``SEQUENCE_MIN_SIBLINGS`` children on average per parent that has any) and sequences stay
        short enough to draw step by step (at most ``SEQUENCE_MAX_LENGTH`` children per parent).
        """
        from hiveframe.components.sequences import learns_sequences_privately, supports_sequences

        wanted = getattr(generator, "sequential", None)
        if wanted is False or not supports_sequences(generator):
            if wanted is True:
                raise ConfigError(f"table {table.name!r}: sequential=True, but generator "
                                  f"{getattr(generator, 'name', type(generator).__name__)!r} cannot model sequences")
            return False
        blockers = []
        if self.dp is not None and not (wanted is True and learns_sequences_privately(generator)):
            # choosing sequences by the rule would read exact counts of the real rows: only when asked for
            blockers.append("differential privacy fits the count model and rows apart (unless sequential=True "
                            "with a generator that learns sequences privately)")
        if (idx < 0).any():
            blockers.append("some rows have no driver parent (null or dangling foreign key)")
        if any(r.exact_one or r.unique_pair for r in plan.secondaries):
            blockers.append("a secondary foreign key fixes the number of rows per parent")
        if self.null_handling.get(table.name, self.null_handling.get("*", "model")) != "model":
            blockers.append("null handling other than 'model' drops or changes rows of a sequence")
        if table.constraints:
            blockers.append("the table declares rules, which are enforced (computed or redrawn) row by row")
        if wanted is True:
            if blockers:
                raise ConfigError(f"table {table.name!r}: sequential=True, but the table cannot be generated as "
                                  "sequences: " + "; ".join(blockers), hint="set sequential to None or False")
            return True
        if blockers:
            return False
        counts = np.bincount(idx, minlength=1)
        with_children = counts[counts > 0]
        if not len(with_children):
            return False
        chosen = (float(with_children.mean()) >= SEQUENCE_MIN_SIBLINGS
                  and int(with_children.max()) <= SEQUENCE_MAX_LENGTH)
        log.info("table %s: %.1f children per parent on average, %d at most: %s", table.name,
                 float(with_children.mean()), int(with_children.max()),
                 "generated as sequences" if chosen else "rows drawn one by one")
        return chosen

    def _fit_sequences(self, plan: TablePlan, table: Table, own: pa.Table, driver: Relation, idx: np.ndarray,
                       features: dict[str, pa.Table], generator: Any, *, seed: int,
                       callback: TrainingCallback | None, workdir: Path | None) -> Any:
        """Fit the table's sequence generator on its rows grouped by driver parent, in order."""
        import pyarrow as pa

        md = self.metadata
        parent = md.foreign_keys[driver.fk_index].parent_table
        n_parents = features[parent].num_rows
        order_by = next((c for c in plan.modelled if table.column(c).kind == ColumnKind.DATETIME), None)
        keys: list[np.ndarray] = [np.arange(len(idx))]
        if order_by is not None:
            from hiveframe.pipeline.features import numeric_values

            values = numeric_values(_combine(own.column(order_by)))
            if values is not None:
                keys.append(np.where(np.isnan(values), np.inf, values))
        keys.append(idx)
        rows = np.lexsort(keys)  # by parent, then time (nulls last), then the stored order
        parents = _context_values(plan.context, features[parent], np.arange(n_parents), None)
        model_table = Table(
            name=table.name,
            columns=(tuple(table.column(c) for c in plan.modelled) + tuple(c.column for c in plan.summaries)
                     + tuple(c.column for c in plan.context)),
            constraints=_constraints_for(table, plan.modelled),
        )
        plan.sequence = {"order_by": order_by}
        log.info("fitting table %s as sequences of %s (%d rows, %d parents)%s with %s", table.name, parent,
                 own.num_rows, n_parents, f", context {plan.context_names}" if plan.context else "", generator.name)
        fitted = generator.fit_sequences(
            own.take(pa.array(rows)), model_table, parent_index=idx[rows], parents=parents, order_by=order_by,
            seed=seed, callback=callback,
            workdir=(workdir / component_key(table.name)) if workdir is not None else None)
        return fitted if fitted is not None else generator

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
                    from hiveframe._builtin.transformers import ints_to_temporal, temporal_ints

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
                        rng: np.random.Generator, *, with_count: bool = True) -> pa.Table | None:
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
        if with_count:  # a sequence generator draws the count itself: it cannot be given it
            candidates[count_label] = ContextColumn(
                count_label, "count", "", Column(count_label, ColumnKind.NUMERICAL, dtype="int64"))
        counts = np.bincount(idx[idx >= 0], minlength=features[parent_name].num_rows)
        values = _context_values(list(candidates.values()), features[parent_name], idx, counts)
        if fk.context_columns is not None:
            wanted = list(fk.context_columns)
            by_ref = {c.ref: c.name for c in candidates.values() if c.source != "count"}
            by_ref.update({c.name: c.name for c in candidates.values()})
            if with_count:
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
            if not with_count:  # sequences: the parent context also drives how many children there are
                per_parent = _context_values(list(candidates.values()), features[parent_name],
                                             np.arange(len(counts)), None)
                by_count = ctxsel.score_candidates(per_parent, pa.table({"#": counts}), rng=rng)
                scores = {c: max(v, by_count.get(c, 0.0)) for c, v in scores.items()}
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


# -- helpers ----------------------------------------------------------------------------------------
def _holds_pii(column: Column) -> bool:
    """A key or id column that holds personal data (its metadata gives a ``pii_kind``)."""
    return column.kind == ColumnKind.PII or column.pii_kind is not None


def _pii_label(column: Column) -> str:
    return column.pii_kind.value if column.pii_kind is not None else "pii"


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
