"""A data profile: what a database holds, in one versioned JSON document (format: ``docs/profile.md``).

The profile is the first stage of the pipeline (profile -> fit -> sample -> catalog): schema, per-column
statistics, correlations, the rules the metadata declares or ``detect`` found, and the key structure
(children per parent, orphans). It is computed with pyarrow and numpy only, so the kernel command
``hiveframe profile`` needs no extra. Its ``digest`` (SHA-256 of the canonical JSON of everything but
``source``, ``created`` and the digest itself) identifies the data: a fitted model keeps the digest of
its training data's profile (never under DP, see ``docs/profile.md``) and every output's catalog entry
names it, so an output can be traced to the data it was learnt from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata import Metadata

FORMAT = "hiveframe.profile"
VERSION = 1
#: rows used for correlations (a seeded subset beyond this; the statistics use every row).
CORRELATION_ROWS = 100_000
#: at most this many columns of each kind enter a correlation matrix (the widest tables stay small).
CORRELATION_COLUMNS = 40
#: categorical columns with more categories than this get no Cramér's V (it means little there).
MAX_CATEGORIES = 50
TOP_VALUES = 10
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: fields that describe the run, not the data: left out of the digest.
VOLATILE = ("source", "created", "digest")


def profile(database: Database, metadata: Metadata | None = None, *, source: str | None = None,
            host: Any = None) -> dict[str, Any]:
    """Profile ``database`` (metadata detected when not given). Refuses a source without any row."""
    from hiveframe import detect

    tables = list(database.names)
    empty = [name for name in tables if database[name].num_rows == 0]
    if not tables or len(empty) == len(tables):
        hint = "profile a folder or SQLite file whose tables hold rows"
        problems = [Problem("table has no rows", table=name, hint=hint) for name in empty] or [
            Problem("the source holds no tables", hint=hint)]
        raise DataError(problems, title="nothing to profile: the source is empty")
    if metadata is None:
        metadata = detect(database, host=host)
    out: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "source": source,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tables": {}, "relationships": [],
    }
    for table in metadata.tables:
        if table.name not in database:
            continue
        data = database[table.name]
        columns = {column.name: _column_profile(data.column(column.name), column.kind.value)
                   for column in table.columns if column.name in data.column_names}
        out["tables"][table.name] = {
            "rows": data.num_rows,
            "primary_key": list(table.primary_key),
            "columns": columns,
            "correlations": _correlations(data, table),
            "rules": [_jsonable(dict(rule)) for rule in table.constraints],
        }
    for fk in metadata.foreign_keys:
        if fk.child_table in database and fk.parent_table in database:
            out["relationships"].append(_relationship(database, fk))
    out["digest"] = digest(out)
    return out


def digest(document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a profile's data (``source``, ``created`` left out)."""
    content = {k: v for k, v in document.items() if k not in VOLATILE}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# -- columns -----------------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    """A float rounded to 12 significant digits (stable digests across platforms); None for NaN/inf."""
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.12g}") if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return str(value)


def _column_profile(col: pa.ChunkedArray, kind: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(col)
    nulls = col.null_count
    out: dict[str, Any] = {"kind": kind, "type": str(col.type), "nulls": nulls,
                           "null_share": _num(nulls / n) if n else None,
                           "distinct": int(pc.count_distinct(col, mode="only_valid").as_py())}
    t = col.type
    valid = pc.drop_null(col)
    if len(valid) == 0:
        return out
    if kind != "id" and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        values = valid.cast(pa.float64()).to_numpy()
        values = values[np.isfinite(values)]
        if len(values):
            out.update({"min": _num(values.min()), "max": _num(values.max()), "mean": _num(values.mean()),
                        "std": _num(values.std()),
                        "quantiles": {f"p{round(q * 100)}": _num(v)
                                      for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)},
                        "zeros": int((values == 0).sum()), "negatives": int((values < 0).sum())})
            if pa.types.is_floating(t):
                out["decimals"] = _decimals(values)
    elif pa.types.is_temporal(t):
        minmax = pc.min_max(valid)
        out.update({"min": _jsonable(minmax["min"].as_py()), "max": _jsonable(minmax["max"].as_py())})
    elif pa.types.is_boolean(t):
        out["true_share"] = _num(pc.sum(valid.cast(pa.int64())).as_py() / len(valid))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        lengths = pc.utf8_length(valid).to_numpy(zero_copy_only=False)
        out["length"] = {"min": int(lengths.min()), "mean": _num(lengths.mean()), "max": int(lengths.max())}
    if kind in ("categorical", "boolean") or (pa.types.is_string(t) and out["distinct"] <= MAX_CATEGORIES):
        counts = pc.value_counts(valid)
        pairs = sorted(((_jsonable(v.as_py()), int(c.as_py())) for v, c in
                        zip(counts.field("values"), counts.field("counts"), strict=True)),
                       key=lambda p: (-p[1], str(p[0])))
        out["top_values"] = [{"value": v, "count": c} for v, c in pairs[:TOP_VALUES]]
    return out


def _decimals(values: np.ndarray) -> int | None:
    """The decimals every value is written with (0 for whole numbers), up to 6; None beyond that."""
    sample = values[:10_000]
    for places in range(7):
        if np.allclose(sample, np.round(sample, places), rtol=0, atol=10.0 ** -(places + 3)):
            return places
    return None


# -- correlations ------------------------------------------------------------------------------------
def _correlations(data: pa.Table, table: Any) -> dict[str, Any]:
    """Pearson between numeric columns and Cramér's V between categorical ones (ids and keys left out)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = set(table.primary_key)
    rows = np.arange(data.num_rows)
    if data.num_rows > CORRELATION_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(data.num_rows, CORRELATION_ROWS, replace=False))
    subset = data.take(pa.array(rows)) if len(rows) < data.num_rows else data
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    for column in table.columns:
        if column.name in keys or column.name not in subset.column_names or column.kind.value in ("id", "pii", "text"):
            continue
        col = subset.column(column.name)
        t = col.type
        if column.kind.value == "numerical" and (pa.types.is_integer(t) or pa.types.is_floating(t)):
            if len(numeric) < CORRELATION_COLUMNS:
                numeric[column.name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif column.kind.value in ("categorical", "boolean") and len(categorical) < CORRELATION_COLUMNS:
            codes = col.dictionary_encode().combine_chunks()
            if len(codes.dictionary) <= MAX_CATEGORIES:
                indices = pc.fill_null(codes.indices, -1)
                categorical[column.name] = indices.to_numpy(zero_copy_only=False).astype(np.int64)
    out: dict[str, Any] = {}
    if len(numeric) >= 2:
        out["pearson"] = {"columns": list(numeric), "matrix": _pearson(list(numeric.values()))}
    if len(categorical) >= 2:
        names = list(categorical)
        matrix = [[1.0 if i == j else _cramers_v(categorical[a], categorical[b]) for j, b in enumerate(names)]
                  for i, a in enumerate(names)]
        out["cramers_v"] = {"columns": names, "matrix": matrix}
    return out


def _pearson(columns: list[np.ndarray]) -> list[list[float | None]]:
    """Pairwise-complete Pearson correlations (None where a pair has under 3 rows or no spread)."""
    k = len(columns)
    matrix: list[list[float | None]] = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            both = np.isfinite(columns[i]) & np.isfinite(columns[j])
            x, y = columns[i][both], columns[j][both]
            value = None
            if len(x) >= 3 and x.std() > 0 and y.std() > 0:
                value = _num(np.corrcoef(x, y)[0, 1])
            matrix[i][j] = matrix[j][i] = value
    return matrix


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two code arrays (nulls, coded -1, are left out)."""
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    if len(a) < 3:
        return None
    table = np.zeros((int(a.max()) + 1, int(b.max()) + 1))
    np.add.at(table, (a, b), 1)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    r, c = table.shape
    if r < 2 or c < 2:
        return None
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return _num(math.sqrt(chi2 / (table.sum() * (min(r, c) - 1))))


# -- key structure -----------------------------------------------------------------------------------
def _relationship(database: Database, fk: Any) -> dict[str, Any]:
    """Children per parent (distribution), orphans and childless parents of one foreign key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    child = database[fk.child_table].select(list(fk.child_columns))
    parent = database[fk.parent_table].select(list(fk.parent_columns))
    child_keys = _key_strings(child)
    parent_keys = _key_strings(parent)
    linked = pc.is_in(child_keys, value_set=parent_keys)
    null = pc.is_null(child_keys)
    n_null = int(pc.sum(null.cast(pa.int64())).as_py() or 0)
    n_linked = int(pc.sum(pc.and_kleene(linked, pc.invert(null)).cast(pa.int64())).as_py() or 0)
    counts = pc.value_counts(pc.filter(child_keys, linked))
    per_parent = np.zeros(len(parent_keys), dtype=np.int64)
    if len(counts):
        index = pc.fill_null(pc.index_in(parent_keys, value_set=counts.field("values")), -1)
        index = index.to_numpy(zero_copy_only=False)
        found = index >= 0
        numbers = counts.field("counts").to_numpy()
        per_parent[found] = numbers[index[found].astype(np.int64)]
    out: dict[str, Any] = {
        "child_table": fk.child_table, "child_columns": list(fk.child_columns),
        "parent_table": fk.parent_table, "parent_columns": list(fk.parent_columns),
        "child_rows": child.num_rows, "null_keys": n_null, "orphans": child.num_rows - n_null - n_linked,
        "parents_without_children": int((per_parent == 0).sum()),
    }
    if len(per_parent):
        out["children_per_parent"] = {
            "min": int(per_parent.min()), "mean": _num(per_parent.mean()), "max": int(per_parent.max()),
            "p50": _num(np.quantile(per_parent, 0.5)), "p99": _num(np.quantile(per_parent, 0.99))}
    return out


def _key_strings(keys: pa.Table) -> pa.ChunkedArray:
    """One comparable string per row of a (possibly composite) key; null when any part is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [pc.cast(keys.column(i), pa.string()) for i in range(keys.num_columns)]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "\x1f")
