"""A holdout kept at fit time: real entities the generator never sees, for an unbiased quality report.

Why entities and not rows: in a database a row's children carry its information, so a held-out
customer takes its invoices and their lines with it. The rows held out are the rows of every root
table (no parent table) that is larger than a lookup table, chosen by a hash of the row's primary key
and the model's seed, plus every row below them. Lookup tables (``SMALL_TABLE_ROWS`` rows or fewer)
are reference data and stay whole.

The model records only the rule (fraction, seed, tables), never a key or a row: the same split is
recomputed from the same real data (``Synthesizer.split_holdout``), in any row order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.metadata import Metadata

#: tables of at most this many rows count as lookup tables (see docs/api.md, "Small tables").
SMALL_TABLE_ROWS = 100


def holdout_roots(metadata: Metadata, rows: Mapping[str, int]) -> list[str]:
    """Root tables whose rows are entities to hold out (parentless, more than SMALL_TABLE_ROWS rows)."""
    parents = {fk.child_table for fk in metadata.foreign_keys if not fk.is_self_reference}
    return [t.name for t in metadata.tables if t.name not in parents and rows.get(t.name, 0) > SMALL_TABLE_ROWS]


def _held(table: Any, columns: tuple[str, ...], fraction: float, seed: int) -> np.ndarray:
    """Rows whose key hashes (with the seed) below ``fraction``; rows without a key by position."""
    from hiveframe.metadata.relations import key_strings
    from hiveframe.pipeline.features import string_values

    if columns:
        keys = string_values(key_strings(table, columns)).to_pylist()
    else:
        keys = [str(i) for i in range(table.num_rows)]
    limit = int(fraction * 2**64)
    out = np.zeros(table.num_rows, dtype=bool)
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") < limit
    return out


def split_holdout(metadata: Metadata, database: Database, fraction: float, seed: int,
                  roots: list[str] | None = None) -> tuple[Database, dict[str, Any]]:
    """``(training database, holdout tables)``: the held-out entities and every row below them.

    The holdout maps only tables that lost rows; a child row goes with any held-out parent, so the
    training part stays referentially intact.
    """
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata.relations import resolve

    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"holdout must be a fraction between 0 and 1, got {fraction}",
                          hint="e.g. holdout=0.2 keeps a fifth of the entities out of training")
    if roots is None:
        roots = holdout_roots(metadata, {t: database[t].num_rows for t in metadata.table_names})
    if not roots:
        raise ConfigError("holdout needs a root table of more than "
                          f"{SMALL_TABLE_ROWS} rows to hold entities out of", hint="fit without holdout")
    held: dict[str, np.ndarray] = {}
    for name in metadata.topological_order():
        table = database[name]
        mask = (_held(table, tuple(metadata.table(name).primary_key), fraction, seed) if name in roots
                else np.zeros(table.num_rows, dtype=bool))
        for fk in metadata.foreign_keys:
            if fk.child_table != name or fk.is_self_reference or fk.parent_table not in held:
                continue
            idx, _ = resolve(table, fk.child_columns, database[fk.parent_table], fk.parent_columns)
            parent_held = held[fk.parent_table]
            mask |= (idx >= 0) & parent_held[np.maximum(idx, 0)]
        held[name] = mask
    train = {}
    holdout = {}
    for name in metadata.table_names:
        mask = held[name]
        if mask.any():
            train[name] = database[name].filter(pa.array(~mask))
            holdout[name] = database[name].filter(pa.array(mask))
        else:
            train[name] = database[name]
    return Database(train, {t.name: tuple(t.primary_key) for t in metadata.tables if t.primary_key},
                    list(metadata.foreign_keys)), holdout
