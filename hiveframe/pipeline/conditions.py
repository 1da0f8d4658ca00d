"""Conditional and balanced sampling: rows with given values or ranges, in any table, with any generator.

``Synthesizer.sample(conditions=..., balance=...)`` comes here. Conditions are given per table::

    {"census": {"income": ">50K", "age": {"min": 30, "max": 40}}}

a plain value fixes a column; ``{"min": a, "max": b}`` (either bound may be left out, both inclusive)
keeps it in a range. ``balance="census.income"`` draws the same number of rows for every class the
model saw in that categorical column.

How each table is drawn:

- equal-value conditions go to the generator itself when it conditions natively
  (``TableGenerator.conditional``: copula, CTGAN, autoregressive); otherwise, and for every range, rows
  are drawn and the ones that break a condition are rejected and drawn again. The acceptance rate is
  measured and reported (:attr:`ConditionSampler.report`); a condition that almost no row meets
  fails with that rate instead of looping.
- a conditioned parent table gets its children as usual: their counts and their content are drawn from
  the conditioned parent rows (the children of ``>50K`` households look like such children).
- a condition on a child table constrains that table's rows only: every child row meets it, each is
  still drawn for its own parent (with that parent's context), and the parents are not changed.
  Parents are drawn before their children, so a child condition cannot select parents; to shape the
  parents, condition the parent table.

Values are checked before anything is drawn against the *domains* recorded at fit time (categories seen
and numeric ranges, :func:`fit_domains`); under differential privacy only the domains declared in the
metadata are recorded, and the generator's own (DP-released) domain checks apply.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError, Problem, did_you_mean
from hiveframe.metadata import ColumnKind

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.generators import TableGenerator
    from hiveframe.components.io import Database
    from hiveframe.metadata import Metadata, Table
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

#: categorical columns with more distinct values than this record no category list (no balance on them)
MAX_DOMAIN_CATEGORIES = 1000
#: rejection rounds before giving up
MAX_ROUNDS = 40
#: the largest batch one rejection round asks a generator for
MAX_BATCH = 500_000
#: below this acceptance rate (after at least MIN_DRAWS draws) conditions are refused as (nearly) impossible
MIN_ACCEPTANCE = 1e-4
MIN_DRAWS = 20_000

_CATEGORICAL = (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)
_ORDERED = (ColumnKind.NUMERICAL, ColumnKind.DATETIME)


# -- domains: what the model saw, recorded at fit ---------------------------------------------------
def fit_domains(metadata: Metadata, database: Database, *, declared_only: bool = False) -> dict[str, Any]:
    """Per table and modelled column: the categories seen (by frequency) or the numeric range.

    ``{"tables": {table: {"rows": n, "duplicate_share": s, "columns": {column: {...}}}}}``, where a
    column entry is ``{"kind": "categorical", "categories": [...], "top_share": s}`` or
    ``{"kind": "ordered", "low": a, "high": b}`` (numbers; dates and times as
    :func:`~hiveframe.pipeline.features.numeric_values` reads them) plus ``"nulls"``.
    ``declared_only`` (differential privacy) keeps only what the metadata declares.
    """
    from hiveframe.pipeline.plan import modelled_columns

    tables: dict[str, Any] = {}
    for table in metadata.tables:
        data = database[table.name] if (table.name in database and not declared_only) else None
        columns = {}
        for name in modelled_columns(metadata, table):
            column = table.column(name)
            entry = _declared_domain(column) if data is None else _observed_domain(column, data.column(name))
            if entry is not None:
                columns[name] = entry
        out: dict[str, Any] = {"columns": columns}
        if data is not None:
            out["rows"] = int(data.num_rows)
            out["duplicate_share"] = duplicate_share(data, list(columns))
        tables[table.name] = out
    return {"declared_only": bool(declared_only), "tables": tables}


def _declared_domain(column: Any) -> dict[str, Any] | None:
    if column.kind in _CATEGORICAL and column.categories is not None:
        return {"kind": "categorical", "categories": [_plain(v) for v in column.categories]}
    if column.kind in _ORDERED and (column.low is not None or column.high is not None):
        return {"kind": "ordered", "low": column.low, "high": column.high}
    return None


def _observed_domain(column: Any, values: pa.ChunkedArray) -> dict[str, Any] | None:
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import numeric_values

    nulls = int(values.null_count)
    if column.kind in _CATEGORICAL:
        counts = pc.value_counts(values.drop_null() if nulls else values)
        cats = counts.field("values").to_pylist()
        freq = np.asarray(counts.field("counts").to_numpy(zero_copy_only=False), dtype=np.float64)
        order = np.argsort(-freq, kind="stable")
        total = float(len(values)) or 1.0
        entry: dict[str, Any] = {"kind": "categorical", "nulls": nulls,
                                 "top_share": float(freq[order[0]] / total) if len(freq) else 0.0}
        entry["categories"] = ([_plain(cats[i]) for i in order] if len(cats) <= MAX_DOMAIN_CATEGORIES
                               else None)
        return entry
    if column.kind in _ORDERED:
        v = numeric_values(values)
        if v is None:  # a date kept as text: equality conditions still go to the generator
            return None
        v = v[~np.isnan(v)]
        return {"kind": "ordered", "nulls": nulls, "low": float(v.min()) if len(v) else None,
                "high": float(v.max()) if len(v) else None}
    return None


def duplicate_share(data: pa.Table, columns: list[str]) -> float:
    """Share of rows equal (on ``columns``) to an earlier row."""
    from hiveframe.metadata.relations import key_strings

    if data.num_rows == 0 or not columns:
        return 0.0
    keys = key_strings(_with_null_text(data.select(columns)), columns)
    import pyarrow.compute as pc

    return float(1.0 - pc.count_distinct(keys).as_py() / data.num_rows)


def _with_null_text(data: pa.Table) -> pa.Table:
    """Nulls as a marker, so that two rows with a null in the same place compare equal."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [pc.fill_null(pc.cast(c, pa.string()), "\x00null") for c in data.columns]
    return pa.table(cols, names=data.column_names)


def _plain(value: Any) -> Any:
    """A JSON-safe category (numpy scalars and dates as Python values / ISO text)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# -- parsing and checking conditions ------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """An inclusive range; a missing bound is open."""

    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict[str, float]:
        return {k: v for k, v in (("min", self.low), ("max", self.high)) if v is not None}


@dataclass
class TableConditions:
    """What one table's rows must meet: fixed values, ranges, and an optional balanced column."""

    table: str
    equal: dict[str, Any] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)
    balance: str | None = None
    classes: list[Any] = field(default_factory=list)

    @property
    def columns(self) -> set[str]:
        return set(self.equal) | set(self.ranges) | ({self.balance} if self.balance else set())

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {c: v for c, v in self.equal.items()}
        out.update({c: r.to_json() for c, r in self.ranges.items()})
        return out


def parse_condition_arg(text: str) -> tuple[str, str, str]:
    """``table.column=value`` (CLI) -> (table, column, value text). The first ``=`` splits."""
    head, sep, value = text.partition("=")
    table, dot, column = head.partition(".")
    if not sep or not dot or not table.strip() or not column.strip():
        raise ConfigError(f"--condition {text!r} is not TABLE.COLUMN=VALUE",
                          hint="e.g. --condition 'census.income=>50K' or a range --condition 'census.age=30..40'")
    return table.strip(), column.strip(), value


def conditions_from_args(args: list[str], metadata: Metadata) -> dict[str, dict[str, Any]]:
    """CLI ``--condition`` texts as the Python shape; ``a..b`` is a range on numeric and date columns."""
    out: dict[str, dict[str, Any]] = {}
    for text in args:
        table, column, value = parse_condition_arg(text)
        kind = (metadata.table(table).column(column).kind
                if metadata.has_table(table) and metadata.table(table).has_column(column) else None)
        if kind in _ORDERED and ".." in value:
            low, _, high = value.partition("..")
            out.setdefault(table, {})[column] = {k: v for k, v in (("min", low.strip()), ("max", high.strip())) if v}
        else:
            out.setdefault(table, {})[column] = value
    return out


def parse_conditions(metadata: Metadata, domains: Mapping[str, Any] | None,
                     conditions: Mapping[str, Any] | None, balance: str | list[str] | None
                     ) -> dict[str, TableConditions]:
    """Check ``conditions`` and ``balance`` against the metadata and fitted domains; every problem at once."""
    problems: list[Problem] = []
    plans: dict[str, TableConditions] = {}
    doms = (domains or {}).get("tables", {})
    if conditions is not None and not isinstance(conditions, Mapping):
        raise ConfigError(f"conditions must map table names to {{column: value}}, got {type(conditions).__name__}",
                          hint='conditions={"census": {"income": ">50K", "age": {"min": 30, "max": 40}}}')
    for table_name, cols in (conditions or {}).items():
        if not metadata.has_table(table_name):
            problems.append(Problem("no such table", table=table_name,
                                    hint=did_you_mean(str(table_name), metadata.table_names)))
            continue
        if not isinstance(cols, Mapping) or not cols:
            problems.append(Problem("conditions of a table must be a non-empty mapping {column: value}",
                                    table=table_name, hint='{"income": ">50K"}'))
            continue
        table = metadata.table(table_name)
        plan = plans.setdefault(table_name, TableConditions(table_name))
        for column_name, value in cols.items():
            problem = _column_problem(metadata, table, column_name)
            if problem is not None:
                problems.append(problem)
                continue
            column = table.column(column_name)
            domain = doms.get(table_name, {}).get("columns", {}).get(column_name)
            if isinstance(value, Mapping):
                parsed = _parse_range(table_name, column, value, domain, problems)
                if parsed is not None:
                    plan.ranges[column_name] = parsed
            else:
                ok, typed = _parse_value(table_name, column, value, domain, problems)
                if ok:
                    plan.equal[column_name] = typed
    for spec in ([balance] if isinstance(balance, str) else list(balance or [])):
        _parse_balance(metadata, doms, str(spec), plans, problems)
    if problems:
        raise ConfigError("cannot sample with these conditions:\n" + "\n".join(f"  - {p.render()}" for p in problems))
    return {name: plan for name, plan in plans.items() if plan.columns}


def _column_problem(metadata: Metadata, table: Table, column_name: str) -> Problem | None:
    from hiveframe.pipeline.plan import modelled_columns

    if not table.has_column(column_name):
        return Problem("no such column", table=table.name, column=str(column_name),
                       hint=did_you_mean(str(column_name), table.column_names))
    keys = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    column = table.column(column_name)
    if column_name in keys or column.kind == ColumnKind.ID:
        return Problem("is a key: keys are generated, never sampled, so they cannot be conditioned",
                       table=table.name, column=column_name,
                       hint="condition on the parent table's columns to shape which parents (and children) appear")
    if column_name not in modelled_columns(metadata, table):
        return Problem(f"is a {column.kind.value} column the generator does not model", table=table.name,
                       column=column_name)
    return None


def _parse_value(table: str, column: Any, value: Any, domain: Mapping[str, Any] | None,
                 problems: list[Problem]) -> tuple[bool, Any]:
    """The value typed for the column, checked against what the model saw."""
    if value is None:
        if domain is not None and domain.get("nulls") == 0:
            problems.append(Problem("condition null: the column had no nulls when fitting", table=table,
                                    column=column.name))
            return False, None
        return True, None
    if column.kind in _ORDERED and not _is_text(column):
        number = _as_number(value, column)
        if number is None:
            problems.append(Problem(f"condition value {value!r} is not a {column.kind.value} value", table=table,
                                    column=column.name))
            return False, None
        low, high = (domain or {}).get("low"), (domain or {}).get("high")
        if (low is not None and number < low) or (high is not None and number > high):
            problems.append(Problem(f"condition value {value!r} is outside the range seen when fitting "
                                    f"[{_show(low, column)}, {_show(high, column)}]", table=table, column=column.name,
                                    hint="condition on a value inside the range"))
            return False, None
        return True, _typed(value, column)
    cats = (domain or {}).get("categories")
    if cats is None:
        return True, _typed(value, column)
    match = next((c for c in cats if c == value and type(c) is type(value)), None)
    if match is None:  # CLI text, or 1 for True: match by text
        match = next((c for c in cats if _text(c) == _text(value)), None)
    if match is None:
        shown = ", ".join(map(repr, cats[:10])) + (f" ... ({len(cats)} in all)" if len(cats) > 10 else "")
        problems.append(Problem(f"condition value {value!r} was never seen when fitting", table=table,
                                column=column.name, hint=f"known values: {shown}"))
        return False, None
    return True, match


def _parse_range(table: str, column: Any, spec: Mapping[str, Any], domain: Mapping[str, Any] | None,
                 problems: list[Problem]) -> Range | None:
    extra = sorted(set(spec) - {"min", "max"})
    if extra or not spec:
        problems.append(Problem(f"a range takes 'min' and/or 'max', got {dict(spec)!r}", table=table,
                                column=column.name, hint='{"min": 30, "max": 40}'))
        return None
    if column.kind not in _ORDERED or _is_text(column):
        what = column.kind.value if column.kind not in _ORDERED else "a date kept as text"
        problems.append(Problem(f"a range needs a numerical or datetime-typed column; this one is {what}",
                                table=table, column=column.name, hint="condition on one of its values instead"))
        return None
    bounds = {}
    for key in ("min", "max"):
        if spec.get(key) is None:
            continue
        number = _as_number(spec[key], column)
        if number is None:
            problems.append(Problem(f"range {key} {spec[key]!r} is not a {column.kind.value} value", table=table,
                                    column=column.name))
            return None
        bounds[key] = number
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None and low > high:
        problems.append(Problem(f"range min {spec['min']!r} is above max {spec['max']!r}", table=table,
                                column=column.name))
        return None
    seen_low, seen_high = (domain or {}).get("low"), (domain or {}).get("high")
    if (high is not None and seen_low is not None and high < seen_low) or (
            low is not None and seen_high is not None and low > seen_high):
        problems.append(Problem(f"range {Range(low, high).to_json()} holds no value seen when fitting "
                                f"[{_show(seen_low, column)}, {_show(seen_high, column)}]", table=table,
                                column=column.name, hint="choose a range that overlaps the fitted one"))
        return None
    return Range(low, high)


def _parse_balance(metadata: Metadata, doms: Mapping[str, Any], spec: str, plans: dict[str, TableConditions],
                   problems: list[Problem]) -> None:
    table_name, dot, column_name = spec.partition(".")
    if not dot:
        problems.append(Problem(f"balance {spec!r} is not TABLE.COLUMN", hint="e.g. --balance census.income"))
        return
    if not metadata.has_table(table_name):
        problems.append(Problem("no such table (in balance)", table=table_name,
                                hint=did_you_mean(table_name, metadata.table_names)))
        return
    table = metadata.table(table_name)
    problem = _column_problem(metadata, table, column_name)
    if problem is not None:
        problems.append(problem)
        return
    column = table.column(column_name)
    if column.kind not in _CATEGORICAL:
        problems.append(Problem(f"balance needs a categorical or boolean column; this one is {column.kind.value}",
                                table=table_name, column=column_name,
                                hint="balance a categorical column, or condition on ranges of this one"))
        return
    plan = plans.setdefault(table_name, TableConditions(table_name))
    if plan.balance is not None:
        problems.append(Problem(f"table is already balanced on {plan.balance!r}; one balanced column per table",
                                table=table_name, column=column_name))
        return
    if column_name in plan.equal:
        problems.append(Problem("a column cannot be both conditioned and balanced", table=table_name,
                                column=column_name))
        return
    cats = doms.get(table_name, {}).get("columns", {}).get(column_name, {}).get("categories")
    if not cats:
        problems.append(Problem("the model records no categories for this column (too many values, a model "
                                "saved before conditions existed, or differential privacy without declared "
                                "categories)", table=table_name, column=column_name,
                                hint="declare the column's categories in the metadata and fit again"))
        return
    plan.balance = column_name
    plan.classes = list(cats)


def _as_number(value: Any, column: Any) -> float | None:
    """A value (number, text, date) on the scale the domains use (see ``numeric_values``)."""
    import pyarrow as pa

    from hiveframe.pipeline.features import numeric_values

    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and column.kind == ColumnKind.NUMERICAL:
        return float(value) if math.isfinite(value) else None
    try:
        if column.kind == ColumnKind.NUMERICAL:
            return float(str(value))
        array = pa.array([value]) if not isinstance(value, str) else pa.array([value]).cast(column.arrow_type())
        v = numeric_values(array)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return float(v[0]) if v is not None and not np.isnan(v[0]) else None


def _typed(value: Any, column: Any) -> Any:
    """A CLI text value converted to the column's Arrow type (as a Python value)."""
    import pyarrow as pa

    if not isinstance(value, str):
        return value
    try:
        target = column.arrow_type()
        if pa.types.is_boolean(target):
            low = value.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            return value
        return pa.array([value]).cast(target)[0].as_py()
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return value


def _is_text(column: Any) -> bool:
    """A column stored as text (a date with a ``datetime_format``): compared as text, never ranged."""
    try:
        import pyarrow as pa

        return bool(pa.types.is_string(column.arrow_type()) or pa.types.is_large_string(column.arrow_type()))
    except ValueError:
        return True


def _text(value: Any) -> str:
    return str(value).strip().lower() if isinstance(value, bool) else str(value).strip()


def _show(value: float | None, column: Any) -> str:
    return "-inf" if value is None else f"{value:g}"


# -- sampling -----------------------------------------------------------------------------------------
SampleFn = Callable[..., "pa.Table"]


class ConditionSampler:
    """Draws the rows of conditioned tables for :meth:`RelationalEngine.sample`; keeps what it did.

    :attr:`report` holds, per conditioned table: the conditions, the method (``native``,
    ``rejection`` or ``native+rejection``), rows, rows drawn and the acceptance rate.
    """

    def __init__(self, host: PluginHost, plans: Mapping[str, TableConditions], metadata: Metadata) -> None:
        self.host = host
        self.plans = dict(plans)
        self.report: dict[str, dict[str, Any]] = {}
        #: conditioned tables and every table below them: their rows are not the unconditioned population
        self.shaped: set[str] = set()
        todo = list(self.plans)
        while todo:
            name = todo.pop()
            if name not in self.shaped:
                self.shaped.add(name)
                todo += [fk.child_table for fk in metadata.foreign_keys if fk.parent_table == name]

    def covers(self, table: str) -> bool:
        return table in self.plans

    def shapes(self, table: str) -> bool:
        """Whether ``table``'s rows are conditioned (or descend from conditioned rows)."""
        return table in self.shaped

    def children_total(self, relation: Any, parents: pa.Table, seed: int, draws: int = 8) -> int:
        """How many children conditioned parents have: the linkage model's mean total over a few draws.

        Unconditioned parents get the real children-per-parent ratio; conditioned ones must not, or
        conditioning on big customers would give them the average customer's orders. A linkage model
        that calibrates its draws to the real marginal (the builtin ``conditional`` one, ``calibrate``)
        would hand out the real total again, so its conditional draws are taken uncalibrated here.
        """
        linkage = relation.linkage
        if getattr(linkage, "calibrate", False):
            linkage = copy.copy(linkage)
            linkage.calibrate = False
        totals = [int(np.minimum(linkage.sample(parents, seed=_sub_seed(seed, "total", t)),
                                 relation.high).sum()) for t in range(draws)]
        return int(round(float(np.mean(totals))))

    def columns(self, table: str) -> set[str]:
        plan = self.plans.get(table)
        return plan.columns if plan is not None else set()

    def sample_table(self, table_name: str, generator: TableGenerator, num_rows: int,
                     context: pa.Table | None, seed: int) -> pa.Table:
        """``num_rows`` rows of ``table_name`` (one per ``context`` row) meeting its conditions."""
        plan = self.plans[table_name]
        entry: dict[str, Any] = {"conditions": plan.describe(), "rows": int(num_rows), "drawn": 0, "accepted": 0,
                                 "method": set()}
        if plan.balance is None:
            out = self._conditioned(table_name, generator, num_rows, context, plan.equal, plan.ranges, seed, entry)
        else:
            out = self._balanced(plan, generator, num_rows, context, seed, entry)
        methods = entry.pop("method")
        entry["method"] = "+".join(m for m in ("native", "rejection") if m in methods) or "native"
        entry["acceptance_rate"] = entry["accepted"] / entry["drawn"] if entry["drawn"] else 1.0
        if entry["method"] != "native":
            log.info("table %s: %s conditions, %d rows drawn for %d (acceptance %.1f%%)", table_name,
                     entry["method"], entry["drawn"], num_rows, 100 * entry["acceptance_rate"])
        self.report[table_name] = entry
        return out

    def _balanced(self, plan: TableConditions, generator: TableGenerator, n: int, context: pa.Table | None,
                  seed: int, entry: dict[str, Any]) -> pa.Table:
        """Equal rows per class (the first ``n mod k`` classes get one more), in random order."""
        import pyarrow as pa

        assert plan.balance is not None
        k = len(plan.classes)
        counts = np.full(k, n // k)
        counts[: n % k] += 1
        rng = np.random.default_rng(seed)
        labels = rng.permutation(np.repeat(np.arange(k), counts))
        entry["balance"] = {"column": plan.balance, "rows_per_class": {str(c): int(m)
                                                                      for c, m in zip(plan.classes, counts, strict=True)}}
        parts, positions = [], []
        for i, value in enumerate(plan.classes):
            rows = np.flatnonzero(labels == i)
            if len(rows) == 0:
                continue
            sub = context.take(rows) if context is not None else None
            part = self._conditioned(plan.table, generator, len(rows), sub, {**plan.equal, plan.balance: value},
                                     plan.ranges, _sub_seed(seed, "class", i), entry)
            parts.append(part)
            positions.append(rows)
        if not parts:
            return self._draw(plan.table, generator, 0, context, {}, seed)
        merged = pa.concat_tables(parts, promote_options="permissive")
        return merged.take(np.argsort(np.concatenate(positions), kind="stable"))

    def _conditioned(self, table: str, generator: TableGenerator, n: int, context: pa.Table | None,
                     equal: Mapping[str, Any], ranges: Mapping[str, Range], seed: int,
                     entry: dict[str, Any]) -> pa.Table:
        import pyarrow as pa

        native = dict(equal) if (equal and generator.conditional) else {}
        check_equal = {} if native else dict(equal)
        if native:
            entry["method"].add("native")
        if not check_equal and not ranges:
            entry["drawn"] += n
            entry["accepted"] += n
            return self._draw(table, generator, n, context, native, seed)
        entry["method"].add("rejection")
        pending = np.arange(n)
        pieces: list[pa.Table] = []
        where: list[np.ndarray] = []
        drawn = accepted = 0
        rate = 0.5
        for round_ in range(MAX_ROUNDS):
            if len(pending) == 0:
                break
            if context is None:
                m = min(MAX_BATCH, int(math.ceil(len(pending) / rate * 1.2)) + 16)
                out = self._draw(table, generator, m, None, native, _sub_seed(seed, "round", round_))
                ok = np.flatnonzero(meets(out, check_equal, ranges))
                take = ok[: len(pending)]
                pieces.append(out.take(take))
                where.append(pending[: len(take)])
                pending = pending[len(take):]
            else:  # every pending row keeps its own context: draw copies of it, keep its first good copy
                copies = int(min(64, max(1, math.ceil(1.2 / rate)), max(1, MAX_BATCH // len(pending))))
                rep = np.tile(pending, copies)
                m = len(rep)
                out = self._draw(table, generator, m, context.take(rep), native, _sub_seed(seed, "round", round_))
                ok = np.flatnonzero(meets(out, check_equal, ranges))
                _, first = np.unique(rep[ok], return_index=True)
                chosen = ok[first]
                pieces.append(out.take(chosen))
                where.append(rep[chosen])
                pending = np.setdiff1d(pending, rep[chosen])
            drawn += m
            accepted += len(ok)
            rate = max(accepted / drawn, 1.0 / drawn)
            if drawn >= MIN_DRAWS and accepted / drawn < MIN_ACCEPTANCE and len(pending):
                break
        entry["drawn"] += drawn
        entry["accepted"] += accepted
        if len(pending):
            shown = ", ".join(f"{c}={v!r}" for c, v in {**check_equal, **{c: r.to_json() for c, r in ranges.items()}}.items())
            raise ConfigError(
                f"table {table!r}: only {n - len(pending)} of {n} rows met the conditions {shown} after drawing "
                f"{drawn} rows (acceptance {accepted / max(drawn, 1):.4%})",
                hint="widen the range or drop a condition; the model (almost) never produces such rows")
        merged = pa.concat_tables(pieces, promote_options="permissive") if pieces else self._draw(
            table, generator, 0, context, native, seed)
        return merged.take(np.argsort(np.concatenate(where), kind="stable")) if where else merged

    def _draw(self, table: str, generator: TableGenerator, n: int, context: pa.Table | None,
              conditions: Mapping[str, Any], seed: int) -> pa.Table:
        return self.host.hooks.sample_table(table_name=table, generator=generator, num_rows=n, context=context,
                                            conditions=dict(conditions) or None, seed=seed)


def meets(data: pa.Table, equal: Mapping[str, Any], ranges: Mapping[str, Range]) -> np.ndarray:
    """Per row: whether every condition holds (nulls meet only a null condition, never a range)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import numeric_values

    ok = np.ones(data.num_rows, dtype=bool)
    for name, value in equal.items():
        col = data.column(name)
        if value is None:
            ok &= np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            continue
        try:
            hit = pc.equal(col, pa.scalar(value).cast(col.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            hit = pc.equal(pc.cast(col, pa.string()), str(value))
        ok &= np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
    for name, rng in ranges.items():
        v = numeric_values(data.column(name))
        if v is None:
            raise ConfigError(f"column {name!r} is not numeric: a range cannot be checked on it")
        good = ~np.isnan(v)
        if rng.low is not None:
            good &= v >= rng.low
        if rng.high is not None:
            good &= v <= rng.high
        ok &= good
    return ok


def _sub_seed(seed: int, *parts: Any) -> int:
    from hiveframe.pipeline.plan import derive_seed

    return derive_seed(seed, "conditions", *parts)
