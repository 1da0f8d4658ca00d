"""Key checks: primary keys, foreign keys, orphans, one-to-one links, self-reference cycles.

The one relational check, used by :func:`hiveframe.metadata.validate_data` (which also applies the
orphan policies: drop, set to null, keep) and by the engine's measure of a generated database
(:func:`relational_problems`, which changes nothing). Keys are matched by :func:`resolve`, whose
types follow :func:`~hiveframe.metadata.arrow_types.key_families_compatible`, the same rule the
metadata check applies to declared dtypes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import MetadataError, Problem
from hiveframe.metadata.arrow_types import (
    EXAMPLES,
    all_valid,
    first_rows,
    fmt_rows,
    fractional_rows,
    key_families_compatible,
    plain,
    type_family,
)
from hiveframe.metadata.model import ForeignKey, Metadata, Table

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database

log = logging.getLogger(__name__)

_SEP = "\x1f"
#: orphan rows read to quote example values (the count is exact; the examples come from the first ones)
_EXAMPLE_ROWS = 10_000


# -- matching keys ---------------------------------------------------------------------------------
def key_strings(table: pa.Table, columns: tuple[str, ...] | list[str]) -> pa.Array:
    """One comparable value per row for a (possibly composite) key; null if any part is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [_canonical(table.column(c)) for c in columns]
    if len(parts) == 1:
        return parts[0]
    strings = [p if pa.types.is_string(p.type) else pc.cast(p, pa.string()) for p in parts]
    return pc.binary_join_element_wise(*strings, _SEP)


def _canonical(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Integral floats become integers, so a float FK (e.g. read with nulls) matches an int key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = plain(col) if len(col) else pa.array([], type=_value_type(col.type))
    if pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        try:
            return pc.cast(col, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return col
    if pa.types.is_integer(col.type):
        return pc.cast(col, pa.int64())
    if pa.types.is_large_string(col.type):
        return pc.cast(col, pa.string())
    return col


def _value_type(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return t.value_type if pa.types.is_dictionary(t) else t


def _comparable(child: pa.Array, parent: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """Two key arrays cast to one type by their families, or None when no value can match."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(child.type):
        return child.cast(parent.type), parent
    if pa.types.is_null(parent.type):
        return child, parent.cast(child.type)
    families = (type_family(child.type), type_family(parent.type))
    if not key_families_compatible(*families):
        return None
    if set(families) <= {"int", "float", "decimal"}:
        return pc.cast(child, pa.float64()), pc.cast(parent, pa.float64())
    for source, target in ((child, parent.type), (parent, child.type)):
        try:
            cast = pc.cast(source, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
        return (cast, parent) if source is child else (child, cast)
    return None


def resolve(child: pa.Table, child_columns: Sequence[str], parent: pa.Table,
            parent_columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parent row index of every child row (-1 if null or orphan) and the orphan mask."""
    import pyarrow.compute as pc

    ck = key_strings(child, tuple(child_columns))
    pk = key_strings(parent, tuple(parent_columns))
    nulls = np.asarray(ck.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if ck.type != pk.type:
        pair = _comparable(ck, pk)
        if pair is None:  # incomparable types (reported by the type check): every reference is an orphan
            return np.full(len(ck), -1, dtype=np.int64), ~nulls
        ck, pk = pair
    idx = pc.index_in(ck, value_set=pk, skip_nulls=True)
    out = np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return out, (out < 0) & ~nulls


def orphan_rows(fk: ForeignKey, child: pa.Table, parent: pa.Table) -> tuple[list[int], list[Any]]:
    """Child rows (0-based, sorted) whose non-null foreign key has no parent, and example values."""
    import pyarrow as pa

    _, orphans = resolve(child, fk.child_columns, parent, fk.parent_columns)
    rows = np.flatnonzero(orphans)
    if not len(rows):
        return [], []
    head = pa.array(rows[:_EXAMPLE_ROWS])
    columns = [plain(child.column(c)).take(head).to_pylist() for c in fk.child_columns]
    values: list[Any] = []
    for row in zip(*columns, strict=True):
        value = row[0] if len(row) == 1 else tuple(row)
        if value not in values:
            values.append(value)
        if len(values) >= EXAMPLES:
            break
    return rows.tolist(), values


def has_duplicates(data: pa.Table, cols: Sequence[str]) -> bool:
    """Whether a non-null value of ``cols`` occurs twice (``pc.unique`` is much faster than
    ``count_distinct`` or a group-by with row numbers, so this is the cheap first test)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [plain(data.column(c)) for c in cols]
    valid = all_valid(arrays)
    if valid is None:
        return False
    n_valid = int(pc.sum(valid).as_py() or 0)
    if len(arrays) == 1:
        values = arrays[0].filter(valid) if n_valid < len(arrays[0]) else arrays[0]
        return len(pc.unique(values)) < n_valid
    keyed = pa.table(arrays, names=[f"k{i}" for i in range(len(arrays))]).filter(valid)
    return keyed.group_by(keyed.column_names, use_threads=False).aggregate([]).num_rows < n_valid


def duplicate_rows(data: pa.Table, cols: Sequence[str]) -> tuple[list[int], list[Any]]:
    """Rows (0-based, sorted) whose non-null value of ``cols`` occurs more than once, and the values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not has_duplicates(data, cols):
        return [], []
    keyed = pa.table([plain(data.column(c)) for c in cols], names=[f"k{i}" for i in range(len(cols))])
    keyed = keyed.append_column("__row", pa.array(range(data.num_rows), pa.int64()))
    keyed = keyed.filter(all_valid(keyed.columns[:-1]))
    keys = keyed.column_names[:-1]
    counts = keyed.group_by(keys, use_threads=False).aggregate([("__row", "count")])
    dup = counts.filter(pc.greater(counts.column("__row_count"), 1))
    if dup.num_rows == 0:
        return [], []
    rows = keyed.join(dup.select(keys), keys=keys, join_type="inner", use_threads=False).column("__row")
    values = [
        row[0] if len(keys) == 1 else tuple(row)
        for row in zip(*(dup.column(k).to_pylist() for k in keys), strict=True)
    ]
    return sorted(rows.to_pylist()), values


# -- the check -------------------------------------------------------------------------------------
def relational_problems(metadata: Metadata, database: Database | Mapping[str, pa.Table]) -> list[Problem]:
    """Every key problem of ``database`` at once, changing nothing (tables missing from it are skipped).

    Orphans are problems unless their foreign key keeps them (``orphans="keep"``); this is how a
    generated database is measured.
    """
    tables = {name: database[name] for name in metadata.table_names if name in database}
    return check_keys(metadata, tables, apply_policies=False)[1]


def check_keys(metadata: Metadata, tables: Mapping[str, pa.Table], *, drop_orphans: bool = False,
               apply_policies: bool = True) -> tuple[dict[str, pa.Table], list[Problem]]:
    """The key checks of ``tables`` (already cast to the metadata's dtypes), and the tables after the
    orphan policies: each foreign key's declared ``orphans`` (drop, null, keep), else ``drop_orphans``,
    else the orphans are a problem. With ``apply_policies=False`` nothing is changed and every orphan
    but a kept one is a problem."""
    tables = dict(tables)
    problems: list[Problem] = []
    for table in metadata.tables:
        if table.name in tables and table.primary_key:
            problems += _primary_key_problems(table, tables[table.name])

    type_ok: list[ForeignKey] = []
    for fk in (fk for fk in metadata.foreign_keys if fk_checkable(fk, tables)):
        found = fk_type_problems(fk, tables)
        problems += found
        if not found:
            type_ok.append(fk)
    empty_parents = [fk for fk in type_ok
                     if tables[fk.parent_table].num_rows == 0 and tables[fk.child_table].num_rows > 0]
    problems += [_empty_parent_problem(fk, tables[fk.child_table]) for fk in empty_parents]
    checked = [fk for fk in type_ok if fk not in empty_parents]

    if apply_policies:
        to_drop = [fk for fk in checked if fk.orphans == "drop" or (fk.orphans is None and drop_orphans)]
        if to_drop:
            tables, _ = drop_orphan_rows(metadata, to_drop, tables)
        for fk in checked:
            if fk.orphans == "null":
                tables, found = _null_orphans(fk, metadata, tables)
                problems += found
            elif fk.orphans is None and not drop_orphans:
                problems += _orphan_problems(fk, tables)
    else:
        for fk in checked:
            if fk.orphans != "keep":  # "keep": parent-less rows are declared part of the data
                problems += _orphan_problems(fk, tables)
    for fk in checked:
        if fk.one_to_one:
            problems += _one_to_one_problems(fk, tables[fk.child_table])
        if fk.is_self_reference:
            problems += _self_cycle_problems(metadata, fk, tables[fk.child_table])
    return tables, problems


def _primary_key_problems(table: Table, data: pa.Table) -> list[Problem]:
    import pyarrow.compute as pc

    cols = [c for c in table.primary_key if c in data.column_names]
    if len(cols) != len(table.primary_key) or data.num_rows == 0:
        return []
    out: list[Problem] = []
    label = ",".join(cols)
    nulls = first_rows(pc.invert(all_valid(data.column(c) for c in cols)), limit=None)
    if nulls:
        out.append(
            Problem(
                f"{len(nulls)} null primary-key value(s); first at rows {fmt_rows(nulls[:EXAMPLES])}",
                table=table.name,
                column=label,
                row=nulls[0],
                hint="every row needs a key: fill them or drop these rows",
            )
        )
    dup_rows, dup_values = duplicate_rows(data, cols)
    if dup_rows:
        what = "composite key" if len(cols) > 1 else "primary key"
        out.append(
            Problem(
                f"{len(dup_rows)} rows share a {what} value with another row ({len(dup_values)} distinct "
                f"duplicated values, e.g. {', '.join(map(repr, dup_values[:EXAMPLES]))}); first at rows "
                f"{fmt_rows(dup_rows[:EXAMPLES])}",
                table=table.name,
                column=label,
                row=dup_rows[0],
                hint="remove the duplicate rows, or declare another primary key"
                + ("" if len(cols) > 1 else " (or a composite one)"),
            )
        )
    return out


def fk_checkable(fk: ForeignKey, tables: Mapping[str, pa.Table]) -> bool:
    """Whether both tables and all key columns are there, one parent column per child column."""
    if fk.child_table not in tables or fk.parent_table not in tables:
        return False
    if not fk.child_columns or len(fk.child_columns) != len(fk.parent_columns):
        return False
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    return all(c in child.column_names for c in fk.child_columns) and all(
        c in parent.column_names for c in fk.parent_columns
    )


def fk_type_problems(fk: ForeignKey, tables: Mapping[str, pa.Table]) -> list[Problem]:
    """Key columns whose values cannot match the parent key's (by type family), and float keys that
    are not whole numbers where the parent key is an integer."""
    out = []
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    for ccol, pcol in zip(fk.child_columns, fk.parent_columns, strict=True):
        ct, pt = child.column(ccol).type, parent.column(pcol).type
        cf, pf = type_family(ct), type_family(pt)
        if not key_families_compatible(cf, pf):
            out.append(
                Problem(
                    f"foreign key {fk.name}: values of type {ct} cannot match the parent key "
                    f"{fk.parent_table}.{pcol} of type {pt}",
                    table=fk.child_table,
                    column=ccol,
                    hint=f"cast {fk.child_table}.{ccol} to {pt} (or the parent key to {ct}) in the data and the metadata",
                )
            )
        elif cf == "float" and pf == "int":
            bad = fractional_rows(child.column(ccol))
            if bad:
                out.append(
                    Problem(
                        f"foreign key {fk.name}: {len(bad)} value(s) are not whole numbers but the parent key "
                        f"{fk.parent_table}.{pcol} is {pt}; first at rows {fmt_rows(bad[:EXAMPLES])}",
                        table=fk.child_table,
                        column=ccol,
                        row=bad[0],
                        hint="fix these key values",
                    )
                )
    return out


def _empty_parent_problem(fk: ForeignKey, child: pa.Table) -> Problem:
    return Problem(
        f"foreign key {fk.name}: the parent table {fk.parent_table!r} is empty but "
        f"{fk.child_table!r} has {child.num_rows} rows that reference it",
        table=fk.parent_table,
        column=",".join(fk.parent_columns),
        hint="provide the parent's rows, or remove the relationship / the child table",
    )


def _orphan_problems(fk: ForeignKey, tables: Mapping[str, pa.Table]) -> list[Problem]:
    child, parent = tables[fk.child_table], tables[fk.parent_table]
    rows, values = orphan_rows(fk, child, parent)
    if not rows:
        return []
    return [
        Problem(
            f"foreign key {fk.name}: {len(rows)} of {child.num_rows} rows reference a "
            f"{fk.parent_table}.{','.join(fk.parent_columns)} that does not exist ({len(rows)} orphan row(s), "
            f"e.g. {', '.join(map(repr, values))}); first at rows {fmt_rows(rows[:EXAMPLES])}",
            table=fk.child_table,
            column=",".join(fk.child_columns),
            row=rows[0],
            hint="add the missing parent rows, or declare what to do with them: drop_orphans=True (fit "
            "--orphans drop) drops these rows (and, in cascade, rows that depended on them); --orphans null "
            "sets their key to null; --orphans keep generates parent-less rows at this rate; or \"orphans\" "
            "on this foreign key in the metadata",
        )
    ]


def _null_orphans(fk: ForeignKey, metadata: Metadata, tables: dict[str, pa.Table]
                  ) -> tuple[dict[str, pa.Table], list[Problem]]:
    """Orphan policy ``null``: the foreign key of rows without a parent becomes null (the rows stay)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    child = tables[fk.child_table]
    rows, values = orphan_rows(fk, child, tables[fk.parent_table])
    if not rows:
        return tables, []
    in_key = [c for c in fk.child_columns if c in metadata.table(fk.child_table).primary_key]
    if in_key:
        return tables, [Problem(
            f"foreign key {fk.name}: {len(rows)} orphan row(s) cannot have their key set to null: "
            f"{', '.join(in_key)} is part of the primary key", table=fk.child_table, column=",".join(in_key),
            row=rows[0], hint="use the orphan policy 'drop' or 'keep' for this foreign key")]
    mask = np.zeros(child.num_rows, dtype=bool)
    mask[np.asarray(rows, dtype=np.int64)] = True
    for col in fk.child_columns:
        arr = child.column(col)
        nulled = pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)
        child = child.set_column(child.schema.get_field_index(col), col, nulled)
    log.warning("validate_data: %d row(s) of %r whose %s has no parent in %r (e.g. %s): key set to null "
                "(orphan policy 'null')", len(rows), fk.child_table, ",".join(fk.child_columns), fk.parent_table,
                ", ".join(map(repr, values)))
    return {**tables, fk.child_table: child}, []


def drop_orphan_rows(metadata: Metadata, fks: Sequence[ForeignKey], tables: Mapping[str, pa.Table]
                     ) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Drop the orphan rows of ``fks``, parents first, until none is left (a dropped parent row can
    orphan its own children); returns the tables and the rows dropped per table."""
    import pyarrow as pa

    try:
        order = {name: i for i, name in enumerate(metadata.topological_order())}
    except MetadataError:
        order = {}
    ordered = sorted(fks, key=lambda fk: order.get(fk.child_table, 0))
    tables = dict(tables)
    dropped: dict[str, int] = {}
    rounds = 0
    changed = True
    while changed:
        changed = False
        rounds += 1
        for fk in ordered:
            child = tables[fk.child_table]
            rows, values = orphan_rows(fk, child, tables[fk.parent_table])
            if not rows:
                continue
            keep = np.ones(child.num_rows, dtype=bool)
            keep[np.asarray(rows, dtype=np.int64)] = False
            tables[fk.child_table] = child.filter(pa.array(keep))
            dropped[fk.child_table] = dropped.get(fk.child_table, 0) + len(rows)
            log.warning(
                "validate_data: dropped %d row(s) of %r whose %s has no parent in %r (e.g. %s)%s",
                len(rows),
                fk.child_table,
                ",".join(fk.child_columns),
                fk.parent_table,
                ", ".join(map(repr, values)),
                " (cascade)" if rounds > 1 else "",
            )
            changed = True
    if dropped:
        log.warning(
            "validate_data: orphan rows dropped: %s", ", ".join(f"{t}: {n}" for t, n in dropped.items())
        )
    return tables, dropped


def drop_orphans(metadata: Metadata, database: Database) -> tuple[Database, dict[str, int]]:
    """``database`` without the child rows whose foreign key has no parent (in cascade), and the
    rows dropped per table."""
    from hiveframe.components import Database

    fks = [fk for fk in metadata.foreign_keys if fk_checkable(fk, database.tables)]
    tables, dropped = drop_orphan_rows(metadata, fks, database.tables)
    return Database(tables, dict(database.declared_primary_keys), list(database.declared_foreign_keys)), dropped


def _one_to_one_problems(fk: ForeignKey, child: pa.Table) -> list[Problem]:
    rows, values = duplicate_rows(child, list(fk.child_columns))
    if not rows:
        return []
    return [
        Problem(
            f"foreign key {fk.name} is declared one-to-one, but {len(values)} parent key(s) have several "
            f"children (e.g. {', '.join(map(repr, values[:EXAMPLES]))}); first at rows {fmt_rows(rows[:EXAMPLES])}",
            table=fk.child_table,
            column=",".join(fk.child_columns),
            row=rows[0],
            hint="remove the extra child rows, or declare the link one_to_one=False",
        )
    ]


# -- self-references -------------------------------------------------------------------------------
def depths(parent: np.ndarray) -> np.ndarray:
    """Depth of each node given its parent index (-1 for a root); nodes on a cycle count as roots."""
    n = len(parent)
    depth = np.full(n, -1, dtype=np.int64)
    depth[parent < 0] = 0
    for _ in range(n + 1):
        todo = depth < 0
        if not todo.any():
            break
        ready = todo & (depth[np.maximum(parent, 0)] >= 0)
        if not ready.any():
            depth[todo] = 0  # a cycle in the real data: treat its members as roots
            break
        depth[ready] = depth[parent[ready]] + 1
    return depth


def _self_cycle_problems(metadata: Metadata, fk: ForeignKey, data: pa.Table) -> list[Problem]:
    """Rows of a self-reference that never reach a root (they sit on, or hang below, a cycle).

    Self-references are generated as forests, whose roots hold a null: rows on cycles are learnt as
    roots. Where the column allows nulls that is a warning with the count; where it is declared not
    nullable the synthetic column could not keep its promise, so it is an error.
    """
    idx, _ = resolve(data, fk.child_columns, data, fk.parent_columns)
    cyclic = int(((depths(idx) == 0) & (idx >= 0)).sum())
    if not cyclic:
        return []
    table = metadata.table(fk.child_table)
    column = fk.child_columns[0]
    nullable = all(table.column(c).nullable for c in fk.child_columns if table.has_column(c))
    text = (f"self-reference {fk.name}: {cyclic} of {len(idx)} row(s) form cycles (following {column} never "
            "reaches a row whose reference is null)")
    if not nullable:
        return [Problem(text + "; hiveframe generates self-references as trees, whose roots hold a null, but "
                        "the column is declared not nullable", table=fk.child_table, column=column,
                        hint="declare the column nullable, or break the cycles (set the reference of one row of "
                        "each cycle to null)")]
    log.warning("table %r, column %r: %s; they are learnt as roots, so the synthetic rows in their place get a "
                "null %s", fk.child_table, column, text, column)
    return []
