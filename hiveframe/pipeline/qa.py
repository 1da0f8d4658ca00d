"""QA filters on a synthetic database: each filter removes the rows it fails, then their children go too.

Filters are :class:`~hiveframe.components.QAFilter` validators registered by plugins (the ``validate``
plugin registers ``qa_schema``, ``qa_range``, ``qa_constraint``, ``qa_diversity`` and
``qa_memorization``). They run in the order given, each on what the previous ones kept.

Referential integrity: removing a row removes every row that references it (children through any
foreign key, and rows of the same table through a self-reference), recursively. Children are not
re-assigned to another parent: a child was generated for its parent (from the parent's context), so
moving it would break the dependence the model learnt; the report counts these cascaded removals
apart from the filter's own. Filtering removes rows and never adds any: the output is smaller than
asked by what the report says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database, QAFilter
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

#: the filters of the ``validate`` plugin, in the order ``--qa`` runs them
DEFAULT_FILTERS = ("schema", "range", "constraint", "diversity", "memorization")


def make_filters(host: PluginHost, names: Sequence[str] | None, *, have_real: bool) -> list[QAFilter]:
    """Filter instances by short name (``range``) or registered name (``qa_range``).

    ``None``: every default filter, memorization only when real rows are given (it needs them).
    """
    from hiveframe.components import QAFilter

    if names is None:
        names = [n for n in DEFAULT_FILTERS if have_real or n != "memorization"]
    out = []
    for name in names:
        registered = name if name.startswith("qa_") else f"qa_{name}"
        try:
            cls = host.component_class("validator", registered)
        except ConfigError:
            known = sorted(n.removeprefix("qa_") for n in host.names("validator") if n.startswith("qa_"))
            raise ConfigError(f"unknown QA filter {name!r}",
                              hint=f"filters: {', '.join(known)}" if known else
                              "QA filters come from the validate plugin: pip install 'hiveframe[validate]'") from None
        if not (isinstance(cls, type) and issubclass(cls, QAFilter)):
            raise ConfigError(f"validator {registered!r} is not a QA filter (it cannot remove rows)")
        if cls.needs_real and not have_real:
            raise ConfigError(f"QA filter {name!r} compares synthetic rows with the real ones, which the model "
                              "does not hold", hint="give the real data: --real SOURCE (Python: real=...)")
        out.append(host.create("validator", cls, {}))
    return out


def apply_filters(database: Database, metadata: Metadata, filters: Sequence[QAFilter], *,
                  real: Database | Mapping[str, pa.Table] | None = None, domains: Mapping[str, Any] | None = None,
                  holdout: Mapping[str, pa.Table] | None = None) -> tuple[Database, dict[str, Any]]:
    """The database without the rows the filters fail (and their descendants), and what was removed.

    The report: ``{"filters": [{"filter", "status", "summary", "scores", "removed": {table: n},
    "cascaded": {table: n}}], "rows_before": {...}, "rows_after": {...}}``.
    """
    from hiveframe.components import Database

    tables = dict(database.tables)
    before = {name: t.num_rows for name, t in tables.items()}
    entries = []
    for qa in filters:
        outcome = qa.filter(tables, metadata, real=real, domains=domains, holdout=holdout)
        remove = {name: np.asarray(mask, dtype=bool) for name, mask in outcome.remove.items() if name in tables}
        for name, mask in remove.items():
            if len(mask) != tables[name].num_rows:
                raise ConfigError(f"QA filter {qa.name!r} returned {len(mask)} flags for table {name!r} of "
                                  f"{tables[name].num_rows} rows")
        own = {name: int(mask.sum()) for name, mask in remove.items() if mask.any()}
        total = cascade(metadata, tables, remove)
        cascaded = {name: int(mask.sum()) - own.get(name, 0) for name, mask in total.items()
                    if int(mask.sum()) > own.get(name, 0)}
        for name, mask in total.items():
            if mask.any():
                tables[name] = tables[name].filter(_arrow_mask(~mask))
        result = outcome.result
        entries.append({"filter": qa.name, "status": result.status, "summary": result.summary,
                        "scores": dict(result.scores), "removed": own, "cascaded": cascaded,
                        "details": result.details})
        log.info("QA %s: removed %s, cascaded %s", qa.name, own or "nothing", cascaded or "nothing")
    report = {"filters": entries, "rows_before": before, "rows_after": {n: t.num_rows for n, t in tables.items()}}
    return Database(tables, dict(database.declared_primary_keys), list(database.declared_foreign_keys)), report


def cascade(metadata: Metadata, tables: Mapping[str, pa.Table], remove: Mapping[str, np.ndarray]
            ) -> dict[str, np.ndarray]:
    """``remove`` grown by every row that references a removed row, until nothing changes."""
    import pyarrow.compute as pc

    from hiveframe.metadata.relations import key_strings

    out = {name: np.zeros(t.num_rows, dtype=bool) for name, t in tables.items()}
    for name, mask in remove.items():
        out[name] |= mask
    changed = True
    while changed:
        changed = False
        for fk in metadata.foreign_keys:
            parent, child = fk.parent_table, fk.child_table
            if parent not in tables or child not in tables or not out[parent].any():
                continue
            parent_t, child_t = tables[parent], tables[child]
            refs = _flat(key_strings(child_t, fk.child_columns))
            removed_keys = _flat(key_strings(parent_t.filter(_arrow_mask(out[parent])), fk.parent_columns), refs.type)
            kept_keys = _flat(key_strings(parent_t.filter(_arrow_mask(~out[parent])), fk.parent_columns), refs.type)
            hits = pc.is_in(refs, value_set=removed_keys)
            still = pc.is_in(refs, value_set=kept_keys)
            orphaned = (np.asarray(pc.fill_null(hits, False).to_numpy(zero_copy_only=False), dtype=bool)
                        & ~np.asarray(pc.fill_null(still, False).to_numpy(zero_copy_only=False), dtype=bool))
            new = orphaned & ~out[child]
            if new.any():
                out[child] |= new
                changed = True
    return out


def _flat(keys: Any, typ: Any = None) -> pa.Array:
    """One Arrow array (of ``typ`` when given), so keys of a child and of its parent compare."""
    import pyarrow as pa

    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if typ is not None and keys.type != typ:
        keys = keys.cast(typ)
    return keys


def _arrow_mask(mask: np.ndarray) -> pa.Array:
    import pyarrow as pa

    return pa.array(np.asarray(mask, dtype=bool))
