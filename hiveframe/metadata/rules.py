"""Rules between columns: declared in a table's ``constraints``, checked on data, parsed for enforcement.

A rule is a plain JSON object in ``Table.constraints`` (so metadata stays JSON, and the Python helpers
below only build those objects). Expressions (``formula``, ``if_then``) are written in a small,
safe subset of Python: column names, numbers and strings, ``+ - * / // % **``, comparisons
(``in`` a tuple included), ``and or not``, ``col[0]`` / ``col[:2]`` on strings, and the functions of
:data:`FUNCTIONS`. They are parsed with :mod:`ast` and evaluated column-wise with numpy; no name is
ever looked up outside the row, so a model file that carries rules can never run code.

Rule types (``type``):

* ``range`` (``column``, ``low``, ``high``, ``strict``), ``positive`` / ``negative`` (``column``);
* ``inequality`` (``low_column`` <= ``high_column``; ``strict`` for <), optionally across a foreign key:
  ``low_table`` names the parent table that holds ``low_column``;
* ``if_then`` (``if``, ``then``: expressions; ``isnull(c)`` / ``notnull(c)`` test nulls);
* ``fixed_combinations`` (``columns``; optional ``combinations``, the allowed value lists);
* ``formula`` (``column`` equals ``expression``; ``tolerance`` for numbers);
* ``unique`` (``columns``), ``regex`` (``column``, ``pattern``), ``check_digit`` (``column``,
  ``scheme``: ``luhn`` or ``iban``).

A rule that ``detect`` found carries ``detection`` (its support): detected rules are read from the
data, so under differential privacy they count as detected metadata; declared rules are public.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import MetadataError, Problem, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata.model import Metadata, Table

RULE_TYPES = ("range", "positive", "negative", "inequality", "if_then", "fixed_combinations", "formula",
              "unique", "regex", "check_digit", "not_null", "one_of")
CHECK_DIGIT_SCHEMES = ("luhn", "iban")


# -- Python helpers: each returns the JSON object stored in Table.constraints --------------------------
def range_rule(column: str, low: float | None = None, high: float | None = None, *, strict: bool = False
               ) -> dict[str, Any]:
    """``low <= column <= high`` (either bound may be left out)."""
    out: dict[str, Any] = {"type": "range", "column": column}
    if low is not None:
        out["low"] = low
    if high is not None:
        out["high"] = high
    if strict:
        out["strict"] = True
    return out


def positive(column: str, *, strict: bool = False) -> dict[str, Any]:
    """``column >= 0`` (``> 0`` when strict)."""
    return {"type": "positive", "column": column, "strict": strict}


def inequality(low_column: str, high_column: str, *, strict: bool = False, low_table: str | None = None
               ) -> dict[str, Any]:
    """``low_column <= high_column``; ``low_table`` names the parent table holding ``low_column``."""
    out: dict[str, Any] = {"type": "inequality", "low_column": low_column, "high_column": high_column}
    if strict:
        out["strict"] = True
    if low_table is not None:
        out["low_table"] = low_table
    return out


def if_then(condition: str, consequence: str) -> dict[str, Any]:
    """Rows where ``condition`` holds also satisfy ``consequence`` (both expressions)."""
    return {"type": "if_then", "if": condition, "then": consequence}


def fixed_combinations(columns: Sequence[str], combinations: Iterable[Sequence[Any]] | None = None
                       ) -> dict[str, Any]:
    """Only the value combinations of ``columns`` seen in the data (or listed) may appear."""
    out: dict[str, Any] = {"type": "fixed_combinations", "columns": list(columns)}
    if combinations is not None:
        out["combinations"] = [list(c) for c in combinations]
    return out


def formula(column: str, expression: str, *, tolerance: float | None = None) -> dict[str, Any]:
    """``column`` equals ``expression`` (computed from the other columns when sampling)."""
    out: dict[str, Any] = {"type": "formula", "column": column, "expression": expression}
    if tolerance is not None:
        out["tolerance"] = tolerance
    return out


def unique(*columns: str) -> dict[str, Any]:
    """No two rows share the values of ``columns``."""
    return {"type": "unique", "columns": list(columns)}


def regex(column: str, pattern: str) -> dict[str, Any]:
    """Every non-null value matches ``pattern`` in full."""
    return {"type": "regex", "column": column, "pattern": pattern}


def check_digit(column: str, scheme: str) -> dict[str, Any]:
    """Every non-null value carries a valid check digit (``luhn`` or ``iban``)."""
    return {"type": "check_digit", "column": column, "scheme": scheme}


# -- expressions --------------------------------------------------------------------------------------
def _isnull(x: np.ndarray) -> np.ndarray:
    if x.dtype == object:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in x], dtype=bool)
    if x.dtype == bool:
        return np.zeros(len(x), dtype=bool)
    return np.isnan(x.astype(np.float64))


def _num(f: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def call(*args: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return f(*[_as_float(a) for a in args])
    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isnull": _isnull,
    "notnull": lambda x: ~_isnull(x),
    "abs": _num(np.abs), "sqrt": _num(np.sqrt), "exp": _num(np.exp), "log": _num(np.log),
    "floor": _num(np.floor), "ceil": _num(np.ceil),
    "round": _num(lambda x, d=0.0: np.round(x, int(np.nanmax(d)) if np.ndim(d) else int(d))),
    "min": _num(np.fmin), "max": _num(np.fmax),
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power,
}
_CMP = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)


class Expression:
    """A parsed rule expression: ``names`` it reads, ``evaluate(columns)`` on numpy arrays."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"expression {text!r} is not valid: {exc.msg}") from None
        self.names: list[str] = []
        self._check(self.tree.body)

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            if node.id not in self.names and node.id not in ("True", "False", "None"):
                self.names.append(node.id)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool, type(None))):
                raise ValueError(f"expression {self.text!r}: constant {node.value!r} is not allowed")
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
        elif isinstance(node, ast.Compare) and all(isinstance(op, _CMP) for op in node.ops):
            for v in [node.left, *node.comparators]:
                self._check(v)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for v in node.elts:
                if not isinstance(v, ast.Constant):
                    raise ValueError(f"expression {self.text!r}: a list may only hold constants")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            for a in node.args:
                self._check(a)
        elif isinstance(node, ast.Subscript):
            self._check(node.value)
            s = node.slice
            parts = [s.lower, s.upper, s.step] if isinstance(s, ast.Slice) else [s]
            if not all(p is None or (isinstance(p, ast.Constant) and isinstance(p.value, int))
                       or (isinstance(p, ast.UnaryOp) and isinstance(p.operand, ast.Constant)) for p in parts):
                raise ValueError(f"expression {self.text!r}: only constant indexes like col[0] or col[:2]")
        else:
            what = type(node).__name__
            if isinstance(node, ast.Call):
                what = f"call of {ast.unparse(node.func)!r} (functions: {', '.join(FUNCTIONS)})"
            raise ValueError(f"expression {self.text!r}: {what} is not allowed")

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._eval(self.tree.body, columns)

    def _eval(self, node: ast.AST, cols: Mapping[str, np.ndarray]) -> Any:
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            return cols[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, cols), self._eval(node.right, cols)
            if isinstance(node.op, ast.Add) and (_is_text(left) or _is_text(right)):
                return _text_op(lambda a, b: a + b, left, right)
            with np.errstate(all="ignore"):
                return _BINOPS[type(node.op)](_as_float(left), _as_float(right))
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, cols)
            if isinstance(node.op, ast.Not):
                return ~_as_bool(v)
            return -_as_float(v) if isinstance(node.op, ast.USub) else _as_float(v)
        if isinstance(node, ast.BoolOp):
            values = [_as_bool(self._eval(v, cols)) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, cols)
            result: Any = True
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comp, cols)
                result = result & _compare(op, left, right)
                left = right
            return result
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return FUNCTIONS[node.func.id](*[self._eval(a, cols) for a in node.args])
        if isinstance(node, ast.Subscript):
            value = self._eval(node.value, cols)
            s = node.slice
            key: Any = (slice(*[None if p is None else ast.literal_eval(p) for p in (s.lower, s.upper, s.step)])
                        if isinstance(s, ast.Slice) else ast.literal_eval(s))
            return np.array([None if v is None else str(v)[key] for v in _as_text(value)], dtype=object)
        raise ValueError(f"cannot evaluate {ast.dump(node)}")


def _is_text(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, np.ndarray) and v.dtype == object)


def _as_text(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray) and v.dtype == object:
        return v
    return np.asarray(v, dtype=object)


def _text_op(f: Callable[[Any, Any], Any], a: Any, b: Any) -> np.ndarray:
    n = max(len(x) if isinstance(x, np.ndarray) else 1 for x in (a, b))
    aa = a if isinstance(a, np.ndarray) else np.full(n, a, dtype=object)
    bb = b if isinstance(b, np.ndarray) else np.full(n, b, dtype=object)
    return np.array([None if x is None or y is None else f(str(x), str(y)) for x, y in zip(aa, bb, strict=True)],
                    dtype=object)


def _as_float(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return np.array([np.nan if x is None else float(x) for x in v], dtype=np.float64)
        return v.astype(np.float64)
    if v is None:
        return np.nan
    return float(v)


def _as_bool(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype == bool:
            return v
        if v.dtype == object:
            return np.array([bool(x) if x is not None else False for x in v], dtype=bool)
        return np.nan_to_num(v.astype(np.float64), nan=0.0) != 0
    return bool(v)


def _compare(op: ast.cmpop, left: Any, right: Any) -> Any:
    if isinstance(op, (ast.In, ast.NotIn)):
        allowed = set(right) | {float(x) for x in right if isinstance(x, (int, float)) and not isinstance(x, bool)}
        values = left if isinstance(left, np.ndarray) else np.asarray([left], dtype=object)
        out = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) and v in allowed
                        for v in (values.tolist())], dtype=bool)
        return out if isinstance(op, ast.In) else ~out & ~_isnull(values)
    if _is_text(left) or _is_text(right):
        ops = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
               ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}
        f = ops[type(op)]
        res = _text_op(lambda a, b: f(a, b), _str_side(left), _str_side(right))
        return np.array([bool(x) if x is not None else False for x in res], dtype=bool)
    a, b = _as_float(left), _as_float(right)
    with np.errstate(invalid="ignore"):
        ops2 = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
                ast.Gt: np.greater, ast.GtE: np.greater_equal}
        out = ops2[type(op)](a, b)
    return out & ~np.isnan(a) & ~np.isnan(b) if isinstance(out, np.ndarray) else out


def _str_side(v: Any) -> Any:
    if isinstance(v, np.ndarray) and v.dtype != object:
        return np.array([None if (isinstance(x, float) and math.isnan(x)) else _plain(x) for x in v.tolist()],
                        dtype=object)
    return v


def _plain(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def assignments(text: str) -> dict[str, Any] | None:
    """``then`` parts that fix values: ``isnull(c)``, ``c == constant`` joined by ``and`` -> {column: value}
    (``None`` for null); ``None`` when the expression is anything else (enforced by rejection)."""
    try:
        body = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    parts = body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    out: dict[str, Any] = {}
    for p in parts:
        if (isinstance(p, ast.Call) and isinstance(p.func, ast.Name) and p.func.id == "isnull"
                and len(p.args) == 1 and isinstance(p.args[0], ast.Name)):
            out[p.args[0].id] = None
        elif (isinstance(p, ast.Compare) and len(p.ops) == 1 and isinstance(p.ops[0], ast.Eq)
              and isinstance(p.left, ast.Name) and isinstance(p.comparators[0], ast.Constant)
              and p.comparators[0].value is not None):
            out[p.left.id] = p.comparators[0].value
        else:
            return None
    return out


# -- columns of a table as arrays -----------------------------------------------------------------------
def column_arrays(table: pa.Table, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Columns as numpy: numbers/booleans/datetimes as float64 with NaN for null, others as objects."""
    import pyarrow as pa

    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in table.column_names or name in out:
            continue
        arr = table.column(name)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        t = arr.type
        if pa.types.is_dictionary(t):
            arr = arr.cast(t.value_type)
            t = arr.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
            out[name] = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            ints = arr.cast(pa.int64()) if pa.types.is_timestamp(t) else arr.cast(pa.date32()).cast(pa.int32())
            out[name] = np.asarray(ints.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            out[name] = np.asarray(arr.to_pylist(), dtype=object)
    return out


def precision(values: np.ndarray, *, share: float = 0.999, most: int = 6) -> int | None:
    """The decimals a number column is written with: the fewest that represent ``share`` of its values
    (a few values with float noise do not count); ``None`` beyond ``most`` decimals (continuous)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not len(x):
        return None
    scale = np.maximum(1.0, np.abs(x))
    for d in range(most + 1):
        if np.mean(np.abs(np.round(x, d) - x) <= 1e-9 * scale) >= share:
            return d
    return None


# -- checking -------------------------------------------------------------------------------------------
def rule_columns(rule: Mapping[str, Any]) -> list[str]:
    """Every column of its own table a rule names (a cross-table ``low_column`` excluded)."""
    kind = rule.get("type")
    cols: list[str] = []
    if "column" in rule:
        cols.append(str(rule["column"]))
    if isinstance(rule.get("columns"), list):
        cols += [str(c) for c in rule["columns"]]
    if kind == "inequality":
        if rule.get("low_table") is None and "low_column" in rule:
            cols.append(str(rule["low_column"]))
        if "high_column" in rule:
            cols.append(str(rule["high_column"]))
    for key in ("expression", "if", "then"):
        if isinstance(rule.get(key), str):
            try:
                cols += Expression(rule[key]).names
            except ValueError:
                pass
    return list(dict.fromkeys(cols))


def describe(rule: Mapping[str, Any]) -> str:
    """A one-line human reading of a rule."""
    kind = rule.get("type")
    if kind == "formula":
        return f"{rule.get('column')} = {rule.get('expression')}"
    if kind == "if_then":
        return f"if {rule.get('if')} then {rule.get('then')}"
    if kind == "inequality":
        low = f"{rule['low_table']}.{rule.get('low_column')}" if rule.get("low_table") else rule.get("low_column")
        return f"{low} {'<' if rule.get('strict') else '<='} {rule.get('high_column')}"
    if kind == "range":
        return f"{rule.get('low', '-inf')} <= {rule.get('column')} <= {rule.get('high', 'inf')}"
    if kind in ("positive", "negative"):
        return f"{rule.get('column')} {'>' if kind == 'positive' else '<'}{'' if rule.get('strict') else '='} 0"
    if kind in ("unique", "fixed_combinations"):
        return f"{kind} {', '.join(map(str, rule.get('columns', [])))}"
    if kind == "regex":
        return f"{rule.get('column')} matches {rule.get('pattern')}"
    if kind == "check_digit":
        return f"{rule.get('column')} has a {rule.get('scheme')} check digit"
    return str(dict(rule))


def holds(rule: Mapping[str, Any], table: pa.Table, *, parent_values: np.ndarray | None = None,
          combinations: Sequence[Sequence[Any]] | None = None) -> np.ndarray:
    """Per row: whether it keeps ``rule`` (rows where a compared value is null keep order rules).

    ``parent_values`` are the parent's ``low_column`` per row for a rule across a foreign key;
    ``combinations`` the allowed combinations when the rule lists none.
    """
    kind = rule["type"]
    n = table.num_rows
    cols = column_arrays(table, rule_columns(rule))
    if kind in ("range", "positive", "negative"):
        v = cols[rule["column"]]
        strict = bool(rule.get("strict", False))
        lo = rule.get("low") if kind == "range" else (0.0 if kind == "positive" else None)
        hi = rule.get("high") if kind == "range" else (0.0 if kind == "negative" else None)
        ok = np.ones(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                ok &= ~((v <= lo) if strict else (v < lo))
            if hi is not None:
                ok &= ~((v >= hi) if strict else (v > hi))
        return ok
    if kind == "inequality":
        a = parent_values if rule.get("low_table") else cols[rule["low_column"]]
        if a is None:
            raise ValueError("an inequality across a foreign key needs the parent's values")
        b = cols[rule["high_column"]]
        a = _as_float(a)
        with np.errstate(invalid="ignore"):
            bad = (a >= b) if rule.get("strict") else (a > b)
        return ~bad
    if kind == "if_then":
        cond = _as_bool(Expression(rule["if"]).evaluate(cols))
        then = _as_bool(Expression(rule["then"]).evaluate(cols))
        return ~cond | then
    if kind == "formula":
        target = cols[rule["column"]]
        value = Expression(rule["expression"]).evaluate(cols)
        return _equal(target, value, float(rule.get("tolerance") or 0.0))
    if kind in ("unique", "fixed_combinations"):
        keys = _row_keys(cols, rule["columns"])
        if kind == "unique":
            nulls = np.zeros(n, dtype=bool)
            for c in rule["columns"]:
                nulls |= _isnull(cols[c])
            seen: set[Any] = set()
            ok = np.ones(n, dtype=bool)
            for i, k in enumerate(keys):
                if nulls[i]:
                    continue
                if k in seen:
                    ok[i] = False
                seen.add(k)
            return ok
        allowed = rule.get("combinations", combinations)
        if allowed is None:
            raise ValueError("fixed_combinations needs the allowed combinations")
        allowed_keys = {tuple(_norm(v) for v in combo) for combo in allowed}
        return np.array([k in allowed_keys for k in keys], dtype=bool)
    if kind == "regex":
        pattern = re.compile(rule["pattern"])
        return np.array([v is None or pattern.fullmatch(str(v)) is not None for v in _as_text(cols[rule["column"]])],
                        dtype=bool)
    if kind == "check_digit":
        check = _luhn_ok if rule["scheme"] == "luhn" else _iban_ok
        return np.array([v is None or check(_digits_text(v)) for v in _as_text(cols[rule["column"]])], dtype=bool)
    if kind == "not_null":
        ok = np.ones(n, dtype=bool)
        for c in rule_columns(rule):
            ok &= ~_isnull(cols[c])
        return ok
    if kind == "one_of":
        allowed_values = {_norm(v) for v in rule.get("values", [])}
        return np.array([v is None or _norm(v) in allowed_values for v in _as_text(cols[rule["column"]])],
                        dtype=bool)
    raise ValueError(f"unknown rule type {kind!r}")


def _equal(target: np.ndarray, value: Any, tolerance: float) -> np.ndarray:
    n = len(target)
    if not isinstance(value, np.ndarray):
        value = np.full(n, value, dtype=object if isinstance(value, str) else np.float64)
    t_null, v_null = _isnull(target), _isnull(value)
    if _is_text(target) or _is_text(value):
        tt, vv = _str_side(target), _str_side(value)
        same = np.array([a == b for a, b in zip(tt, vv, strict=True)], dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            a, b = _as_float(target), _as_float(value)
            same = np.abs(a - b) <= tolerance + 1e-9 * np.maximum(1.0, np.abs(b))
    return (t_null & v_null) | (~t_null & ~v_null & same)


def _norm(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _row_keys(cols: Mapping[str, np.ndarray], names: Sequence[str]) -> list[tuple[Any, ...]]:
    arrays = [cols[c].tolist() for c in names]
    return [tuple(_norm(v) for v in row) for row in zip(*arrays, strict=True)] if arrays else []


def _digits_text(v: Any) -> str:
    return str(_plain(v)).replace(" ", "")


def luhn_digit(payload: str) -> str:
    """The Luhn check digit to append to ``payload`` (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _luhn_ok(text: str) -> bool:
    return len(text) >= 2 and text.isdigit() and luhn_digit(text[:-1]) == text[-1]


def _iban_number(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def iban_digits(text: str) -> str:
    """``text`` (an IBAN, spaces removed) with its two check digits recomputed."""
    text = text.upper()
    body = text[4:] + text[:2] + "00"
    return text[:2] + f"{98 - _iban_number(body) % 97:02d}" + text[4:]


def _iban_ok(text: str) -> bool:
    text = text.upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", text):
        return False
    return _iban_number(text[4:] + text[:4]) % 97 == 1


# -- validation -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """A declared rule the real rows break: which, how many, an example row."""

    table: str
    rule: Mapping[str, Any]
    rows: int
    checked: int
    first_row: int


def rule_problems_of(rule: Mapping[str, Any]) -> list[str]:
    """What is wrong with one rule on its own (missing fields, an expression not allowed): [] when well formed."""
    from hiveframe.metadata.model import Column, ColumnKind, Metadata, Table

    names = rule_columns(rule)
    table = Table("_", tuple(Column(n, ColumnKind.CATEGORICAL) for n in names), constraints=(dict(rule),))
    problems = _table_rule_problems(Metadata(tables=(table,)), table) if not rule.get("low_table") else []
    return [p.message for p in problems if "contradictory" not in p.message]


def rule_problems(metadata: Metadata) -> list[Problem]:
    """Every rule that is malformed, names an unknown column, or contradicts another (no data read)."""
    problems: list[Problem] = []
    for table in metadata.tables:
        problems += _table_rule_problems(metadata, table)
    return problems


def _table_rule_problems(metadata: Metadata, table: Table) -> list[Problem]:
    out: list[Problem] = []
    names = table.column_names
    formulas: dict[str, Mapping[str, Any]] = {}
    ranges: dict[str, list[tuple[float, float, Mapping[str, Any]]]] = {}
    fixed: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    order: list[tuple[str, str, bool]] = []
    for rule in table.constraints:
        kind = rule.get("type")
        label = describe(rule)
        if kind not in RULE_TYPES:
            if kind in ("scalar_range", "scalarrange", "allowed_values", "categories", "notnull"):
                continue  # SDV-style names the validate plugin checks
            out.append(Problem(f"unknown rule type {kind!r} in {dict(rule)}", table=table.name,
                               hint=did_you_mean(str(kind), list(RULE_TYPES))))
            continue
        try:
            for key in ("expression", "if", "then"):
                if key in rule:
                    Expression(str(rule[key]))
        except ValueError as exc:
            out.append(Problem(f"rule {label!r}: {exc}", table=table.name,
                               hint="expressions use column names, numbers, 'strings', + - * / ** //, "
                                    "comparisons, and/or/not, col[0], and " + ", ".join(FUNCTIONS)))
            continue
        required = {"range": ["column"], "positive": ["column"], "negative": ["column"],
                    "inequality": ["low_column", "high_column"], "if_then": ["if", "then"],
                    "fixed_combinations": ["columns"], "formula": ["column", "expression"],
                    "unique": ["columns"], "regex": ["column", "pattern"], "check_digit": ["column", "scheme"],
                    "not_null": [], "one_of": ["column"]}[kind]
        lacking = [k for k in required if k not in rule]
        if lacking:
            out.append(Problem(f"rule {dict(rule)} lacks {', '.join(lacking)}", table=table.name,
                               hint="see docs/rules.md for each rule's fields"))
            continue
        for col in rule_columns(rule):
            if col not in names:
                out.append(Problem(f"rule {label!r} names an unknown column {col!r}", table=table.name, column=col,
                                   hint=did_you_mean(col, names) or f"columns: {', '.join(names)}"))
        if kind == "inequality" and rule.get("low_table") is not None:
            parent = str(rule["low_table"])
            fks = [fk for fk in metadata.foreign_keys if fk.child_table == table.name and fk.parent_table == parent
                   and not fk.is_self_reference]
            if not fks:
                out.append(Problem(f"rule {label!r}: table {table.name!r} has no foreign key to {parent!r}",
                                   table=table.name, hint="declare the foreign key, or drop low_table"))
            elif not metadata.table(parent).has_column(str(rule["low_column"])):
                col = str(rule["low_column"])
                out.append(Problem(f"rule {label!r} names an unknown column {col!r} of parent {parent!r}",
                                   table=table.name, column=col,
                                   hint=did_you_mean(col, metadata.table(parent).column_names)))
        if kind == "regex":
            try:
                re.compile(str(rule["pattern"]))
            except re.error as exc:
                out.append(Problem(f"rule {label!r}: pattern is not a valid regular expression ({exc})",
                                   table=table.name, column=str(rule["column"])))
        if kind == "check_digit" and rule["scheme"] not in CHECK_DIGIT_SCHEMES:
            out.append(Problem(f"unknown check-digit scheme {rule['scheme']!r}", table=table.name,
                               column=str(rule["column"]), hint=f"one of: {', '.join(CHECK_DIGIT_SCHEMES)}"))
        # -- contradictions
        if kind == "formula":
            col = str(rule["column"])
            if col in formulas:
                out.append(Problem(f"contradictory rules: {col!r} is computed by two formulas "
                                   f"({describe(formulas[col])!r} and {label!r})", table=table.name, column=col,
                                   hint="keep one formula per column"))
            formulas[col] = rule
            if col in Expression(str(rule["expression"])).names:
                out.append(Problem(f"rule {label!r} computes {col!r} from itself", table=table.name, column=col))
        if kind in ("range", "positive", "negative"):
            col = str(rule["column"])
            lo = rule.get("low") if kind == "range" else (0.0 if kind == "positive" else None)
            hi = rule.get("high") if kind == "range" else (0.0 if kind == "negative" else None)
            lo_f = -math.inf if lo is None else float(lo)
            hi_f = math.inf if hi is None else float(hi)
            strict = bool(rule.get("strict", False))
            if lo_f > hi_f or (strict and lo_f == hi_f):
                out.append(Problem(f"rule {label!r} allows no value (low above high)", table=table.name, column=col))
            for lo2, hi2, other in ranges.get(col, []):
                if max(lo_f, lo2) > min(hi_f, hi2):
                    out.append(Problem(f"contradictory rules: {describe(other)!r} and {label!r} leave no value "
                                       f"for {col!r}", table=table.name, column=col))
            ranges.setdefault(col, []).append((lo_f, hi_f, rule))
        if kind == "if_then":
            fixed_values = assignments(str(rule["then"]))
            if fixed_values is not None:
                for col, value in fixed_values.items():
                    key = (str(rule["if"]).replace(" ", ""), col)
                    for other in fixed.get(key, []):
                        other_value = (assignments(str(other["then"])) or {}).get(col)
                        if other_value != value:
                            out.append(Problem(f"contradictory rules: {describe(other)!r} and {label!r} give "
                                               f"{col!r} two values on the same rows", table=table.name, column=col))
                    fixed.setdefault(key, []).append(rule)
        if kind == "inequality" and rule.get("low_table") is None:
            order.append((str(rule["low_column"]), str(rule["high_column"]), bool(rule.get("strict"))))
    cycle = _formula_cycle(formulas)
    if cycle:
        out.append(Problem(f"contradictory rules: formulas compute {' -> '.join(cycle)} from each other",
                           table=table.name, column=cycle[0], hint="a formula may only read free columns"))
    strict_cycle = _strict_cycle(order)
    if strict_cycle:
        out.append(Problem(f"contradictory rules: inequalities {' <= '.join(strict_cycle)} force a value below "
                           "itself", table=table.name, column=strict_cycle[0]))
    return out


def _formula_cycle(formulas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    from hiveframe.metadata.model import find_cycle

    deps = {col: [n for n in Expression(str(r["expression"])).names if n in formulas] for col, r in formulas.items()}
    return find_cycle(deps)


def _strict_cycle(order: list[tuple[str, str, bool]]) -> list[str]:
    """A cycle of ``<=``/``<`` containing at least one strict ``<`` (``a < b <= a``): no row can keep it."""
    for a, b, strict in order:
        if not strict and a != b:
            continue
        # is there a path from b back to a?
        frontier, seen = [b], {b}
        while frontier:
            node = frontier.pop()
            if node == a:
                return [a, b, a]
            for x, y, _ in order:
                if x == node and y not in seen:
                    seen.add(y)
                    frontier.append(y)
    return []


def check_rules(metadata: Metadata, database: Any, *, force: bool = False) -> list[Violation]:
    """Rules the real rows break. Raises :class:`MetadataError` listing each with the share of rows and
    the first row at fault, unless ``force`` (then the violations are returned, to be logged)."""
    problems: list[Problem] = []
    found: list[Violation] = []
    for table in metadata.tables:
        data = database[table.name]
        for rule in table.constraints:
            if rule.get("type") not in RULE_TYPES or rule.get("type") == "fixed_combinations" \
                    and "combinations" not in rule:
                continue
            parent_values = None
            if rule.get("type") == "inequality" and rule.get("low_table"):
                parent_values = parent_column(metadata, table.name, rule, database)
            ok = holds(rule, data, parent_values=parent_values)
            bad = int((~ok).sum())
            if bad:
                first = int(np.argmax(~ok))
                found.append(Violation(table.name, rule, bad, data.num_rows, first))
                problems.append(Problem(
                    f"the real data breaks rule {describe(rule)!r} on {bad} of {data.num_rows} rows "
                    f"({bad / max(1, data.num_rows):.2%}), first at row {first}", table=table.name,
                    column=rule_columns(rule)[0] if rule_columns(rule) else None,
                    hint="fix the rule or the data, or pass force_rules=True (--force-rules) to enforce it on the "
                         "synthetic rows anyway"))
    if problems and not force:
        raise MetadataError(problems, title="declared rules that the real data does not keep")
    return found


def parent_column(metadata: Metadata, table: str, rule: Mapping[str, Any], database: Any) -> np.ndarray:
    """The parent's ``low_column`` for each row of ``table`` (NaN where the row has no parent)."""
    from hiveframe.metadata.relations import resolve

    parent = str(rule["low_table"])
    fk = next(f for f in metadata.foreign_keys if f.child_table == table and f.parent_table == parent
              and not f.is_self_reference)
    idx, _ = resolve(database[table], fk.child_columns, database[parent], fk.parent_columns)
    values = column_arrays(database[parent], [str(rule["low_column"])])[str(rule["low_column"])]
    return take_values(values, idx)


def take_values(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]`` with NaN (or None) where ``idx`` is -1."""
    out = values[np.maximum(idx, 0)] if len(values) else np.full(len(idx), np.nan)
    if values.dtype == object:
        out = out.copy()
        out[idx < 0] = None
    else:
        out = np.where(idx < 0, np.nan, out)
    return out


def raise_rule_problems(metadata: Metadata) -> None:
    MetadataError.raise_if_any(rule_problems(metadata), title="rules that cannot be enforced")
