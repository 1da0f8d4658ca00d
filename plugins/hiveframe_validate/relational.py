"""Relational validator: keys, referential integrity, children per parent, parent-child detection."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe_validate import metrics as M
from hiveframe_validate._base import BaseValidator, band, fmt, nanmax, nanmean, nanmin
from hiveframe_validate._frame import Col, analysed_columns, convert_column, key_strings, match_keys
from hiveframe_validate.fidelity import detection_band


def key_report(table, columns) -> dict[str, Any]:
    """Uniqueness of a (possibly composite) primary key: duplicates and nulls."""
    keys, null = key_strings(table, columns)
    valid = keys[~null]
    unique = len(np.unique(valid.astype(str))) if len(valid) else 0
    return {"rows": int(table.num_rows), "null_keys": int(null.sum()), "duplicate_keys": int(len(valid) - unique),
            "unique_share": float(unique / table.num_rows) if table.num_rows else math.nan}


def children_per_parent(child, parent, fk) -> dict[str, Any]:
    """Index of each child's parent (-1: orphan or null key), and children per parent row."""
    ckeys, cnull = key_strings(child, fk.child_columns)
    pkeys, pnull = key_strings(parent, fk.parent_columns)
    pkeys = np.where(pnull, "\x00null", pkeys)
    idx = np.full(child.num_rows, -1, dtype=np.int64)
    idx[~cnull] = match_keys(ckeys[~cnull], pkeys)
    linked = idx[idx >= 0]
    per_parent = np.bincount(linked, minlength=parent.num_rows)
    with_key = int((~cnull).sum())
    return {"index": idx, "counts": per_parent, "rows_with_key": with_key,
            "orphans": int(with_key - len(linked)),
            "integrity": float(len(linked) / with_key) if with_key else 1.0}


def _aggregate(idx: np.ndarray, n_parents: int, col: Col, side: str, top: int = 3) -> list[tuple[str, np.ndarray]]:
    """Per-parent aggregates of one child column: the mean (numbers) or top-category shares."""
    values = getattr(col, side)
    ok = idx >= 0
    out = []
    if col.is_numeric:
        present = ok & ~np.isnan(values)
        sums = np.bincount(idx[present], weights=values[present], minlength=n_parents)
        n = np.bincount(idx[present], minlength=n_parents)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append((f"mean({col.name})", np.where(n > 0, sums / np.maximum(n, 1), np.nan)))
        return out
    total = np.bincount(idx[ok], minlength=n_parents)
    for code in range(min(top, col.n_real_categories)):
        hit = ok & (values == code)
        share = np.bincount(idx[hit], minlength=n_parents) / np.maximum(total, 1)
        label = (col.categories or [str(code)])[code]
        out.append((f"share({col.name}={label})", np.where(total > 0, share, np.nan)))
    return out


@attrs.define(kw_only=True, eq=False)
class Relational(BaseValidator):
    """Primary-key uniqueness, referential integrity and cardinality per foreign key, and a detection
    test on parent rows enriched with their children (count, child-column means and category shares).
    """

    name: ClassVar[str] = "relational"
    requires: ClassVar[tuple[str, ...]] = ("sklearn",)
    title: ClassVar[str] = "Relational"
    description: ClassVar[str] = (
        "Per foreign key: referential integrity (share of synthetic child rows whose parent exists), "
        "cardinality similarity (1 - KS between the children-per-parent distributions, zeros included) "
        "and parent-child detection (the detection test on parent rows enriched with their child count "
        "and child-column means). Per table: primary-key uniqueness.")

    sample_size: int | None = 5_000
    repeats: int = 2
    max_iter: int = 100
    detect: bool = True
    max_child_columns: int = 12

    def _evaluate(self, real, synthetic, metadata, context):
        names_all = None

        def needed(table):
            keys = list(table.primary_key)
            keys += [c for fk in metadata.parents_of(table.name) for c in fk.child_columns]
            keys += [c for fk in metadata.children_of(table.name) for c in fk.parent_columns]
            return list(dict.fromkeys(keys + [c.name for c in analysed_columns(metadata, table)]))

        real_t, synth_t, names = self._inputs(real, synthetic, metadata, needed)
        names_all = set(names)
        keys: dict[str, Any] = {}
        bands: list[dict[str, Any]] = []
        for name in names:
            table = metadata.table(name)
            if not table.primary_key:
                continue
            rep = {"columns": list(table.primary_key), "real": key_report(real_t[name], table.primary_key),
                   "synthetic": key_report(synth_t[name], table.primary_key)}
            keys[name] = rep
            bands.append(band("key_uniqueness", rep["synthetic"]["unique_share"], good=1.0, poor=0.99, table=name,
                              label=f"primary key {', '.join(table.primary_key)} unique"))
        links: dict[str, Any] = {}
        for j, fk in enumerate(metadata.foreign_keys):
            if fk.child_table not in names_all or fk.parent_table not in names_all:
                continue
            rep = self._link(fk, real_t, synth_t, metadata, j)
            links[fk.name] = rep
            label = f"{fk.child_table}.{','.join(fk.child_columns)} -> {fk.parent_table}"
            bands.append(band("referential_integrity", rep["synthetic"]["integrity"], good=1.0, poor=0.99,
                              table=fk.child_table, label=f"referential integrity {label}"))
            bands.append(band("cardinality_similarity", rep["cardinality_similarity"], good=0.9, poor=0.75,
                              table=fk.child_table, label=f"children per parent {label}"))
            if fk.one_to_one:
                bands.append(band("one_to_one", rep["synthetic"]["parents_with_several"], good=0.0, poor=0.0,
                                  higher_is_better=False, table=fk.child_table,
                                  label=f"1:1 link kept {label} (share of parents with several children)"))
            det = rep.get("detection")
            if det:
                bands += detection_band(det["auc"], det["baseline_auc"], det["auc_std"], fk.parent_table,
                                        f"parent-child detection AUC {label}")
        scores = {
            "referential_integrity": nanmin(r["synthetic"]["integrity"] for r in links.values()),
            "cardinality_similarity": nanmean(r["cardinality_similarity"] for r in links.values()),
            "parent_child_max_auc": nanmax(r["detection"]["auc"] for r in links.values() if r.get("detection")),
            "key_uniqueness": nanmin(r["synthetic"]["unique_share"] for r in keys.values()),
        }
        if not links and not keys:
            summary = "no primary or foreign keys to check"
        else:
            summary = (f"{len(links)} foreign key(s): integrity {fmt(scores['referential_integrity'])}, cardinality "
                       f"similarity {fmt(scores['cardinality_similarity'])}, worst parent-child detection AUC "
                       f"{fmt(scores['parent_child_max_auc'])}; key uniqueness {fmt(scores['key_uniqueness'])}")
        return self._result(scores, bands, {"keys": keys, "links": links}, summary)

    def _link(self, fk, real_t, synth_t, metadata, j: int) -> dict[str, Any]:
        sides = {}
        for side, tabs in (("real", real_t), ("synthetic", synth_t)):
            sides[side] = children_per_parent(tabs[fk.child_table], tabs[fk.parent_table], fk)
        cr = sides["real"]["counts"].astype(np.float64)
        cs = sides["synthetic"]["counts"].astype(np.float64)
        out: dict[str, Any] = {
            "child_table": fk.child_table, "child_columns": list(fk.child_columns),
            "parent_table": fk.parent_table, "parent_columns": list(fk.parent_columns),
            "cardinality_similarity": 1.0 - M.ks_statistic(cr, cs) if len(cr) and len(cs) else math.nan,
            "histogram": M.count_histogram(sides["real"]["counts"], sides["synthetic"]["counts"]),
        }
        for side, s in sides.items():
            c = s["counts"]
            out[side] = {
                "parents": int(len(c)), "children": int(s["rows_with_key"]), "orphans": s["orphans"],
                "integrity": s["integrity"], "mean_children": float(c.mean()) if len(c) else math.nan,
                "max_children": int(c.max()) if len(c) else 0,
                "childless_share": float((c == 0).mean()) if len(c) else math.nan,
                "parents_with_several": float((c > 1).mean()) if len(c) else math.nan,
            }
        if self.detect:
            out["detection"] = self._parent_child_detection(fk, real_t, synth_t, metadata, sides, j)
        return out

    def _parent_child_detection(self, fk, real_t, synth_t, metadata, sides, j: int) -> dict[str, Any] | None:
        from hiveframe_validate.models import detection_with_baseline, feature_matrix

        parent = metadata.table(fk.parent_table)
        child = metadata.table(fk.child_table)
        pcols = {c.name: convert_column(parent.name, c, real_t[parent.name].column(c.name),
                                        synth_t[parent.name].column(c.name))
                 for c in analysed_columns(metadata, parent)}
        ccols = [convert_column(child.name, c, real_t[child.name].column(c.name), synth_t[child.name].column(c.name))
                 for c in analysed_columns(metadata, child)[: self.max_child_columns]]
        mats, names = {}, []
        for side in ("real", "synthetic"):
            x, is_cat = feature_matrix(list(pcols.values()), side)
            n = len(sides[side]["counts"])
            extra = [("children", sides[side]["counts"].astype(np.float64))]
            for col in ccols:
                extra += _aggregate(sides[side]["index"], n, col, side)
            names = list(pcols) + [e[0] for e in extra]
            mats[side] = np.column_stack([x] + [e[1] for e in extra]) if len(x) else np.zeros((n, len(names)))
            mask = np.r_[is_cat, np.zeros(len(extra), dtype=bool)]
        res = detection_with_baseline(mats["real"], mats["synthetic"], mask, max_rows=self.sample_size or 10**9,
                                      repeats=self.repeats, seed=self.seed + 101 * (j + 1), max_iter=self.max_iter)
        res["features"] = names
        return res
