"""QA filters: validators that also remove the synthetic rows they fail (``hiveframe sample --qa``).

Each works from the real rows when given, else from the *domains* the model recorded at fit (categories
seen, numeric ranges, the duplicate-row share; see :func:`hiveframe.pipeline.conditions.fit_domains`),
except memorization, which needs the real rows. :func:`hiveframe.pipeline.qa.apply_filters` removes
the rows and, in cascade, the rows that reference them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import FilterOutcome, QAFilter, ValidationResult
from hiveframe.metadata import ColumnKind


def _domains(metadata, real, domains) -> dict[str, Any]:
    """Per table domains: from the real rows when given (they are the truth), else the model's."""
    if real is not None:
        from hiveframe.components import Database
        from hiveframe.pipeline.conditions import fit_domains

        return fit_domains(metadata, Database(dict(real)))["tables"]
    return dict((domains or {}).get("tables", {}))


def _names(metadata, synthetic) -> list[str]:
    return [t for t in metadata.table_names if t in synthetic]


def _outcome(name: str, remove: dict[str, np.ndarray], synthetic, details: dict[str, Any], summary: str,
             *, fail: bool = False, warn: bool = False) -> FilterOutcome:
    removed = {t: int(m.sum()) for t, m in remove.items()}
    total = sum(t.num_rows for t in synthetic.values()) or 1
    scores = {"removed_rows": float(sum(removed.values())), "removed_share": sum(removed.values()) / total}
    status = "fail" if fail else "warn" if (warn or any(removed.values())) else "pass"
    result = ValidationResult(validator=name, scores=scores, status=status, summary=summary,
                              details={"removed": removed, **details})
    return FilterOutcome(result=result, remove={t: m for t, m in remove.items() if m.any()})


def _removed_text(remove: Mapping[str, np.ndarray]) -> str:
    parts = [f"{t}: {int(m.sum())}" for t, m in remove.items() if m.any()]
    return ", ".join(parts) if parts else "none"


@attrs.define(kw_only=True, eq=False)
class SchemaFilter(QAFilter):
    """Rows with a null in a non-nullable column, a category the source never had, or a NaN/infinite number."""

    name: ClassVar[str] = "qa_schema"
    extra: ClassVar[str | None] = "validate"

    def _filter(self, synthetic, metadata, real, domains, holdout):
        import pyarrow.compute as pc

        from hiveframe.pipeline.features import numeric_values

        doms = _domains(metadata, real, domains)
        remove, reasons, table_problems = {}, {}, {}
        for name in _names(metadata, synthetic):
            table, meta = synthetic[name], metadata.table(name)
            bad = np.zeros(table.num_rows, dtype=bool)
            why: dict[str, int] = {}
            missing = [c for c in meta.column_names if c not in table.column_names]
            if missing:  # not a row's fault: reported, nothing removed
                table_problems[name] = {"missing_columns": missing}
            cols = doms.get(name, {}).get("columns", {})
            for column in meta.columns:
                if column.name not in table.column_names:
                    continue
                values = table.column(column.name)
                hit = np.zeros(table.num_rows, dtype=bool)
                if not column.nullable and values.null_count:
                    hit |= np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                cats = cols.get(column.name, {}).get("categories")
                if cats is not None and column.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
                    import pyarrow as pa

                    seen = pa.array([str(c) for c in cats], type=pa.string())
                    inside = pc.is_in(pc.cast(values, pa.string()), value_set=seen)
                    hit |= ~np.asarray(pc.fill_null(inside, True).to_numpy(zero_copy_only=False), dtype=bool)
                if column.kind == ColumnKind.NUMERICAL:
                    v = numeric_values(values)
                    if v is not None:
                        present = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                        hit |= present & ~np.isfinite(v)
                if hit.any():
                    why[column.name] = int(hit.sum())
                    bad |= hit
            remove[name] = bad
            if why:
                reasons[name] = why
        summary = (f"rows off the schema removed ({_removed_text(remove)})"
                   + (f"; tables missing columns: {sorted(table_problems)}" if table_problems else ""))
        return _outcome(self.name, remove, synthetic, {"columns": reasons, "tables": table_problems}, summary,
                        fail=bool(table_problems))


@attrs.define(kw_only=True, eq=False)
class RangeFilter(QAFilter):
    """Rows with a number or date outside the declared bounds, or else the range seen in the source."""

    name: ClassVar[str] = "qa_range"
    extra: ClassVar[str | None] = "validate"

    def _filter(self, synthetic, metadata, real, domains, holdout):
        from hiveframe.pipeline.features import numeric_values

        doms = _domains(metadata, real, domains)
        remove, reasons = {}, {}
        for name in _names(metadata, synthetic):
            table, meta = synthetic[name], metadata.table(name)
            bad = np.zeros(table.num_rows, dtype=bool)
            why = {}
            for cname, dom in doms.get(name, {}).get("columns", {}).items():
                if dom.get("kind") != "ordered" or cname not in table.column_names:
                    continue
                column = meta.column(cname)
                low = column.low if column.low is not None else dom.get("low")
                high = column.high if column.high is not None else dom.get("high")
                v = numeric_values(table.column(cname))
                if v is None:
                    continue
                hit = np.zeros(len(v), dtype=bool)
                with np.errstate(invalid="ignore"):
                    if low is not None:
                        hit |= v < low
                    if high is not None:
                        hit |= v > high
                if hit.any():
                    why[cname] = {"removed": int(hit.sum()), "low": low, "high": high}
                    bad |= hit
            remove[name] = bad
            if why:
                reasons[name] = why
        return _outcome(self.name, remove, synthetic, {"columns": reasons},
                        f"rows out of range removed ({_removed_text(remove)})")


@attrs.define(kw_only=True, eq=False)
class ConstraintFilter(QAFilter):
    """Rows that break a constraint declared in the metadata (the checks of the ``quality`` validator)."""

    name: ClassVar[str] = "qa_constraint"
    extra: ClassVar[str | None] = "validate"

    def _filter(self, synthetic, metadata, real, domains, holdout):
        from hiveframe_validate.quality import violation_mask

        remove, checked, unsupported = {}, {}, {}
        for name in _names(metadata, synthetic):
            table, meta = synthetic[name], metadata.table(name)
            bad = np.zeros(table.num_rows, dtype=bool)
            reference = real.get(name) if real is not None else None
            for i, constraint in enumerate(meta.constraints):
                hit = violation_mask(constraint, table, meta, reference=reference)
                label = f"{name}#{i} {constraint.get('type', constraint.get('constraint_class', '?'))}"
                if isinstance(hit, dict):
                    unsupported[label] = hit["unsupported"]
                    continue
                checked[label] = int(hit.sum())
                bad |= hit
            remove[name] = bad
        summary = f"rows breaking declared constraints removed ({_removed_text(remove)}); {len(checked)} checked"
        if unsupported:
            summary += f", {len(unsupported)} not checkable here"
        return _outcome(self.name, remove, synthetic, {"constraints": checked, "unsupported": unsupported},
                        summary, warn=bool(unsupported))


@attrs.define(kw_only=True, eq=False)
class DiversityFilter(QAFilter):
    """Duplicate rows beyond the source's own duplicate share are removed; mode collapse is reported.

    A categorical column has collapsed when its most common value takes ``collapse_margin`` (absolute)
    more of the rows than in the source. Removing rows cannot repair a collapse without biasing every
    other column, so it is reported, not filtered.
    """

    name: ClassVar[str] = "qa_diversity"
    extra: ClassVar[str | None] = "validate"
    collapse_margin: float = 0.25

    def _filter(self, synthetic, metadata, real, domains, holdout):
        from hiveframe.pipeline.plan import modelled_columns
        from hiveframe_validate._frame import key_strings, label_values

        doms = _domains(metadata, real, domains)
        remove, dups, collapsed = {}, {}, {}
        for name in _names(metadata, synthetic):
            table, meta = synthetic[name], metadata.table(name)
            dom = doms.get(name, {})
            cols = [c for c in modelled_columns(metadata, meta) if c in table.column_names]
            bad = np.zeros(table.num_rows, dtype=bool)
            if cols and table.num_rows:
                keys, _ = key_strings(table, cols)
                _, first = np.unique(keys.astype(str), return_index=True)
                repeat = np.ones(table.num_rows, dtype=bool)
                repeat[first] = False
                allowed_share = float(dom.get("duplicate_share") or 0.0)
                allowed = int(math.floor(allowed_share * table.num_rows))
                extra = np.flatnonzero(repeat)[allowed:]
                bad[extra] = True
                dups[name] = {"synthetic_share": float(repeat.mean()), "source_share": allowed_share,
                              "removed": int(len(extra))}
            for cname, cdom in dom.get("columns", {}).items():
                if cdom.get("kind") != "categorical" or cname not in table.column_names or not table.num_rows:
                    continue
                labels = label_values(table.column(cname))
                _, counts = np.unique(labels.astype(str), return_counts=True)
                top = float(counts.max() / table.num_rows)
                source_top = float(cdom.get("top_share", math.nan))
                if top >= source_top + self.collapse_margin:
                    collapsed[f"{name}.{cname}"] = {"synthetic_top_share": top, "source_top_share": source_top}
            remove[name] = bad
        summary = f"duplicate rows beyond the source's share removed ({_removed_text(remove)})"
        if collapsed:
            summary += f"; mode collapse in {sorted(collapsed)}"
        return _outcome(self.name, remove, synthetic, {"duplicates": dups, "mode_collapse": collapsed}, summary,
                        warn=bool(collapsed))


@attrs.define(kw_only=True, eq=False)
class MemorizationFilter(QAFilter):
    """Synthetic rows closer to a real row than real rows are to each other are removed.

    Distance: the ``privacy`` validator's Gower distance to the closest real row (DCR). Baseline: the
    distances of unseen real rows to the training rows (the model's holdout when given), and its
    ``quantile`` (default 1%) is the threshold: a row nearer than 99% of unseen real rows are is taken
    for a memorized one. Without a holdout the real rows are cut in halves and each half is the
    reference for the other (synthetic rows are compared with each half, against that half's
    threshold at ``quantile / 2``), so synthetic and real rows always face a reference of one size. An ideal generator thus loses
    about ``quantile`` of its rows; when real rows often have exact twins the threshold is 0 and
    nothing is removed (a copy is then no more suspect than a fresh real row). Every synthetic row is
    compared with every real row (``baseline_size`` caps only the unseen rows of the baseline).
    """

    name: ClassVar[str] = "qa_memorization"
    extra: ClassVar[str | None] = "validate"
    needs_real: ClassVar[bool] = True
    quantile: float = 0.01
    baseline_size: int = 2000
    seed: int = 0

    def _filter(self, synthetic, metadata, real, domains, holdout):
        import pyarrow as pa

        from hiveframe_validate._frame import analysed_columns, convert_column, sample_rows
        from hiveframe_validate.privacy import Gower

        assert real is not None
        remove, tables = {}, {}
        for i, name in enumerate(_names(metadata, synthetic)):
            meta = metadata.table(name)
            cols_meta = [c for c in analysed_columns(metadata, meta) if c.name in synthetic[name].column_names]
            synth, source = synthetic[name], real.get(name)
            if not cols_meta or source is None or source.num_rows < 4 or synth.num_rows == 0:
                continue
            rng = np.random.default_rng([int(self.seed), i])
            names = [c.name for c in cols_meta]
            if holdout is not None and name in holdout and holdout[name].num_rows:
                # synthetic rows and unseen real rows, each against the training rows
                sides, protocol = [(source, holdout[name], self.quantile)], "holdout"
            else:  # each half against the other: the same reference size for synthetic and real rows
                perm = rng.permutation(source.num_rows)
                half = source.num_rows // 2
                a, b = source.take(np.sort(perm[:half])), source.take(np.sort(perm[half:]))
                sides, protocol = [(a, b, self.quantile / 2), (b, a, self.quantile / 2)], "split real halves"
            bad = np.zeros(synth.num_rows, dtype=bool)
            thresholds, d_all, base_all = [], [], []
            for reference, unseen, q in sides:
                unseen = sample_rows(unseen, self.baseline_size, rng)
                parts = {"synthetic": synth, "reference": reference, "unseen": unseen}
                stacked = pa.concat_tables([t.select(names) for t in parts.values()], promote_options="permissive")
                bounds, at = {}, 0
                for key, t in parts.items():
                    bounds[key] = slice(at, at + t.num_rows)
                    at += t.num_rows
                cols = [convert_column(name, c, source.column(c.name), stacked.column(c.name)) for c in cols_meta]
                gower = Gower(cols)
                enc = gower.encode([c.synthetic for c in cols])
                d_base = gower.nearest(enc[bounds["unseen"]], enc[bounds["reference"]])
                threshold = float(np.quantile(d_base, q))
                d_syn = gower.nearest(enc[bounds["synthetic"]], enc[bounds["reference"]])
                bad |= d_syn < threshold
                thresholds.append(threshold)
                d_all.append(d_syn)
                base_all.append(d_base)
            d_syn = np.minimum.reduce(d_all)
            d_base = np.concatenate(base_all)
            threshold = min(thresholds)
            remove[name] = bad
            tables[name] = {"protocol": protocol, "threshold": threshold, "quantile": self.quantile,
                            "baseline_rows": int(len(d_base)), "synthetic_median": float(np.median(d_syn)),
                            "baseline_median": float(np.median(d_base)),
                            "zero_distance_share": float((d_syn <= 0).mean()), "removed": int(bad.sum())}
        return _outcome(self.name, remove, synthetic, {"tables": tables},
                        f"rows closer to a real row than the {self.quantile:.0%} quantile of unseen real rows "
                        f"removed ({_removed_text(remove)})")


#: every QA filter, in the order ``--qa`` runs them
QA_FILTERS = [SchemaFilter, RangeFilter, ConstraintFilter, DiversityFilter, MemorizationFilter]
