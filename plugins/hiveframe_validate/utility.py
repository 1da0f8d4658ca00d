"""Utility: does a model trained on synthetic rows work on real rows (TSTR against TRTR)?"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe.errors import ConfigError
from hiveframe_validate._base import BaseValidator, band, fmt
from hiveframe_validate._frame import (
    Col,
    analysed_columns,
    as_tables,
    check_inputs,
    convert_column,
    sample_rows,
)
from hiveframe_validate.models import feature_matrix, one_thread


def resolve_target(metadata, target: str) -> tuple[str, str]:
    """``table.column`` or a column name found in exactly one table."""
    if "." in target:
        table, column = target.split(".", 1)
        if metadata.has_table(table) and metadata.table(table).has_column(column):
            return table, column
    hits = [t.name for t in metadata.tables if t.has_column(target)]
    if len(hits) == 1:
        return hits[0], target
    if not hits:
        from hiveframe.errors import did_you_mean

        every = [c for t in metadata.tables for c in t.column_names]
        raise ConfigError(f"target column {target!r} is in no table", hint=did_you_mean(target, every))
    raise ConfigError(f"target column {target!r} is in several tables: {hits}",
                      hint=f"name it as table.column, e.g. {hits[0]}.{target}")


def _model(task: str, is_cat: np.ndarray, seed: int, max_iter: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return cls(max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=31,
               categorical_features=is_cat if is_cat.any() else None, early_stopping=False, random_state=seed)


def _score(task: str, y_true: np.ndarray, model: Any, x: np.ndarray, positive: int | None) -> dict[str, float]:
    """AUC and accuracy (classification) or R2 and MAE (regression) of ``model`` on real test rows."""
    from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

    if task == "regression":
        pred = model.predict(x)
        return {"r2": float(r2_score(y_true, pred)), "mae": float(mean_absolute_error(y_true, pred))}
    classes = list(model.classes_)
    proba = model.predict_proba(x)
    pred = np.asarray(classes)[proba.argmax(1)]
    out = {"accuracy": float((pred == y_true).mean())}
    present = np.unique(y_true)
    if positive is not None:  # binary: the minority real class is the positive one
        p = proba[:, classes.index(positive)] if positive in classes else np.zeros(len(x))
        out["auc"] = float(roc_auc_score(y_true == positive, p)) if len(present) == 2 else math.nan
        return out
    aucs = []  # multiclass: macro average of one-vs-rest AUCs over classes in the test rows
    for c in present:
        p = proba[:, classes.index(c)] if c in classes else np.zeros(len(x))
        if 0 < (y_true == c).sum() < len(y_true):
            aucs.append(roc_auc_score(y_true == c, p))
    out["auc"] = float(np.mean(aucs)) if aucs else math.nan
    return out


@attrs.define(kw_only=True, eq=False)
class Utility(BaseValidator):
    """Train on synthetic, test on real (TSTR) against train on real, test on real (TRTR), with an
    augmentation curve over mixes of real and synthetic training rows.

    ``target`` is ``table.column`` (or a column found in one table); categories and booleans make a
    classification task (ROC AUC), numbers and dates a regression (R2). The real test rows come from
    ``holdout`` when given (rows the generator never saw); otherwise ``test_share`` of the real rows
    are set aside, and the result says the generator saw them.
    """

    name: ClassVar[str] = "utility"
    requires: ClassVar[tuple[str, ...]] = ("sklearn",)
    title: ClassVar[str] = "Utility (TSTR)"
    description: ClassVar[str] = (
        "A gradient-boosted model trained on synthetic rows and tested on real rows (TSTR), against the "
        "same model trained on real rows (TRTR), for the target column; the ratio TSTR / TRTR near 1 "
        "means the synthetic data teaches what the real data teaches. The augmentation curve trains on "
        "mixes from 0% to 100% real rows of the same size.")

    target: str | None = None
    sample_size: int | None = 10_000
    test_share: float = 0.3
    fractions: tuple[float, ...] = attrs.field(default=(0.0, 0.25, 0.5, 0.75, 1.0), converter=tuple)
    max_iter: int = 100

    def _evaluate(self, real, synthetic, metadata, context):
        given = context.target or self.target
        if given is None:
            return self._result({}, [], {"tables": {}}, "no target column given (target='table.column')")
        table_name, target = resolve_target(metadata, given)
        meta = metadata.table(table_name)
        if target in meta.primary_key or target in metadata.foreign_key_columns(table_name):
            raise ConfigError(f"target {table_name}.{target} is a key column", hint="pick a value column")
        features = [c for c in analysed_columns(metadata, meta) if c.name != target]
        needed = [c.name for c in features] + [target]
        real_t, synth_t, _ = self._inputs(real, synthetic, metadata,
                                          lambda t: needed if t.name == table_name else [])
        rng = self._rng()
        real_tab = real_t[table_name]
        holdout_tab = None
        hold = as_tables(context.holdout, "holdout") if context.holdout is not None else {}
        if table_name in hold:  # a holdout kept at fit time may not reach the target's table
            check_inputs(self.name, real_t, hold, metadata, [table_name], lambda t: needed)
            holdout_tab = hold[table_name]
        target_col = meta.column(target)
        task = "regression" if target_col.kind.value in ("numerical", "datetime") else "classification"

        # one conversion for every row of every side, so category codes are shared
        cap = self.sample_size
        real_s = sample_rows(real_tab, None if cap is None else (cap if holdout_tab is not None
                                                                 else int(cap / (1 - self.test_share)) + 1), rng)
        synth_s = sample_rows(synth_t[table_name], cap, rng)
        hold_s = sample_rows(holdout_tab, cap, rng) if holdout_tab is not None else None
        sides = [real_s, synth_s] + ([hold_s] if hold_s is not None else [])
        import pyarrow as pa

        lengths = [t.num_rows for t in sides]
        stacked = pa.concat_tables([t.select(needed) for t in sides[1:]], promote_options="permissive")
        cols: dict[str, Col] = {c: convert_column(table_name, meta.column(c), real_s.column(c), stacked.column(c))
                                for c in needed}
        xr, is_cat = feature_matrix([cols[c.name] for c in features], "real")
        xo, _ = feature_matrix([cols[c.name] for c in features], "synthetic")
        yr, yo = cols[target].real, cols[target].synthetic
        xs, ys = xo[: lengths[1]], yo[: lengths[1]]
        if hold_s is not None:
            x_test, y_test = xo[lengths[1]:], yo[lengths[1]:]
            x_train, y_train = xr, yr
            test_note = "test rows: the holdout (never seen by the generator)"
        else:
            perm = rng.permutation(len(xr))
            n_test = max(1, int(round(self.test_share * len(xr))))
            te, tr = perm[:n_test], perm[n_test:]
            x_test, y_test, x_train, y_train = xr[te], yr[te], xr[tr], yr[tr]
            test_note = (f"test rows: {self.test_share:.0%} of the real rows set aside; the generator saw "
                         "them in training, so pass a holdout for an unbiased TSTR")

        def keep(x, y):
            ok = (y >= 0) if task == "classification" else ~np.isnan(y)
            return x[ok], y[ok]

        x_train, y_train = keep(x_train, y_train)
        x_test, y_test = keep(x_test, y_test)
        xs, ys = keep(xs, ys)
        if min(len(y_train), len(y_test), len(ys)) < 2:
            raise ConfigError(f"too few rows with a value in target {table_name}.{target} to train a model")
        positive = None
        if task == "classification":
            classes, counts = np.unique(y_train, return_counts=True)
            if len(np.unique(np.r_[y_train, y_test])) <= 2:
                positive = int(classes[np.argmin(counts)]) if len(classes) == 2 else int(classes[0])
        n_train = min(len(y_train), len(ys))
        ptr = rng.permutation(len(y_train))[:n_train]
        x_train, y_train = x_train[ptr], y_train[ptr]
        sel = rng.permutation(len(ys))[:n_train]
        xs, ys = xs[sel], ys[sel]

        def fit_score(x, y, salt):
            if task == "classification" and len(np.unique(y)) < 2:
                return {"auc": 0.5, "accuracy": float((y_test == y[0]).mean()), "note": "one class only"}
            model = _model(task, is_cat, self.seed + salt, self.max_iter).fit(x, y)
            return _score(task, y_test, model, x_test, positive)

        metric = "auc" if task == "classification" else "r2"
        curve = []
        with one_thread():
            trtr = fit_score(x_train, y_train, 0)
            tstr = fit_score(xs, ys, 1)
            for j, f in enumerate(self.fractions):
                n_real = int(round(f * n_train))
                pr = rng.permutation(n_train)[:n_real]
                ps = rng.permutation(n_train)[: n_train - n_real]
                x = np.vstack([x_train[pr], xs[ps]])
                y = np.r_[y_train[pr], ys[ps]]
                s = fit_score(x, y, 10 + j)
                curve.append({"real_share": float(f), "rows": int(len(y)), metric: s[metric]})
        ratio = tstr[metric] / trtr[metric] if trtr[metric] and not math.isnan(trtr[metric]) else math.nan
        labels = cols[target].categories
        detail = {
            "table": table_name, "target": target, "task": task, "metric": metric,
            "positive_class": labels[positive] if positive is not None and labels else None,
            "trtr": trtr, "tstr": tstr, "ratio": ratio, "augmentation": curve,
            "rows": {"train": int(n_train), "test": int(len(y_test)), "features": [c.name for c in features]},
            "note": test_note,
            "sample": {"rows_real": real_tab.num_rows, "rows_synthetic": synth_t[table_name].num_rows,
                       "used_real": int(n_train), "used_synthetic": int(n_train), "used_test": int(len(y_test)),
                       "sampled": n_train < min(real_tab.num_rows, synth_t[table_name].num_rows)},
        }
        bands = [band("tstr_ratio", ratio, good=0.95, poor=0.7, table=table_name,
                      label=f"TSTR / TRTR ({metric}, target {target})")]
        scores = {"tstr": tstr[metric], "trtr": trtr[metric], "ratio": ratio}
        summary = (f"{task} of {table_name}.{target}: TSTR {metric} {fmt(tstr[metric])} vs TRTR "
                   f"{fmt(trtr[metric])}, ratio {fmt(ratio)}")
        return self._result(scores, bands, {"tables": {table_name: detail}}, summary)
