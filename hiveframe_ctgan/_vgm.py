"""Variational inference for a one-dimensional Dirichlet-process Gaussian mixture (numpy + scipy).

The model (Blei & Jordan 2006, truncated stick-breaking; Bishop 2006 ch. 10 for the Gaussian part)::

    v_k ~ Beta(1, alpha)              pi_k = v_k * prod_{j<k} (1 - v_j),   k = 1..T
    lambda_k ~ Gamma(a0, b0)          mu_k | lambda_k ~ Normal(m0, 1 / (beta0 * lambda_k))
    z_n ~ Categorical(pi)             x_n | z_n = k ~ Normal(mu_k, 1 / lambda_k)

with the mean-field posterior q(v) q(mu, lambda) q(z) (Beta, Normal-Gamma and categorical factors).
Every update is a closed-form coordinate-ascent step on the evidence lower bound (ELBO), vectorised
over distinct values and components. Three things keep it fast and well converged:

* the data are compressed to distinct values with counts (integer-valued columns have few), which
  leaves the ELBO unchanged;
* plain coordinate ascent merges redundant components very slowly (hundreds of iterations when a
  k-means start splits one bump into four), so after each round the two components adjacent in
  mean whose merge raises the ELBO the most are merged (a merge move as in split-merge VI), and
  components are kept sorted by size, which is the order the stick-breaking prior favours;
* the data are standardised first, so the priors (m0 = 0, beta0 = 1, a0 = b0 = 1/2: a Wishart prior
  with one degree of freedom around the data variance) are scale free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class Mixture:
    """Fitted modes in the original units, heaviest first."""

    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    iterations: int
    converged: bool
    elbo: float = float("nan")

    def log_resp(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised log responsibilities ln w_k + ln N(x | mu_k, sd_k), shape (n, K)."""
        z = (x[:, None] - self.means[None, :]) / self.stds[None, :]
        return np.log(self.weights)[None, :] - np.log(self.stds)[None, :] - 0.5 * z * z


@dataclass
class _Params:
    g1: np.ndarray
    g2: np.ndarray
    m: np.ndarray
    beta: np.ndarray
    a: np.ndarray
    b: np.ndarray


class _DPMixtureVI:
    """Coordinate ascent on weighted, standardised 1-D data (kept small: T <= 10 components)."""

    def __init__(self, x: np.ndarray, counts: np.ndarray, alpha: float) -> None:
        from scipy.special import digamma, gammaln

        self._digamma, self._gammaln = digamma, gammaln
        self.x, self.c, self.alpha = x, counts, alpha
        self.x2 = x * x
        self.m0, self.beta0, self.a0, self.b0 = 0.0, 1.0, 0.5, 0.5

    # -- updates ---------------------------------------------------------------------------------
    def globals_from(self, resp: np.ndarray) -> _Params:
        """Optimal q(v), q(mu, lambda) given responsibilities (n_distinct, T)."""
        w = resp * self.c[:, None]
        nk = w.sum(axis=0) + 1e-10
        sx = self.x @ w
        sxx = self.x2 @ w
        xbar = sx / nk
        sk = np.maximum(sxx / nk - xbar * xbar, 0.0)
        tail = np.concatenate([np.cumsum(nk[::-1])[::-1][1:], [0.0]])  # sum over j > k of N_j
        beta = self.beta0 + nk
        m = (self.beta0 * self.m0 + nk * xbar) / beta
        a = self.a0 + 0.5 * nk
        b = self.b0 + 0.5 * (nk * sk + self.beta0 * nk * (xbar - self.m0) ** 2 / beta)
        return _Params(1.0 + nk, self.alpha + tail, m, beta, a, b)

    def log_rho(self, p: _Params) -> np.ndarray:
        dg = self._digamma(p.g1 + p.g2)
        e_log_v = self._digamma(p.g1) - dg
        e_log_1mv = self._digamma(p.g2) - dg
        e_log_pi = e_log_v + np.concatenate([[0.0], np.cumsum(e_log_1mv)[:-1]])
        e_log_lam = self._digamma(p.a) - np.log(p.b)
        e_lam = p.a / p.b
        const = e_log_pi + 0.5 * e_log_lam - 0.5 * _LOG_2PI - 0.5 / p.beta
        # const - (0.5 e_lam) d d, in place (the same operations in the same order: same bits)
        d = np.subtract(self.x[:, None], p.m[None, :])
        out = np.multiply(0.5 * e_lam[None, :], d)
        out *= d
        return np.subtract(const[None, :], out, out=out)

    def step(self, p: _Params) -> tuple[np.ndarray, float]:
        """q(z) given the globals, and the ELBO at that optimum of q(z)."""
        resp = self.log_rho(p)
        top = resp.max(axis=1, keepdims=True)
        resp -= top
        np.exp(resp, out=resp)
        norm = resp.sum(axis=1, keepdims=True)
        resp /= norm
        data_term = float(self.c @ (np.log(norm[:, 0]) + top[:, 0]))
        return resp, data_term - self.kl(p)

    def kl(self, p: _Params) -> float:
        """KL(q(v) || p(v)) + KL(q(mu, lambda) || p(mu, lambda)), summed over components."""
        dg, gl = self._digamma, self._gammaln
        a1, b1, a2, b2 = p.g1, p.g2, 1.0, self.alpha
        kl_beta = (gl(a1 + b1) - gl(a1) - gl(b1)) - (gl(a2 + b2) - gl(a2) - gl(b2)) \
            + (a1 - a2) * dg(a1) + (b1 - b2) * dg(b1) - (a1 + b1 - a2 - b2) * dg(a1 + b1)
        a, b, a0, b0 = p.a, p.b, self.a0, self.b0
        kl_gamma = (a - a0) * dg(a) - gl(a) + gl(a0) + a0 * (np.log(b) - np.log(b0)) + a * (b0 - b) / b
        kl_mean = 0.5 * (np.log(p.beta / self.beta0) + self.beta0 / p.beta
                         + self.beta0 * (a / b) * (p.m - self.m0) ** 2 - 1.0)
        return float(np.sum(kl_beta) + np.sum(kl_gamma) + np.sum(kl_mean))

    # -- moves -----------------------------------------------------------------------------------
    @staticmethod
    def sort_by_size(resp: np.ndarray, counts: np.ndarray) -> np.ndarray:
        order = np.argsort(-(counts @ resp), kind="stable")
        return resp[:, order]

    def best_merge(self, resp: np.ndarray, elbo: float) -> tuple[np.ndarray, float] | None:
        """Merge the adjacent-in-mean pair that raises the ELBO most (None if no merge helps)."""
        t = resp.shape[1]
        if t < 2:
            return None
        w = resp * self.c[:, None]
        nk = w.sum(axis=0) + 1e-10
        order = np.argsort((self.x @ w) / nk)
        best: tuple[np.ndarray, float] | None = None
        for i, j in zip(order[:-1], order[1:], strict=True):
            merged = np.delete(resp, j, axis=1)
            keep = i if i < j else i - 1
            merged[:, keep] += resp[:, j]
            merged = self.sort_by_size(merged, self.c)
            p = self.globals_from(merged)
            new_resp, new_elbo = self.step(p)
            if new_elbo > elbo + 1e-9 * abs(elbo) and (best is None or new_elbo > best[1]):
                best = (new_resp, new_elbo)
        return best


def _kmeans_pp(x: np.ndarray, counts: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """Hard labels from k-means++ seeding and a few weighted Lloyd iterations (distinct values)."""
    t = min(t, len(x))
    centers = [x[rng.choice(len(x), p=counts / counts.sum())]]
    d2 = (x - centers[0]) ** 2
    for _ in range(1, t):
        w = d2 * counts
        if w.sum() <= 0:
            break
        centers.append(x[rng.choice(len(x), p=w / w.sum())])
        d2 = np.minimum(d2, (x - centers[-1]) ** 2)
    c = np.array(centers)
    for _ in range(20):
        labels = np.abs(x[:, None] - c[None, :]).argmin(axis=1)
        size = np.bincount(labels, weights=counts, minlength=len(c))
        keep = size > 0
        new = np.bincount(labels, weights=counts * x, minlength=len(c))[keep] / size[keep]
        if len(new) == len(c) and np.allclose(new, c):
            break
        c = new
    return np.abs(x[:, None] - c[None, :]).argmin(axis=1)


def fit_dp_mixture(
    values: np.ndarray,
    *,
    max_components: int = 10,
    weight_concentration: float = 1e-3,
    weight_threshold: float = 5e-3,
    max_iter: int = 300,
    tol: float = 1e-7,
    merges: bool = True,
    rng: np.random.Generator | None = None,
) -> Mixture:
    """Fit the truncated DP mixture to finite 1-D ``values``; drop modes lighter than the threshold.

    ``tol`` is on the change of the ELBO per data point between iterations.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    center = float(x.mean()) if n else 0.0
    scale = float(x.std()) if n else 0.0
    if n == 0 or scale <= 1e-12 * max(1.0, abs(center)):
        return Mixture(np.ones(1), np.array([center]), np.ones(1), 0, True)
    distinct, counts = np.unique((x - center) / scale, return_counts=True)
    counts = counts.astype(np.float64)
    labels = _kmeans_pp(distinct, counts, max_components, rng)
    t = int(labels.max()) + 1
    resp = np.zeros((len(distinct), t))
    resp[np.arange(len(distinct)), labels] = 1.0

    vi = _DPMixtureVI(distinct, counts, weight_concentration)
    resp = vi.sort_by_size(resp, counts)
    params = vi.globals_from(resp)
    resp, elbo = vi.step(params)
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        resp = vi.sort_by_size(resp, counts)
        params = vi.globals_from(resp)
        resp, new_elbo = vi.step(params)
        stalled = abs(new_elbo - elbo) < tol * n
        elbo = new_elbo
        if stalled or it % 25 == 0:
            merged = vi.best_merge(resp, elbo) if merges else None
            if merged is not None:
                resp, elbo = merged
                continue
            if stalled:
                converged = True
                break

    params = vi.globals_from(resp)
    # expected stick-breaking weights E[pi_k] under q(v)
    ev = params.g1 / (params.g1 + params.g2)
    weights = ev * np.concatenate([[1.0], np.cumprod(1.0 - ev)[:-1]])
    keep = weights > weight_threshold
    if not keep.any():
        keep = weights == weights.max()
    order = np.argsort(-weights[keep], kind="stable")
    w = weights[keep][order]
    w = w / w.sum()
    means = params.m[keep][order] * scale + center
    # the inverse square root of the posterior mean precision a/b is the mode's spread
    stds = np.sqrt(params.b[keep][order] / params.a[keep][order]) * scale
    stds = np.maximum(stds, 1e-6 * scale)
    return Mixture(w, means, stds, it, converged, elbo)
