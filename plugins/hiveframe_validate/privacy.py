"""Privacy: exact copies of training rows, distance to closest record, membership inference.

The reference is the set of training rows R. With a ``holdout`` (real rows the generator never
saw) H, a fresh synthetic row should sit as close to R as a holdout row does; without one, the real
table is cut in two halves R and H, which still gives the distance a fresh sample from the same
population has (the generator saw H too, so the membership attack needs a true holdout).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe_validate._base import BaseValidator, band, fmt, nanmax
from hiveframe_validate._frame import (
    Col,
    analysed_columns,
    as_tables,
    check_inputs,
    convert_column,
    sample_rows,
)


class Gower:
    """Gower distance between rows: the mean over columns of a per-column distance in [0, 1].

    Numbers: absolute difference over the training range (clipped at 1); categories: 0 if equal, else
    1; a null against a value is 1, two nulls are 0. Computed column by column on blocks of query
    rows, so wide one-hot matrices are never built.
    """

    def __init__(self, columns: list[Col]) -> None:
        self.specs = []
        for c in columns:
            if c.is_numeric:
                r = c.real[~np.isnan(c.real)]
                lo, hi = (float(r.min()), float(r.max())) if len(r) else (0.0, 1.0)
                self.specs.append((True, lo, (hi - lo) or 1.0))
            else:
                self.specs.append((False, 0.0, 1.0))

    def encode(self, values: list[np.ndarray]) -> np.ndarray:
        """Rows as a float matrix: scaled numbers (NaN for nulls) and category codes (-1 for nulls)."""
        cols = [(v - lo) / span if numeric else v.astype(np.float64)
                for (numeric, lo, span), v in zip(self.specs, values, strict=True)]
        return np.column_stack(cols) if cols else np.zeros((len(values[0]) if values else 0, 0))

    def nearest(self, queries: np.ndarray, reference: np.ndarray, block: int = 512) -> np.ndarray:
        """Distance from each query row to its nearest reference row."""
        out = np.empty(len(queries))
        k = max(len(self.specs), 1)
        ref = reference.astype(np.float32)
        ref_null = np.isnan(ref)
        qs = queries.astype(np.float32)
        for start in range(0, len(qs), block):
            q = qs[start:start + block]
            total = np.zeros((len(q), len(ref)), dtype=np.float32)
            tmp = np.empty_like(total)
            for j, (numeric, _, _) in enumerate(self.specs):
                a, b = q[:, j][:, None], ref[:, j][None, :]
                if not numeric:
                    total += np.not_equal(a, b)
                    continue
                np.subtract(a, b, out=tmp)
                np.abs(tmp, out=tmp)
                np.minimum(tmp, 1.0, out=tmp)
                qn, rn = np.isnan(q[:, j]), ref_null[:, j]
                if qn.any() or rn.any():  # null vs value: 1, null vs null: 0
                    either = qn[:, None] | rn[None, :]
                    both = qn[:, None] & rn[None, :]
                    tmp[either] = 1.0
                    tmp[both] = 0.0
                total += tmp
            out[start:start + block] = total.min(axis=1) / k
        return out


def row_keys(cols: list[Col], side: str, rows: slice | np.ndarray | None = None) -> list[bytes]:
    """Each row as bytes, for exact-match lookups (NaN equals NaN)."""
    arrays = [getattr(c, side).astype(np.float64) for c in cols]
    m = np.column_stack(arrays) if arrays else np.zeros((0, 0))
    if rows is not None:
        m = m[rows]
    m = np.ascontiguousarray(np.where(np.isnan(m), -1.2345e300, m))
    return [r.tobytes() for r in m]


@attrs.define(kw_only=True, eq=False)
class Privacy(BaseValidator):
    """Exact-match rate, distance to closest record (DCR) against a real baseline, and a
    nearest-neighbour membership-inference attack (needs ``holdout``: real rows not used in training).
    """

    name: ClassVar[str] = "privacy"
    requires: ClassVar[tuple[str, ...]] = ("sklearn",)
    title: ClassVar[str] = "Privacy"
    description: ClassVar[str] = (
        "Exact matches: share of synthetic rows equal to a training row, against the same share for "
        "unseen real rows. DCR: Gower distance from each synthetic row to its closest training row; "
        "'too close' counts synthetic rows nearer than 95% of unseen real rows are (about 5% expected). "
        "Membership inference: an attacker calls a real row a training member when a synthetic row lies "
        "close to it; AUC 0.5 means no leak. Without a holdout the real table is split in halves and "
        "the attack is skipped.")

    sample_size: int | None = 2_000
    reference_size: int | None = 20_000

    def _evaluate(self, real, synthetic, metadata, context):
        real_t, synth_t, names = self._inputs(real, synthetic, metadata)
        hold_t = None
        if context.holdout is not None:
            hold_t = as_tables(context.holdout, "holdout")
            # tables without held-out rows (lookup tables of a holdout kept at fit) use split halves
            check_inputs(self.name, real_t, hold_t, metadata, [n for n in names if n in hold_t],
                         lambda t: [c.name for c in analysed_columns(metadata, t)])
        tables: dict[str, Any] = {}
        bands: list[dict[str, Any]] = []
        for i, name in enumerate(names):
            cols_meta = analysed_columns(metadata, metadata.table(name))
            if not cols_meta:
                continue
            rep = self._table(name, real_t[name], synth_t[name], hold_t.get(name) if hold_t else None, cols_meta, i)
            tables[name] = rep
            # a one-column table's rows are its values: a match there is a reused category, not a copied row
            wide = len(cols_meta) >= 2
            match = band("exact_match_excess", rep["exact_match_rate"] - rep["baseline_exact_match_rate"],
                         good=0.01, poor=0.05, higher_is_better=False, table=name,
                         label=f"exact matches with training rows ({fmt(rep['exact_match_rate'])}) above "
                               f"the unseen-row rate ({fmt(rep['baseline_exact_match_rate'])})")
            noise = 2.0 * _excess_standard_error(rep)
            if match["status"] == "fail" and match["value"] <= noise:
                # a few dozen rows per side: an excess within sampling noise is to check, not a finding
                match["status"] = "warn"
            match["rule"] += f", and poor only beyond two standard errors ({noise:.3f})"
            bands.append(dict(match, must_hold=wide))
            bands.append(band("dcr_too_close", rep["dcr"]["too_close_share"], good=0.1, poor=0.2,
                              higher_is_better=False, table=name,
                              label="synthetic rows closer than the unseen-row 5th percentile (5% expected)"))
            if rep.get("membership_inference"):
                bands.append(dict(band("mia_auc", rep["membership_inference"]["auc"], good=0.55, poor=0.6,
                                       higher_is_better=False, table=name, label="membership inference AUC"),
                                  must_hold=wide))
        scores = {
            "max_exact_match_rate": nanmax(t["exact_match_rate"] for t in tables.values()),
            "max_dcr_too_close_share": nanmax(t["dcr"]["too_close_share"] for t in tables.values()),
            "min_dcr_ratio": min((t["dcr"]["median_ratio"] for t in tables.values()), default=math.nan),
            "max_mia_auc": nanmax(t["membership_inference"]["auc"] for t in tables.values()
                                  if t.get("membership_inference")),
        }
        excess = {n: t["exact_match_rate"] - t["baseline_exact_match_rate"] for n, t in tables.items()}
        scores["max_exact_match_excess"] = nanmax(excess.values())
        worst_match = max(excess, key=lambda n: -math.inf if math.isnan(excess[n]) else excess[n], default=None)
        worst_close = max(tables, key=lambda n: tables[n]["dcr"]["too_close_share"], default=None)
        if worst_match is None or worst_close is None:
            summary = "no table with value columns to compare"
        else:
            m, c = tables[worst_match], tables[worst_close]
            summary = (f"each table against its own unseen real rows: exact matches at most "
                       f"{fmt(excess[worst_match])} above the unseen rate ({worst_match}: "
                       f"{fmt(m['exact_match_rate'])} vs {fmt(m['baseline_exact_match_rate'])}); too close at most "
                       f"{fmt(c['dcr']['too_close_share'])} ({worst_close}; 0.05 expected); membership inference AUC "
                       f"{fmt(scores['max_mia_auc'])}" + ("" if hold_t else " (no holdout: attack skipped)"))
        return self._result(scores, bands, {"tables": tables, "holdout": hold_t is not None}, summary)

    def _table(self, name, real, synth, hold, cols_meta, i) -> dict[str, Any]:
        import pyarrow as pa

        rng = self._rng(i)
        names = [c.name for c in cols_meta]
        q_cap = self.sample_size or 10**12
        r_cap = max(self.reference_size or 10**12, q_cap)
        if hold is not None:
            train = real  # every row the generator was trained on
            unseen = sample_rows(hold, q_cap, rng)
            protocol = "holdout"
        else:
            perm = rng.permutation(real.num_rows)
            half = real.num_rows // 2
            train = real.take(np.sort(perm[:half]))
            unseen = sample_rows(real.take(np.sort(perm[half:2 * half])), q_cap, rng)
            protocol = "split real halves"
        m = min(unseen.num_rows, synth.num_rows)
        unseen = sample_rows(unseen, m, rng)
        synth_q = sample_rows(synth, m, rng)
        synth_ref = sample_rows(synth, r_cap, rng)
        train_ref = sample_rows(train, r_cap, rng)
        members = sample_rows(train, m, rng)
        # one conversion so every set shares category codes: all training rows are the "real" side
        sets = {"synthetic": synth_q, "unseen": unseen, "synthetic_ref": synth_ref, "train_ref": train_ref,
                "members": members, "real": real}
        stacked = pa.concat_tables([t.select(names) for t in sets.values()], promote_options="permissive")
        bounds, at = {}, 0
        for key, t in sets.items():
            bounds[key] = slice(at, at + t.num_rows)
            at += t.num_rows
        meta_cols = {c.name: c for c in cols_meta}
        cols = [convert_column(name, meta_cols[c], train.column(c), stacked.column(c)) for c in names]
        # exact matches against every training row
        train_keys = set(row_keys(cols, "real"))
        syn_keys = row_keys(cols, "synthetic", bounds["synthetic"])
        unseen_keys = row_keys(cols, "synthetic", bounds["unseen"])
        all_real_keys = set(row_keys(cols, "synthetic", bounds["real"]))
        exact = float(np.mean([k in train_keys for k in syn_keys])) if syn_keys else math.nan
        exact_base = float(np.mean([k in train_keys for k in unseen_keys])) if unseen_keys else math.nan
        exact_any = float(np.mean([k in all_real_keys for k in syn_keys])) if syn_keys else math.nan
        # distance to closest record, against (a sample of) the training rows
        gower = Gower(cols)
        enc = gower.encode([c.synthetic for c in cols])
        part = {key: enc[sl] for key, sl in bounds.items()}
        d_s = gower.nearest(part["synthetic"], part["train_ref"])
        d_u = gower.nearest(part["unseen"], part["train_ref"])
        p5 = float(np.quantile(d_u, 0.05))
        med_s, med_u = float(np.median(d_s)), float(np.median(d_u))
        too_close = float((d_s < p5).mean()) if p5 > 0 else max(0.0, float((d_s <= 0).mean() - (d_u <= 0).mean()))
        dcr = {
            "synthetic_median": med_s, "baseline_median": med_u,
            "synthetic_p5": float(np.quantile(d_s, 0.05)), "baseline_p5": p5,
            "median_ratio": med_s / med_u if med_u > 0 else (1.0 if med_s == 0 else math.inf),
            "too_close_share": too_close, "zero_distance_share": float((d_s <= 0).mean()),
            "histogram": _dcr_histogram(d_s, d_u),
        }
        out: dict[str, Any] = {
            "protocol": protocol, "columns": names,
            "sample": {"rows_real": real.num_rows, "rows_synthetic": synth.num_rows,
                       "used_training": train_ref.num_rows, "used_unseen": unseen.num_rows,
                       "used_synthetic": synth_q.num_rows, "used_synthetic_reference": synth_ref.num_rows,
                       "sampled": train_ref.num_rows < train.num_rows or synth_ref.num_rows < synth.num_rows},
            "exact_match_rate": exact, "baseline_exact_match_rate": exact_base, "exact_match_rate_any_real": exact_any,
            "dcr": dcr,
        }
        if hold is not None:
            out["membership_inference"] = _membership_attack(gower, part["members"], part["unseen"],
                                                             part["synthetic_ref"])
        return out


def _excess_standard_error(rep: dict[str, Any]) -> float:
    """Standard error of (synthetic match rate - unseen match rate), two independent proportions."""
    p1, p0 = rep["exact_match_rate"], rep["baseline_exact_match_rate"]
    n1, n0 = rep["sample"]["used_synthetic"], rep["sample"]["used_unseen"]
    if not (n1 and n0) or math.isnan(p1) or math.isnan(p0):
        return math.nan
    return math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


def _dcr_histogram(d_s: np.ndarray, d_u: np.ndarray, bins: int = 30) -> dict[str, Any]:
    hi = float(np.quantile(np.r_[d_s, d_u], 0.99)) or 1e-9
    edges = np.linspace(0.0, hi, bins + 1)
    return {"edges": edges.tolist(),
            "synthetic": (np.histogram(np.clip(d_s, 0, hi), edges)[0] / max(len(d_s), 1)).tolist(),
            "baseline": (np.histogram(np.clip(d_u, 0, hi), edges)[0] / max(len(d_u), 1)).tolist()}


def _membership_attack(gower: Gower, members: np.ndarray, non_members: np.ndarray,
                       synthetic: np.ndarray) -> dict[str, Any]:
    """Score each real row by closeness to the synthetic rows; members should not score higher."""
    from sklearn.metrics import roc_auc_score, roc_curve

    n = min(len(members), len(non_members))
    mem, non = members[:n], non_members[:n]
    score = -gower.nearest(np.vstack([mem, non]), synthetic)
    y = np.r_[np.ones(n), np.zeros(n)]
    auc = float(roc_auc_score(y, score))
    # accuracy at the attacker's best threshold (balanced classes): optimistic for the attacker
    fpr, tpr, _ = roc_curve(y, score)
    accuracy = float(np.max((tpr + 1.0 - fpr) / 2.0))
    return {"auc": auc, "accuracy": accuracy, "rows_per_class": int(n)}
