"""The engine's sample phase: the plan and the fitted generators -> a database, parents first.

Part of :class:`hiveframe.pipeline.engine.RelationalEngine` (see that module for the whole picture).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError
from hiveframe.metadata import ForeignKey, Table
from hiveframe.pipeline import keys as keyfmt
from hiveframe.pipeline._tables import (
    PhaseSettings,
    _cast,
    _combine,
    _context_values,
    _empty_like,
    _hstack,
    _row_view,
    _take,
    ancestor_rows,
)
from hiveframe.pipeline.assign import adjust_counts, assign, bigraphic
from hiveframe.pipeline.plan import (
    Relation,
    TablePlan,
    derive_seed,
)
from hiveframe.pipeline.rules import parent_values as rule_parent_values
from hiveframe.pipeline.rules import sample_with_rules
from hiveframe.pipeline.unique import make_unique

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import TableGenerator
    from hiveframe.pipeline.conditions import ConditionSampler

log = logging.getLogger("hiveframe.pipeline.engine")


class SamplePhase(PhaseSettings):
    """Generates a database from the plan: rows per parent, generated columns, keys, secondary keys."""


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
        #: per table: rows drawn and redrawn to keep its rules (the rejection rate)
        self.rule_reports: dict[str, dict[str, Any]] = {}
        order = sorted(self.plans.values(), key=lambda p: p.index)
        for plan in order:
            name = plan.name
            table = md.table(name)
            rng = np.random.default_rng(derive_seed(seed, plan.index, "sample"))
            links[name] = {}
            driver = plan.driver
            counts = None
            sequence_rows = None
            if driver is None:
                n = int(rows[name]) if name in rows else self.plan.rows_at_scale(name, scale)
                drv_idx = None
            elif plan.sequence is not None:  # children and their number from the sequence generator
                parent_name = md.foreign_keys[driver.fk_index].parent_table
                sequence_rows, drv_idx = self._sample_sequences(
                    plan, generators[name], features[parent_name], derive_seed(seed, plan.index, "generator"))
                counts = np.bincount(drv_idx, minlength=features[parent_name].num_rows)
                links[name][driver.fk_index] = drv_idx
                n = len(drv_idx)
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

            if conditions is not None and conditions.covers(name) and plan.sequence is not None:
                raise ConfigError(f"table {name!r} is generated as sequences, which take no conditions",
                                  hint=f"fit with the table parameter {name}.sequential=false to condition it")
            keep = conditions.columns(name) if conditions is not None else set()

            def draw(positions: np.ndarray, s: int, name: str = name, ctx: pa.Table | None = ctx) -> pa.Table:
                if conditions is not None and conditions.covers(name):
                    return conditions.sample_table(name, generators[name], len(positions),
                                                   ctx.take(positions) if ctx is not None else None, s)
                return self.host.hooks.sample_table(
                    table_name=name, generator=generators[name], num_rows=len(positions),
                    context=ctx.take(positions) if ctx is not None else None, seed=s)

            def finish(rows: pa.Table, positions: np.ndarray, plan: TablePlan = plan,
                       drv_idx: np.ndarray | None = drv_idx, keep: set[str] = keep) -> pa.Table:
                if plan.driver is None or drv_idx is None or rows.num_rows != len(positions):
                    return rows  # (a wrong row count is reported by _own_columns)
                return self._inherit(plan, rows, generated_rows, drv_idx[positions], keep=keep)

            generated = None
            if plan.sequence is not None:  # a sequence table has no rules (the fit rule refuses them)
                generated = sequence_rows
            elif n > 0 or not plan.has_columns:  # rules enforced here (pipeline.rules), siblings' shared columns too
                parent = out[md.foreign_keys[driver.fk_index].parent_table] if driver is not None else None
                generated, self.rule_reports[name] = sample_with_rules(
                    plan.rules, table, draw, n, derive_seed(seed, plan.index, "generator"), finish=finish,
                    parent_values=rule_parent_values(plan.rules, parent, drv_idx), schema=plan.schema)
            own = _own_columns(plan, generated, n)
            pii = generated.select(plan.pii) if (plan.pii and generated is not None) else None
            if driver is not None and plan.sequence is not None:
                own = self._inherit(plan, own, generated_rows, drv_idx)
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

    def sample_partition(self, generators: Mapping[str, TableGenerator], *, scale: float,
                         root_rows: Mapping[str, int], replicated: Mapping[str, int], seed: int,
                         part: int) -> dict[str, pa.Table]:
        """Partition ``part`` of a database sampled in parts (the Spark engine, one call per partition).

        ``root_rows`` are this partition's rows of the roots that are split; ``replicated`` roots (lookup
        tables no table hangs off) are drawn whole from ``(seed, table)`` alone, so every partition
        references the same rows. Keys are partition-local: the caller shifts or remaps them (see
        :meth:`DatabasePlan.key_formats`). Same model, seed and partition: same rows.
        """
        generators = dict(generators)
        for name, n in replicated.items():
            if self.plan.tables[name].has_columns and n > 0:
                rows = self.host.hooks.sample_table(table_name=name, generator=generators[name], num_rows=n,
                                                    seed=derive_seed(seed, "replicated", name))
                generators[name] = _FixedRows(rows)  # type: ignore[assignment]
        counts = {**dict(root_rows), **dict(replicated)}
        return self.sample(generators, scale=scale, rows=counts, seed=derive_seed(seed, "partition", part))

    def _sample_sequences(self, plan: TablePlan, generator: Any, parent_features: pa.Table,
                          seed: int) -> tuple[pa.Table, np.ndarray]:
        """Every child of every generated parent from the sequence generator, checked."""
        parents = _context_values(plan.context, parent_features, np.arange(parent_features.num_rows), None)
        rows, parent_index = generator.sample_sequences(parents, seed=seed)
        parent_index = np.asarray(parent_index, dtype=np.int64)
        if (parent_index.ndim != 1 or len(parent_index) != rows.num_rows or
                (len(parent_index) and (parent_index.min() < 0 or parent_index.max() >= parents.num_rows
                                        or (np.diff(parent_index) < 0).any()))):
            raise ConfigError(f"the sequence generator of table {plan.name!r} returned {rows.num_rows} rows with "
                              "parent indexes that are not ascending rows of the parents it was given")
        return rows, parent_index

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
                from hiveframe.metadata.relations import key_strings

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


# -- helpers ----------------------------------------------------------------------------------------
class _FixedRows:
    """Stands in for a replicated root's generator: the same rows in every partition."""

    name = "fixed_rows"
    conditional = False

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def sample(self, num_rows: int | None = None, **_: Any) -> pa.Table:
        return self.table


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
