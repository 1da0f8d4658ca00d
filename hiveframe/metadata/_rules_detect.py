"""Rules found in the data, for ``detect`` to propose (each with its support).

What is searched, per table (columns that are keys, ids, PII or free text are left out):

* **formulas**: a number equal to another column, the sum of two or three others, the product of two,
  or the monthly payment of an amortized loan (principal, yearly rate in percent or as a fraction,
  months); a string equal to the first one to three characters of another;
* **nulls that follow a category**: a column null exactly for some values of a complete categorical
  column (``if application_type == 'individual' then isnull(annual_income_joint)``, and the other
  way round when it is never null elsewhere);
* **order between dates** in a table and across a foreign key (a child's date after its parent's).

Candidates are screened on a sample of rows and kept when they hold on at least ``min_support`` of
the rows they apply to (counted on every row); the rows against a kept rule are recorded, so that fit
accepts them without ``force`` while the synthetic rows keep the rule exactly.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata import rules as R
from hiveframe.metadata.model import ColumnKind, find_cycle

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata.model import Metadata, Table

log = logging.getLogger(__name__)

SCREEN_ROWS = 256
MAX_NUMERIC = 60
MAX_GROUP_VALUES = 20


def detect_rules(metadata: Metadata, tables: Mapping[str, pa.Table], *, min_support: float = 0.999,
                 seed: int = 0) -> Metadata:
    """``metadata`` with the rules found in ``tables`` added to each table's constraints."""
    rng = np.random.default_rng(seed)
    out = metadata
    for table in metadata.tables:
        data = tables[table.name]
        if data.num_rows < 20:
            continue
        found = _table_rules(metadata, table, data, min_support, rng)
        found += _parent_order_rules(metadata, table, tables, min_support)
        have = [dict(c) for c in table.constraints]
        for rule in found:
            if not any(_same(rule, h) for h in have):
                out = out.with_rule(table.name, rule)
                have.append(rule)
        if found:
            log.info("detect: %d rule(s) in table %s", len(found), table.name)
    return out


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = lambda r: {k: v for k, v in r.items() if k != "detection"}  # noqa: E731
    return strip(a) == strip(b)


def _free(metadata: Metadata, table: Table) -> list[str]:
    keys = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    return [c.name for c in table.columns if c.name not in keys
            and c.kind not in (ColumnKind.ID, ColumnKind.PII, ColumnKind.TEXT)]


def _support(rule: dict[str, Any], data: pa.Table, applies: np.ndarray | None = None,
             parent_values: np.ndarray | None = None) -> dict[str, Any]:
    ok = R.holds(rule, data, parent_values=parent_values)
    scope = np.ones(len(ok), dtype=bool) if applies is None else applies
    rows = int(scope.sum())
    against = int((~ok & scope).sum())
    return {"support": round(1 - against / rows, 6) if rows else 0.0, "rows": rows, "rows_against": against}


def _table_rules(metadata: Metadata, table: Table, data: pa.Table, min_support: float,
                 rng: np.random.Generator) -> list[dict[str, Any]]:
    free = [c for c in _free(metadata, table) if c in data.column_names]
    arrays = R.column_arrays(data, free)
    n = data.num_rows
    screen = rng.choice(n, size=min(n, SCREEN_ROWS), replace=False)
    numeric = [c for c in free if arrays[c].dtype != object and table.column(c).kind != ColumnKind.DATETIME
               and table.column(c).kind != ColumnKind.BOOLEAN and np.nanstd(arrays[c]) > 0][:MAX_NUMERIC]
    found: list[dict[str, Any]] = []
    found += _formulas(table, data, arrays, numeric, screen, min_support)
    found += _prefixes(table, data, arrays, free, min_support)
    found += _null_rules(table, data, arrays, free, min_support)
    found += _date_order(table, data, arrays, free, min_support)
    return found


# -- formulas --------------------------------------------------------------------------------------
def _formulas(table: Table, data: pa.Table, arrays: Mapping[str, np.ndarray], numeric: list[str],
              screen: np.ndarray, min_support: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if len(numeric) < 2:
        return found
    x = np.column_stack([arrays[c][screen] for c in numeric])
    allowed_misses = max(0, int(np.floor((1 - min_support) * len(screen) * 3)))
    targets = [c for c in numeric if table.column(c).kind == ColumnKind.NUMERICAL]
    computed: dict[str, list[str]] = {}
    for t in targets:
        ti = numeric.index(t)
        y = x[:, ti]
        if np.isnan(y).mean() > 0.5:
            continue
        d = R.precision(arrays[t], share=0.9)  # the precision most values are written with
        unit = 10.0 ** -(d if d is not None else 7)
        others = [i for i in range(len(numeric)) if i != ti]
        for expression, tol in itertools.islice(
                _candidates(numeric, x, y, others, unit, allowed_misses, arrays), 50):
            rule = R.formula(t, expression, tolerance=round(tol, 10))
            support = _support(rule, data, applies=~np.isnan(arrays[t]))
            if support["support"] >= min_support:
                rule["detection"] = support
                names = R.Expression(expression).names
                if find_cycle({**computed, t: names}):
                    continue
                computed[t] = names
                found.append(rule)
                break
    return found


def _candidates(numeric: list[str], x: np.ndarray, y: np.ndarray, others: list[int], unit: float,
                allowed_misses: int, arrays: Mapping[str, np.ndarray]) -> Any:
    """Expressions for ``y`` that hold on the screened rows: copies and sums of 1-3 columns, products of
    two, amortized payments; simplest first."""
    def close(v: np.ndarray, tol: float) -> np.ndarray:
        return np.abs(v - y[:, None]) <= tol + 1e-9 * np.maximum(1, np.abs(y[:, None]))

    for k in (1, 2, 3):
        combos = np.array(list(itertools.combinations(others, k)), dtype=np.int64)
        if not len(combos):
            return
        sums = x[:, combos].sum(axis=2)
        hits = (~close(sums, unit / 2)).sum(axis=0) <= allowed_misses
        for combo in combos[hits]:
            yield " + ".join(numeric[i] for i in combo), unit / 2
    pairs = np.array(list(itertools.combinations(others, 2)), dtype=np.int64)
    if len(pairs):
        prods = x[:, pairs[:, 0]] * x[:, pairs[:, 1]]
        hits = (~close(prods, unit / 2)).sum(axis=0) <= allowed_misses
        for a, b in pairs[hits]:
            yield f"{numeric[a]} * {numeric[b]}", unit / 2
    yield from _amortized(numeric, x, y, others, unit, allowed_misses, arrays)


def _amortized(numeric: list[str], x: np.ndarray, y: np.ndarray, others: list[int], unit: float,
               allowed_misses: int, arrays: Mapping[str, np.ndarray]) -> list[tuple[str, float]]:
    """``y`` as the monthly payment of a loan: principal, yearly rate (percent or fraction), months."""
    months = [i for i in others if _is_months(arrays[numeric[i]])]
    rates = [i for i in others if _is_rate(arrays[numeric[i]])]
    principals = [i for i in others if np.nanmin(x[:, i]) > 0 and i not in months]
    out: list[tuple[str, float]] = []
    with np.errstate(all="ignore"):
        for n_i in months:
            for r_i in rates:
                percent = np.nanmax(arrays[numeric[r_i]]) > 1
                per_month = x[:, r_i] / (1200 if percent else 12)
                factor = per_month / (1 - (1 + per_month) ** (-x[:, n_i]))
                for p_i in principals:
                    if p_i in (n_i, r_i):
                        continue
                    pay = x[:, p_i] * factor
                    if (~(np.abs(pay - y) <= unit + 1e-9 * np.abs(y))).sum() <= allowed_misses:
                        scale = 1200 if percent else 12
                        p, r, n = numeric[p_i], numeric[r_i], numeric[n_i]
                        out.append((f"{p} * ({r} / {scale}) / (1 - (1 + {r} / {scale}) ** (-{n}))", unit))
    return out


def _is_months(v: np.ndarray) -> bool:
    v = v[~np.isnan(v)]
    return bool(len(v)) and np.all(v == np.round(v)) and v.min() >= 1 and v.max() <= 480 \
        and len(np.unique(v)) <= MAX_GROUP_VALUES


def _is_rate(v: np.ndarray) -> bool:
    v = v[~np.isnan(v)]
    return bool(len(v)) and v.min() > 0 and v.max() <= 100 and not np.all(v == np.round(v))


def _prefixes(table: Table, data: pa.Table, arrays: Mapping[str, np.ndarray], free: list[str],
              min_support: float) -> list[dict[str, Any]]:
    text = [c for c in free if arrays[c].dtype == object]
    found = []
    for t in text:
        values = [v for v in arrays[t] if v is not None]
        if not values:
            continue
        longest = max(len(str(v)) for v in values)
        for s in text:
            if s == t:
                continue
            for k in range(1, 4):
                if k < longest:
                    continue
                rule = R.formula(t, f"{s}[:{k}]" if k > 1 else f"{s}[0]")
                support = _support(rule, data)
                if support["support"] >= min_support and k < max(len(str(v)) for v in arrays[s] if v is not None):
                    rule["detection"] = support
                    found.append(rule)
                    break
            if found and found[-1]["column"] == t:
                break
    return found


# -- nulls that follow a category ---------------------------------------------------------------------
def _literal(v: Any) -> str:
    return repr(R._norm(v))


def _null_rules(table: Table, data: pa.Table, arrays: Mapping[str, np.ndarray], free: list[str],
                min_support: float) -> list[dict[str, Any]]:
    n = data.num_rows
    groups = []
    for g in free:
        if table.column(g).kind not in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            continue
        if R._isnull(arrays[g]).any():
            continue
        values = [R._norm(v) for v in arrays[g].tolist()]
        distinct = sorted(set(values), key=str)
        if 2 <= len(distinct) <= MAX_GROUP_VALUES:
            groups.append((g, values, distinct))
    by_condition: dict[tuple[str, tuple[Any, ...]], dict[str, list[str]]] = {}
    for c in free:
        null = R._isnull(arrays[c])
        share = null.mean()
        if share < 0.005 or share > 0.995:
            continue
        best = None
        for g, values, distinct in groups:
            if g == c:
                continue
            codes = {v: i for i, v in enumerate(distinct)}
            idx = np.array([codes[v] for v in values])
            nulls = np.bincount(idx, weights=null, minlength=len(distinct))
            counts = np.bincount(idx, minlength=len(distinct))
            all_null = [distinct[i] for i in range(len(distinct)) if nulls[i] >= min_support * counts[i]]
            if not all_null or len(all_null) == len(distinct):
                continue
            covered = sum(counts[distinct.index(v)] for v in all_null)
            if covered < 0.01 * n:
                continue
            rest_nonnull = sum(counts[i] - nulls[i] for i in range(len(distinct)) if distinct[i] not in all_null)
            exact = rest_nonnull >= min_support * (n - covered)
            score = (exact, covered, -len(all_null))
            if best is None or score > best[0]:
                best = (score, g, tuple(all_null), exact)
        if best is None:
            continue
        _, g, all_null, exact = best
        entry = by_condition.setdefault((g, all_null), {"null": [], "notnull": []})
        entry["null"].append(c)
        if exact:
            entry["notnull"].append(c)
    found = []
    for (g, values), cols in by_condition.items():
        inside = f"{g} == {_literal(values[0])}" if len(values) == 1 else \
            f"{g} in ({', '.join(_literal(v) for v in values)})"
        outside = f"{g} != {_literal(values[0])}" if len(values) == 1 else \
            f"{g} not in ({', '.join(_literal(v) for v in values)})"
        for cond, names, fn in ((inside, cols["null"], "isnull"), (outside, cols["notnull"], "notnull")):
            if not names:
                continue
            rule = R.if_then(cond, " and ".join(f"{fn}({c})" for c in names))
            applies = R._as_bool(R.Expression(cond).evaluate(arrays))
            support = _support(rule, data, applies=applies)
            if support["support"] >= min_support:
                rule["detection"] = support
                found.append(rule)
    return found


# -- order between dates --------------------------------------------------------------------------------
def _date_order(table: Table, data: pa.Table, arrays: Mapping[str, np.ndarray], free: list[str],
                min_support: float) -> list[dict[str, Any]]:
    dates = [c for c in free if table.column(c).kind == ColumnKind.DATETIME and arrays[c].dtype != object]
    found = []
    for a, b in itertools.permutations(dates, 2):
        va, vb = arrays[a], arrays[b]
        both = ~np.isnan(va) & ~np.isnan(vb)
        if both.sum() < 20 or not np.any(va[both] < vb[both]):
            continue
        if _same_unit(data, a, b):
            rule = R.inequality(a, b)
            support = _support(rule, data, applies=both)
            if support["support"] >= min_support:
                rule["detection"] = support
                found.append(rule)
    return found


def _same_unit(data: pa.Table, a: str, b: str) -> bool:
    return data.schema.field(a).type == data.schema.field(b).type


def _parent_order_rules(metadata: Metadata, table: Table, tables: Mapping[str, pa.Table],
                        min_support: float) -> list[dict[str, Any]]:
    """A child's date on or after a date of its parent (through a foreign key to that parent)."""
    found = []
    child = tables[table.name]
    own = [c for c in _free(metadata, table) if table.column(c).kind == ColumnKind.DATETIME]
    for fk in metadata.parents_of(table.name) if hasattr(metadata, "parents_of") else ():
        if fk.is_self_reference or not own:
            continue
        parent = metadata.table(fk.parent_table)
        parent_dates = [c for c in _free(metadata, parent) if parent.column(c).kind == ColumnKind.DATETIME]
        if sum(1 for f in metadata.foreign_keys if f.child_table == table.name
               and f.parent_table == fk.parent_table) != 1:
            continue
        for p in parent_dates:
            for c in own:
                if tables[fk.parent_table].schema.field(p).type != child.schema.field(c).type:
                    continue
                rule = R.inequality(p, c, low_table=fk.parent_table)
                values = R.parent_column(metadata, table.name, rule, tables)
                mine = R.column_arrays(child, [c])[c]
                both = ~np.isnan(R._as_float(values)) & ~np.isnan(mine)
                if both.sum() < 20:
                    continue
                support = _support(rule, child, applies=both, parent_values=values)
                if support["support"] >= min_support:
                    rule["detection"] = support
                    found.append(rule)
    return found
