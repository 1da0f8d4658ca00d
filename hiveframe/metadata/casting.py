"""Data casting: a table's columns cast to their declared dtypes, every value that does not fit named.

Casts follow :func:`~hiveframe.metadata.arrow_types.type_family`: strings holding numbers (with
missing-value markers such as "?") become numbers, strings become dates by ``datetime_format``,
floats become integers only when whole.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from hiveframe.errors import Problem
from hiveframe.metadata.arrow_types import (
    EXAMPLES,
    first_rows,
    fmt_rows,
    fractional_rows,
    null_mask,
    parse_numbers,
    plain,
    type_family,
)
from hiveframe.metadata.consistency import closest
from hiveframe.metadata.model import Column, ColumnKind, Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


def check_table(table: Table, data: pa.Table) -> tuple[pa.Table, list[Problem]]:
    """``data`` with the columns of ``table`` (in its order) cast to their declared dtypes, and every
    problem met: missing or repeated columns, values that do not fit, nulls where none may be."""
    import pyarrow as pa

    problems: list[Problem] = []
    present = data.column_names
    extra = [c for c in present if not table.has_column(c)]
    if extra:
        log.warning(
            "validate_data: table %r has columns not in the metadata, left out: %s",
            table.name,
            ", ".join(extra),
        )
    if data.num_rows == 0:
        problems.append(
            Problem(
                "table has no rows; hiveframe cannot learn it",
                table=table.name,
                hint=f"provide data, or remove it with metadata.without_table({table.name!r})",
            )
        )
    arrays: list[pa.ChunkedArray] = []
    names: list[str] = []
    for column in table.columns:
        if column.name not in present:
            problems.append(
                Problem(
                    "column is in the metadata but not in the data",
                    table=table.name,
                    column=column.name,
                    hint=closest(column.name, present, "columns in the data"),
                )
            )
            continue
        if present.count(column.name) > 1:
            problems.append(
                Problem(
                    "the data has several columns with this name",
                    table=table.name,
                    column=column.name,
                    hint="rename the duplicates",
                )
            )
            continue
        array, found = _cast_column(table.name, column, data.column(column.name))
        problems += found
        if not found:
            _warn_lossy_values(table.name, column, array)
        arrays.append(array)
        names.append(column.name)
        if data.num_rows and array.null_count == len(array) and column.dtype != "null":
            problems.append(
                Problem(
                    f"column is entirely null ({len(array)} rows)",
                    table=table.name,
                    column=column.name,
                    hint="drop it from the data and the metadata, or declare its dtype 'null' to keep it as an "
                    "all-null column",
                )
            )
        elif not column.nullable and array.null_count and column.name not in table.primary_key:
            rows = first_rows(null_mask(array))
            problems.append(
                Problem(
                    f"{array.null_count} null value(s) in a column declared not nullable; first at rows "
                    f"{fmt_rows(rows)}",
                    table=table.name,
                    column=column.name,
                    row=rows[0],
                    hint="fill the nulls or declare the column nullable",
                )
            )
    return pa.table(arrays, names=names) if names else data.select([]), problems


#: the largest magnitude float64 holds to the unit; decimals beyond it are modelled with rounding
EXACT_FLOAT = 2**53


def _warn_lossy_values(table: str, column: Column, array: Any) -> None:
    """Values the models cannot represent are handled, never silently: infinities are learnt as
    missing values, and decimals beyond float64's 15-16 significant digits are rounded."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = plain(array)
    if pa.types.is_floating(values.type):
        pos = int(pc.sum(pc.equal(values, float("inf"))).as_py() or 0)
        neg = int(pc.sum(pc.equal(values, float("-inf"))).as_py() or 0)
        if pos or neg:
            rows = first_rows(pc.fill_null(pc.is_inf(values), False))
            log.warning("table %r, column %r: %d infinite value(s) (%d +inf, %d -inf; first at rows %s) are "
                        "treated as missing: the synthetic column has nulls in their place; replace them by a "
                        "finite value if they mean a bound", table, column.name, pos + neg, pos, neg,
                        fmt_rows(rows))
    elif pa.types.is_decimal(values.type) and len(values) > values.null_count:
        scale = values.type.scale
        biggest = max(abs(pc.min(values).as_py()), abs(pc.max(values).as_py()))
        if biggest * 10**scale >= EXACT_FLOAT:
            step = 2.0 ** max(0, math.frexp(float(biggest))[1] - 53)
            log.warning("table %r, column %r: decimal values up to %s need more digits than the models keep "
                        "(float64, 15-16 significant digits): generated values are rounded to multiples of "
                        "about %g; subtract an offset or scale the column to keep its detail",
                        table, column.name, biggest, max(step, 10.0 ** -scale))


def _cast_column(table: str, column: Column, array: Any) -> tuple[Any, list[Problem]]:
    """Cast to the declared dtype where it is safe; report values that do not fit."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        target = column.arrow_type()
    except ValueError:
        return array, []  # reported by metadata_problems
    bad_values = partial(_bad_values_problem, table, column)
    source = array.type
    src_family, dst_family = type_family(source), type_family(target)
    problems: list[Problem] = []
    if src_family == "string" and column.kind == ColumnKind.NUMERICAL and dst_family == "string":
        # a string column declared numerical: every value must read as a number
        _, _, bad = parse_numbers(array)
        if bad:
            problems.append(bad_values(array, bad, "are not numbers", "the column is declared numerical"))
        return array, problems
    if source == target:
        return array, []
    if dst_family == "null":
        if array.null_count == len(array):
            return pa.nulls(len(array)), []
        return array, [
            Problem(
                f"column is declared all-null (dtype 'null') but has {len(array) - array.null_count} value(s)",
                table=table,
                column=column.name,
                hint=f"declare the dtype the data has ({source})",
            )
        ]
    if src_family == "string" and dst_family in ("int", "float", "decimal"):
        numbers, na_count, bad = parse_numbers(array)
        if bad:
            problems.append(bad_values(array, bad, "are not numbers", f"declared dtype is {column.dtype}"))
            return array, problems
        if na_count:
            log.info(
                "validate_data: %s.%s: %d missing-value markers (e.g. '?') read as null",
                table,
                column.name,
                na_count,
            )
        array = numbers
        if array.type == target:
            return array, []
    if src_family == "string" and dst_family == "temporal" and column.datetime_format:
        try:
            parsed = pc.strptime(plain(array), format=column.datetime_format, unit="us", error_is_null=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            return array, [Problem(f"cannot parse dates: {exc}", table=table, column=column.name)]
        failed = pc.and_(pc.is_valid(plain(array)), pc.is_null(parsed))
        bad = first_rows(failed, limit=None)
        if bad:
            return array, [bad_values(array, bad, f"do not match datetime_format {column.datetime_format!r}",
                                      "fix the values or the format")]
        array = parsed
    src_family = type_family(array.type)
    try:
        return pc.cast(plain(array), target, safe=True), problems
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        detail = str(exc).splitlines()[0]
        if src_family == "float" and dst_family == "int":
            bad = fractional_rows(array)
            if bad:
                return array, [bad_values(array, bad, "are not whole numbers",
                                          f"declared dtype is {column.dtype}")]
        return array, [
            Problem(
                f"values of type {source} cannot be cast to the declared dtype {column.dtype}: {detail}",
                table=table,
                column=column.name,
                hint="fix the values, or declare the dtype the data has (see detect())",
            )
        ]


def _bad_values_problem(
    table: str, column: Column, array: Any, bad: Sequence[int], what: str, why: str
) -> Problem:
    arr = plain(array)
    examples = ", ".join(f"{arr[i].as_py()!r}" for i in bad[:EXAMPLES])
    return Problem(
        f"{len(bad)} value(s) {what} ({why}; the column mixes types), e.g. {examples}; "
        f"first at rows {fmt_rows(bad[:EXAMPLES])}",
        table=table,
        column=column.name,
        row=int(bad[0]),
        hint="clean these values (or treat them as missing), or change the column's kind/dtype",
    )
