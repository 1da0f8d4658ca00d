"""Arrow type families and array helpers shared by detection, casting and the key checks.

One rule decides which values can be compared or cast: :func:`type_family`, and for keys
:func:`key_families_compatible` (integers, floats and decimals match each other; every other family
only itself). The metadata check, the data check, the key checks and the engine all use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

#: Strings that mean "missing" in files written by other tools (Berka uses "?", Adult "?").
NA_TOKENS = frozenset(
    {"", "?", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "none", "-", "--"}
)
#: How many example values / row numbers a problem quotes.
EXAMPLES = 5


def type_family(dtype: pa.DataType) -> str:
    """A coarse family ("int", "float", "decimal", "string", "bool", "temporal", "binary", "null",
    "other") deciding which values can be compared or cast without surprises."""
    import pyarrow as pa

    t = dtype
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    return "other"


def _is_string_view(t: pa.DataType) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(t))


def key_families_compatible(child: str, parent: str) -> bool:
    """Whether a foreign key of family ``child`` can reference a key of family ``parent``.

    Integers stored as floats (pandas turns nullable integer columns into floats) are accepted; the
    data check verifies the values are whole numbers.
    """
    if child == parent or "null" in (child, parent):
        return True
    return {child, parent} <= {"int", "float", "decimal"}


def dtype_family(dtype: str) -> str | None:
    """The family of a declared dtype string (``None`` when it names no Arrow type)."""
    from hiveframe.metadata.model import parse_arrow_type

    try:
        return type_family(parse_arrow_type(dtype))
    except ValueError:
        return None


def plain(array: Any) -> Any:
    """A plain (non-dictionary, single-chunk) Arrow array."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def parse_numbers(array: Any) -> tuple[Any, int, list[int]]:
    """Parse a string array as float64: NA tokens become null.

    Returns ``(doubles, na_token_count, bad_rows)`` where ``bad_rows`` are the positions of values
    that are neither a number nor an NA token (their output is null).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = plain(array)
    stripped = pc.utf8_trim_whitespace(arr)
    is_na = pc.fill_null(pc.is_in(stripped, value_set=pa.array(sorted(NA_TOKENS))), False)
    na_count = int(pc.sum(pc.and_(is_na, pc.is_valid(arr))).as_py() or 0)
    cleaned = pc.if_else(is_na, pa.scalar(None, pa.string()), stripped.cast(pa.string()))
    try:
        return pc.cast(cleaned, pa.float64()), na_count, []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = cleaned.to_pylist()
    out = np.full(len(values), np.nan)
    valid = np.zeros(len(values), dtype=bool)
    bad: list[int] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = float(v)
            valid[i] = True
        except ValueError:
            bad.append(i)
    return pa.array(out, mask=~valid), na_count, bad


# -- rows ------------------------------------------------------------------------------------------
def null_mask(array: Any) -> Any:
    """The mask of null values."""
    import pyarrow.compute as pc

    return pc.is_null(plain(array))


def first_rows(mask: Any, limit: int | None = EXAMPLES) -> list[int]:
    """Positions (0-based) where ``mask`` is true, the first ``limit`` of them."""
    import pyarrow.compute as pc

    rows = pc.indices_nonzero(plain(mask)).to_pylist()
    return rows if limit is None else rows[:limit]


def fractional_rows(array: Any) -> list[int]:
    """Rows (0-based) of a float array whose value is not a whole number."""
    import pyarrow.compute as pc

    arr = plain(array)
    return first_rows(pc.fill_null(pc.not_equal(arr, pc.floor(arr)), False), limit=None)


def all_valid(arrays: Iterable[Any]) -> Any:
    """The mask of rows where every array is non-null (``None`` for no arrays)."""
    import pyarrow.compute as pc

    valid = None
    for arr in arrays:
        m = pc.is_valid(arr)
        valid = m if valid is None else pc.and_(valid, m)
    return valid


def fmt_rows(rows: Sequence[int]) -> str:
    """Row numbers as problems quote them."""
    return ", ".join(str(r) for r in rows) + " (0-based)"
