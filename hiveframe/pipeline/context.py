"""Choosing parent context columns: the few parent values a child table's generator conditions on.

Candidates are the driver parent's own columns, the parent's context (so a grandparent's values can
travel down one more level) and the parent's number of children in this relationship. Each candidate
is scored by its strongest dependence on any of the child's columns, measured as a bias-corrected
normalised mutual information on binned values; the best ``k`` above a small threshold are kept. The
width is at most ``k`` at every level, however deep the schema is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hiveframe.pipeline.features import numeric_values, string_values

if TYPE_CHECKING:
    import pyarrow as pa


def bin_codes(array: pa.Array | pa.ChunkedArray, bins: int = 8) -> np.ndarray:
    """Small integer codes: quantile bins for numbers, top categories for the rest; nulls get a code."""
    import pyarrow.compute as pc

    nums = numeric_values(array)
    if nums is not None:
        codes = np.full(len(nums), bins + 1, dtype=np.int64)
        ok = ~np.isnan(nums)
        if ok.any():
            values = np.unique(nums[ok])
            if len(values) <= bins:  # a few distinct values (prices, codes): one code each
                codes[ok] = np.searchsorted(values, nums[ok])
            else:
                edges = np.unique(np.quantile(nums[ok], np.linspace(0, 1, bins + 1)[1:-1]))
                codes[ok] = np.searchsorted(edges, nums[ok], side="left")
        return codes
    strings = string_values(array)
    counts = pc.value_counts(strings.drop_null())
    values = counts.field("values")
    top = values.take(np.argsort(-counts.field("counts").to_numpy(), kind="stable")[:bins])
    found = pc.index_in(strings, value_set=top).fill_null(bins).to_numpy(zero_copy_only=False)
    codes = np.asarray(found, dtype=np.int64)
    codes[np.asarray(strings.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = bins + 1
    return codes


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def dependence(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information of two code arrays, less its small-sample bias (Miller-Madow)."""
    n = len(a)
    if n < 10:
        return 0.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    ka, kb = ai.max() + 1, bi.max() + 1
    if ka < 2 or kb < 2:
        return 0.0
    joint = np.bincount(ai * kb + bi, minlength=ka * kb).astype(float)
    ha, hb = _entropy(np.bincount(ai).astype(float)), _entropy(np.bincount(bi).astype(float))
    mi = ha + hb - _entropy(joint)
    mi -= (ka - 1) * (kb - 1) / (2.0 * n)
    denom = min(ha, hb)
    return max(0.0, mi / denom) if denom > 0 else 0.0


def score_candidates(candidates: pa.Table, child: pa.Table, *, rng: np.random.Generator,
                     max_rows: int = 20000) -> dict[str, float]:
    """Each candidate's strongest dependence on a child column (rows aligned)."""
    n = child.num_rows
    if n > max_rows:
        keep = np.sort(rng.choice(n, size=max_rows, replace=False))
        candidates, child = candidates.take(keep), child.take(keep)
    child_codes = [bin_codes(child.column(c)) for c in child.column_names]
    scores: dict[str, float] = {}
    for name in candidates.column_names:
        codes = bin_codes(candidates.column(name))
        scores[name] = max((dependence(codes, cc) for cc in child_codes), default=0.0)
    return scores


def select(scores: dict[str, float], k: int, *, threshold: float = 0.02,
           always: Sequence[str] = ()) -> list[str]:
    """The best ``k`` candidates scoring at least ``threshold`` (best first)."""
    ranked = sorted(scores, key=lambda c: (-scores[c], c))
    chosen = [c for c in always if c in scores][:k]
    for c in ranked:
        if len(chosen) >= k:
            break
        if c not in chosen and scores[c] >= threshold:
            chosen.append(c)
    return chosen
