"""The two checks a user runs: of metadata (:func:`validate_metadata`) and of data against it
(:func:`validate_data`).

Both *collect* every problem and raise one error, so a user fixes every table and column in one
pass. The checks themselves live in modules named for what they do: the metadata's consistency
(:mod:`~hiveframe.metadata.consistency`, the builtin plugin's answer to
``hiveframe_validate_metadata``), input coercion (:mod:`~hiveframe.metadata.coercion`), casting
(:mod:`~hiveframe.metadata.casting`) and the key checks (:mod:`~hiveframe.metadata.relations`), which
the engine uses too. Neither function builds a plugin host: the caller passes it
(:func:`hiveframe.validate_metadata` and :func:`hiveframe.validate_data` make a default one).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hiveframe.errors import DataError, MetadataError, Problem
from hiveframe.metadata.casting import check_table
from hiveframe.metadata.coercion import as_arrow_database
from hiveframe.metadata.consistency import closest
from hiveframe.metadata.model import Metadata
from hiveframe.metadata.relations import check_keys

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.plugins import Hooks, PluginHost

log = logging.getLogger(__name__)


def validate_metadata(metadata: Metadata, *, host: PluginHost | Hooks) -> None:
    """Ask every plugin of ``host`` (a PluginHost or its hook relay) for problems with ``metadata``;
    raise one :class:`MetadataError` listing all."""
    hooks = getattr(host, "hooks", host)
    MetadataError.raise_if_any(hooks.validate_metadata(metadata=metadata))


def validate_data(
    metadata: Metadata, database: Database | Mapping[str, Any] | object, *, drop_orphans: bool = False,
    host: PluginHost | None = None,
) -> Database:
    """Check data against ``metadata``; raise one :class:`DataError` listing every problem.

    Returns the data with the metadata's tables and columns (in its order), each column cast to its
    declared dtype. With ``drop_orphans=True``, rows whose foreign key has no parent are dropped
    (repeatedly, since dropping a parent row can orphan its children) instead of reported.
    Tables or columns in the data but not in the metadata are left out, with a warning. A source
    (a folder, a SQLite file) is read by the readers of ``host``.
    """
    from hiveframe.components import Database

    db, problems = as_arrow_database(database, host=host)
    tables: dict[str, pa.Table] = {}
    for name in sorted(set(db.tables) - set(metadata.table_names)):
        log.warning("validate_data: table %r is not in the metadata; leaving it out", name)
    for table in metadata.tables:
        if table.name not in db.tables:
            if not any(p.table == table.name for p in problems):
                problems.append(
                    Problem(
                        "table is in the metadata but not in the data",
                        table=table.name,
                        hint=closest(table.name, db.tables, "tables in the data")
                        + "; or remove it with metadata.without_table(...)",
                    )
                )
            continue
        cast, found = check_table(table, db.tables[table.name])
        problems += found
        tables[table.name] = cast

    tables, found = check_keys(metadata, tables, drop_orphans=drop_orphans)
    problems += found
    DataError.raise_if_any(problems)
    return Database(tables, dict(db.declared_primary_keys), list(db.declared_foreign_keys))
