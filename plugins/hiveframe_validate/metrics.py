"""The statistics behind the validators, written on numpy so each can be checked by hand.

Conventions: numbers arrive as float64 with NaN for nulls; categories as int64 codes with -1 for
nulls. Scores in [0, 1] read "1 is identical" (``1 - KS``, ``1 - TVD``...), distances read "0 is
identical". Every function returns ``nan`` when its input leaves nothing to compare.
"""

from __future__ import annotations

import math

import numpy as np

# -- one column ------------------------------------------------------------------------------------


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a = np.sort(a[~np.isnan(a)])
    b = np.sort(b[~np.isnan(b)])
    if len(a) == 0 or len(b) == 0:
        return math.nan
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_pvalue(statistic: float, n: int, m: int) -> float:
    """Two-sided p-value of the KS statistic: the one-sample Kolmogorov distribution at the effective
    size n*m/(n+m) (what scipy's ``ks_2samp(method="asymp")`` uses)."""
    from scipy.stats import kstwo

    if not n or not m or math.isnan(statistic):
        return math.nan
    return float(kstwo.sf(statistic, max(1, round(n * m / (n + m)))))


def counts(codes: np.ndarray, k: int) -> np.ndarray:
    """Counts of codes 0..k-1 (nulls, coded -1, left out)."""
    return np.bincount(codes[codes >= 0], minlength=k).astype(np.float64)[:max(k, 0)]


def frequencies(codes: np.ndarray, k: int) -> np.ndarray:
    c = counts(codes, k)
    total = c.sum()
    return c / total if total else c


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two frequency vectors: half their L1 distance."""
    if len(p) == 0:
        return math.nan
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def category_tvd(real: np.ndarray, synthetic: np.ndarray, k: int) -> float:
    """TVD between the non-null category frequencies of two coded columns."""
    if (real >= 0).sum() == 0 or (synthetic >= 0).sum() == 0:
        return math.nan
    return tvd(frequencies(real, k), frequencies(synthetic, k))


def chi_square(real: np.ndarray, synthetic: np.ndarray, k: int) -> tuple[float, float, int]:
    """Chi-square goodness of fit of the synthetic counts to the real frequencies.

    Expected counts use the real frequencies with half a pseudo-count per category, so a category the
    real column lacks gives a large (finite) statistic instead of a division by zero.
    Returns (statistic, p-value, degrees of freedom).
    """
    from scipy.stats import chi2

    obs = counts(synthetic, k)
    ref = counts(real, k)
    n = obs.sum()
    if k < 2 or n == 0 or ref.sum() == 0:
        return math.nan, math.nan, 0
    expected = (ref + 0.5) / (ref.sum() + 0.5 * k) * n
    stat = float(((obs - expected) ** 2 / expected).sum())
    return stat, float(chi2.sf(stat, k - 1)), k - 1


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, pseudo: float = 0.5) -> float:
    """KL(P || Q) in nats between two count vectors, each smoothed by ``pseudo`` per bin."""
    p = np.asarray(p_counts, dtype=np.float64) + pseudo
    q = np.asarray(q_counts, dtype=np.float64) + pseudo
    if len(p) == 0:
        return math.nan
    p /= p.sum()
    q /= q.sum()
    return float(np.sum(p * np.log(p / q)))


def quantile_edges(real: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the real quantiles (duplicates merged), for binning both sides alike."""
    values = real[~np.isnan(real)]
    if len(values) == 0:
        return np.zeros(0)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    return edges[1:-1] if len(edges) > 2 else edges[:1]


def binned_kl(real: np.ndarray, synthetic: np.ndarray, bins: int = 20) -> float:
    """KL(real || synthetic) over ``bins`` quantile bins of the real values (non-null values)."""
    r = real[~np.isnan(real)]
    s = synthetic[~np.isnan(synthetic)]
    if len(r) == 0 or len(s) == 0:
        return math.nan
    inner = quantile_edges(r, bins)
    k = len(inner) + 1
    cr = np.bincount(np.searchsorted(inner, r, side="right"), minlength=k)
    cs = np.bincount(np.searchsorted(inner, s, side="right"), minlength=k)
    return kl_divergence(cr, cs)


def category_kl(real: np.ndarray, synthetic: np.ndarray, k: int) -> float:
    if (real >= 0).sum() == 0 or (synthetic >= 0).sum() == 0:
        return math.nan
    return kl_divergence(counts(real, k), counts(synthetic, k))


def null_rate(values: np.ndarray) -> float:
    if len(values) == 0:
        return math.nan
    if values.dtype.kind == "f":
        return float(np.isnan(values).mean())
    return float((values < 0).mean())


def range_coverage(real: np.ndarray, synthetic: np.ndarray) -> float:
    """How much of the real [min, max] the synthetic values span (1: all of it), as SDMetrics defines it."""
    r = real[~np.isnan(real)]
    s = synthetic[~np.isnan(synthetic)]
    if len(r) == 0 or len(s) == 0:
        return math.nan
    lo, hi = r.min(), r.max()
    if hi == lo:
        return 1.0 if s.min() <= lo <= s.max() else 0.0
    below = max((s.min() - lo) / (hi - lo), 0.0)
    above = max((hi - s.max()) / (hi - lo), 0.0)
    return float(max(1.0 - (below + above), 0.0))


def out_of_range_share(real: np.ndarray, synthetic: np.ndarray, low: float | None = None,
                       high: float | None = None) -> float:
    """Share of synthetic non-null values outside [low, high] (default: the real min and max)."""
    r = real[~np.isnan(real)]
    s = synthetic[~np.isnan(synthetic)]
    if len(s) == 0:
        return math.nan
    lo = low if low is not None else (r.min() if len(r) else -np.inf)
    hi = high if high is not None else (r.max() if len(r) else np.inf)
    return float(((s < lo) | (s > hi)).mean())


def category_coverage(real: np.ndarray, synthetic: np.ndarray, n_real_categories: int) -> float:
    """Share of the real categories that appear in the synthetic column."""
    if n_real_categories == 0:
        return math.nan
    seen = np.unique(synthetic[(synthetic >= 0) & (synthetic < n_real_categories)])
    return float(len(seen) / n_real_categories)


def new_category_share(synthetic: np.ndarray, n_real_categories: int) -> float:
    """Share of synthetic non-null values whose category never occurs in the real column."""
    valid = synthetic[synthetic >= 0]
    if len(valid) == 0:
        return math.nan
    return float((valid >= n_real_categories).mean())


# -- pairs -----------------------------------------------------------------------------------------


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over the rows where both values are present (nan if either is constant)."""
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 2:
        return math.nan
    x = x[ok] - x[ok].mean()
    y = y[ok] - y[ok].mean()
    denom = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    if denom == 0:
        return math.nan
    return float(np.clip((x * y).sum() / denom, -1.0, 1.0))


def ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), 1-based."""
    order = np.argsort(values, kind="mergesort")
    sorted_v = values[order]
    starts = np.r_[0, np.flatnonzero(sorted_v[1:] != sorted_v[:-1]) + 1]
    ends = np.r_[starts[1:], len(values)]
    avg = (starts + ends + 1) / 2.0
    out = np.empty(len(values))
    out[order] = np.repeat(avg, ends - starts)
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation over the rows where both values are present."""
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 2:
        return math.nan
    return pearson(ranks(x[ok]), ranks(y[ok]))


def equal_width_codes(real: np.ndarray, synthetic: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of ``bins`` equal-width bins over the real range (outer bins open); NaN gets its own code."""
    r = real[~np.isnan(real)]
    if len(r) == 0:
        edges = np.array([-np.inf, np.inf])
    else:
        edges = np.histogram_bin_edges(r, bins=bins)
        edges[0], edges[-1] = -np.inf, np.inf
    k = len(edges) + 1

    def code(v: np.ndarray) -> np.ndarray:
        out = np.digitize(v, edges)  # NaN lands past the last edge: its own code
        return out.astype(np.int64)

    return code(real), code(synthetic), k


def contingency_similarity(xr: np.ndarray, yr: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> float:
    """1 - TVD between the joint frequency tables of two coded columns (nulls kept as a category)."""
    if len(xr) == 0 or len(xs) == 0:
        return math.nan
    kx = int(max(xr.max(initial=0), xs.max(initial=0))) + 2
    ky = int(max(yr.max(initial=0), ys.max(initial=0))) + 2
    jr = (xr + 1) * ky + (yr + 1)
    js = (xs + 1) * ky + (ys + 1)
    pr = np.bincount(jr, minlength=kx * ky) / len(jr)
    ps = np.bincount(js, minlength=kx * ky) / len(js)
    return float(1.0 - 0.5 * np.abs(pr - ps).sum())


def cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    """Cramér's V between two coded columns (rows with a null left out)."""
    ok = (x >= 0) & (y >= 0)
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return math.nan
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    kx, ky = xi.max() + 1, yi.max() + 1
    if kx < 2 or ky < 2:
        return math.nan
    table = np.bincount(xi * ky + yi, minlength=kx * ky).reshape(kx, ky).astype(np.float64)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(math.sqrt(chi2 / (n * (min(kx, ky) - 1))))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio eta: how much of a number's variance the category explains (0..1)."""
    ok = (codes >= 0) & ~np.isnan(values)
    c, v = codes[ok], values[ok]
    if len(v) < 2:
        return math.nan
    total = float(((v - v.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    _, ci = np.unique(c, return_inverse=True)
    sums = np.bincount(ci, weights=v)
    n = np.bincount(ci)
    between = float((sums ** 2 / n).sum() - v.sum() ** 2 / len(v))
    return float(math.sqrt(max(0.0, min(1.0, between / total))))


# -- histograms for the report ----------------------------------------------------------------------


def numeric_histogram(real: np.ndarray, synthetic: np.ndarray, bins: int = 30) -> dict:
    """Shared equal-width bins over the central 99% of the pooled values, as densities per side."""
    r = real[~np.isnan(real)]
    s = synthetic[~np.isnan(synthetic)]
    pooled = np.concatenate([r, s])
    if len(pooled) == 0:
        return {"edges": [], "real": [], "synthetic": []}
    lo, hi = np.quantile(pooled, [0.005, 0.995])
    if hi <= lo:
        lo, hi = float(pooled.min()) - 0.5, float(pooled.max()) + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    out = {"edges": edges.tolist()}
    for side, v in (("real", r), ("synthetic", s)):
        h = np.histogram(np.clip(v, lo, hi), bins=edges)[0].astype(np.float64)
        out[side] = (h / h.sum()).tolist() if h.sum() else h.tolist()
    out["clipped_share"] = {
        side: float(((v < lo) | (v > hi)).mean()) if len(v) else 0.0 for side, v in (("real", r), ("synthetic", s))
    }
    return out


def category_histogram(real: np.ndarray, synthetic: np.ndarray, categories: list[str], top: int = 12) -> dict:
    """Frequencies of the most common categories, the rest as "(other)", nulls as "(null)"."""
    k = len(categories)
    fr = np.bincount(real + 1, minlength=k + 1) / max(len(real), 1)
    fs = np.bincount(synthetic + 1, minlength=k + 1) / max(len(synthetic), 1)
    order = np.argsort(-(fr[1:] + fs[1:]), kind="stable")[:top]
    labels = [categories[i] for i in order]
    real_f = [float(fr[i + 1]) for i in order]
    synth_f = [float(fs[i + 1]) for i in order]
    rest_r = float(fr[1:].sum() - sum(real_f))
    rest_s = float(fs[1:].sum() - sum(synth_f))
    if k > top and (rest_r > 0 or rest_s > 0):
        labels.append(f"(other {k - top})")
        real_f.append(rest_r)
        synth_f.append(rest_s)
    if fr[0] > 0 or fs[0] > 0:
        labels.append("(null)")
        real_f.append(float(fr[0]))
        synth_f.append(float(fs[0]))
    return {"labels": labels, "real": real_f, "synthetic": synth_f}


def count_histogram(real: np.ndarray, synthetic: np.ndarray, max_bars: int = 25) -> dict:
    """Share of parents with 0, 1, 2... children; wide ranges in equal integer bins, the tail pooled."""
    real = np.asarray(real, dtype=np.int64)
    synthetic = np.asarray(synthetic, dtype=np.int64)
    top = int(max(real.max(initial=0), synthetic.max(initial=0)))
    if top < max_bars:
        width, n_bins = 1, top + 1
    else:
        hi = float(np.quantile(np.r_[real, synthetic], 0.99))
        raw = max((hi + 1) / (max_bars - 1), 1.0)
        mag = 10 ** math.floor(math.log10(raw))
        width = int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))
        n_bins = min(int(math.ceil((top + 1) / width)), max_bars)
    cap = n_bins - 1
    fr = np.bincount(np.minimum(real // width, cap), minlength=n_bins) / max(len(real), 1)
    fs = np.bincount(np.minimum(synthetic // width, cap), minlength=n_bins) / max(len(synthetic), 1)
    labels = [str(i * width) if width == 1 else f"{i * width}-{(i + 1) * width - 1}" for i in range(n_bins)]
    if (cap + 1) * width <= top:
        labels[-1] = f"{cap * width}+"
    return {"labels": labels, "real": fr.tolist(), "synthetic": fs.tolist(), "bin_width": width}
