"""Missingness: where the nulls are, column by column and jointly, and what they depend on (MCAR / MAR).

For each table, on the analysed columns:

* **per column**: the null rate, real and synthetic;
* **jointly**: the distribution of null *patterns* (which columns are null together in a row) compared by
  total variation distance, and the phi correlation between null indicators of column pairs;
* **mechanism**: for every column with nulls, the association (Cramér's V) between its null indicator and
  each other column (numbers cut in 10 equal-width bins, a null as its own bin). The strongest is its
  *driver*: the nulls are called **MAR** (missing at random given that column) when V reaches 0.1 and
  **MCAR** (completely at random) otherwise, on each side. Nulls that depend on the missing value itself
  (MNAR) cannot be told apart from observed data and are not claimed.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe_validate import metrics as M
from hiveframe_validate._base import BaseValidator, band, fmt, nanmax, nanmean
from hiveframe_validate._frame import Col, analysed_columns, prepare

#: Cramér's V from which a column's nulls are said to depend on another column
MAR_THRESHOLD = 0.1


def _null(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) if values.dtype.kind == "f" else values < 0


def _codes(col: Col, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Codes on both sides, a null as its own (non-negative) code."""
    if col.is_numeric:
        r, s, _ = M.equal_width_codes(col.real, col.synthetic, bins)
        return r, s
    top = max(int(col.real.max(initial=-1)), int(col.synthetic.max(initial=-1))) + 1
    return np.where(col.real < 0, top, np.minimum(col.real, 50)), np.where(col.synthetic < 0, top,
                                                                           np.minimum(col.synthetic, 50))


def _v(indicator: np.ndarray, codes: np.ndarray) -> float:
    if indicator.all() or not indicator.any():
        return math.nan
    return M.cramers_v(indicator.astype(np.int64), codes)


def pattern_tvd(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Total variation distance between the distributions of null patterns (rows x columns booleans)."""
    if real.shape[1] == 0 or not len(real) or not len(synthetic):
        return math.nan

    def dist(m: np.ndarray) -> Counter[bytes]:
        keys = np.packbits(m, axis=1)
        return Counter(bytes(row) for row in keys)
    p, q = dist(real), dist(synthetic)
    n, m = len(real), len(synthetic)
    return 0.5 * sum(abs(p.get(k, 0) / n - q.get(k, 0) / m) for k in set(p) | set(q))


def phi_matrix(nulls: np.ndarray) -> np.ndarray:
    """Correlation between null indicators (NaN for a column always or never null)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(nulls.T.astype(np.float64)) if nulls.shape[1] > 1 else np.full((1, 1), np.nan)


def mechanism(name: str, cols: dict[str, Col], codes: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The null mechanism of one column on each side: its driver and Cramér's V."""
    col = cols[name]
    ind_r, ind_s = _null(col.real), _null(col.synthetic)
    v_real = {o: _v(ind_r, codes[o][0]) for o in cols if o != name}
    v_synth = {o: _v(ind_s, codes[o][1]) for o in cols if o != name}

    def strongest(v: dict[str, float]) -> tuple[str | None, float]:
        ok = {k: x for k, x in v.items() if not math.isnan(x)}
        if not ok:
            return None, math.nan
        k = max(ok, key=lambda key: ok[key])
        return k, ok[k]
    driver_r, vr = strongest(v_real)
    driver_s, vs = strongest(v_synth)
    label = lambda d, v: ("MAR" if v >= MAR_THRESHOLD else "MCAR") if not math.isnan(v) else "-"  # noqa: E731
    same_driver_v = v_synth.get(driver_r, math.nan) if driver_r else math.nan
    return {
        "null_rate_real": float(ind_r.mean()) if len(ind_r) else math.nan,
        "null_rate_synthetic": float(ind_s.mean()) if len(ind_s) else math.nan,
        "pattern_real": label(driver_r, vr), "driver_real": driver_r if vr >= MAR_THRESHOLD else None,
        "v_real": vr,
        "pattern_synthetic": label(driver_s, vs), "driver_synthetic": driver_s if vs >= MAR_THRESHOLD else None,
        "v_synthetic": vs,
        "v_synthetic_on_real_driver": same_driver_v,
        "v_diff": abs(vr - same_driver_v) if not (math.isnan(vr) or math.isnan(same_driver_v)) else math.nan,
    }


@attrs.define(kw_only=True, eq=False)
class Missingness(BaseValidator):
    """Nulls per column and jointly, and their mechanism (MCAR / MAR with its driver), real against synthetic."""

    name: ClassVar[str] = "missingness"
    title: ClassVar[str] = "Missingness"
    description: ClassVar[str] = (
        "Where the nulls are: per column, jointly (the distribution of null patterns, compared by total "
        "variation distance, and the correlation of null indicators), and what they depend on: a column's "
        "nulls are MAR when their indicator is associated with another column (Cramér's V >= 0.1, the "
        "strongest is the driver) and MCAR otherwise. MNAR cannot be seen in observed data.")

    def _evaluate(self, real, synthetic, metadata, context):
        real_t, synth_t, names = self._inputs(real, synthetic, metadata)
        tables: dict[str, Any] = {}
        bands = []
        tvds, agreements, v_diffs = [], [], []
        for i, name in enumerate(names):
            prep = prepare(name, real_t[name], synth_t[name], analysed_columns(metadata, metadata.table(name)),
                           sample_size=self.sample_size, rng=self._rng(i))
            cols = prep.columns
            with_nulls = [c for c, col in cols.items() if 0 < _null(col.real).mean() < 1
                          or 0 < _null(col.synthetic).mean() < 1]
            if not with_nulls:
                tables[name] = {"columns": {}, "pattern_tvd": 0.0, "note": "no nulls on either side"}
                continue
            nr = np.column_stack([_null(cols[c].real) for c in with_nulls])
            ns = np.column_stack([_null(cols[c].synthetic) for c in with_nulls])
            codes = {c: _codes(col) for c, col in cols.items()}
            columns = {c: mechanism(c, cols, codes) for c in with_nulls}
            tvd = pattern_tvd(nr, ns)
            phi_r, phi_s = phi_matrix(nr), phi_matrix(ns)
            upper = np.triu_indices(len(with_nulls), k=1)
            diffs = np.abs(phi_r[upper] - phi_s[upper])
            phi_diff = float(np.nanmean(diffs)) if len(diffs) and not np.all(np.isnan(diffs)) else math.nan
            agree = nanmean(float(v["pattern_real"] == v["pattern_synthetic"]) for v in columns.values()
                            if v["pattern_real"] != "-")
            v_diff = nanmax(v["v_diff"] for v in columns.values())
            tables[name] = {"sample": prep.sample_info(), "columns": columns, "pattern_tvd": tvd,
                            "patterns_real": int(len({bytes(r) for r in np.packbits(nr, axis=1)})),
                            "mean_null_correlation_diff": phi_diff, "mechanism_agreement": agree,
                            "max_driver_v_diff": v_diff}
            tvds.append(tvd)
            agreements.append(agree)
            v_diffs.append(v_diff)
            bands.append(band("pattern_tvd", tvd, good=0.05, poor=0.2, higher_is_better=False, table=name,
                              label="null patterns (total variation distance)"))
            bands.append(band("mechanism_agreement", agree, good=0.9, poor=0.6, table=name,
                              label="columns whose nulls keep their mechanism (MCAR/MAR)"))
            bands.append(band("driver_v_diff", v_diff, good=0.1, poor=0.3, higher_is_better=False, table=name,
                              label="largest change in how nulls depend on their driver (Cramér's V)"))
        scores = {"pattern_similarity": 1.0 - nanmax(tvds) if tvds else 1.0,
                  "mechanism_agreement": nanmean(agreements) if agreements else 1.0,
                  "max_driver_v_diff": nanmax(v_diffs) if v_diffs else 0.0}
        summary = (f"null patterns similarity {fmt(scores['pattern_similarity'])} (1 - TVD, worst table); "
                   f"{fmt(scores['mechanism_agreement'])} of the columns keep their MCAR/MAR mechanism")
        return self._result(scores, bands, {"tables": tables}, summary)
