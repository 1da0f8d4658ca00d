"""Rules enforced around any table generator: transforms before fitting, computing and redrawing after sampling.

The engine calls :func:`fit_rules` once per table, on the rows its generator is about to learn, and
:func:`sample_with_rules` in place of a plain draw. Every rule of :mod:`hiveframe.metadata.rules` is
enforced by the cheapest exact means that exists:

* **computed** (the model never sees the bound part): a ``formula`` column is dropped from the
  generator's input and computed from the sampled columns (rounded to the column's precision); an
  ``if_then`` whose consequence fixes values (``isnull(c)``, ``c == 3``) sets them on the rows whose
  condition holds; a ``check_digit`` is recomputed;
* **reversible transforms** (the model learns the free part): ``low <= high`` in one table becomes
  ``high - low >= 0``, so the generator learns the gap; ``fixed_combinations`` become one categorical
  column of the combinations seen;
* **rejection**: every other rule (ranges, regexes, uniqueness, conditions whose consequence is not a
  fixed value, order across a foreign key) is checked on the drawn rows, and the rows that break it are
  drawn again (with the same context) until all keep it; the share redrawn is reported, and a rule that
  the generator cannot meet raises :class:`~hiveframe.errors.ConfigError` naming it.

Numbers are also rounded to the precision the real column has (its decimals), whatever the generator.

Under differential privacy nothing here reads the real rows: transforms that would learn something
from them (the combinations seen, decimals, whether a gap column can stay null) are replaced by
rejection against declared values, or left out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError
from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.metadata import rules as R

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: redraw rounds before a rule is declared impossible for the generator
MAX_ROUNDS = 40
#: largest number of decimals kept (beyond it a column is continuous)
MAX_DECIMALS = 6
_COMBO = "\x1f"  # separates the parts of a merged fixed combination (never in a real label)


def fit_rules(table: Table, data: pa.Table, model_table: Table, *, modelled: list[str], private: bool,
              driver_table: str | None, parent: pa.Table | None = None, parent_index: np.ndarray | None = None
              ) -> tuple[pa.Table, Table, dict[str, Any]]:
    """The generator's training rows and table with the rules' transforms applied, and the plan to
    undo them and enforce the rest when sampling (plain JSON; empty when the table has no rule).
    ``parent`` and ``parent_index`` are the driving parent's rows and each row's parent (order rules
    across that foreign key are learnt as the gap to the parent's value)."""
    import pyarrow as pa

    rules = [r for r in table.constraints if r.get("type") in R.RULE_TYPES]
    if not rules and private:
        return data, model_table, {}
    plan: dict[str, Any] = {"formulas": [], "gaps": [], "combos": [], "assign": [], "check_digits": [],
                            "reject": [], "decimals": {}}
    outside = [r for r in rules if any(c not in modelled for c in R.rule_columns(r))]
    if outside:
        raise ConfigError(
            f"table {table.name!r}: rules {[R.describe(r) for r in outside]} name key, id or PII columns, "
            "which hiveframe generates itself (keys are unique and keep their format; PII is faked)",
            hint="rules apply to the columns a generator models: drop these rules or change the column kinds")
    computed: set[str] = set()
    for rule in _formula_order([r for r in rules if r["type"] == "formula"]):
        plan["formulas"].append({"column": rule["column"], "expression": rule["expression"],
                                 "dtype": table.column(rule["column"]).dtype})
        computed.add(rule["column"])
    read_by_formulas = {n for f in plan["formulas"] for n in R.Expression(f["expression"]).names}
    for rule in rules:
        kind = rule["type"]
        if kind == "formula":
            continue
        if kind == "inequality" and not rule.get("low_table"):
            lo, hi = str(rule["low_column"]), str(rule["high_column"])
            if _gap_ok(table, data, lo, hi, private) and not ({lo, hi} & (computed | read_by_formulas)) \
                    and all(hi not in (g["high"], g["low"]) and lo != g["high"] for g in plan["gaps"]):
                plan["gaps"].append({"low": lo, "high": hi, "strict": bool(rule.get("strict")),
                                     "dtype": table.column(hi).dtype})
                continue
        if kind == "inequality" and rule.get("low_table") == driver_table and parent is not None \
                and parent_index is not None:
            hi = str(rule["high_column"])
            pv = parent_values([rule], parent, parent_index)[_key(rule)]
            own = R.column_arrays(data, [hi])[hi]
            numeric = table.column(hi).kind == ColumnKind.NUMERICAL and pv.dtype != object
            if numeric and not private and not np.any(np.isnan(pv) & ~np.isnan(own)) \
                    and hi not in computed | read_by_formulas and all(hi not in (g["high"], g["low"]) for g in plan["gaps"]):
                plan["gaps"].append({"low": _key(rule), "high": hi, "strict": bool(rule.get("strict")),
                                     "dtype": table.column(hi).dtype, "parent": True})
                continue
        if kind == "inequality" and rule.get("low_table"):
            if rule["low_table"] != driver_table:
                raise ConfigError(f"table {table.name!r}: rule {R.describe(rule)!r} compares with table "
                                  f"{rule['low_table']!r}, which does not drive this table's rows",
                                  hint=f"order rules across a foreign key work with the driving parent "
                                       f"({driver_table or 'none'})")
        if kind == "fixed_combinations" and not private and not (set(rule["columns"]) & computed):
            plan["combos"].append({"columns": list(rule["columns"])})
            computed |= set(rule["columns"][1:])
            continue
        if kind == "fixed_combinations" and "combinations" not in rule and not private:
            rule = {**rule, "combinations": sorted({tuple(json.loads(p) for p in k.split(_COMBO))
                                                    for k in _combo_keys(data, list(rule["columns"]))}, key=str)}
        elif kind == "fixed_combinations" and "combinations" not in rule:
            raise ConfigError(f"table {table.name!r}: rule {R.describe(rule)!r} needs its combinations listed "
                              "under differential privacy (the ones in the data are private)",
                              hint='"combinations": [["A", "A1"], ["A", "A2"], ...]')
        if kind == "if_then" and R.assignments(str(rule["then"])) is not None:
            plan["assign"].append({"if": rule["if"], "then": R.assignments(str(rule["then"]))})
            plan["reject"].append(dict(rule))  # the condition may involve computed columns: check the result
            continue
        if kind == "check_digit":
            plan["check_digits"].append({"column": rule["column"], "scheme": rule["scheme"]})
        plan["reject"].append(dict(rule))
    if not private:
        for col in model_table.columns:
            if col.kind == ColumnKind.NUMERICAL and col.name in modelled and col.name in data.column_names:
                d = _decimals(data.column(col.name))
                if d is not None:
                    plan["decimals"][col.name] = d
    # -- transform the training rows
    out = data
    columns = {c.name: c for c in model_table.columns}
    fit_parent = parent_values(rules, parent, parent_index) if parent is not None and parent_index is not None else {}
    for gap in plan["gaps"]:
        arrays = {**R.column_arrays(out, [gap["low"], gap["high"]]), **fit_parent}
        diff = arrays[gap["high"]] - arrays[gap["low"]]
        out = out.set_column(out.schema.get_field_index(gap["high"]), gap["high"],
                             pa.array(diff, mask=np.isnan(diff), type=pa.float64()))
        columns[gap["high"]] = Column(gap["high"], ColumnKind.NUMERICAL, dtype="double",
                                      nullable=columns[gap["high"]].nullable, low=0.0)
    for combo in plan["combos"]:
        combo["dtypes"] = [str(out.schema.field(c).type) for c in combo["columns"]]
        keys = _combo_keys(out, combo["columns"])
        head = combo["columns"][0]
        out = out.set_column(out.schema.get_field_index(head), head, pa.array(keys, type=pa.string()))
        columns[head] = Column(head, ColumnKind.CATEGORICAL, dtype="string",
                               nullable=any(columns[c].nullable for c in combo["columns"]))
    drop = [f["column"] for f in plan["formulas"]] + [c for combo in plan["combos"] for c in combo["columns"][1:]]
    if drop:
        out = out.drop_columns([c for c in drop if c in out.column_names])
    model = replace(model_table, columns=tuple(columns[c.name] for c in model_table.columns if c.name not in drop),
                    constraints=())
    if not any(plan[k] for k in plan):
        return data, model_table, {}
    if any(plan[k] for k in ("formulas", "gaps", "combos", "assign", "reject")):
        log.info("table %s: rules computed %s, learnt as gaps %s, combined %s, redrawn when broken %d",
                 table.name, [f["column"] for f in plan["formulas"]], [g["high"] for g in plan["gaps"]],
                 [c["columns"] for c in plan["combos"]], len(plan["reject"]))
    return out, model, plan


def _formula_order(formulas: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Formulas in an order where each reads only free or already computed columns."""
    pending = list(formulas)
    done: list[Mapping[str, Any]] = []
    targets = {f["column"] for f in formulas}
    while pending:
        ready = [f for f in pending if all(n not in targets or n in {d["column"] for d in done}
                                           for n in R.Expression(str(f["expression"])).names)]
        if not ready:  # validated away before; keep the error clear anyway
            raise ConfigError(f"formulas compute {[f['column'] for f in pending]} from each other")
        done += ready
        pending = [f for f in pending if f not in ready]
    return done


def _gap_ok(table: Table, data: pa.Table, low: str, high: str, private: bool) -> bool:
    """Whether ``high`` can be learnt as ``high - low``: numbers, and ``low`` present wherever ``high`` is."""
    if private:  # the gap would need public bounds of its own: redrawn instead
        return False
    if not all(table.column(c).kind == ColumnKind.NUMERICAL for c in (low, high)):
        return False
    if not table.column(low).nullable:
        return True
    arrays = R.column_arrays(data, [low, high])
    return not bool(np.any(np.isnan(arrays[low]) & ~np.isnan(arrays[high])))


def _combo_keys(data: pa.Table, columns: list[str]) -> list[str | None]:
    arrays = R.column_arrays(data, columns)
    out: list[str | None] = []
    for row in zip(*[arrays[c].tolist() for c in columns], strict=True):
        out.append(_COMBO.join(json.dumps(R._norm(v)) for v in row))
    return out


def _decimals(column: Any) -> int | None:
    """Decimals of a float column (None: integers, or continuous): see :func:`rules.precision`."""
    import pyarrow as pa

    if not pa.types.is_floating(column.type):
        return None
    return R.precision(np.asarray(column.drop_null().to_numpy(zero_copy_only=False), dtype=np.float64),
                       most=MAX_DECIMALS)


# -- sampling ---------------------------------------------------------------------------------------
Draw = Callable[[np.ndarray, int], "pa.Table"]
Finish = Callable[["pa.Table", np.ndarray], "pa.Table"]


def sample_with_rules(plan: Mapping[str, Any] | None, table: Table, draw: Draw, n: int, seed: int, *,
                      finish: Finish | None = None, parent_values: Mapping[str, np.ndarray] | None = None,
                      schema: pa.Schema | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """``n`` rows keeping every rule. ``draw(positions, seed)`` draws the rows for those positions (their
    context is the context of those rows), ``finish(rows, positions)`` completes them as the engine does
    (columns siblings share); the rules' bound parts are computed in between, and rows that break a rule
    are drawn again. Returns the rows and a report (rows drawn, redrawn per rule, rejection rate)."""
    from hiveframe.pipeline.plan import derive_seed

    pv = dict(parent_values or {})

    def one(positions: np.ndarray, s: int) -> pa.Table:
        rows = draw(positions, s)
        if plan:
            rows = complete(plan, rows, schema, {k: v[positions] for k, v in pv.items()})
        if finish is None:
            return rows
        done = finish(rows, positions)
        for col in bound_columns(plan or {}):  # what a rule computes is not copied from elsewhere
            if col in rows.column_names and col in done.column_names:
                done = done.set_column(done.schema.get_field_index(col), col, rows.column(col))
        return done

    everything = np.arange(n)
    rows = one(everything, seed)
    if not plan:
        return rows, {}
    report: dict[str, Any] = {"rows": n, "drawn": n, "redrawn": {}}
    rejecting = plan.get("reject", [])
    if not rejecting or n == 0:
        return rows, _finish(report)
    for round_ in range(1, MAX_ROUNDS + 1):
        bad = np.zeros(rows.num_rows, dtype=bool)
        broken: dict[str, int] = {}
        for rule in rejecting:
            ok = R.holds(rule, rows, parent_values=pv.get(_key(rule)) if rule.get("low_table") else None)
            if (~ok).any():
                label = R.describe(rule)
                broken[label] = int((~ok).sum())
                report["redrawn"][label] = report["redrawn"].get(label, 0) + broken[label]
            bad |= ~ok
        idx = np.flatnonzero(bad)
        if not len(idx):
            return rows, _finish(report)
        if round_ == MAX_ROUNDS:
            worst = max(broken, key=lambda k: broken[k])
            raise ConfigError(
                f"table {table.name!r}: rule {worst!r} cannot be met: after {MAX_ROUNDS} redraws {len(idx)} of "
                f"{n} rows still break it ({report['drawn']} rows drawn in all)",
                hint="the generator almost never produces rows that keep it: check the rule against the data, "
                     "declare it in a form that is computed (formula, if_then fixing values), or remove it")
        fresh = one(idx, derive_seed(seed, "rules", round_))
        report["drawn"] += len(idx)
        rows = _replace_rows(rows, idx, fresh)
    return rows, _finish(report)


def _finish(report: dict[str, Any]) -> dict[str, Any]:
    drawn = report.get("drawn", 0)
    report["rejection_rate"] = (drawn - report.get("rows", 0)) / drawn if drawn else 0.0
    return report


def _replace_rows(rows: pa.Table, idx: np.ndarray, fresh: pa.Table) -> pa.Table:
    import pyarrow as pa

    fresh = fresh.select(rows.column_names).cast(rows.schema)
    both = pa.concat_tables([rows, fresh])
    order = np.arange(rows.num_rows)
    order[idx] = rows.num_rows + np.arange(len(idx))
    return both.take(pa.array(order))


def complete(plan: Mapping[str, Any], rows: pa.Table, schema: pa.Schema | None = None,
             parents: Mapping[str, np.ndarray] | None = None) -> pa.Table:
    """Undo the transforms and compute the bound columns of freshly drawn rows."""
    import pyarrow as pa

    from hiveframe.metadata.model import parse_arrow_type

    def target_type(name: str, dtype: str) -> Any:
        if schema is not None and name in schema.names:
            return schema.field(name).type
        return parse_arrow_type(dtype)

    out = rows
    for combo in plan.get("combos", []):
        head = combo["columns"][0]
        keys = out.column(head).to_pylist()
        parts = [None if k is None else [json.loads(p) for p in k.split(_COMBO)] for k in keys]
        for i, col in enumerate(combo["columns"]):
            values = [None if p is None else p[i] for p in parts]
            arr = _typed(values, target_type(col, combo["dtypes"][i]))
            if col in out.column_names:
                out = out.set_column(out.schema.get_field_index(col), col, arr)
            else:
                out = out.append_column(col, arr)
    for gap in plan.get("gaps", []):
        arrays = {**R.column_arrays(out, [gap["low"], gap["high"]]), **(parents or {})}
        diff = np.maximum(arrays[gap["high"]], 0.0)
        high = arrays[gap["low"]] + diff
        if gap["strict"]:
            high = np.where(diff > 0, high, np.nextafter(arrays[gap["low"]], np.inf))
        out = out.set_column(out.schema.get_field_index(gap["high"]), gap["high"],
                             _numbers(high, target_type(gap["high"], gap["dtype"])))
    for f in plan.get("formulas", []):
        expr = R.Expression(f["expression"])
        value = expr.evaluate(R.column_arrays(out, expr.names))
        typ = target_type(f["column"], f["dtype"])
        if not isinstance(value, np.ndarray):
            value = np.full(out.num_rows, value, dtype=object if isinstance(value, str) else np.float64)
        if value.dtype == object:
            arr = _typed(value.tolist(), typ)
        else:
            d = plan.get("decimals", {}).get(f["column"])
            arr = _numbers(np.round(value, d) if d is not None else value, typ)
        out = out.append_column(f["column"], arr) if f["column"] not in out.column_names else \
            out.set_column(out.schema.get_field_index(f["column"]), f["column"], arr)
    for rule in plan.get("assign", []):
        cond = R.Expression(rule["if"])
        where = R._as_bool(cond.evaluate(R.column_arrays(out, cond.names)))
        if not np.any(where):
            continue
        for col, value in rule["then"].items():
            current = out.column(col)
            typ = current.type
            fill = pa.nulls(out.num_rows, typ) if value is None else pa.array([value] * out.num_rows).cast(typ)
            import pyarrow.compute as pc

            out = out.set_column(out.schema.get_field_index(col), col, pc.if_else(pa.array(where), fill, current))
    for cd in plan.get("check_digits", []):
        values = out.column(cd["column"]).to_pylist()
        fixed = [_with_check_digit(v, cd["scheme"]) for v in values]
        out = out.set_column(out.schema.get_field_index(cd["column"]), cd["column"],
                             pa.array(fixed).cast(out.schema.field(cd["column"]).type))
    for col, d in plan.get("decimals", {}).items():
        if col in out.column_names and pa.types.is_floating(out.schema.field(col).type):
            arr = R.column_arrays(out, [col])[col]
            out = out.set_column(out.schema.get_field_index(col), col,
                                 _numbers(np.round(arr, int(d)), out.schema.field(col).type))
    return out


def _with_check_digit(value: Any, scheme: str) -> Any:
    if value is None:
        return None
    text = str(value).replace(" ", "")
    if scheme == "luhn":
        if len(text) >= 2 and text.isdigit():
            fixed = text[:-1] + R.luhn_digit(text[:-1])
            return type(value)(fixed) if isinstance(value, int) else fixed
        return value
    if len(text) >= 6 and text[:2].isalpha() and text[4:].isalnum():
        return R.iban_digits(text)
    return value


def _numbers(values: np.ndarray, typ: Any) -> pa.Array:
    import pyarrow as pa

    mask = np.isnan(values)
    if pa.types.is_integer(typ):
        arr = pa.array(np.where(mask, 0, np.round(values)).astype(np.int64), mask=mask)
    else:
        arr = pa.array(np.where(mask, 0.0, values), mask=mask, type=pa.float64())
    return arr.cast(typ, safe=False)


def _typed(values: list[Any], typ: Any) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_dictionary(typ):
        return pa.array(values).cast(typ.value_type).dictionary_encode()
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values]).cast(typ, safe=False)


def _key(rule: Mapping[str, Any]) -> str:
    return f"{rule['low_table']}.{rule['low_column']}"


def bound_columns(plan: Mapping[str, Any]) -> list[str]:
    """Columns whose values a rule computes (formulas, gaps, combinations, fixed consequences)."""
    out = [f["column"] for f in plan.get("formulas", [])] + [g["high"] for g in plan.get("gaps", [])]
    out += [c for combo in plan.get("combos", []) for c in combo["columns"]]
    out += [c for a in plan.get("assign", []) for c in a["then"]]
    return list(dict.fromkeys(out))


def parent_values(rules: Any, parent: pa.Table | None, idx: np.ndarray | None) -> dict[str, np.ndarray]:
    """For order rules across the driving foreign key (``rules``: a list, or a plan's rules): the
    parent's value for each row, keyed ``"table.column"``."""
    out: dict[str, np.ndarray] = {}
    if not rules or parent is None or idx is None:
        return out
    if isinstance(rules, Mapping):
        rules = list(rules.get("reject", [])) + [
            {"type": "inequality", "low_table": g["low"].split(".", 1)[0], "low_column": g["low"].split(".", 1)[1]}
            for g in rules.get("gaps", []) if g.get("parent")]
    for rule in rules:
        if rule.get("type") == "inequality" and rule.get("low_table"):
            col = str(rule["low_column"])
            if col in parent.column_names:
                out[_key(rule)] = R.take_values(R.column_arrays(parent, [col])[col], idx)
    return out


def check_before_fit(metadata: Metadata, database: Any, *, force: bool, private: bool) -> bool:
    """Rules checked before anything is learnt: malformed, unknown columns and contradictions (never
    data), then, without differential privacy, whether the real rows keep them (refused unless
    ``force``; a rule ``detect`` wrote tolerates the rows it counted against it). Returns whether some
    rule was detected from the data (under DP such rules are detected metadata)."""
    R.raise_rule_problems(metadata)
    detected = any("detection" in r for t in metadata.tables for r in t.constraints)
    if private:  # the check reads every real row and quotes exact counts: not under DP
        return detected
    broken = R.check_rules(metadata, database, force=True)
    refused = [v for v in broken if v.rows > int((v.rule.get("detection") or {}).get("rows_against", 0))]
    if refused and not force:
        R.check_rules(metadata.__class__(
            tables=tuple(replace(t, constraints=tuple(r for r in t.constraints
                                                      if any(v.rule is r for v in refused)))
                         for t in metadata.tables),
            foreign_keys=metadata.foreign_keys), database)
    for v in broken:
        log.warning("table %s: the real data breaks rule %r on %d of %d rows; the synthetic rows will keep it",
                    v.table, R.describe(v.rule), v.rows, v.checked)
    return detected
