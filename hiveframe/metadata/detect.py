"""Metadata detection from data: column kinds and dtypes, primary keys, foreign keys.

Declared keys (a SQLite schema, a Spark catalog) always win. Otherwise keys are inferred from names
*and* values: a primary key is a unique, non-null column named like ``id``/``<table>_id``; a foreign key
is a column named after a parent's key whose values are all found in that key. A name match whose
values are not all contained is never linked, only logged as a near miss, so a detected foreign key
is always referentially intact on the data it was detected from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hiveframe.errors import DataError
from hiveframe.metadata.model import Column, ColumnKind, ForeignKey, Metadata, Table, find_cycle
from hiveframe.metadata.validate import (
    NA_TOKENS,
    as_arrow_database,
    key_families_compatible,
    plain,
    type_family,
)

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

#: Last name tokens that make a column look like an identifier.
ID_TOKENS = frozenset({"id", "uuid", "guid", "key", "pk"})
#: Key names too generic to link two tables by name alone (``a.id`` is no evidence for ``b.id``).
GENERIC_KEY_NAMES = frozenset({"id", "uuid", "guid", "key", "pk", "code", "name"})
#: Formats tried, in order, on strings that may be dates.
DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d %b %Y",
    "%b %d, %Y",
    "%Y%m%d%H%M%S",
)
_SAMPLE = 500
#: Distinct values of a string column looked at in Python (the rest is checked in Arrow).
_CHECK = 10_000


@dataclass(frozen=True)
class DetectOptions:
    """Thresholds of :func:`detect` (see its docstring)."""

    categorical_threshold: int = 50
    categorical_ratio: float = 0.2
    integer_code_threshold: int = 20
    integer_code_max: float = 1000
    unique_ratio: float = 0.95
    detect_pii: bool = True


def detect(
    database: Database | Mapping[str, Any] | object,
    *,
    host: PluginHost | None = None,
    categorical_threshold: int = 50,
    categorical_ratio: float = 0.2,
    integer_code_threshold: int = 20,
    integer_code_max: float = 1000,
    unique_ratio: float = 0.95,
    infer_primary_keys: bool = True,
    infer_foreign_keys: bool | None = None,
    detect_pii: bool = True,
) -> Metadata:
    """Build :class:`Metadata` from data.

    ``database`` is a :class:`~hiveframe.components.Database`, a mapping of table name to
    pyarrow/pandas/polars tables, or any source a reader claims (read through ``host``).

    Column kinds: a string column with at most ``categorical_threshold`` distinct values, or at most
    ``categorical_ratio`` distinct values per row, is categorical; one whose values are (almost,
    ``unique_ratio``) all distinct is an id when its values look like keys (no spaces, short) and text
    otherwise. An integer column with at most ``integer_code_threshold`` distinct values, all within
    ``±integer_code_max`` and each seen twice on average, is an integer-coded categorical. Strings that
    are numbers (with ``?``-style missing markers) are numerical; strings that are dates are datetime
    with their ``datetime_format``. Key columns are ids.

    Keys: declared ones first. ``infer_foreign_keys=None`` infers foreign keys only when the source
    declares none (a SQLite schema is trusted as complete).
    """
    db, problems = as_arrow_database(database, host=host)
    DataError.raise_if_any(problems, title="cannot detect metadata")
    opts = DetectOptions(
        categorical_threshold,
        categorical_ratio,
        integer_code_threshold,
        integer_code_max,
        unique_ratio,
        detect_pii,
    )

    columns: dict[str, list[Column]] = {
        name: [_classify(name, col, data.column(col), opts) for col in data.column_names]
        for name, data in db.tables.items()
    }
    primary_keys = _primary_keys(db, infer=infer_primary_keys)
    declared = _declared_foreign_keys(db, primary_keys)
    if infer_foreign_keys is None:
        infer_foreign_keys = not declared
    inferred = _infer_foreign_keys(db, primary_keys, declared) if infer_foreign_keys else []
    foreign_keys = [_with_cardinality(fk, db) for fk in declared + inferred]

    key_columns: dict[str, set[str]] = {name: set(pk) for name, pk in primary_keys.items()}
    for fk in foreign_keys:
        key_columns.setdefault(fk.child_table, set()).update(fk.child_columns)
    tables = []
    for name, cols in columns.items():
        keys = key_columns.get(name, set())
        cols = [_as_id(c, db.tables[name].column(c.name)) if c.name in keys else c for c in cols]
        if detect_pii:
            cols = _plugin_refinements(name, db.tables[name], cols, keys, host)
        tables.append(Table(name=name, columns=tuple(cols), primary_key=primary_keys.get(name, ())))
    metadata = Metadata(tables=tuple(tables), foreign_keys=tuple(foreign_keys))
    log.info(
        "detected %d table(s), %d primary key(s), %d foreign key(s) (%d declared, %d inferred)",
        len(tables),
        sum(1 for t in tables if t.primary_key),
        len(foreign_keys),
        len(declared),
        len(inferred),
    )
    return metadata


def _plugin_refinements(table: str, data: Any, cols: list[Column], keys: set[str],
                        host: PluginHost | None) -> list[Column]:
    """Let plugins re-mark columns (the privacy plugin proposes PII kinds, ahead of the id rule).

    Keys are never re-marked: a primary or foreign key links tables, so it stays an id. When a key is
    proposed as PII (an email or a phone number used as a key), the key keeps its kind and records the
    ``pii_kind``, and the engine then generates surrogate keys for it that owe nothing to the real
    values (:func:`hiveframe.pipeline.keys.surrogate_format`).
    """
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    proposals = host.hooks.detect_columns(table_name=table, data=data, columns=cols)
    changed: dict[str, Column] = {}
    for column_name, column in proposals.items():
        if column_name not in keys:
            changed[column_name] = column
            log.info("detect: %s.%s proposed as %s%s", table, column_name, column.kind.value,
                     f" ({column.pii_kind.value})" if column.pii_kind else "")
        elif column.pii_kind is not None:
            key = next(c for c in cols if c.name == column_name)
            changed[column_name] = replace(key, pii_kind=column.pii_kind, id_format=None)
            log.warning("detect: key %s.%s holds personal data (%s): it stays a key, and synthetic keys for it "
                        "are surrogates (e.g. %s) that owe nothing to the real values", table, column_name,
                        column.pii_kind.value,
                        "user1@example.invalid" if column.pii_kind.value == "email" else f"{column.pii_kind.value}-1")
    return [changed.get(c.name, c) for c in cols]


# -- column kinds ----------------------------------------------------------------------------------
def _classify(table: str, name: str, array: Any, opts: DetectOptions) -> Column:
    import pyarrow as pa

    arr = plain(array)
    dtype = str(array.type)
    n = len(arr)
    nonnull = n - arr.null_count
    nullable = arr.null_count > 0
    family = type_family(arr.type)
    if family == "null" or (n and not nonnull):
        log.warning("detect: %s.%s is entirely null; kept as an all-null column (dtype 'null')", table, name)
        return Column(name=name, kind=ColumnKind.CATEGORICAL, dtype="null", nullable=True)
    if family == "bool":
        return Column(name=name, kind=ColumnKind.BOOLEAN, dtype=dtype, nullable=nullable)
    if family == "temporal":
        kind = ColumnKind.NUMERICAL if pa.types.is_duration(arr.type) else ColumnKind.DATETIME
        return Column(name=name, kind=kind, dtype=dtype, nullable=nullable)
    if family in ("int", "float", "decimal"):
        kind = _numeric_kind(name, arr, opts)
        return Column(name=name, kind=kind, dtype=dtype, nullable=nullable)
    if family == "string":
        return _classify_strings(table, name, arr, dtype, nullable, opts)
    if family == "binary":
        return Column(name=name, kind=ColumnKind.TEXT, dtype=dtype, nullable=nullable)
    log.warning("detect: %s.%s has type %s, which hiveframe does not model; marked text", table, name, dtype)
    return Column(name=name, kind=ColumnKind.TEXT, dtype=dtype, nullable=nullable)


def _numeric_kind(name: str, arr: Any, opts: DetectOptions) -> ColumnKind:
    import pyarrow.compute as pc

    values = arr.drop_null()
    if len(values) == 0:
        return ColumnKind.NUMERICAL
    if type_family(values.type) == "float":
        values = values.filter(pc.invert(pc.is_nan(values)))
        if len(values) == 0:
            return ColumnKind.NUMERICAL
        integral = bool(pc.all(pc.equal(values, pc.floor(values))).as_py())
    else:
        integral = type_family(values.type) == "int"
    if not integral:
        return ColumnKind.NUMERICAL
    distinct = len(pc.unique(values))
    if _is_id_name(name) and distinct == len(values):
        return ColumnKind.ID
    mm = pc.min_max(values)
    bound = max(abs(float(mm["min"].as_py())), abs(float(mm["max"].as_py())))
    if (
        distinct <= opts.integer_code_threshold
        and 2 * distinct <= len(values)
        and bound <= opts.integer_code_max
    ):
        return ColumnKind.CATEGORICAL
    return ColumnKind.NUMERICAL


def _classify_strings(
    table: str, name: str, arr: Any, dtype: str, nullable: bool, opts: DetectOptions
) -> Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    # Python looks at a sample of the distinct values; whole-column checks stay in Arrow.
    unique_arr = pc.unique(arr).drop_null().cast(pa.large_string())
    uniques = unique_arr.slice(0, _CHECK).to_pylist()
    nonnull = len(arr) - arr.null_count
    if not uniques:
        return Column(name=name, kind=ColumnKind.CATEGORICAL, dtype=dtype, nullable=nullable)
    numeric = _numbers_in_strings(uniques)
    if numeric is not None and len(unique_arr) > len(uniques):
        numeric = _numbers_in_strings(unique_arr.to_pylist())
    if numeric is not None:
        from hiveframe.metadata.validate import parse_numbers

        numbers, na_count, _ = parse_numbers(arr)
        kind = _numeric_kind(name, numbers, opts)
        if kind == ColumnKind.ID:
            kind = ColumnKind.NUMERICAL
        log.info(
            "detect: %s.%s holds numbers stored as strings%s; marked %s (%s)",
            table,
            name,
            f" ({na_count} missing markers such as '?')" if na_count else "",
            kind.value,
            numeric,
        )
        return Column(name=name, kind=kind, dtype=numeric, nullable=nullable or na_count > 0)
    fmt = _datetime_format(uniques)
    if fmt is not None and len(unique_arr) > len(uniques):
        fmt = _datetime_format(unique_arr.to_pylist())
    if fmt is not None:
        return Column(
            name=name, kind=ColumnKind.DATETIME, dtype=dtype, nullable=nullable, datetime_format=fmt or None
        )
    distinct = len(unique_arr)
    id_name = _is_id_name(name)
    key_like = (
        pc.max(pc.utf8_length(unique_arr)).as_py() <= 64
        and not pc.any(pc.match_substring_regex(unique_arr, r"\s")).as_py()
        and (id_name or pc.sum(pc.match_substring_regex(unique_arr, r"\d")).as_py() >= 0.9 * distinct)
    )
    if distinct >= opts.unique_ratio * nonnull and (nonnull >= 20 or id_name):
        if key_like:
            return Column(
                name=name, kind=ColumnKind.ID, dtype=dtype, nullable=nullable, id_format=id_format(uniques)
            )
        return Column(name=name, kind=ColumnKind.TEXT, dtype=dtype, nullable=nullable)
    if distinct <= opts.categorical_threshold or distinct <= opts.categorical_ratio * nonnull:
        return Column(name=name, kind=ColumnKind.CATEGORICAL, dtype=dtype, nullable=nullable)
    if id_name and key_like:
        return Column(
            name=name, kind=ColumnKind.ID, dtype=dtype, nullable=nullable, id_format=id_format(uniques)
        )
    return Column(name=name, kind=ColumnKind.TEXT, dtype=dtype, nullable=nullable)


def _numbers_in_strings(uniques: Sequence[str]) -> str | None:
    """``"int64"``/``"double"`` if every distinct value is a number or a missing marker, else ``None``."""
    seen_number = False
    integral = True
    for value in uniques:
        text = value.strip()
        if text in NA_TOKENS:
            continue
        if re.match(r"^[+-]?0\d", text):  # leading zeros: a code (zip, account), not a number
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        if number != number or number in (float("inf"), float("-inf")):
            return None
        seen_number = True
        if not re.fullmatch(r"[+-]?\d+", text):
            integral = False
    if not seen_number:
        return None
    return "int64" if integral else "double"


def _datetime_format(uniques: Sequence[str]) -> str | None:
    """The first format that parses every distinct value (``""`` for ISO 8601), or ``None``."""
    values = [v.strip() for v in uniques if v.strip() not in NA_TOKENS]
    if not values or not all(re.search(r"\d", v) and re.search(r"\D", v) for v in values[:_SAMPLE]):
        return None
    if not all(6 <= len(v) <= 40 for v in values[:_SAMPLE]):
        return None
    sample = values[:_SAMPLE]
    for fmt in DATETIME_FORMATS:
        if _all_parse(sample, fmt) and _all_parse(values, fmt):
            return fmt
    try:
        for v in values:
            datetime.fromisoformat(v)
    except ValueError:
        return None
    return ""


def _all_parse(values: Sequence[str], fmt: str) -> bool:
    try:
        for v in values:
            datetime.strptime(v, fmt)
    except ValueError:
        return False
    return True


def id_format(values: Sequence[str]) -> str | None:
    """A simple regex describing string keys (character classes and length), e.g. ``[0-9a-z]{10}``.

    Generated keys can follow it. ``None`` when the keys use too many different symbols.
    """
    sample = list(values[:10_000])
    if not sample:
        return None
    classes: list[str] = []
    chars = set("".join(sample))
    if any(c.isdigit() for c in chars):
        classes.append("0-9")
    if any("a" <= c <= "z" for c in chars):
        classes.append("a-z")
    if any("A" <= c <= "Z" for c in chars):
        classes.append("A-Z")
    other = sorted(c for c in chars if not (c.isascii() and c.isalnum()))
    if len(other) > 5 or any(not c.isascii() or c.isspace() for c in other):
        return None
    body = "".join(classes) + "".join(re.escape(c) if c not in "-" else r"\-" for c in other)
    lo, hi = min(map(len, sample)), max(map(len, sample))
    return f"[{body}]{{{lo}}}" if lo == hi else f"[{body}]{{{lo},{hi}}}"


def _as_id(column: Column, array: Any) -> Column:
    """Key columns are ids, whatever their values looked like."""
    if column.kind == ColumnKind.ID:
        return column
    fmt = None
    if type_family(array.type) == "string":
        import pyarrow.compute as pc

        fmt = id_format(pc.unique(plain(array)).drop_null().slice(0, _CHECK).to_pylist())
    return Column(
        name=column.name, kind=ColumnKind.ID, dtype=column.dtype, nullable=column.nullable, id_format=fmt
    )


# -- names -----------------------------------------------------------------------------------------
def _tokens(name: str) -> list[str]:
    """``"InvoiceLineId"`` -> ``["invoice", "line", "id"]``; trailing digits dropped (``atom_id2``)."""
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    while parts and parts[-1].isdigit():
        parts.pop()
    return parts


def _is_id_name(name: str) -> bool:
    toks = _tokens(name)
    return bool(toks) and toks[-1] in ID_TOKENS


def _variants(table: str) -> set[str]:
    """The table name normalised, singular and plural (``users`` -> ``users``, ``user``)."""
    base = "".join(_tokens(table)) or table.lower()
    out = {base, base + "s"}
    if base.endswith("ies"):
        out.add(base[:-3] + "y")
    if base.endswith("es"):
        out.add(base[:-2])
    if base.endswith("s"):
        out.add(base[:-1])
    if base.endswith("y"):
        out.add(base[:-1] + "ies")
    return out


def _pk_name_match(table: str, column: str) -> bool:
    norm = "".join(_tokens(column))
    return norm == "id" or norm in {v + "id" for v in _variants(table)}


def _fk_name_rank(column: str, parent: str, parent_key: str) -> int | None:
    """How well a column name points at ``parent`` (0 best), or ``None`` if it does not."""
    ctoks, ptoks = _tokens(column), _tokens(parent_key)
    if not ctoks:
        return None
    cnorm, pnorm = "".join(ctoks), "".join(ptoks)
    generic = pnorm in GENERIC_KEY_NAMES
    if not generic and cnorm == pnorm:
        return 0
    named = {v + "id" for v in _variants(parent)}
    if cnorm in named:
        return 1
    targets = set(named)
    if not generic and len(ptoks) >= 2:
        targets.add(pnorm)
    for k in range(1, len(ctoks)):  # role prefixes: sender_account_id, atom_id2 -> atom_id
        if "".join(ctoks[k:]) in targets:
            return 2
    return None


# -- keys ------------------------------------------------------------------------------------------
def _unique_non_null(array: Any) -> bool:
    import pyarrow.compute as pc

    arr = plain(array)
    if len(arr) == 0 or arr.null_count:
        return False
    return len(pc.unique(arr)) == len(arr)


def _primary_keys(db: Database, *, infer: bool) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, data in db.tables.items():
        declared = tuple(db.declared_primary_keys.get(name) or ())
        if declared:
            missing = [c for c in declared if c not in data.column_names]
            if missing:
                log.warning(
                    "detect: declared primary key of %r names missing column(s) %s; ignored", name, missing
                )
            else:
                out[name] = declared
                continue
        if not infer or data.num_rows == 0:
            continue
        candidates = [c for c in data.column_names if type_family(data.column(c).type) in ("int", "string")]
        named = [c for c in candidates if _pk_name_match(name, c)]
        fallback = [c for c in candidates if _is_id_name(c) and c not in named]
        for col in named + fallback:
            if _unique_non_null(data.column(col)):
                out[name] = (col,)
                log.debug("detect: primary key of %r is %r", name, col)
                break
    return out


def _declared_foreign_keys(db: Database, primary_keys: Mapping[str, tuple[str, ...]]) -> list[ForeignKey]:
    out = []
    for fk in db.declared_foreign_keys:
        if fk.child_table not in db.tables or fk.parent_table not in db.tables:
            log.warning("detect: declared foreign key %s names a table that was not read; ignored", fk.name)
            continue
        if not fk.parent_columns:  # SQL allows "REFERENCES parent" meaning its primary key
            pk = primary_keys.get(fk.parent_table, ())
            fk = ForeignKey(
                fk.child_table, fk.child_columns, fk.parent_table, pk, fk.context_columns, fk.one_to_one
            )
        out.append(fk)
    return out


def _infer_foreign_keys(
    db: Database, primary_keys: Mapping[str, tuple[str, ...]], declared: Sequence[ForeignKey]
) -> list[ForeignKey]:
    import pyarrow.compute as pc

    taken = {(fk.child_table, c) for fk in declared for c in fk.child_columns}
    deps: dict[str, set[str]] = {t: set() for t in db.tables}
    for fk in declared:
        if not fk.is_self_reference:
            deps[fk.child_table].add(fk.parent_table)
    parent_values: dict[str, Any] = {}
    out: list[ForeignKey] = []
    for child, data in db.tables.items():
        for col in data.column_names:
            if (child, col) in taken:
                continue
            carr = plain(data.column(col))
            cfam = type_family(carr.type)
            if cfam not in ("int", "string", "float") or len(carr) == carr.null_count:
                continue
            candidates = []
            for parent, pk in primary_keys.items():
                if parent == child or len(pk) != 1:
                    continue
                rank = _fk_name_rank(col, parent, pk[0])
                if rank is not None:
                    candidates.append((rank, parent, pk[0]))
            for _rank, parent, pcol in sorted(candidates):
                parr = plain(db.tables[parent].column(pcol))
                if not key_families_compatible(cfam, type_family(parr.type)):
                    log.info(
                        "detect: %s.%s is named like a key of %r but its type %s cannot match %s",
                        child,
                        col,
                        parent,
                        carr.type,
                        parr.type,
                    )
                    continue
                values = carr.drop_null()
                if cfam == "float" and not pc.all(pc.equal(values, pc.floor(values))).as_py():
                    continue
                if parent not in parent_values:
                    parent_values[parent] = parr
                pvals = parent_values[parent]
                if type_family(values.type) != type_family(pvals.type):
                    values, pvals = values.cast("double"), pvals.cast("double")
                elif values.type != pvals.type:
                    values = values.cast(pvals.type)
                found = pc.is_in(values, value_set=pvals)
                missing = len(values) - int(pc.sum(found).as_py() or 0)
                if missing:
                    share = 1 - missing / len(values)
                    level = logging.WARNING if share >= 0.5 else logging.DEBUG
                    examples = pc.unique(values.filter(pc.invert(found)))[:5].to_pylist()
                    log.log(
                        level,
                        "detect: %s.%s looks like a foreign key to %s.%s but %d of %d values have "
                        "no parent (e.g. %s); not linked (declare it, then validate_data(..., "
                        "drop_orphans=True) drops the orphans)",
                        child,
                        col,
                        parent,
                        pcol,
                        missing,
                        len(values),
                        examples,
                    )
                    continue
                deps[child].add(parent)
                if find_cycle(deps):
                    deps[child].discard(parent)
                    log.info(
                        "detect: %s.%s -> %s.%s would close a cycle of foreign keys; not linked",
                        child,
                        col,
                        parent,
                        pcol,
                    )
                    continue
                out.append(
                    ForeignKey(
                        child_table=child, child_columns=(col,), parent_table=parent, parent_columns=(pcol,)
                    )
                )
                log.debug("detect: foreign key %s.%s -> %s.%s", child, col, parent, pcol)
                break
    return out


def _with_cardinality(fk: ForeignKey, db: Database) -> ForeignKey:
    """Mark a link one-to-one when no parent has two children (the child key is unique)."""
    if fk.one_to_one:
        return fk
    data = db.tables[fk.child_table]
    if not all(c in data.column_names for c in fk.child_columns):
        return fk
    import pyarrow.compute as pc

    from hiveframe.metadata.validate import has_duplicates

    valid = None
    for c in fk.child_columns:
        m = pc.is_valid(plain(data.column(c)))
        valid = m if valid is None else pc.and_(valid, m)
    if valid is None or int(pc.sum(valid).as_py() or 0) < 2:
        return fk
    if has_duplicates(data, list(fk.child_columns)):
        return fk
    return ForeignKey(
        fk.child_table,
        fk.child_columns,
        fk.parent_table,
        fk.parent_columns,
        fk.context_columns,
        one_to_one=True,
    )
