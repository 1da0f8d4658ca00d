"""Key formats: generated keys keep the type and the look of the real ones.

A format is learned per key column and stored as plain JSON:

- ``int``: integers counted up from the real minimum;
- ``counter``: strings with one number inside (``g0``, ``g1``... ``CUST-00017``): prefix, zero
  padding and suffix kept, the number counted up;
- ``template``: other strings (``f8v9hjple3``, ``i100_02_7i``): the real values' shapes (runs of
  letters and digits between separators) and, per position, how often each character appears;
  values are drawn from that and made unique. A format never stores a rare value's shape character
  by character: a shape shared by fewer than ``MIN_SUPPORT`` distinct values is not kept, and a
  character seen at a position in fewer than ``MIN_SUPPORT`` distinct values is generalised to its
  class (any digit, any lower- or upper-case letter), so one value's digits or letters (a phone number,
  a name inside a key) cannot come out; rare counter affixes are dropped the same way;
- ``concat``: a key made by joining other columns (``bond.atom_id_atom_id2`` is ``atom_id + "_" +
  atom_id2``): rebuilt from the generated columns;
- ``prefixed``: a key that starts with its parent's key (atom ``i100_02_7_10i`` of molecule
  ``i100_02_7i``): the parent's generated key, then a tail drawn from a template.

A key column whose values are personal data (an email, a phone number used as a primary key; the
metadata gives it a ``pii_kind``) gets :func:`surrogate_format` instead: keys that owe nothing to the
real ones and cannot be a real value of the kind (``user17@example.invalid``, ``phone-17``).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.pipeline.unique import repeat_positions

if TYPE_CHECKING:
    import pyarrow as pa

_ALNUM_RUN = re.compile(r"[^\W_]+")
_ONE_NUMBER = re.compile(r"^(\D*)(\d+)(\D*)$")
SEPARATORS = ("_", "-", ":", "|", ".", "/", " ", "")
#: k of the k-anonymous formats: shapes, characters at a position and counter affixes seen in fewer
#: distinct real values than this are generalised or dropped (the mask strategy of the PII wrapper
#: uses the same k for its formats)
MIN_SUPPORT = 5


# -- learning --------------------------------------------------------------------------------------
def learn_format(values: pa.Array | pa.ChunkedArray) -> dict[str, Any]:
    """The format of a standalone key or id column (not derived from other columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = values.type
    non_null = values.drop_null() if hasattr(values, "drop_null") else pc.drop_null(values)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):  # a time stamp in a composite key (station, hour)
        ticks = np.unique(np.asarray(pc.cast(pc.cast(non_null, pa.int32() if pa.types.is_date32(t) else pa.int64()),
                                             pa.int64()).to_numpy(zero_copy_only=False)))
        steps = np.diff(ticks)
        values_, counts = np.unique(steps, return_counts=True) if len(steps) else (np.array([1]), np.array([1]))
        return {"kind": "int", "start": int(ticks.min()) if len(ticks) else 0,
                "step": int(values_[np.argmax(counts)])}
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        nums = np.asarray(pc.cast(non_null, pa.float64()).to_numpy(zero_copy_only=False))
        start = int(nums.min()) if len(nums) else 1
        return {"kind": "int", "start": start}
    strings = [str(v) for v in non_null.to_pylist()]
    counter = _learn_counter(strings)
    if counter is not None:
        return counter
    return {"kind": "template", **_learn_template(strings)}


def surrogate_format(pii_kind: str | None, dtype: pa.DataType | None = None) -> dict[str, Any]:
    """Keys for a key column holding personal data: counted up, nothing taken from the real values.

    Integers count from 1. Strings are ``user<n>@example.invalid`` for emails (``.invalid`` is a
    reserved top-level domain, RFC 2606: never a real address) and ``<kind>-<n>`` otherwise (letters
    make it neither a phone number, an SSN, a card number nor an IBAN).
    """
    import pyarrow as pa

    if dtype is not None and (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
                              or pa.types.is_decimal(dtype)):
        return {"kind": "int", "start": 1}
    affix = ["user", "@example.invalid"] if pii_kind == "email" else [f"{pii_kind or 'key'}-", ""]
    return {"kind": "counter", "affixes": [[*affix, 1.0]], "start": 1, "width": 0}


def _learn_counter(strings: Sequence[str]) -> dict[str, Any] | None:
    if not strings:
        return None
    parts = [_ONE_NUMBER.match(s) for s in strings]
    if not all(parts):
        return None
    affixes = Counter((m.group(1), m.group(3)) for m in parts if m)
    if len(affixes) > 3:
        return None
    distinct = Counter((m.group(1), m.group(3)) for m in {m.group(0): m for m in parts if m}.values())
    # an affix of fewer than MIN_SUPPORT distinct values is one person's shape: dropped (the most
    # common affix stays: it is the column's own format)
    top = affixes.most_common(1)[0][0]
    affixes = Counter({a: c for a, c in affixes.items() if a == top or distinct[a] >= MIN_SUPPORT})
    digits = [m.group(2) for m in parts if m]
    widths = {len(d) for d in digits}
    padded = len(widths) == 1 and any(d.startswith("0") for d in digits)
    numbers = [int(d) for d in digits]
    total = sum(affixes.values())
    return {
        "kind": "counter",
        "affixes": [[p, s, c / total] for (p, s), c in affixes.most_common()],
        "start": min(numbers),
        "width": widths.pop() if padded else 0,
    }


def _shape(value: str) -> str:
    """Runs of letters/digits become their lengths; separators stay: 'i100_02_7i' -> '4_2_2'."""
    return _ALNUM_RUN.sub(lambda m: f"\x00{len(m.group())}\x00", value)


def _learn_template(strings: Sequence[str], min_support: int = MIN_SUPPORT) -> dict[str, Any]:
    """Shapes and per-position character frequencies, k-anonymous (``min_support`` distinct values).

    Counted over distinct values, so a value repeated on many rows is still one value. A shape of
    fewer than ``min_support`` distinct values is dropped; when none has that many, one generic shape
    is kept (the most common shape's separators, every letter or digit any character of the classes
    seen). Within a
    kept shape, a character seen at a position in fewer than ``min_support`` distinct values is
    replaced by its whole class, with its weight spread evenly over the class.
    """
    rows: dict[str, list[str]] = {}
    distinct: dict[str, set[str]] = {}
    for s in strings:
        key = _shape(s)
        rows.setdefault(key, []).append(s)
        distinct.setdefault(key, set()).add(s)
    kept = [(key, rows[key]) for key in sorted(rows, key=lambda k: (-len(distinct[k]), k))
            if len(distinct[key]) >= min_support][:200]
    if not kept:
        if not strings:
            return {"templates": []}
        common = min(rows, key=lambda k: (-len(distinct[k]), -len(rows[k]), k))
        return {"templates": [_generic_template(strings, common)]}
    templates = []
    total = sum(len(members) for _, members in kept)
    for key, members in kept:
        values = sorted(distinct[key])
        positions = []
        for j in range(len(values[0])):
            positions.append(_position(Counter(m[j] for m in members), Counter(v[j] for v in values),
                                       min_support))
        templates.append({"p": len(members) / total, "positions": positions})
    return {"templates": templates}


def _position(rows: Counter[str], values: Counter[str], min_support: int) -> list[Any]:
    """One position of a template: frequent characters with their row weights, rare ones as a class."""
    weights: dict[str, float] = {}
    for ch, count in rows.items():
        if values[ch] >= min_support or not ch.isalnum():
            weights[ch] = weights.get(ch, 0.0) + count
            continue
        support = _class_support(ch) or string.ascii_lowercase  # a letter of no ASCII case: any letter
        for c in support:
            weights[c] = weights.get(c, 0.0) + count / len(support)
    chars = "".join(weights)
    w = np.asarray([weights[c] for c in chars])
    return [chars, (w / w.sum()).tolist()]


def _generic_template(strings: Sequence[str], shape: str) -> dict[str, Any]:
    """No shape is common enough: the most common one's separators, every letter or digit drawn from
    all the classes seen (the structure of a format, never its characters)."""
    example = next(s for s in strings if _shape(s) == shape)
    support = _class_support("".join(sorted(set("".join(strings))))) or string.ascii_lowercase
    uniform = [1.0 / len(support)] * len(support)
    return {"p": 1.0, "positions": [[support, uniform] if ch.isalnum() else [ch, [1.0]] for ch in example]}


def _class_support(chars: str) -> str:
    """The ASCII classes (digits, lower, upper) of ``chars``; empty when none is alphanumeric ASCII-like."""
    out = ""
    if any(c.isdigit() for c in chars):
        out += string.digits
    if any(c.islower() for c in chars):
        out += string.ascii_lowercase
    if any(c.isupper() for c in chars):
        out += string.ascii_uppercase
    return out


def detect_concat(table: pa.Table, key: str, candidates: Sequence[str]) -> dict[str, Any] | None:
    """Whether ``key`` equals other columns joined by one separator, on every row."""
    import itertools

    import pyarrow as pa
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import string_values

    col = table.column(key)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) or table.num_rows == 0:
        return None
    if col.null_count:
        return None
    target = string_values(col)
    cands = [c for c in candidates if c != key and table.column(c).null_count == 0]
    for size in (2, 3, 1):
        for combo in itertools.permutations(cands, size):
            parts = [string_values(table.column(c)) for c in combo]
            for sep in SEPARATORS if size > 1 else ("",):
                joined = pc.binary_join_element_wise(*parts, sep) if size > 1 else parts[0]
                if pc.all(pc.equal(joined, target)).as_py():
                    return {"kind": "concat", "columns": list(combo), "sep": sep}
    return None


def detect_prefixed(child_keys: pa.Array, fk_values: pa.Array, parent_keys: pa.Array) -> dict[str, Any] | None:
    """Whether each child key starts with its parent's key (less the parent keys' common suffix)."""
    import pyarrow as pa

    if not all(pa.types.is_string(a.type) or pa.types.is_large_string(a.type)
               for a in (child_keys, fk_values, parent_keys)):
        return None
    children, fks = child_keys.to_pylist(), fk_values.to_pylist()
    parents = [p for p in parent_keys.to_pylist() if p is not None]
    if not children or not parents or any(c is None or f is None for c, f in zip(children, fks, strict=False)):
        return None
    suffix = _common_suffix(parents)
    cut = len(suffix)
    tails = []
    for c, f in zip(children, fks, strict=False):
        stem = f[: len(f) - cut] if cut else f
        if not stem or not c.startswith(stem) or len(c) == len(stem):
            return None
        tails.append(c[len(stem):])
    return {"kind": "prefixed", "strip": cut, "tail": _learn_template(tails)}


def _common_suffix(values: Sequence[str]) -> str:
    first = values[0]
    k = 0
    while k < len(first) and all(len(v) > k and v[-1 - k] == first[-1 - k] for v in values):
        k += 1
        if k >= 8:
            break
    return first[len(first) - k:] if k else ""


# -- generating ------------------------------------------------------------------------------------
def generate(fmt: dict[str, Any], n: int, rng: np.random.Generator, *, unique: bool = True,
             columns: dict[str, pa.Array] | None = None, parent_keys: pa.Array | None = None,
             group: np.ndarray | None = None) -> list[Any] | np.ndarray | pa.Array:
    """``n`` values in format ``fmt``.

    ``columns`` gives the generated columns a ``concat`` key joins; ``parent_keys`` the generated
    parent key of each row for a ``prefixed`` key; ``group`` restarts integer counters per group
    (the non-foreign-key part of a composite key).
    """
    kind = fmt["kind"]
    if kind == "int":
        step = int(fmt.get("step", 1))
        if group is not None:
            return int(fmt["start"]) + step * _rank_in_group(group)
        return int(fmt["start"]) + step * np.arange(n, dtype=np.int64)
    if kind == "counter":
        return _gen_counter(fmt, n, rng)
    if kind == "template":
        return _gen_template(fmt["templates"], n, rng, unique=unique)
    if kind == "concat":
        return _gen_concat(fmt, columns or {})
    if kind == "prefixed":
        assert parent_keys is not None
        return _gen_prefixed(fmt, parent_keys, rng, unique=unique)
    raise ValueError(f"unknown key format {kind!r}")


def generate_absent(fmt: dict[str, Any], n: int, rng: np.random.Generator, taken: set[Any]) -> list[Any]:
    """``n`` distinct values in format ``fmt``, none of them in ``taken`` (keys that no generated
    parent has, for the parent-less rows of a foreign key whose orphans are kept)."""
    if fmt["kind"] == "int":
        start = max([int(fmt["start"])] + [int(v) + 1 for v in taken if isinstance(v, (int, float))])
        return list(range(start, start + n))
    strings = {str(v) for v in taken}
    if fmt["kind"] == "template":
        return _gen_template(fmt["templates"], n, rng, unique=True, taken=strings)
    values = [str(v) for v in generate(fmt, n, rng, unique=True)]
    return _make_unique(values, lambda k: [], strings, rounds=0)


def _rank_in_group(group: np.ndarray) -> np.ndarray:
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.r_[0, np.nonzero(g[1:] != g[:-1])[0] + 1] if len(g) else np.zeros(0, np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    out = np.empty(len(group), dtype=np.int64)
    out[order] = np.arange(len(g)) - first
    return out


def _gen_counter(fmt: dict[str, Any], n: int, rng: np.random.Generator) -> list[str]:
    affixes = fmt["affixes"]
    probs = np.asarray([a[2] for a in affixes], dtype=float)
    which = rng.choice(len(affixes), size=n, p=probs / probs.sum()) if len(affixes) > 1 else np.zeros(n, int)
    width = int(fmt["width"])
    start = int(fmt["start"])
    return [f"{affixes[w][0]}{start + i:0{width}d}{affixes[w][1]}" for i, w in enumerate(which)]


def _draw_templates(templates: list[dict[str, Any]], n: int, rng: np.random.Generator) -> list[str]:
    if not templates:
        return [f"k{i}" for i in range(n)]
    probs = np.asarray([t["p"] for t in templates], dtype=float)
    which = rng.choice(len(templates), size=n, p=probs / probs.sum())
    out = np.empty(n, dtype=object)
    for k, t in enumerate(templates):
        rows = np.nonzero(which == k)[0]
        if not len(rows):
            continue
        cols = []
        for chars, p in t["positions"]:
            pick = rng.choice(len(chars), size=len(rows), p=np.asarray(p) / np.sum(p))
            cols.append(np.asarray(list(chars), dtype=object)[pick])
        joined = ["".join(parts) for parts in zip(*cols, strict=False)] if cols else [""] * len(rows)
        out[rows] = joined
    return list(out)


def _gen_template(templates: list[dict[str, Any]], n: int, rng: np.random.Generator, *,
                  unique: bool, taken: set[str] | None = None) -> list[str]:
    values = _draw_templates(templates, n, rng)
    if not unique:
        return values
    return _make_unique(values, lambda k: _draw_templates(templates, k, rng), taken)


def _make_unique(values: list[str], redraw, taken: set[str] | None = None, rounds: int = 30) -> list[str]:
    dup, seen = repeat_positions(values, taken or ())
    for _ in range(rounds):
        if not dup:
            break
        fresh = redraw(len(dup))
        still = []
        for i, v in zip(dup, fresh, strict=False):
            if v in seen:
                still.append(i)
            else:
                values[i] = v
                seen.add(v)
        dup = still
    counter = 0
    for i in dup:  # the format's space is nearly exhausted: mark the rest with a counter
        while True:
            counter += 1
            v = f"{values[i]}_{counter}"
            if v not in seen:
                values[i] = v
                seen.add(v)
                break
    return values


def _gen_concat(fmt: dict[str, Any], columns: dict[str, pa.Array]) -> pa.Array:
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import string_values

    parts = [string_values(columns[c]) for c in fmt["columns"]]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, fmt["sep"])


def _gen_prefixed(fmt: dict[str, Any], parent_keys: pa.Array, rng: np.random.Generator, *,
                  unique: bool) -> list[str]:
    cut = int(fmt["strip"])
    stems = [(p[: len(p) - cut] if cut else p) if p is not None else "" for p in parent_keys.to_pylist()]
    templates = fmt["tail"]["templates"]
    tails = _draw_templates(templates, len(stems), rng)
    values = [s + t for s, t in zip(stems, tails, strict=False)]
    if not unique:
        return values
    for _ in range(30):
        dup, _seen = repeat_positions(values)
        if not dup:
            return values
        fresh = _draw_templates(templates, len(dup), rng)
        for i, t in zip(dup, fresh, strict=False):
            values[i] = stems[i] + t
    return _make_unique(values, lambda k: [], rounds=0)  # rare: mark the last few with a counter


def to_arrow(values: Any, dtype: pa.DataType) -> pa.Array:
    """Generated key values as an Arrow array of the real column's type."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    if pa.types.is_date32(dtype) and pa.types.is_integer(arr.type):
        arr = arr.cast(pa.int32())
    if arr.type != dtype:
        arr = arr.cast(dtype)
    return arr
