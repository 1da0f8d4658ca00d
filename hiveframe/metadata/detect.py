"""Metadata detection from data: column kinds and dtypes, primary keys, foreign keys.

Declared keys (a SQLite schema, a Spark catalog) always win. Otherwise keys are inferred from names,
values, uniqueness and types together (:mod:`hiveframe.metadata._keys`): every inferred key carries
its confidence and evidence in the metadata (``detection``), and a foreign key whose values are found
in its parent only up to a small share is proposed with its orphan count, for ``fit`` to handle by a
declared policy.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hiveframe.errors import DataError
from hiveframe.metadata.arrow_types import NA_TOKENS, plain, type_family
from hiveframe.metadata.coercion import as_arrow_database
from hiveframe.metadata.model import Column, ColumnKind, ForeignKey, Metadata, Table

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

#: Last name tokens that make a column look like an identifier.
ID_TOKENS = frozenset({"id", "uuid", "guid", "key", "pk"})
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
    host: PluginHost,
    categorical_threshold: int = 50,
    categorical_ratio: float = 0.2,
    integer_code_threshold: int = 20,
    integer_code_max: float = 1000,
    unique_ratio: float = 0.95,
    infer_primary_keys: bool = True,
    infer_foreign_keys: bool | None = None,
    detect_pii: bool = True,
    key_threshold: float = 0.5,
    max_orphan_share: float = 0.1,
    sample_rows: int = 200_000,
    rules: bool = False,
    min_rule_support: float = 0.999,
) -> Metadata:
    """Build :class:`Metadata` from data.

    ``database`` is a :class:`~hiveframe.components.Database`, a mapping of table name to
    pyarrow/pandas/polars tables, or any source a reader of ``host`` claims. ``host``'s plugins also
    refine the columns (the privacy plugin proposes PII); :func:`hiveframe.detect` makes a default host.

    Column kinds: a string column with at most ``categorical_threshold`` distinct values, or at most
    ``categorical_ratio`` distinct values per row, is categorical; one whose values are (almost,
    ``unique_ratio``) all distinct is an id when its values look like keys (no spaces, short) and text
    otherwise. An integer column with at most ``integer_code_threshold`` distinct values, all within
    ``±integer_code_max`` and each seen twice on average, is an integer-coded categorical. Strings that
    are numbers (with ``?``-style missing markers) are numerical; strings that are dates are datetime
    with their ``datetime_format``. Key columns are ids.

    Keys: declared ones first. ``infer_foreign_keys=None`` infers foreign keys only when the source
    declares none (a SQLite schema is trusted as complete). An inferred key is kept when its
    confidence reaches ``key_threshold``; a foreign key may have up to ``max_orphan_share`` of its
    rows without a parent (they are counted in its ``detection``). Containment is checked on at most
    ``sample_rows`` rows per table. See :mod:`hiveframe.metadata._keys` and docs/metadata.md.

    ``rules=True`` also proposes the rules between columns that hold on at least ``min_rule_support``
    of the rows (formulas, nulls that follow a category, order between dates; each with its support:
    :mod:`hiveframe.metadata._rules_detect`, docs/rules.md). ``hiveframe detect`` does this by default.
    """
    from hiveframe.metadata._keys import KeyOptions, detect_keys

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
    key_options = KeyOptions(threshold=key_threshold, max_orphan_share=max_orphan_share, sample_rows=sample_rows)
    _check_key_options(key_options)
    declared_pks = _declared_primary_keys(db)
    declared = _declared_foreign_keys(db, declared_pks)
    if infer_foreign_keys is None:
        infer_foreign_keys = not declared
    found = detect_keys(db, options=key_options, declared_pks=declared_pks, infer_primary_keys=infer_primary_keys,
                        infer_foreign_keys=infer_foreign_keys, declared_fks=declared)
    primary_keys = found.primary_keys
    declared = _declared_foreign_keys(db, primary_keys)  # "REFERENCES parent": its key, inferred or not
    inferred = [fk for fk, _ in found.foreign_keys]
    foreign_keys = [_with_cardinality(fk, db) for fk in declared + inferred]

    key_columns: dict[str, set[str]] = {name: set(pk) for name, pk in primary_keys.items()}
    for fk in foreign_keys:
        key_columns.setdefault(fk.child_table, set()).update(fk.child_columns)
    referenced = {fk.parent_table for fk in foreign_keys}
    tables = []
    for name, cols in columns.items():
        keys = key_columns.get(name, set())
        pk = primary_keys.get(name, ())
        if detect_pii and pk and name not in referenced and not declared_pks.get(name):
            # an inferred key nothing references links no tables: if it holds personal data (a unique email
            # column), protecting it as PII beats keeping it as a key whose synthetic values are surrogates
            trial = _plugin_refinements(name, db.tables[name], cols, keys - set(pk), host)
            if any(c.kind == ColumnKind.PII for c in trial if c.name in pk):
                log.info("detect: %s.%s holds personal data and no table references it: proposed as PII, "
                         "not as the primary key", name, ",".join(pk))
                keys = keys - set(pk)
                primary_keys = {t: k for t, k in primary_keys.items() if t != name}
        cols = [_as_id(c, db.tables[name].column(c.name)) if c.name in keys else c for c in cols]
        if detect_pii:
            cols = _plugin_refinements(name, db.tables[name], cols, keys, host)
        pk_found = found.primary_key_proposals.get(name) if name in primary_keys else None
        tables.append(Table(name=name, columns=tuple(cols), primary_key=primary_keys.get(name, ()),
                            detection=pk_found.detection() if pk_found is not None else None))
    metadata = Metadata(tables=tuple(tables), foreign_keys=tuple(foreign_keys),
                        detection=found.summary(key_options))
    if rules:
        from hiveframe.metadata._rules_detect import detect_rules

        metadata = detect_rules(metadata, db.tables, min_support=min_rule_support)
    log.info(
        "detected %d table(s), %d primary key(s), %d foreign key(s) (%d declared, %d inferred) in %.2fs",
        len(tables),
        sum(1 for t in tables if t.primary_key),
        len(foreign_keys),
        len(declared),
        len(inferred),
        found.seconds,
    )
    return metadata


def _check_key_options(options: Any) -> None:
    from hiveframe.errors import ConfigError

    if not 0.0 < options.threshold <= 1.0:
        raise ConfigError(f"key_threshold must be in (0, 1], got {options.threshold}",
                          hint="0.5 (the default) keeps keys with at least one clear piece of evidence")
    if not 0.0 <= options.max_orphan_share < 1.0:
        raise ConfigError(f"max_orphan_share must be in [0, 1), got {options.max_orphan_share}",
                          hint="0 accepts clean foreign keys only; 0.1 (the default) tolerates a few percent")
    if options.sample_rows < 1000:
        raise ConfigError(f"sample_rows must be at least 1000, got {options.sample_rows}")


def _plugin_refinements(table: str, data: Any, cols: list[Column], keys: set[str],
                        host: PluginHost) -> list[Column]:
    """Let plugins re-mark columns (the privacy plugin proposes PII kinds, ahead of the id rule).

    Keys are never re-marked: a primary or foreign key links tables, so it stays an id. When a key is
    proposed as PII (an email or a phone number used as a key), the key keeps its kind and records the
    ``pii_kind``, and the engine then generates surrogate keys for it that owe nothing to the real
    values (:func:`hiveframe.pipeline.keys.surrogate_format`).
    """
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
        from hiveframe.metadata.arrow_types import parse_numbers

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
    _warn_almost_typed(table, name, arr)
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


#: share of a text column's values that, when they are numbers (or dates), makes the rest suspect
ALMOST = 0.8
#: date formats recognised only to report a column that mixes them (never chosen as a column's format)
_REPORTED_DATE_FORMATS = (*DATETIME_FORMATS, "%b %d %Y", "%d %B %Y", "%B %d, %Y", "%B %d %Y", "%d-%b-%Y")


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _date_format_of(text: str) -> str | None:
    for fmt in _REPORTED_DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return fmt
    return None


def _warn_almost_typed(table: str, name: str, arr: Any) -> None:
    """A text column whose values are nearly all numbers, or dates in several formats, is kept as text,
    but never silently: the warning counts the rows and shows the values that spoil it."""
    import pyarrow.compute as pc

    counts = pc.value_counts(arr.drop_null() if hasattr(arr, "drop_null") else arr)
    pairs = [(v, n) for v, n in zip(counts.field("values").to_pylist()[:_CHECK],
                                     counts.field("counts").to_pylist()[:_CHECK], strict=True)
             if v is not None and str(v).strip() not in NA_TOKENS]
    total = sum(n for _, n in pairs)
    if not total:
        return
    bad = [(v, n) for v, n in pairs if _as_number(str(v).strip()) is None]
    good = total - sum(n for _, n in bad)
    if bad and good >= ALMOST * total:
        log.warning("detect: %s.%s: %d of %d values are numbers but %d are not (%s): the column is read as "
                    "text; fix those values, or mark them missing, to model it as a number", table, name, good,
                    total, total - good, ", ".join(repr(v) for v, _ in bad[:5]))
        return
    formats: dict[str | None, int] = {}
    for v, n in pairs:
        fmt = _date_format_of(str(v).strip())
        formats[fmt] = formats.get(fmt, 0) + n
    dated = total - formats.get(None, 0)
    if dated >= ALMOST * total and len([f for f in formats if f is not None]) > 1:
        shown = ", ".join(f"{n} as {f!r}" for f, n in formats.items() if f is not None)
        log.warning("detect: %s.%s holds dates in %d formats (%s%s): the column is read as text; write every "
                    "date in one format (ISO 8601, YYYY-MM-DD, is best) to model it as a date", table, name,
                    len(formats) - (None in formats), shown,
                    f", {formats[None]} unparsed" if formats.get(None) else "")


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


# -- keys ------------------------------------------------------------------------------------------
def _declared_primary_keys(db: Database) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, data in db.tables.items():
        declared = tuple(db.declared_primary_keys.get(name) or ())
        if not declared:
            continue
        missing = [c for c in declared if c not in data.column_names]
        if missing:
            log.warning("detect: declared primary key of %r names missing column(s) %s; ignored", name, missing)
            continue
        out[name] = declared
    return out


def _declared_foreign_keys(db: Database, primary_keys: Mapping[str, tuple[str, ...]]) -> list[ForeignKey]:
    out = []
    for fk in db.declared_foreign_keys:
        if fk.child_table not in db.tables or fk.parent_table not in db.tables:
            log.warning("detect: declared foreign key %s names a table that was not read; ignored", fk.name)
            continue
        if not fk.parent_columns:  # SQL allows "REFERENCES parent" meaning its primary key
            fk = replace(fk, parent_columns=primary_keys.get(fk.parent_table, ()))
        out.append(fk)
    return out


def _with_cardinality(fk: ForeignKey, db: Database) -> ForeignKey:
    """Mark a link one-to-one when no parent has two children (the child key is unique)."""
    if fk.one_to_one:
        return fk
    data = db.tables[fk.child_table]
    if not all(c in data.column_names for c in fk.child_columns):
        return fk
    import pyarrow.compute as pc

    from hiveframe.metadata.relations import has_duplicates

    valid = None
    for c in fk.child_columns:
        m = pc.is_valid(plain(data.column(c)))
        valid = m if valid is None else pc.and_(valid, m)
    if valid is None or int(pc.sum(valid).as_py() or 0) < 2:
        return fk
    if has_duplicates(data, list(fk.child_columns)):
        return fk
    return replace(fk, one_to_one=True)
