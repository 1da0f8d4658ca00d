"""The privacy unit of a database: a root entity, with a cap on the children each parent contributes.

A *root entity* is a row of a table without parent (self-references aside) together with every row
that hangs below it. Differential privacy protects the addition or removal of one whole entity, so
what one entity may contribute must be bounded: every foreign key has a cap on the children per
parent row (``max_children``: one number for every relationship, or per foreign key), and rows beyond
it are left out of training (chosen at random within their parent, so no position is favoured, by a
secret keyed hash of the parent's key and the child's position among its siblings, so that the choice
for one entity never depends on another entity's rows). Rows whose parent was left out are left out
too (down the chain).

One entity of root ``r`` then owns at most ``m[t][r] = sum over t's foreign keys (child -> p) of
cap * m[p][r]`` rows of table ``t`` (``m[r][r] = 1``): the product of the caps down a chain, summed
over the paths when a table has several parents. ``unit_rows[t]`` is the largest over the roots. A
table reached through several foreign keys (a many-to-many link between two roots, such as users and
products) is thus bounded for an entity of either root: removing a user removes at most ``cap`` of
its links, and so does removing a product. A row whose foreign keys are all null is an entity of its
own (its subtree is bounded by the same caps).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import ForeignKey, Metadata

log = logging.getLogger(__name__)

#: default children per parent row for every relationship (rows beyond it are left out of training)
DEFAULT_MAX_CHILDREN = 10


def check_caps(spec: Any) -> list[str]:
    """Problems with a ``max_children`` setting (an integer >= 1, or a mapping of them)."""
    values = spec.items() if isinstance(spec, dict) else [("max_children", spec)]
    problems = []
    for key, value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            problems.append(f"{key if key == 'max_children' else f'max_children[{key!r}]'} must be an integer "
                            f">= 1 (children kept per parent row), got {value!r}")
    return problems


def cap_for(spec: Any, fk: ForeignKey) -> int:
    """The cap of ``fk``: ``spec`` as a number, or the mapping's entry for the foreign key.

    A mapping is keyed by the foreign key's name, by ``"child_table.column"`` or by the child table;
    ``"*"`` sets the default.
    """
    if not isinstance(spec, dict):
        return int(spec)
    for key in (fk.name, f"{fk.child_table}.{','.join(fk.child_columns)}", fk.child_table, "*"):
        if key in spec:
            return int(spec[key])
    return DEFAULT_MAX_CHILDREN


def _priorities(parent: pa.Table, parent_columns: tuple[str, ...], idx: np.ndarray, rows: np.ndarray,
                salt: bytes) -> np.ndarray:
    """A secret random priority for each of ``rows``, a function of its parent's key and its position
    among that parent's children only: removing another entity changes no one else's choice."""
    import hashlib

    from hiveframe.metadata.relations import key_strings

    keys = key_strings(parent, parent_columns).to_pylist()
    parents = idx[rows]
    order = np.argsort(parents, kind="stable")
    sorted_parents = parents[order]
    position = np.empty(rows.size, dtype=np.int64)
    position[order] = np.arange(rows.size) - np.searchsorted(sorted_parents, sorted_parents, side="left")
    out = np.empty(rows.size, dtype=np.uint64)
    for i, (p, k) in enumerate(zip(parents.tolist(), position.tolist(), strict=True)):
        digest = hashlib.blake2b(f"{keys[p]!r}\x00{k}".encode(), key=salt, digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little")
    return out


@dataclass
class PrivacyUnits:
    """The privacy unit of one database, and the rows a cap left out."""

    roots: list[str]
    #: foreign key index -> its cap
    caps: dict[int, int]
    #: per table and root: rows of the table one entity of the root owns at most
    per_root: dict[str, dict[str, float]]
    #: per table: entity (of its only root) of every kept row, or None when a row may belong to several
    entity: dict[str, np.ndarray | None] = field(default_factory=dict)
    #: per table: rows left out because their parent had more children than the cap (or was left out)
    left_out: dict[str, int] = field(default_factory=dict)

    def unit_rows(self, table: str) -> float:
        return max(self.per_root[table].values(), default=1.0)

    def describe(self) -> str:
        """``"users entity"`` / ``"users or products entity"``: what the epsilon is per."""
        return " or ".join(self.roots) + " entity"


def plan_units(metadata: Metadata, tables: dict[str, pa.Table], spec: Any,
               rng: np.random.Generator) -> tuple[PrivacyUnits, dict[str, pa.Table]]:
    """Cap the children of every parent row, and measure what one root entity owns per table."""
    import pyarrow as pa

    from hiveframe.metadata.relations import resolve

    problems = check_caps(spec)
    if problems:
        raise ConfigError("differential privacy: " + "; ".join(problems),
                          hint="max_children bounds what one person contributes (e.g. 10 sessions per user)")
    order = metadata.topological_order()
    fks = list(enumerate(metadata.foreign_keys))
    salt = rng.bytes(16)  # secret: which children are kept is unpredictable, and never saved
    caps = {j: cap_for(spec, fk) for j, fk in fks if not fk.is_self_reference}
    keep: dict[str, np.ndarray] = {}
    per_root: dict[str, dict[str, float]] = {}
    entity_full: dict[str, np.ndarray | None] = {}
    left_out: dict[str, int] = {}
    for name in order:
        data = tables[name]
        n = data.num_rows
        mask = np.ones(n, dtype=bool)
        parents = [(j, fk) for j, fk in fks if fk.child_table == name and not fk.is_self_reference]
        links = {}
        for j, fk in parents:
            idx, _ = resolve(data, fk.child_columns, tables[fk.parent_table], fk.parent_columns)
            links[j] = idx
            has = idx >= 0
            mask &= ~has | np.where(has, keep[fk.parent_table][np.maximum(idx, 0)], True)
        for j, fk in parents:  # at most `cap` children per parent row, chosen at random
            idx = links[j]
            cand = np.flatnonzero(mask & (idx >= 0))
            if not cand.size:
                continue
            priority = _priorities(tables[fk.parent_table], fk.parent_columns, idx, cand, salt)
            cand = cand[np.lexsort((priority, idx[cand]))]
            groups = idx[cand]
            starts = np.searchsorted(groups, groups, side="left")
            rank = np.arange(cand.size) - starts
            mask[cand[rank >= caps[j]]] = False
        for _j, fk in fks:  # a row whose parent in the same table was left out goes too
            if fk.child_table == name and fk.is_self_reference:
                idx, _ = resolve(data, fk.child_columns, data, fk.parent_columns)
                while True:
                    orphaned = mask & (idx >= 0) & ~mask[np.maximum(idx, 0)]
                    if not orphaned.any():
                        break
                    mask &= ~orphaned
        keep[name] = mask
        left_out[name] = int(n - mask.sum())
        if not parents:
            per_root[name] = {name: 1.0}
            entity_full[name] = np.arange(n, dtype=np.int64)
            continue
        rows: dict[str, float] = {}
        for j, fk in parents:
            for root, m in per_root[fk.parent_table].items():
                rows[root] = rows.get(root, 0.0) + caps[j] * m
        per_root[name] = rows
        if len(parents) == 1 and entity_full[parents[0][1].parent_table] is not None:
            j, fk = parents[0]
            parent_entity = entity_full[fk.parent_table]
            idx = links[j]
            ent = np.where(idx >= 0, parent_entity[np.maximum(idx, 0)], -1)
            alone = np.flatnonzero(ent < 0)  # a row without parent is an entity of its own
            ent[alone] = (int(parent_entity.max()) + 1 if parent_entity.size else 0) + np.arange(alone.size)
            entity_full[name] = ent
        else:
            entity_full[name] = None
    out = {}
    entity: dict[str, np.ndarray | None] = {}
    for name in order:
        mask = keep[name]
        out[name] = tables[name] if mask.all() else tables[name].filter(pa.array(mask))
        ent = entity_full[name]
        entity[name] = None if ent is None else ent[mask]
        if left_out[name]:
            log.warning("table %s: %d row(s) left out of training under differential privacy (children beyond "
                        "the per-parent cap, or below such rows)", name, left_out[name])
    roots = [t for t in order if per_root[t] == {t: 1.0}]
    return PrivacyUnits(roots=roots, caps=caps, per_root=per_root, entity=entity, left_out=left_out), out
