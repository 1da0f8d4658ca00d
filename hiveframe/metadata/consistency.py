"""The metadata's own consistency: every structural problem, listed at once.

:func:`metadata_problems` is the builtin plugin's answer to ``hiveframe_validate_metadata``; the
rules on key dtypes are :func:`~hiveframe.metadata.arrow_types.key_families_compatible`, the same the
data's key checks use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hiveframe.errors import Problem
from hiveframe.metadata.arrow_types import dtype_family, key_families_compatible
from hiveframe.metadata.model import Column, ColumnKind, ForeignKey, Metadata, Table, find_cycle

#: kinds that may carry ``categories`` / ``low`` and ``high``.
_CATEGORY_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN})
_BOUND_KINDS = frozenset({ColumnKind.NUMERICAL, ColumnKind.DATETIME})


def metadata_problems(metadata: Metadata) -> list[Problem]:
    """Every structural problem of ``metadata`` (empty when it is consistent)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for table in metadata.tables:
        if table.name in seen:
            problems.append(
                Problem("table is declared twice", table=table.name, hint="give every table a unique name")
            )
        seen.add(table.name)
        problems += _table_problems(metadata, table)
    declared: set[tuple[str, tuple[str, ...]]] = set()
    for fk in metadata.foreign_keys:
        key = (fk.child_table, fk.child_columns)
        if key in declared:
            problems.append(_child_columns_problem(fk, f"foreign key {fk.name} is declared twice",
                                                   "remove the duplicate"))
        declared.add(key)
        problems += _foreign_key_problems(metadata, fk)
    problems += _cycle_problems(metadata)
    return problems


def _table_problems(metadata: Metadata, table: Table) -> list[Problem]:
    out: list[Problem] = []
    names = table.column_names
    if not names:
        out.append(
            Problem(
                "table has no columns",
                table=table.name,
                hint="remove the table from the metadata or declare its columns",
            )
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    for name in dupes:
        out.append(
            Problem(
                f"column name appears {names.count(name)} times",
                table=table.name,
                column=name,
                hint="column names must be unique within a table",
            )
        )
    out += _missing_columns(table.name, names, table.primary_key, "primary-key column does not exist")
    if len(set(table.primary_key)) != len(table.primary_key):
        out.append(Problem(f"primary key {list(table.primary_key)} repeats a column", table=table.name))
    if table.driver is not None:
        fk_firsts = [
            fk.child_columns[0]
            for fk in metadata.parents_of(table.name)
            if fk.child_columns and not fk.is_self_reference
        ]
        if table.driver not in fk_firsts:
            out.append(
                Problem(
                    f"driver {table.driver!r} names no foreign key of this table",
                    table=table.name,
                    column=table.driver,
                    hint=("foreign keys (by first column): " + ", ".join(fk_firsts))
                    if fk_firsts
                    else "this table has no parent; remove the driver",
                )
            )
    for constraint in table.constraints:
        out += _missing_columns(table.name, names, _constraint_columns(constraint),
                                f"constraint {dict(constraint)} names a missing column")
    for column in table.columns:
        out += _column_problems(table.name, column)
    return out


def _column_problems(table: str, column: Column) -> list[Problem]:
    out: list[Problem] = []
    if column.categories is not None and column.kind not in _CATEGORY_KINDS:
        out.append(
            Problem(
                f"categories declared on a {column.kind.value} column",
                table=table,
                column=column.name,
                hint="categories apply to categorical and boolean columns; change the kind or "
                "remove the categories",
            )
        )
    if column.categories is not None and len(set(map(repr, column.categories))) != len(column.categories):
        out.append(Problem("categories repeat a value", table=table, column=column.name))
    for bound in ("low", "high"):
        if getattr(column, bound) is not None and column.kind not in _BOUND_KINDS:
            out.append(
                Problem(
                    f"{bound} declared on a {column.kind.value} column",
                    table=table,
                    column=column.name,
                    hint="low/high apply to numerical and datetime columns",
                )
            )
    if column.low is not None and column.high is not None:
        try:
            inverted = column.low > column.high
        except TypeError:
            inverted = False
            out.append(
                Problem(
                    f"low {column.low!r} and high {column.high!r} cannot be compared",
                    table=table,
                    column=column.name,
                )
            )
        if inverted:
            out.append(
                Problem(
                    f"low {column.low!r} is greater than high {column.high!r}",
                    table=table,
                    column=column.name,
                    hint="swap them",
                )
            )
    if column.kind == ColumnKind.PII and column.pii_kind is None:
        pass  # PII without a kind is anonymised generically (PIIKind.OTHER)
    if dtype_family(column.dtype) is None:
        out.append(
            Problem(
                f"unknown dtype {column.dtype!r}",
                table=table,
                column=column.name,
                hint="use an Arrow type name such as int64, double, string, bool, "
                "timestamp[us], date32[day] (str() of a pyarrow type)",
            )
        )
    return out


def _foreign_key_problems(metadata: Metadata, fk: ForeignKey) -> list[Problem]:
    out: list[Problem] = []
    where = f"foreign key {fk.name}"
    child = metadata._index.get(fk.child_table)
    parent = metadata._index.get(fk.parent_table)
    if child is None:
        out.append(
            Problem(
                f"{where}: child table does not exist",
                table=fk.child_table,
                hint=closest(fk.child_table, metadata.table_names, "tables"),
            )
        )
    if parent is None:
        out.append(_child_columns_problem(fk, f"{where}: parent table {fk.parent_table!r} does not exist",
                                          closest(fk.parent_table, metadata.table_names, "tables")))
    if not fk.child_columns or len(fk.child_columns) != len(fk.parent_columns):
        out.append(_child_columns_problem(
            fk, f"{where}: {len(fk.child_columns)} child column(s) {list(fk.child_columns)} but "
            f"{len(fk.parent_columns)} parent column(s) {list(fk.parent_columns)}",
            "list one parent column per child column, in the same order"))
    if child is not None:
        out += _missing_columns(fk.child_table, child.column_names, fk.child_columns,
                                f"{where}: child column does not exist")
    if parent is None:
        return out
    missing_parent = _missing_columns(fk.parent_table, parent.column_names, fk.parent_columns,
                                      lambda col: f"{where}: parent column {fk.parent_table}.{col} does not exist")
    out += missing_parent
    if not missing_parent and fk.parent_columns:
        keys = [set(parent.primary_key)] + [set(k) for k in unique_keys(parent)]
        if set(fk.parent_columns) not in [k for k in keys if k]:
            out.append(
                Problem(
                    f"{where}: references {fk.parent_table}.{','.join(fk.parent_columns)}, which is not the "
                    f"parent's primary key ({', '.join(parent.primary_key) or 'none declared'}) nor a unique key",
                    table=fk.parent_table,
                    column=",".join(fk.parent_columns),
                    hint=f"reference the primary key, set primary_key={list(fk.parent_columns)} on "
                    f"{fk.parent_table!r}, or declare a constraint "
                    f"{{'type': 'unique', 'columns': {list(fk.parent_columns)}}}",
                )
            )
    if child is not None and len(fk.child_columns) == len(fk.parent_columns):
        for ccol, pcol in zip(fk.child_columns, fk.parent_columns, strict=True):
            if not (child.has_column(ccol) and parent.has_column(pcol)):
                continue
            cf, pf = dtype_family(child.column(ccol).dtype), dtype_family(parent.column(pcol).dtype)
            if cf and pf and not key_families_compatible(cf, pf):
                out.append(
                    Problem(
                        f"{where}: child dtype {child.column(ccol).dtype} cannot match parent key "
                        f"{fk.parent_table}.{pcol} of dtype {parent.column(pcol).dtype}",
                        table=fk.child_table,
                        column=ccol,
                        hint="declare both with the same dtype",
                    )
                )
    if fk.context_columns is not None:
        out += _missing_columns(fk.parent_table, parent.column_names, fk.context_columns,
                                lambda col: f"{where}: context column {col!r} is not a column of the parent",
                                what="parent columns")
    return out


def _child_columns_problem(fk: ForeignKey, message: str, hint: str | None) -> Problem:
    """A problem of ``fk`` as a whole, pointed at its child table and columns."""
    return Problem(message, table=fk.child_table, column=",".join(fk.child_columns), hint=hint)


def _cycle_problems(metadata: Metadata) -> list[Problem]:
    deps: dict[str, set[str]] = {t: set() for t in metadata.table_names}
    for fk in metadata.foreign_keys:
        if not fk.is_self_reference and fk.child_table in deps and fk.parent_table in deps:
            deps[fk.child_table].add(fk.parent_table)
    cycle = find_cycle(deps)
    if not cycle:
        return []
    return [
        Problem(
            "foreign keys form a cycle through several tables: " + " -> ".join(cycle),
            table=cycle[0],
            hint="make one of these foreign keys a plain column, or drop it; hiveframe needs a parent "
            "to exist before its children (a table may reference itself)",
        )
    ]


def unique_keys(table: Table) -> list[tuple[str, ...]]:
    """Unique keys declared as ``{"type": "unique", "columns": [...]}`` constraints."""
    return [tuple(_constraint_columns(c)) for c in table.constraints if c.get("type") == "unique"]


def _constraint_columns(constraint: Mapping[str, Any]) -> Sequence[str]:
    """The columns a constraint names (``columns``, or a single ``column``)."""
    return constraint.get("columns") or ([constraint["column"]] if "column" in constraint else [])


def _missing_columns(table: str, columns: Sequence[str], wanted: Iterable[str],
                     message: str | Callable[[str], str], *, what: str = "columns") -> list[Problem]:
    """A problem for each column of ``wanted`` that is not among ``columns`` (the table's), with the
    closest name as hint; ``message`` is the text, or a function of the missing column giving it."""
    return [
        Problem(message(col) if callable(message) else message, table=table, column=col,
                hint=closest(col, columns, what))
        for col in wanted
        if col not in columns
    ]


def closest(name: str, choices: Iterable[str], what: str) -> str:
    from hiveframe.errors import did_you_mean

    hint = did_you_mean(name, choices)
    if hint is None:
        return f"there are no {what}"
    return hint.replace("registered:", f"{what}:")
