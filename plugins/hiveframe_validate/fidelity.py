"""Fidelity validators: single columns, column pairs, and whole rows (classifier detection)."""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe_validate import metrics as M
from hiveframe_validate._base import BaseValidator, band, fmt, nanmax, nanmean, nanmin
from hiveframe_validate._frame import Col, analysed_columns, prepare


def column_report(col: Col, bins: int = 20) -> dict[str, Any]:
    """Every single-column figure for one column; ``score`` is 1-KS (numbers, dates) or 1-TVD."""
    out: dict[str, Any] = {"kind": col.kind}
    out["null_rate_real"] = M.null_rate(col.real)
    out["null_rate_synthetic"] = M.null_rate(col.synthetic)
    out["null_rate_diff"] = abs(out["null_rate_real"] - out["null_rate_synthetic"])
    if col.is_numeric:
        ks = M.ks_statistic(col.real, col.synthetic)
        n = int((~np.isnan(col.real)).sum())
        m = int((~np.isnan(col.synthetic)).sum())
        out.update(
            ks=ks, ks_pvalue=M.ks_pvalue(ks, n, m), score=1.0 - ks,
            kl=M.binned_kl(col.real, col.synthetic, bins),
            range_coverage=M.range_coverage(col.real, col.synthetic),
            out_of_range_share=M.out_of_range_share(col.real, col.synthetic),
            histogram=M.numeric_histogram(col.real, col.synthetic),
        )
        if col.kind == "datetime":
            out["histogram"]["unit"] = "seconds since 1970-01-01"
    else:
        k = len(col.categories or [])
        t = M.category_tvd(col.real, col.synthetic, k)
        chi, p, dof = M.chi_square(col.real, col.synthetic, k)
        out.update(
            tvd=t, score=1.0 - t, chi2=chi, chi2_pvalue=p, chi2_dof=dof,
            kl=M.category_kl(col.real, col.synthetic, k),
            categories_real=col.n_real_categories,
            category_coverage=M.category_coverage(col.real, col.synthetic, col.n_real_categories),
            new_category_share=M.new_category_share(col.synthetic, col.n_real_categories),
            histogram=M.category_histogram(col.real, col.synthetic, col.categories or []),
        )
    return out


@attrs.define(kw_only=True, eq=False)
class ColumnFidelity(BaseValidator):
    """Marginal distributions column by column: KS, TVD and chi-square, binned KL, nulls, coverage."""

    name: ClassVar[str] = "column_fidelity"
    title: ClassVar[str] = "Column fidelity"
    description: ClassVar[str] = (
        "Each column's distribution, real against synthetic: 1 - KS statistic for numbers and dates, "
        "1 - total variation distance for categories (nulls compared separately), with chi-square, "
        "binned KL divergence, null rates and range/category coverage.")

    bins: int = 20

    def _evaluate(self, real, synthetic, metadata, context):
        real_t, synth_t, names = self._inputs(real, synthetic, metadata)
        tables: dict[str, Any] = {}
        bands = []
        all_scores, null_diffs = [], []
        for i, name in enumerate(names):
            cols = analysed_columns(metadata, metadata.table(name))
            prep = prepare(name, real_t[name], synth_t[name], cols, sample_size=self.sample_size,
                           rng=self._rng(i))
            columns = {c: column_report(col, self.bins) for c, col in prep.columns.items()}
            scores = [v["score"] for v in columns.values()]
            # a column both sides leave empty has no distribution; its null rates still count
            table_score = nanmean(scores)
            worst_col = min(columns, key=lambda c: columns[c]["score"] if not math.isnan(columns[c]["score"])
                            else 2.0) if columns else None
            tables[name] = {"sample": prep.sample_info(), "columns": columns, "score": table_score,
                            "worst_column": worst_col,
                            "mean_null_rate_diff": nanmean(v["null_rate_diff"] for v in columns.values())}
            all_scores += scores
            null_diffs += [v["null_rate_diff"] for v in columns.values()]
            if columns:
                bands.append(band("column_shape", table_score, good=0.9, poor=0.75, table=name,
                                  label="column shape (mean 1-KS / 1-TVD)"))
                bands.append(band("worst_column", columns[worst_col]["score"], good=0.8, poor=0.5, table=name,
                                  label=f"worst column ({worst_col})"))
                bands.append(band("null_rate_diff", max(v["null_rate_diff"] for v in columns.values()),
                                  good=0.02, poor=0.1, higher_is_better=False, table=name,
                                  label="largest null-rate difference"))
        scores = {"column_shape": nanmean(all_scores), "worst_column": nanmin(all_scores),
                  "mean_null_rate_diff": nanmean(null_diffs)}
        summary = (f"mean column shape score {fmt(scores['column_shape'])} over {len(all_scores)} columns "
                   f"of {len(names)} table(s); worst {fmt(scores['worst_column'])}")
        return self._result(scores, bands, {"tables": tables}, summary)


def pair_report(a: Col, b: Col, bins: int = 10) -> dict[str, Any]:
    """Every figure for one column pair; ``score`` follows SDMetrics' column-pair trends."""
    out: dict[str, Any] = {"a": a.name, "b": b.name}
    if a.is_numeric and b.is_numeric:
        out["kind"] = "numeric"
        pr, ps = M.pearson(a.real, b.real), M.pearson(a.synthetic, b.synthetic)
        sr, ss = M.spearman(a.real, b.real), M.spearman(a.synthetic, b.synthetic)
        out.update(pearson_real=pr, pearson_synthetic=ps, pearson_diff=abs(pr - ps),
                   spearman_real=sr, spearman_synthetic=ss, spearman_diff=abs(sr - ss),
                   score=1.0 - abs(pr - ps) / 2.0, association_real=pr, association_synthetic=ps)
        xr, xs, _ = M.equal_width_codes(a.real, a.synthetic, bins)
        yr, ys, _ = M.equal_width_codes(b.real, b.synthetic, bins)
        out["contingency_similarity"] = M.contingency_similarity(xr, yr, xs, ys)
        return out
    if not a.is_numeric and not b.is_numeric:
        out["kind"] = "categorical"
        out["contingency_similarity"] = M.contingency_similarity(a.real, b.real, a.synthetic, b.synthetic)
        out["association_real"] = M.cramers_v(a.real, b.real)
        out["association_synthetic"] = M.cramers_v(a.synthetic, b.synthetic)
    else:
        out["kind"] = "mixed"
        num, cat = (a, b) if a.is_numeric else (b, a)
        xr, xs, _ = M.equal_width_codes(num.real, num.synthetic, bins)
        if num is a:
            out["contingency_similarity"] = M.contingency_similarity(xr, cat.real, xs, cat.synthetic)
        else:
            out["contingency_similarity"] = M.contingency_similarity(cat.real, xr, cat.synthetic, xs)
        out["association_real"] = M.correlation_ratio(cat.real, num.real)
        out["association_synthetic"] = M.correlation_ratio(cat.synthetic, num.synthetic)
    out["score"] = out["contingency_similarity"]
    return out


@attrs.define(kw_only=True, eq=False)
class PairFidelity(BaseValidator):
    """Dependence between columns: Pearson and Spearman differences, contingency similarity, mixed pairs."""

    name: ClassVar[str] = "pair_fidelity"
    title: ClassVar[str] = "Pair fidelity"
    description: ClassVar[str] = (
        "How columns move together. Number pairs: Pearson and Spearman correlation, score 1 - |diff|/2. "
        "Category and mixed pairs (numbers cut in 10 equal-width bins): contingency-table similarity "
        "(1 - TVD of the joint frequencies). The heatmap shows |association difference| with Pearson r, "
        "Cramer's V and the correlation ratio as the association of number, category and mixed pairs.")

    sample_size: int | None = 10_000
    max_columns: int = 40
    bins: int = 10

    def _evaluate(self, real, synthetic, metadata, context):
        real_t, synth_t, names = self._inputs(real, synthetic, metadata)
        tables: dict[str, Any] = {}
        bands = []
        all_scores, pearson_diffs, spearman_diffs, assoc_diffs = [], [], [], []
        for i, name in enumerate(names):
            cols = analysed_columns(metadata, metadata.table(name))
            note = None
            if len(cols) > self.max_columns:
                note = f"only the first {self.max_columns} of {len(cols)} columns are paired"
                cols = cols[: self.max_columns]
            if len(cols) < 2:
                continue
            prep = prepare(name, real_t[name], synth_t[name], cols, sample_size=self.sample_size,
                           rng=self._rng(i))
            order = list(prep.columns)
            pairs = [pair_report(prep.columns[x], prep.columns[y], self.bins)
                     for x, y in itertools.combinations(order, 2)]
            k = len(order)
            mats = {s: np.full((k, k), np.nan) for s in ("real", "synthetic", "difference")}
            pos = {c: j for j, c in enumerate(order)}
            for p in pairs:
                x, y = pos[p["a"]], pos[p["b"]]
                for side in ("real", "synthetic"):
                    mats[side][x, y] = mats[side][y, x] = p[f"association_{side}"]
                diff = abs(p["association_real"] - p["association_synthetic"])
                p["association_diff"] = diff
                mats["difference"][x, y] = mats["difference"][y, x] = diff
            for j in range(k):
                mats["real"][j, j] = mats["synthetic"][j, j] = 1.0
                mats["difference"][j, j] = 0.0
            numeric = [p for p in pairs if p["kind"] == "numeric"]
            t = {
                "sample": prep.sample_info(),
                "pairs": pairs,
                "matrix": {"columns": order, **{s: _rows(m) for s, m in mats.items()}},
                "score": nanmean(p["score"] for p in pairs),
                "mean_abs_pearson_diff": nanmean(p["pearson_diff"] for p in numeric),
                "mean_abs_spearman_diff": nanmean(p["spearman_diff"] for p in numeric),
                "mean_abs_association_diff": nanmean(p["association_diff"] for p in pairs),
                "max_abs_association_diff": nanmax(p["association_diff"] for p in pairs),
            }
            if note:
                t["note"] = note
            tables[name] = t
            all_scores += [p["score"] for p in pairs]
            pearson_diffs += [p["pearson_diff"] for p in numeric]
            spearman_diffs += [p["spearman_diff"] for p in numeric]
            assoc_diffs += [p["association_diff"] for p in pairs]
            bands.append(band("pair_trends", t["score"], good=0.9, poor=0.75, table=name,
                              label="pair trends (correlation / contingency similarity)"))
            bands.append(band("max_association_diff", t["max_abs_association_diff"], good=0.15, poor=0.3,
                              higher_is_better=False, table=name, label="largest |association difference| of a pair"))
            if numeric:
                bands.append(band("mean_abs_correlation_diff", t["mean_abs_pearson_diff"], good=0.05, poor=0.15,
                                  higher_is_better=False, table=name, label="mean |Pearson difference|"))
        scores = {"pair_trends": nanmean(all_scores), "mean_abs_pearson_diff": nanmean(pearson_diffs),
                  "mean_abs_spearman_diff": nanmean(spearman_diffs),
                  "mean_abs_association_diff": nanmean(assoc_diffs)}
        summary = (f"pair trend score {fmt(scores['pair_trends'])} over {len(all_scores)} pairs; mean |Pearson "
                   f"difference| {fmt(scores['mean_abs_pearson_diff'])}")
        return self._result(scores, bands, {"tables": tables}, summary)


def _rows(matrix: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else float(v) for v in row] for row in matrix]


def detection_band(auc: float, baseline: float, spread: float, table: str, label: str) -> list[dict[str, Any]]:
    """AUC bands, plus a copying warning when the AUC falls clearly below the real-vs-real baseline."""
    out = [band("detection_auc", auc, good=0.55, poor=0.8, higher_is_better=False, table=table, label=label)]
    if not (math.isnan(auc) or math.isnan(baseline)):
        gap = baseline - auc
        margin = max(0.07, 3 * spread)
        out.append({"metric": "detection_below_baseline", "label": f"{label}: baseline - AUC (copying if large)",
                    "table": table, "value": float(gap), "status": "warn" if gap > margin else "pass",
                    "rule": f"warn > {margin:.3f}: rows the classifier saw as synthetic reappear as real"})
    return out


@attrs.define(kw_only=True, eq=False)
class Detection(BaseValidator):
    """Classifier two-sample test per table (split-half, gradient-boosted trees) with a real-vs-real baseline."""

    name: ClassVar[str] = "detection"
    requires: ClassVar[tuple[str, ...]] = ("sklearn",)
    title: ClassVar[str] = "Detection"
    description: ClassVar[str] = (
        "Can gradient-boosted trees tell real rows from synthetic rows? Balanced samples are split in "
        "halves: train on one half of each, test on the other, swap, repeat. ROC AUC 0.5 means "
        "indistinguishable; the baseline is the same test on two halves of the real table. An AUC "
        "clearly below the baseline flags copying, not quality.")

    sample_size: int | None = 5_000
    repeats: int = 2
    max_iter: int = 100

    def _evaluate(self, real, synthetic, metadata, context):
        from hiveframe_validate.models import detection_with_baseline, feature_matrix

        real_t, synth_t, names = self._inputs(real, synthetic, metadata)
        tables: dict[str, Any] = {}
        bands = []
        for i, name in enumerate(names):
            cols = analysed_columns(metadata, metadata.table(name))
            if not cols:
                continue
            # twice the sample on the real side: half for the test, half for the baseline
            cap = None if self.sample_size is None else 2 * self.sample_size
            prep = prepare(name, real_t[name], synth_t[name], cols, sample_size=cap, rng=self._rng(i))
            xr, is_cat = feature_matrix(list(prep.columns.values()), "real")
            xs, _ = feature_matrix(list(prep.columns.values()), "synthetic")
            res = detection_with_baseline(xr, xs, is_cat, max_rows=self.sample_size or len(xr),
                                          repeats=self.repeats, seed=self.seed + i, max_iter=self.max_iter)
            res["sample"] = prep.sample_info()
            res["columns"] = list(prep.columns)
            tables[name] = res
            bands += detection_band(res["auc"], res["baseline_auc"], res["auc_std"], name, "detection AUC")
        aucs = [t["auc"] for t in tables.values()]
        scores = {"max_auc": nanmax(aucs), "mean_auc": nanmean(aucs),
                  "mean_baseline_auc": nanmean(t["baseline_auc"] for t in tables.values()),
                  "mean_accuracy": nanmean(t["accuracy"] for t in tables.values())}
        summary = (f"worst-table detection AUC {fmt(scores['max_auc'])} (real vs real baseline "
                   f"{fmt(scores['mean_baseline_auc'])}); 0.5 is indistinguishable")
        return self._result(scores, bands, {"tables": tables}, summary)
