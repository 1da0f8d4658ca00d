"""Relational checks of a database against its metadata, and the engine's own measures.

``relational_problems`` lists what the engine cannot work with (orphans, a parent table that is
empty, a foreign key whose type cannot match its parent key, a violated 1:1 link, duplicate keys),
all at once; ``drop_orphans`` removes orphan rows (and rows orphaned by their removal);
``integrity_problems`` and ``cardinality_similarity`` measure a generated database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from hiveframe.errors import Problem

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata import ForeignKey, Metadata

log = logging.getLogger(__name__)

_SEP = "\x1f"


def key_strings(table: pa.Table, columns: tuple[str, ...] | list[str]) -> pa.Array:
    """One comparable value per row for a (possibly composite) key; null if any part is null."""
    import pyarrow.compute as pc

    from hiveframe.pipeline.features import string_values

    parts = [_canonical(table.column(c)) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*[string_values(p) for p in parts], _SEP)


def _canonical(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Integral floats become integers, so a float FK (e.g. read with nulls) matches an int key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.array([], type=col.type)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
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


def resolve(child: pa.Table, child_columns: tuple[str, ...], parent: pa.Table,
            parent_columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Parent row index of every child row (-1 if null or orphan) and the orphan mask."""
    import pyarrow.compute as pc

    ck = key_strings(child, child_columns)
    pk = key_strings(parent, parent_columns)
    if ck.type != pk.type:
        try:
            ck = pc.cast(ck, pk.type)
        except Exception:  # noqa: BLE001 - incomparable types: everything is an orphan
            nulls = np.asarray(ck.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            return np.full(len(ck), -1, dtype=np.int64), ~nulls
    idx = pc.index_in(ck, value_set=pk)
    out = np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    nulls = np.asarray(ck.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return out, (out < 0) & ~nulls


def _kind(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_null(t):
        return "null"
    return str(t)


def duplicate_count(table: pa.Table, columns: tuple[str, ...]) -> int:
    import pyarrow.compute as pc

    keys = key_strings(table, columns).drop_null()
    return int(len(keys) - len(pc.unique(keys)))


def relational_problems(metadata: Metadata, database: Database) -> list[Problem]:
    """Every relational problem of ``database`` at once (tables missing from it are skipped)."""
    problems: list[Problem] = []
    tables = {name: database[name] for name in metadata.table_names if name in database}
    for name, data in tables.items():
        table = metadata.table(name)
        pk = tuple(table.primary_key)
        if pk and all(c in data.column_names for c in pk):
            nulls = sum(data.column(c).null_count for c in pk)
            dups = duplicate_count(data, pk)
            what = "composite primary key" if len(pk) > 1 else "primary key"
            if dups:
                problems.append(Problem(
                    f"{what} ({', '.join(pk)}) has {dups} duplicate value(s)", table=name,
                    column=pk[0] if len(pk) == 1 else None,
                    hint="a key must identify one row; fix the data or declare the right key columns"))
            if nulls:
                problems.append(Problem(f"{what} ({', '.join(pk)}) has {nulls} null value(s)", table=name,
                                        column=pk[0] if len(pk) == 1 else None))
    for fk in metadata.foreign_keys:
        child, parent = tables.get(fk.child_table), tables.get(fk.parent_table)
        if child is None or parent is None:
            continue
        if not all(c in child.column_names for c in fk.child_columns) or \
                not all(c in parent.column_names for c in fk.parent_columns):
            continue
        where = f"foreign key {fk.name}"
        mismatch = False
        for cc, pc_ in zip(fk.child_columns, fk.parent_columns, strict=False):
            ct, pt = child.column(cc).type, parent.column(pc_).type
            if _kind(ct) != _kind(pt) and "null" not in (_kind(ct), _kind(pt)):
                mismatch = True
                problems.append(Problem(
                    f"{where}: type {ct} does not match the parent key {fk.parent_table}.{pc_} ({pt})",
                    table=fk.child_table, column=cc,
                    hint="cast the column to the parent key's type, or fix the metadata"))
        if mismatch:
            continue
        non_null = child.num_rows - max(child.column(c).null_count for c in fk.child_columns)
        if parent.num_rows == 0:
            if non_null:
                problems.append(Problem(
                    f"{where}: the parent table {fk.parent_table!r} is empty but {non_null} row(s) refer to it",
                    table=fk.child_table, column=fk.child_columns[0],
                    hint=f"load the rows of {fk.parent_table!r}, or drop the relationship"))
            continue
        idx, orphans = resolve(child, fk.child_columns, parent, fk.parent_columns)
        n_orphans = int(orphans.sum())
        if n_orphans and fk.orphans != "keep":  # "keep": parent-less rows are declared part of the data
            sample = key_strings(child, fk.child_columns).filter(orphans).slice(0, 3).to_pylist()
            problems.append(Problem(
                f"{where}: {n_orphans} orphan row(s) whose value has no parent (e.g. {sample})",
                table=fk.child_table, column=fk.child_columns[0],
                hint="pass drop_orphans=True (hiveframe fit --drop-orphans) to drop them, or fix the data"))
        if fk.is_self_reference:
            problems += _self_cycle_problems(metadata, fk, idx)
        if fk.one_to_one:
            counts = np.bincount(idx[idx >= 0], minlength=parent.num_rows)
            over = int((counts > 1).sum())
            if over:
                problems.append(Problem(
                    f"{where} is declared one-to-one but {over} parent row(s) have several children "
                    f"(up to {int(counts.max())})", table=fk.child_table, column=fk.child_columns[0],
                    hint="remove one_to_one from the foreign key, or fix the data"))
    return problems


def _self_cycle_problems(metadata: Metadata, fk: ForeignKey, idx: np.ndarray) -> list[Problem]:
    """Rows of a self-reference that never reach a root (they sit on, or hang below, a cycle).

    Self-references are generated as forests, whose roots hold a null: rows on cycles are learnt as
    roots. Where the column allows nulls that is a warning with the count; where it is declared not
    nullable the synthetic column could not keep its promise, so it is an error.
    """
    from hiveframe.pipeline.forest import depths

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


def drop_orphans(metadata: Metadata, database: Database) -> tuple[Database, dict[str, int]]:
    """Drop child rows whose foreign key has no parent, parents first, until nothing changes."""
    import pyarrow as pa

    from hiveframe.components import Database

    tables = dict(database.tables)
    dropped: dict[str, int] = {}
    order = metadata.topological_order()
    changed = True
    while changed:
        changed = False
        for name in order:
            if name not in tables:
                continue
            data = tables[name]
            keep = np.ones(data.num_rows, dtype=bool)
            for fk in metadata.parents_of(name):
                parent = tables.get(fk.parent_table)
                if parent is None:
                    continue
                if fk.is_self_reference:
                    parent = data
                _, orphans = resolve(data, fk.child_columns, parent, fk.parent_columns)
                keep &= ~orphans
            if not keep.all():
                tables[name] = data.filter(pa.array(keep))
                dropped[name] = dropped.get(name, 0) + int((~keep).sum())
                changed = True
    return Database(tables, dict(database.declared_primary_keys), list(database.declared_foreign_keys)), dropped


# -- measures of a generated database --------------------------------------------------------------
def integrity_problems(metadata: Metadata, database: Database) -> list[Problem]:
    """Orphans, duplicate or null keys and violated 1:1 links of a (generated) database."""
    return relational_problems(metadata, database)


def children_counts(database: Database, fk: ForeignKey) -> np.ndarray:
    """Number of children of every parent row (null references are not counted)."""
    child, parent = database[fk.child_table], database[fk.parent_table]
    idx, _ = resolve(child, fk.child_columns, parent, fk.parent_columns)
    return np.bincount(idx[idx >= 0], minlength=parent.num_rows)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (exact for discrete data: max CDF gap)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.union1d(a, b)
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(ca - cb)))


def best_cardinality(real_counts: np.ndarray, k: int, *, total: int | None = None,
                     high: int | None = None) -> float:
    """The highest 1 - KS that *any* k parents can reach against these real children counts.

    A k-point distribution moves in steps of 1/k, so its CDF at each real count c can only be a
    multiple of 1/k; the best choice rounds k * F(c), and the largest rounding error is the floor of
    the KS statistic. It matters for tiny parent tables: 3 media types against 5 real ones can reach
    0.867 at most, whatever the generator.

    ``total`` (the children the k parents must have between them, which the scale fixes) and
    ``high`` (the most one parent can have) lower the ceiling further; with either, k must be at most
    64 (a search over how many of the k counts fall between consecutive real counts).
    """
    if k <= 0 or len(real_counts) == 0:
        return 1.0 if k == len(real_counts) else 0.0
    values = np.unique(real_counts)
    cdf = np.searchsorted(np.sort(real_counts), values, side="right") / len(real_counts)
    free = float(1.0 - np.max(np.abs(cdf - np.round(cdf * k) / k)))
    if total is None and high is None:
        return free
    if k > 64:
        raise ValueError("best_cardinality with total or high needs k <= 64")
    candidates = np.unique(np.r_[np.abs(cdf[:, None] - np.arange(k + 1)[None, :] / k).ravel(), 0.0])
    feasible = [t for t in candidates[candidates >= 1.0 - free - 1e-12]
                if _placeable(values, cdf, k, t + 1e-12, total, high)]
    return float(1.0 - feasible[0]) if feasible else 0.0


def _placeable(values: np.ndarray, cdf: np.ndarray, k: int, t: float, total: int | None, high: int | None) -> bool:
    """Whether k integer counts (each at most ``high``, summing to ``total``) keep the CDF within t.

    Counts are placed interval by interval: below the smallest real count, exactly at a real count, or
    strictly between it and the next one. Along an interval the synthetic CDF climbs through every
    level between what sits at the real count and what the interval holds, and each level must stay
    within t of the real CDF there. Per number of counts placed, the reachable sums are kept as one
    range (an envelope, so the answer may err towards feasible: the result stays an upper bound).
    """
    cap = np.iinfo(np.int64).max // 4 if high is None else int(high)
    # the interval below the smallest real count: the real CDF is 0 there
    states: dict[int, tuple[int, int]] = {}
    below_hi = min(int(values[0]) - 1, cap)
    for c in range(k + 1):
        if c and (c / k > t or below_hi < 0):
            break
        states[c] = (0, c * max(below_hi, 0))
    for j, v in enumerate(values):
        v = int(v)
        nxt = int(values[j + 1]) - 1 if j + 1 < len(values) else cap
        inner_lo, inner_hi = v + 1, min(nxt, cap)
        new: dict[int, tuple[int, int]] = {}
        for c0, (lo, hi) in states.items():
            for a in range(0, k - c0 + 1):  # counts exactly at v
                if a and v > cap:
                    break
                level = (c0 + a) / k
                for b in range(0, k - c0 - a + 1):  # counts strictly inside (v, next)
                    if b and inner_lo > inner_hi:
                        break
                    end = (c0 + a + b) / k
                    if abs(cdf[j] - end) > t or (b and abs(cdf[j] - level) > t):
                        continue
                    s_lo = lo + a * v + b * inner_lo
                    s_hi = hi + a * v + b * (inner_hi if b else 0)
                    c = c0 + a + b
                    old = new.get(c)
                    new[c] = (s_lo, s_hi) if old is None else (min(old[0], s_lo), max(old[1], s_hi))
        states = new
    if k not in states:
        return False
    lo, hi = states[k]
    return total is None or lo <= total <= hi


def cardinality_bounds(metadata: Metadata, real: Database, synthetic: Database) -> dict[str, float]:
    """Per relationship, :func:`best_cardinality` for the parent rows generated.

    With at most 64 parent rows, it is also held to the children the synthetic table has, and, in a
    link table whose primary key is this key plus one other foreign key, to one child per row of that
    other parent.
    """
    out = {}
    for fk in metadata.foreign_keys:
        if fk.child_table not in real or fk.parent_table not in synthetic or fk.child_table not in synthetic:
            continue
        k = synthetic[fk.parent_table].num_rows
        counts = children_counts(real, fk)
        if k > 64:
            out[fk.name] = best_cardinality(counts, k)
            continue
        total = int(children_counts(synthetic, fk).sum())
        high = None
        pk = set(metadata.table(fk.child_table).primary_key)
        for other in metadata.foreign_keys:
            if (other is not fk and other.child_table == fk.child_table and other.parent_table in synthetic
                    and pk == set(fk.child_columns) | set(other.child_columns)):
                high = synthetic[other.parent_table].num_rows
        out[fk.name] = best_cardinality(counts, k, total=total, high=high)
    return out


def cardinality_similarity(metadata: Metadata, real: Database, synthetic: Database) -> dict[str, float]:
    """Per relationship, 1 - KS between the real and synthetic children-per-parent distributions."""
    out = {}
    for fk in metadata.foreign_keys:
        if fk.child_table in real and fk.child_table in synthetic:
            out[fk.name] = 1.0 - ks_statistic(children_counts(real, fk), children_counts(synthetic, fk))
    return out
