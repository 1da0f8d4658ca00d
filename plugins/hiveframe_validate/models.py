"""Learned tests: the split-half classifier two-sample test and the feature matrices models use.

Why split-half and not k-fold over pooled rows: when the synthetic table reproduces the real
per-value frequencies, leaving one test row out of a fold tilts its own class's training counts
against it, so k-fold AUC reads far below 0.5 (0.14 measured on independently resampled columns,
where split-half gives 0.49). Here each class is split in two halves; a model trained on one half of
each is scored on the other halves, and the roles are swapped, ``repeats`` times.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hiveframe_validate._frame import Col

#: below this many rows per class a detection AUC is noise; the test reports n/a instead.
MIN_ROWS = 50
#: HistGradientBoosting handles at most 255 bins; category codes above this share one bin.
MAX_CATEGORY_CODE = 250


def feature_matrix(columns: Sequence[Col], side: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float matrix for tree models (NaN for nulls) and the mask of categorical features."""
    cols = []
    is_cat = []
    for col in columns:
        values = getattr(col, side)
        if rows is not None:
            values = values[rows]
        if col.is_numeric:
            cols.append(values.astype(np.float64))
            is_cat.append(False)
        else:
            v = np.minimum(values, MAX_CATEGORY_CODE).astype(np.float64)
            v[values < 0] = np.nan
            cols.append(v)
            is_cat.append(True)
    n = len(cols[0]) if cols else 0
    matrix = np.column_stack(cols) if cols else np.zeros((n, 0))
    return matrix, np.array(is_cat, dtype=bool)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run model fits on one OpenMP thread.

    Gradient-boosted trees spin-wait on their OpenMP threads; on a machine whose cores are busy with
    other work that turned 4 s of fitting into 65 s here, while one thread is never much slower at
    the few thousand rows a validator uses.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _classifier(is_cat: np.ndarray, seed: int, max_iter: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=10,
        categorical_features=is_cat if is_cat.any() else None, early_stopping=False, random_state=seed,
    )


def two_sample_test(a: np.ndarray, b: np.ndarray, is_cat: np.ndarray, *, repeats: int = 2, seed: int = 0,
                    max_iter: int = 100) -> dict[str, Any]:
    """Can a classifier tell rows of ``a`` (label 0) from rows of ``b`` (label 1)?

    Both sets are cut to the same size. Returns the mean ROC AUC and accuracy over ``2 * repeats``
    split-half rounds (0.5: indistinguishable), their spread, and the rows per class used.
    """
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    if n < MIN_ROWS or a.shape[1] == 0:
        return {"auc": math.nan, "accuracy": math.nan, "auc_std": math.nan, "rows_per_class": int(n), "rounds": 0}
    a = a[rng.permutation(len(a))[:n]]
    b = b[rng.permutation(len(b))[:n]]
    aucs, accs = [], []
    with one_thread():
        _rounds(a, b, is_cat, n, repeats, seed, max_iter, rng, aucs, accs)
    return {"auc": float(np.mean(aucs)), "accuracy": float(np.mean(accs)), "auc_std": float(np.std(aucs)),
            "rows_per_class": int(n), "rounds": len(aucs)}


def _rounds(a, b, is_cat, n, repeats, seed, max_iter, rng, aucs, accs) -> None:
    from sklearn.metrics import roc_auc_score

    for r in range(repeats):
        pa_, pb_ = rng.permutation(n), rng.permutation(n)
        half = n // 2
        halves = [(pa_[:half], pb_[:half]), (pa_[half:], pb_[half:])]
        for train, test in ((0, 1), (1, 0)):
            ia, ib = halves[train]
            ja, jb = halves[test]
            x_train = np.vstack([a[ia], b[ib]])
            y_train = np.r_[np.zeros(len(ia)), np.ones(len(ib))]
            x_test = np.vstack([a[ja], b[jb]])
            y_test = np.r_[np.zeros(len(ja)), np.ones(len(jb))]
            model = _classifier(is_cat, seed + 7919 * r + train, max_iter).fit(x_train, y_train)
            proba = model.predict_proba(x_test)[:, 1]
            aucs.append(float(roc_auc_score(y_test, proba)))
            accs.append(float(((proba >= 0.5) == y_test).mean()))


def detection_with_baseline(real: np.ndarray, synthetic: np.ndarray, is_cat: np.ndarray, *, max_rows: int,
                            repeats: int, seed: int, max_iter: int = 100) -> dict[str, Any]:
    """Real vs synthetic, beside real vs real (two disjoint halves of the real rows) at the same size."""
    rng = np.random.default_rng(seed)
    m = int(min(len(real) // 2, len(synthetic), max_rows))
    perm = rng.permutation(len(real))
    real_a, real_b = real[perm[:m]], real[perm[m:2 * m]]
    synth = synthetic[rng.permutation(len(synthetic))[:m]]
    test = two_sample_test(real_a, synth, is_cat, repeats=repeats, seed=seed, max_iter=max_iter)
    base = two_sample_test(real_a, real_b, is_cat, repeats=repeats, seed=seed + 1, max_iter=max_iter)
    return {
        "auc": test["auc"], "accuracy": test["accuracy"], "auc_std": test["auc_std"],
        "baseline_auc": base["auc"], "baseline_accuracy": base["accuracy"], "baseline_auc_std": base["auc_std"],
        "rows_per_class": test["rows_per_class"], "rounds": test["rounds"],
        **({"note": f"too few rows for a detection test ({m} per class, {MIN_ROWS} needed)"} if m < MIN_ROWS else {}),
    }
