"""Quality assurance: schema conformance, value ranges, declared constraints, duplicates, diversity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe_validate import metrics as M
from hiveframe_validate._base import BaseValidator, band, fmt, nanmax, nanmin
from hiveframe_validate._frame import (
    Col,
    analysed_columns,
    convert_column,
    family,
    key_strings,
    label_values,
    numeric_values,
    sample_rows,
)

#: constraint type aliases (hiveframe's own names and SDV-style names) -> the check that reads them.
CONSTRAINT_TYPES = {
    "range": "range", "scalarrange": "range", "scalar_range": "range",
    "positive": "positive", "negative": "negative",
    "inequality": "inequality",
    "unique": "unique",
    "not_null": "not_null", "notnull": "not_null",
    "one_of": "one_of", "categories": "one_of", "allowed_values": "one_of",
    "fixed_combinations": "fixed_combinations", "fixedcombinations": "fixed_combinations",
}


def _get(c: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in c:
            return c[n]
    return default


def _columns_of(c: Mapping[str, Any]) -> list[str]:
    cols = _get(c, "columns", "column_names")
    if cols is None:
        one = _get(c, "column", "column_name")
        cols = [] if one is None else [one]
    for extra in ("low_column", "low_column_name", "high_column", "high_column_name"):
        if extra in c:
            cols.append(c[extra])
    return [str(x) for x in ([cols] if isinstance(cols, str) else cols)]


def violations(constraint: Mapping[str, Any], table, metadata_table, reference=None) -> dict[str, Any]:
    """Rows of ``table`` breaking one constraint: {"checked", "violations", "share"} or {"unsupported"}.

    ``reference`` (the real table) is only needed by ``fixed_combinations``.
    """
    bad = violation_mask(constraint, table, metadata_table, reference)
    if isinstance(bad, dict):
        return bad
    n = table.num_rows
    count = int(bad.sum())
    return {"checked": int(n), "violations": count, "share": float(count / n) if n else math.nan}


def violation_mask(constraint: Mapping[str, Any], table, metadata_table, reference=None) -> np.ndarray | dict[str, Any]:
    """Per row of ``table``, whether it breaks the constraint; {"unsupported": why} when it cannot say."""
    kind = CONSTRAINT_TYPES.get(str(_get(constraint, "type", "constraint_class", default="")).lower().replace(" ", ""))
    cols = _columns_of(constraint)
    missing = [c for c in cols if c not in table.column_names]
    if constraint.get("low_table"):
        return {"unsupported": "an order rule across a foreign key is not checked here (the engine enforces it)"}
    if kind is None:
        return _rule_violations(constraint, table)
    if missing:
        return {"unsupported": f"columns {missing} are not in the table"}
    n = table.num_rows

    def num(col: str) -> np.ndarray:
        meta_col = metadata_table.column(col) if metadata_table.has_column(col) else None
        fmt_ = meta_col.datetime_format if meta_col is not None else None
        return numeric_values(table.column(col), table=metadata_table.name, column=col, datetime_format=fmt_)

    def bound(value: Any, col: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        import pyarrow as pa

        return float(numeric_values(pa.array([value]).cast(table.schema.field(col).type)
                                    if family(table.schema.field(col).type) == "temporal" else pa.array([value]),
                                    table=metadata_table.name, column=col)[0])

    strict = bool(_get(constraint, "strict", "strict_boundaries", default=False))
    bad = np.zeros(n, dtype=bool)
    if kind in ("range", "positive", "negative"):
        v = num(cols[0])
        if kind == "range":
            lo = bound(_get(constraint, "low", "low_value"), cols[0])
            hi = bound(_get(constraint, "high", "high_value"), cols[0])
        else:
            lo, hi = (0.0, None) if kind == "positive" else (None, 0.0)
            strict = bool(_get(constraint, "strict", "strict_boundaries", default=True))
        present = ~np.isnan(v)
        if lo is not None:
            bad |= present & ((v <= lo) if strict else (v < lo))
        if hi is not None:
            bad |= present & ((v >= hi) if strict else (v > hi))
    elif kind == "inequality":
        lo_c = _get(constraint, "low_column", "low_column_name")
        hi_c = _get(constraint, "high_column", "high_column_name")
        a, b = num(lo_c), num(hi_c)
        present = ~(np.isnan(a) | np.isnan(b))
        bad = present & ((a >= b) if strict else (a > b))
    elif kind == "not_null":
        for c in cols:
            bad |= np.asarray(table.column(c).is_null().to_numpy(zero_copy_only=False), dtype=bool)
    elif kind == "one_of":
        allowed = {str(v) for v in (_get(constraint, "values", "categories", "allowed_values") or [])}
        labels = label_values(table.column(cols[0]))
        bad = np.array([v is not None and v not in allowed for v in labels], dtype=bool)
    elif kind == "unique":
        keys, null = key_strings(table, cols)
        _, first, = np.unique(keys.astype(str), return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        bad = dup & ~null
    elif kind == "fixed_combinations":
        keys, _ = key_strings(table, cols)
        if reference is None:
            return {"unsupported": "needs the real table"}
        ref, _ = key_strings(reference, cols)
        bad = ~np.isin(keys.astype(str), np.unique(ref.astype(str)))
    return bad


def _rule_violations(rule: Mapping[str, Any], table) -> dict[str, Any]:
    """Rules of :mod:`hiveframe.metadata.rules` this module has no check of its own for (formulas,
    if-then, regex, check digits), checked row by row with the kernel's evaluator."""
    from hiveframe.metadata import rules as R

    if rule.get("type") not in R.RULE_TYPES or R.rule_problems_of(rule):
        return {"unsupported": f"constraint type {_get(rule, 'type', 'constraint_class')!r} is not checked"
                + (f" ({R.rule_problems_of(rule)[0]})" if rule.get("type") in R.RULE_TYPES else "")}
    missing = [c for c in R.rule_columns(rule) if c not in table.column_names]
    if missing:
        return {"unsupported": f"columns {missing} are not in the table"}
    try:
        ok = R.holds(rule, table)
    except (ValueError, KeyError) as exc:
        return {"unsupported": f"not checked: {exc}"}
    n = table.num_rows
    count = int((~ok).sum())
    return {"checked": int(n), "violations": count, "share": float(count / n) if n else math.nan}


def duplicate_share(matrix: np.ndarray) -> float:
    """Share of rows equal to an earlier row (NaN equals NaN)."""
    if len(matrix) == 0:
        return math.nan
    m = np.where(np.isnan(matrix), -1.2345e300, matrix)
    rows = np.ascontiguousarray(m).view(np.dtype((np.void, m.dtype.itemsize * m.shape[1]))).ravel()
    return float(1.0 - len(np.unique(rows)) / len(rows))


def row_matrix(cols: list[Col], side: str) -> np.ndarray:
    arrays = [getattr(c, side).astype(np.float64) for c in cols]
    if not arrays:
        return np.zeros((0, 0))
    return np.column_stack(arrays)


@attrs.define(kw_only=True, eq=False)
class Quality(BaseValidator):
    """Checks a synthetic table must pass whatever its statistics: types, nulls, ranges, constraints,
    duplicate rows and diversity."""

    name: ClassVar[str] = "quality"
    title: ClassVar[str] = "Quality assurance"
    description: ClassVar[str] = (
        "Schema conformance (columns, types, nulls in non-nullable columns), values inside the declared "
        "or real ranges and categories, constraints declared in the metadata, duplicate-row rate and "
        "diversity (distinct rows in equal-size samples, synthetic against real).")

    def _evaluate(self, real, synthetic, metadata, context):
        real_t, synth_t, names = self._inputs(real, synthetic, metadata,
                                              lambda t: [c.name for c in analysed_columns(metadata, t)])
        tables: dict[str, Any] = {}
        bands: list[dict[str, Any]] = []
        for i, name in enumerate(names):
            meta = metadata.table(name)
            real_tab, synth_tab = real_t[name], synth_t[name]
            out: dict[str, Any] = {}
            # -- schema conformance on the whole synthetic table
            schema = {"missing_columns": [c for c in meta.column_names if c not in synth_tab.column_names],
                      "extra_columns": [c for c in synth_tab.column_names if not meta.has_column(c)],
                      "type_mismatches": [], "nulls_in_non_nullable": {}}
            for col in meta.columns:
                if col.name not in synth_tab.column_names:
                    continue
                actual = str(synth_tab.schema.field(col.name).type)
                expected = str(real_tab.schema.field(col.name).type) if col.name in real_tab.column_names \
                    else col.dtype
                if actual != expected:
                    schema["type_mismatches"].append({"column": col.name, "expected": expected, "actual": actual})
                nulls = synth_tab.column(col.name).null_count
                if not col.nullable and nulls:
                    schema["nulls_in_non_nullable"][col.name] = int(nulls)
            problems = (len(schema["missing_columns"]) + len(schema["type_mismatches"])
                        + len(schema["nulls_in_non_nullable"]))
            schema["conforms"] = problems == 0
            out["schema"] = schema
            # -- ranges and categories on the whole tables (declared bounds win over real ones)
            cols = {c.name: convert_column(name, c, real_tab.column(c.name), synth_tab.column(c.name))
                    for c in analysed_columns(metadata, meta)}
            ranges = {}
            for cname, col in cols.items():
                cm = meta.column(cname)
                if col.is_numeric:
                    declared = cm.low is not None or cm.high is not None
                    share = M.out_of_range_share(col.real, col.synthetic, cm.low, cm.high) if declared else \
                        M.out_of_range_share(col.real, col.synthetic)
                    ranges[cname] = {"bounds": "declared" if declared else "real", "outside_share": share}
                else:
                    if cm.categories is not None:
                        allowed = {str(v) for v in cm.categories}
                        labels = np.array(col.categories or [], dtype=object)
                        ok = np.array([lab in allowed for lab in labels], dtype=bool)
                        v = col.synthetic[col.synthetic >= 0]
                        share = float((~ok[v]).mean()) if len(v) else math.nan
                        ranges[cname] = {"bounds": "declared", "outside_share": share}
                    else:
                        ranges[cname] = {"bounds": "real",
                                         "outside_share": M.new_category_share(col.synthetic, col.n_real_categories)}
            out["ranges"] = ranges
            # -- declared constraints, on both sides (a constraint the real data breaks is reported too)
            cons = []
            for c in meta.constraints:
                entry = {"constraint": dict(c)}
                syn = violations(c, synth_tab, meta, reference=real_tab)
                if "unsupported" in syn:
                    entry["unsupported"] = syn["unsupported"]
                else:
                    entry["synthetic"] = syn
                    entry["real"] = violations(c, real_tab, meta, reference=real_tab)
                cons.append(entry)
            out["constraints"] = cons
            # -- duplicates and diversity on equal-size samples
            rng = self._rng(i)
            n = min(real_tab.num_rows, synth_tab.num_rows, self.sample_size or 10**12)
            rs, ss = sample_rows(real_tab, n, rng), sample_rows(synth_tab, n, rng)
            scols = [convert_column(name, meta.column(c), rs.column(c), ss.column(c)) for c in cols]
            dup_r = duplicate_share(row_matrix(scols, "real"))
            dup_s = duplicate_share(row_matrix(scols, "synthetic"))
            distinct_r, distinct_s = 1 - dup_r, 1 - dup_s
            out["duplicates"] = {"rows_compared": int(n), "real_share": dup_r, "synthetic_share": dup_s,
                                 "excess": dup_s - dup_r}
            col_div = {}
            for c in scols:
                vals_r = np.unique(c.real[~np.isnan(c.real)]) if c.is_numeric else np.unique(c.real[c.real >= 0])
                vals_s = np.unique(c.synthetic[~np.isnan(c.synthetic)]) if c.is_numeric \
                    else np.unique(c.synthetic[c.synthetic >= 0])
                col_div[c.name] = {"distinct_real": int(len(vals_r)), "distinct_synthetic": int(len(vals_s))}
            out["diversity"] = {"distinct_rows_real": distinct_r, "distinct_rows_synthetic": distinct_s,
                                "ratio": distinct_s / distinct_r if distinct_r else math.nan, "columns": col_div}
            tables[name] = out
            bands.append({"metric": "schema", "label": "schema conforms (columns, types, non-null columns)",
                          "table": name, "value": float(problems), "status": "pass" if problems == 0 else "fail",
                          "rule": "pass when 0 problems"})
            # declared bounds are rules: any value outside fails; bounds read from the real data are
            # only the range of one sample, which a fresh sample from the same population overshoots
            declared = [r["outside_share"] for r in ranges.values() if r["bounds"] == "declared"]
            observed = [r["outside_share"] for r in ranges.values() if r["bounds"] == "real"]
            if declared:
                bands.append(band("outside_declared", nanmax(declared), good=0.0, poor=0.0, higher_is_better=False,
                                  table=name, label="largest share of values outside declared bounds / categories"))
            if observed:
                bands.append(band("outside_range", nanmax(observed), good=0.005, poor=0.02, higher_is_better=False,
                                  table=name, label="largest share of values outside the real range / categories"))
            for entry in cons:
                if "synthetic" not in entry:
                    continue
                ctype = _get(entry["constraint"], "type", "constraint_class")
                real_bad = entry["real"]["share"]
                # a rule the real data itself breaks is held to the real rate
                b = band("constraint", entry["synthetic"]["share"], good=real_bad, poor=max(real_bad, 0.01),
                         higher_is_better=False, table=name,
                         label=f"constraint {ctype} on {', '.join(_columns_of(entry['constraint']))}")
                bands.append(b)
            if cols:
                bands.append(band("duplicate_excess", dup_s - dup_r, good=0.01, poor=0.05, higher_is_better=False,
                                  table=name, label="duplicate-row rate above the real rate"))
                bands.append(band("diversity", out["diversity"]["ratio"], good=0.9, poor=0.7, table=name,
                                  label="diversity (distinct synthetic rows / distinct real rows)"))
        scores = {
            "schema_problems": float(sum(len(t["schema"]["missing_columns"]) + len(t["schema"]["type_mismatches"])
                                         + len(t["schema"]["nulls_in_non_nullable"]) for t in tables.values())),
            "max_outside_range": nanmax(nanmax(r["outside_share"] for r in t["ranges"].values())
                                        for t in tables.values()),
            "max_constraint_violation": nanmax(e["synthetic"]["share"] for t in tables.values()
                                               for e in t["constraints"] if "synthetic" in e),
            "max_duplicate_share": nanmax(t["duplicates"]["synthetic_share"] for t in tables.values()),
            "max_duplicate_excess": nanmax(t["duplicates"]["excess"] for t in tables.values()),
            "min_diversity": nanmin(t["diversity"]["ratio"] for t in tables.values()),
        }
        summary = (f"{int(scores['schema_problems'])} schema problem(s); at most {fmt(scores['max_outside_range'])} "
                   f"of values out of range; duplicate rows above the real rate {fmt(scores['max_duplicate_excess'])}; "
                   f"diversity {fmt(scores['min_diversity'])}")
        return self._result(scores, bands, {"tables": tables}, summary)
