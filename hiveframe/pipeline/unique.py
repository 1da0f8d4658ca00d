"""Columns unique in the real table stay unique in the synthetic one, at every scale.

Why: a lookup table whose names repeat ("MPEG audio file" four times in five media types) gives the
synthetic data away at a glance, and a generator that samples categories by frequency repeats them
by design. After a table is sampled, the second and later copies of a value are replaced, first by
real values not used yet, then (when the scale needs more values than the real table had) by new
values in the real values' style: a character Markov chain learnt from them, so "Rock", "Jazz",
"Bossa Nova" give new words of the same look, never a copy of a real value.

Only for string columns whose non-null real values are all distinct (at least two), never for PII
columns (those have their own replacement) and never under differential privacy (the real values
are not released there).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

#: real values kept per unique column (a sample beyond this): the pool and the style model's input.
MAX_VALUES = 10_000
_ORDER = 3
_START, _END = "\x02", "\x03"


def unique_columns(data: pa.Table, columns: Sequence[str]) -> dict[str, list[str]]:
    """``{column: real values}`` for the string columns of ``data`` whose values are all distinct."""
    import pyarrow as pa

    out: dict[str, list[str]] = {}
    for name in columns:
        col = data.column(name)
        typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            continue
        values = [str(v) for v in col.drop_null().to_pylist()]
        if len(values) >= 2 and len(set(values)) == len(values):
            if len(values) > MAX_VALUES:
                pick = np.random.default_rng(len(values)).choice(len(values), MAX_VALUES, replace=False)
                values = [values[i] for i in sorted(pick)]
            out[name] = values
    return out


class StyleModel:
    """Character Markov chains (order 3, backing off to 2 and 1) over example strings: new strings
    that look like them. The higher order keeps words whole; the lower ones vary short codes."""

    def __init__(self, examples: Sequence[str]) -> None:
        self.examples = [e for e in examples if e]
        self.next: dict[int, dict[str, Counter[str]]] = {k: defaultdict(Counter) for k in range(1, _ORDER + 1)}
        for e in self.examples:
            for k, table in self.next.items():
                padded = _START * k + e + _END
                for i in range(k, len(padded)):
                    table[padded[i - k:i]][padded[i]] += 1
        lengths = [len(e) for e in self.examples] or [8]
        self.max_len = int(max(lengths)) + 1
        #: drawn values outside the examples' usual lengths read as made up: they are drawn again
        self.lengths = (int(np.quantile(lengths, 0.05)), int(np.ceil(np.quantile(lengths, 0.9))))

    def draw(self, rng: np.random.Generator, order: int = _ORDER) -> str:
        table = self.next[order]
        state, out = _START * order, []
        while len(out) < self.max_len:
            options = table.get(state)
            if not options:
                break
            chars = list(options)
            counts = np.array([options[c] for c in chars], dtype=np.float64)
            ch = chars[int(rng.choice(len(chars), p=counts / counts.sum()))]
            if ch == _END:
                break
            out.append(ch)
            state = (state + ch)[-order:]
        return "".join(out).strip()

    def new_values(self, n: int, taken: set[str], rng: np.random.Generator, tries: int = 20) -> list[str]:
        """``n`` distinct strings in the examples' style, none in ``taken`` (which grows with them)."""
        out: list[str] = []
        low, high = self.lengths
        for _ in range(n):
            value = None
            for order in range(_ORDER, 0, -1):
                for _ in range(tries):
                    candidate = self.draw(rng, order)
                    if candidate and candidate not in taken and low <= len(candidate) <= high:
                        value = candidate
                        break
                if value is not None:
                    break
            if value is None:  # a pool too small to vary: an example with a counter, "Rock 2"
                base = self.examples[int(rng.integers(len(self.examples)))] if self.examples else "value"
                k = 2
                while f"{base} {k}" in taken:
                    k += 1
                value = f"{base} {k}"
            taken.add(value)
            out.append(value)
        return out


def repeat_positions(values: Sequence[Any], taken: Iterable[Any] = ()) -> tuple[list[int], set[Any]]:
    """Where ``values`` repeat an earlier value or one of ``taken`` (nulls aside), and every distinct
    value seen, ``taken`` included."""
    seen = set(taken)
    repeats: list[int] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        if v in seen:
            repeats.append(i)
        else:
            seen.add(v)
    return repeats, seen


def make_unique(values: Sequence[Any], pool: Sequence[str], rng: np.random.Generator) -> list[Any]:
    """``values`` with every repeat replaced: unused ``pool`` values first, then new styled ones."""
    out = list(values)
    repeats, seen = repeat_positions(out)
    if not repeats:
        return out
    unused = [p for p in pool if p not in seen]
    unused = [unused[i] for i in rng.permutation(len(unused))]
    fill = unused[:len(repeats)]
    taken = seen | set(pool)
    if len(fill) < len(repeats):
        fill += StyleModel(pool).new_values(len(repeats) - len(fill), taken, rng)
    for i, value in zip(repeats, fill, strict=True):
        out[i] = value
    return out
