"""The engine on databases nobody designed: random schemas, fitted and sampled at several scales.

Each schema is a random DAG of 3-6 tables with integer, string, composite or missing primary keys,
one or two parents per table (sometimes the same parent twice), nullable and one-to-one foreign keys,
self-references and link tables whose (parent, parent) pairs are unique. Child counts depend on a
parent attribute, so the linkage models have something to learn. Every output must be referentially
intact, keep its keys unique, keep one-to-one links one-to-one, and keep self-references acyclic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata.relations import resolve
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import cardinality_similarity, children_counts, integrity_problems


@dataclass
class _Spec:
    name: str
    columns: dict[str, pa.Array] = field(default_factory=dict)
    meta: list[Column] = field(default_factory=list)
    pk: tuple[str, ...] = ()


def _string_ids(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(letters, size=8)))
    return sorted(out)


def random_database(seed: int) -> tuple[Database, Metadata]:
    rng = np.random.default_rng(seed)
    specs: list[_Spec] = []
    fks: list[ForeignKey] = []
    for i in range(int(rng.integers(3, 7))):
        spec = _Spec(f"t{i}")
        keyed = [s for s in specs if len(s.pk) == 1]
        parents = [] if i == 0 or not keyed else list(
            rng.choice(len(keyed), size=min(len(keyed), int(rng.integers(1, 3))), replace=True))
        if not parents:  # a root: 30-150 rows
            n = int(rng.integers(30, 150))
            x = rng.normal(size=n)
            drv_idx = None
        else:  # rows follow the first parent: a count per parent that depends on its x
            driver = keyed[parents[0]]
            px = np.asarray(driver.columns["x"].to_numpy(zero_copy_only=False), dtype=float)
            one_to_one = rng.random() < 0.2
            if one_to_one:
                counts = (rng.random(len(px)) < 0.7).astype(np.int64)
            else:
                counts = rng.poisson(np.exp(0.6 * px + 0.3)) * (rng.random(len(px)) > 0.15)
            drv_idx = np.repeat(np.arange(len(px)), counts)
            n = len(drv_idx)
            x = px[drv_idx] + rng.normal(scale=0.5, size=n)
            name = "ref0"
            refs = driver.columns[driver.pk[0]].take(pa.array(drv_idx))
            driver_nulls = len(parents) == 1 and not one_to_one and n > 10 and rng.random() < 0.3
            if driver_nulls:  # rows without a parent as well (a nullable driver key)
                extra = max(1, n // 8)
                refs = pa.concat_arrays([refs, pa.nulls(extra, refs.type)])
                x = np.r_[x, rng.normal(size=extra)]
                n += extra
            spec.columns[name] = refs
            spec.meta.append(Column(name, ColumnKind.ID, str(refs.type), nullable=driver_nulls))
            fks.append(ForeignKey(spec.name, (name,), driver.name, driver.pk, one_to_one=one_to_one))
            for j, p in enumerate(parents[1:], start=1):  # a secondary parent: popular ones stay popular
                other = keyed[p]
                m = len(other.columns[other.pk[0]])
                weights = 1.0 / np.arange(1, m + 1) ** 0.8
                pick = rng.choice(m, size=n, p=weights / weights.sum())
                if other is driver:  # two keys to one table: never the row's own driver parent
                    pick = np.where(pick == drv_idx, (pick + 1) % m, pick)
                values = other.columns[other.pk[0]].take(pa.array(pick))
                nullable = rng.random() < 0.4 and other is not driver
                if nullable:
                    values = pa.array(values.to_pylist(), type=values.type,
                                      mask=rng.random(n) < 0.25)
                name = f"ref{j}"
                spec.columns[name] = values
                spec.meta.append(Column(name, ColumnKind.ID, str(values.type), nullable=nullable))
                fks.append(ForeignKey(spec.name, (name,), other.name, other.pk))
        spec.columns["x"] = pa.array(x)
        spec.meta.append(Column("x", ColumnKind.NUMERICAL, "double", nullable=False))
        cat = np.where(x > 0.5, "high", np.where(x < -0.5, "low", rng.choice(["mid", "other"], size=n)))
        spec.columns["c"] = pa.array(cat.tolist())
        spec.meta.append(Column("c", ColumnKind.CATEGORICAL, "string", nullable=False))
        key_kind = rng.choice(["int", "string", "none"], p=[0.55, 0.35, 0.10]) if n else "int"
        if parents and len(parents) == 2 and parents[0] != parents[1] and rng.random() < 0.4:
            # a link table: (ref0, ref1) unique and the primary key, as in PlaylistTrack
            pairs = np.unique(np.stack([np.asarray(spec.columns["ref0"].cast(pa.string()).to_pylist(), dtype=object),
                                        np.asarray(spec.columns["ref1"].cast(pa.string()).fill_null("").to_pylist(),
                                                   dtype=object)]).astype(str), axis=1, return_index=True)[1]
            keep = np.sort(pairs)
            keep = keep[np.asarray(spec.columns["ref1"].is_valid().to_numpy(zero_copy_only=False))[keep]]
            for k in list(spec.columns):
                spec.columns[k] = spec.columns[k].take(pa.array(keep))
            spec.meta = [Column(c.name, c.kind, c.dtype, nullable=False) if c.name == "ref1" else c
                         for c in spec.meta]
            spec.pk = ("ref0", "ref1")
        elif key_kind == "int":
            spec.columns = {"id": pa.array(np.arange(1, n + 1) * 3 + 100), **spec.columns}
            spec.meta.insert(0, Column("id", ColumnKind.ID, "int64", nullable=False))
            spec.pk = ("id",)
            if rng.random() < 0.3 and n > 5:  # a self-reference: every row's boss is an earlier row
                boss = np.array([-1] + [int(rng.integers(0, k)) if rng.random() < 0.8 else -1
                                        for k in range(1, n)])
                ids = spec.columns["id"].to_numpy()
                spec.columns["boss"] = pa.array(np.where(boss >= 0, ids[np.maximum(boss, 0)], 0), mask=boss < 0)
                spec.meta.append(Column("boss", ColumnKind.ID, "int64"))
                fks.append(ForeignKey(spec.name, ("boss",), spec.name, ("id",)))
        elif key_kind == "string":
            spec.columns = {"code": pa.array(_string_ids(rng, n)), **spec.columns}
            spec.meta.insert(0, Column("code", ColumnKind.ID, "string", nullable=False))
            spec.pk = ("code",)
        specs.append(spec)
    tables = {s.name: pa.table(s.columns) for s in specs}
    md = Metadata(tables=tuple(Table(s.name, tuple(s.meta), s.pk) for s in specs), foreign_keys=tuple(fks))
    return Database(tables), md


def _acyclic(parent_of: np.ndarray) -> bool:
    """Whether following parent_of (-1: none) from every row ends at a root."""
    state = np.zeros(len(parent_of), dtype=np.int8)  # 0 new, 1 on the path, 2 done
    for start in range(len(parent_of)):
        path, node = [], start
        while node >= 0 and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = int(parent_of[node])
        if node >= 0 and state[node] == 1:
            return False
        state[path] = 2
    return True


def check(md: Metadata, real: Database, synthetic: Database) -> None:
    assert integrity_problems(md, synthetic) == []
    for fk in md.foreign_keys:
        child = synthetic[fk.child_table]
        idx, _ = resolve(child, fk.child_columns, synthetic[fk.parent_table], fk.parent_columns)
        if fk.one_to_one:
            linked = idx[idx >= 0]
            assert len(linked) == len(np.unique(linked)), fk.name
        if fk.is_self_reference:
            assert _acyclic(idx), fk.name
        real_null = real[fk.child_table].column(fk.child_columns[0]).null_count
        if real_null == 0 and child.num_rows:
            assert child.column(fk.child_columns[0]).null_count == 0, f"{fk.name}: nulls where none were"


@pytest.mark.parametrize("seed", range(12))
def test_random_schema_stays_intact_at_every_scale(seed: int) -> None:
    real, md = random_database(seed)
    synth = Synthesizer(md, seed=seed).fit(real)
    for scale in (0.5, 1.0, 3.0):
        synthetic = synth.sample(scale=scale, seed=seed + 1)
        check(md, real, synthetic)
    # at scale 1 the children-per-parent distributions follow the real ones
    synthetic = synth.sample(scale=1.0, seed=seed + 2)
    for fk in md.foreign_keys:
        if fk.is_self_reference or len(children_counts(real, fk)) < 20:
            continue
        assert cardinality_similarity(md, real, synthetic)[fk.name] >= 0.8, fk.name
