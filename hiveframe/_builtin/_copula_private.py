"""The builtin copula's private fit (``GaussianCopula.fit_private``): noisy marginals, noisy correlation.

The copula learns two things from the data: marginals and the correlation of normal scores. Privately,
through the public :class:`~hiveframe.components.PrivateTraining` handle only (the noise and its
accounting belong to the DP wrapper that made the handle):

* **marginals**: the copula is fitted on the *surrogate* table built from the noisy histograms of the
  preprocessing releases, so its encoders, atoms and quantile knots are functions of noisy counts;
* **correlation**: each cleaned real row is turned into normal scores with those private marginals
  (nulls score 0), its score vector is clipped to norm ``C = sqrt(clip_factor * d)`` for ``d``
  dimensions, and the sum of outer products ``sum_i z_i z_i^T`` (sensitivity ``C^2`` in Frobenius
  norm, one row adds one term) is released with Gaussian noise on its upper triangle, with all the
  budget left after preprocessing (``private.release``). The noisy matrix is normalised to a unit diagonal and repaired to
  the nearest positive definite correlation matrix (post-processing).

This is the approach of releasing a noisy second-moment matrix (the "analyze Gauss" mechanism of
Dwork et al. 2014) applied to copula scores; it is fast (one pass, no training) and its utility
grows with the number of rows, because the noise does not.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hiveframe._builtin.copula import GaussianCopula
    from hiveframe.components import PrivateTraining, TrainingCallback
    from hiveframe.metadata import Table

log = logging.getLogger(__name__)

#: squared clipping norm of a row's score vector, per dimension (E ||z||^2 = d for normal scores)
CLIP_FACTOR = 2.0


def _scores(marginal: Any, x: np.ndarray) -> np.ndarray:
    """Normal scores of real values under a private marginal; values it never saw take the nearest atom."""
    from hiveframe._builtin.copula import _interval_mean

    out = marginal.scores(x)
    missing = np.isnan(out) & ~np.isnan(x)
    if missing.any() and marginal.atoms.size:
        means = _interval_mean(marginal.lo, marginal.hi)
        near = np.abs(x[missing][:, None] - marginal.atoms[None, :]).argmin(axis=1)
        out[missing] = means[near]
    return out


def fit_copula_private(copula: GaussianCopula, private: PrivateTraining, table: Table, *,
                       context_columns: tuple[str, ...], seed: int | None,
                       callback: TrainingCallback | None) -> None:
    """Fit ``copula`` with differential privacy (module docstring); called by ``fit_private``."""
    ordering = copula.order_categories
    copula.order_categories = False  # ordered below, from the noisy moments (the surrogate's columns are independent)
    try:
        copula._fit(private.surrogate, table, context_columns=context_columns, seed=seed, callback=None,
                    workdir=None)
    finally:
        copula.order_categories = ordering
    copula._follows = []  # conditional tables of the surrogate's independent columns would carry nothing
    copula._null_follows = []
    encoder, dims = copula._encoder, copula._dims
    assert encoder is not None
    matrix = encoder.transform(private.data)
    _, masks = copula._layout(encoder, matrix)
    nominal = [j for j, dim in enumerate(dims) if dim.marginal.nominal and dim.marginal.atoms.size]
    scalar = [j for j in range(len(dims)) if j not in nominal]
    # one row's vector: clipped normal scores of the scalar dimensions, one-hot of every category dimension
    z = np.zeros((matrix.shape[0], len(scalar)))
    for i, j in enumerate(scalar):
        sc = _scores(dims[j].marginal, matrix[:, j])
        z[:, i] = np.where(masks[:, j] & np.isfinite(sc), sc, 0.0)
    clip_scalar = float(np.sqrt(CLIP_FACTOR * max(len(scalar), 1)))
    norms = np.linalg.norm(z, axis=1)
    z *= np.minimum(1.0, clip_scalar / np.maximum(norms, 1e-12))[:, None]
    blocks = [z]
    block_of: dict[int, slice] = {}
    at = len(scalar)
    for j in nominal:
        m = dims[j].marginal
        codes = m.atom_index(np.nan_to_num(matrix[:, j], nan=np.inf))
        onehot = np.zeros((matrix.shape[0], m.atoms.size))
        ok = codes >= 0
        onehot[np.flatnonzero(ok), codes[ok]] = 1.0
        blocks.append(onehot)
        block_of[j] = slice(at, at + m.atoms.size)
        at += m.atoms.size
    v = np.concatenate(blocks, axis=1)
    clip_sq = clip_scalar**2 * (1 if scalar else 0) + len(nominal)  # the squared norm of a row is at most this
    w = v.shape[1]
    iu = np.triu_indices(w)
    second = v.T @ v
    noisy_upper, noise_std = private.release(
        second[iu], sensitivity=clip_sq, label="copula: second moments of clipped scores and one-hots",
        mechanism="gaussian (noisy second moments of clipped normal scores and category one-hots)")
    moments = np.zeros((w, w))
    moments[iu] = noisy_upper
    moments = moments + moments.T - np.diag(np.diag(moments))
    n = float(max(private.rows, 1))
    floor = 0.5 * noise_std  # noisy counts below this carry no signal
    # -- post-processing: order categories, then the correlation of every pair of dimensions ----------
    scores_of: dict[int, np.ndarray] = {}
    from hiveframe._builtin.copula import _interval_mean

    for j in nominal:
        before = dims[j].marginal
        if ordering and before.atoms.size >= 3 and w > before.atoms.size:
            dims[j].marginal = _order(before, moments, block_of[j], n, floor)
        m = dims[j].marginal
        # the score of each category, in the order of its one-hot block (the atoms' order before ordering)
        scores_of[j] = _interval_mean(m.lo, m.hi)[m.atom_index(before.atoms)]
    d = len(dims)
    cov = np.zeros((d, d))
    pos = {j: i for i, j in enumerate(scalar)}
    for a in range(d):
        for b in range(a, d):
            cov[a, b] = cov[b, a] = _moment(a, b, moments, pos, block_of, scores_of) / n
    diag = np.maximum(np.diag(cov), 0.05)
    corr = cov / np.sqrt(np.outer(diag, diag))
    copula._corr = copula._finish_correlation(corr, [dim.marginal for dim in dims], floor=1e-3)
    copula._chol = None
    if callback is not None:
        callback({"table": table.name, "epoch": 0, "rows": private.rows, "dimensions": d,
                  "epsilon": private.budget.epsilon_spent(), "delta": private.budget.delta_spent()})


def _moment(a: int, b: int, moments: np.ndarray, pos: dict[int, int], block_of: dict[int, slice],
            scores_of: dict[int, np.ndarray]) -> float:
    """Sum over rows of z_a * z_b, from the noisy moments (category dimensions through their scores)."""
    def side(j: int) -> tuple[slice | int, np.ndarray | None]:
        if j in pos:
            return pos[j], None
        return block_of[j], scores_of[j]

    ia, sa = side(a)
    ib, sb = side(b)
    block = moments[ia, ib]
    if sa is None and sb is None:
        return float(block)
    if sa is None:
        return float(np.asarray(block) @ sb)
    if sb is None:
        return float(sa @ np.asarray(block))
    if a == b:  # a category dimension with itself: only the diagonal (a row has one category)
        return float(np.diag(block) @ (sa * sa))
    return float(sa @ block @ sb)


def _order(marginal: Any, moments: np.ndarray, own: slice, n: float, floor: float) -> Any:
    """Categories ordered along the first discriminant of everything else, from noisy moments."""
    from hiveframe._builtin.copula import _reorder

    w = moments.shape[0]
    others = np.r_[0:own.start, own.stop:w]
    counts = np.maximum(np.diag(moments)[own], floor)
    sums = moments[own][:, others]
    means = sums / counts[:, None]
    mu = sums.sum(axis=0) / n
    p = counts / counts.sum()
    centred = means - mu
    between = (centred * p[:, None]).T @ centred
    total = moments[np.ix_(others, others)] / n - np.outer(mu, mu)
    within = total - between
    within = (within + within.T) / 2
    ridge = 1e-3 * max(np.trace(within) / max(len(others), 1), 1e-6)
    try:
        from scipy.linalg import eigh

        evals, evecs = np.linalg.eigh(within + ridge * np.eye(len(others)))
        inv_sqrt = evecs @ np.diag(1.0 / np.sqrt(np.maximum(evals, ridge))) @ evecs.T
        m = inv_sqrt @ between @ inv_sqrt
        _, vec = eigh((m + m.T) / 2, subset_by_index=[len(others) - 1, len(others) - 1])
        direction = inv_sqrt @ vec[:, 0]
    except (np.linalg.LinAlgError, ValueError):
        return marginal
    key = centred @ direction
    current = (marginal.lo + marginal.hi) / 2
    order = np.lexsort((current, key))
    atom_counts = np.round((marginal.hi - marginal.lo) * marginal.n).astype(np.float64)
    return _reorder(marginal, order, np.maximum(atom_counts, 1e-9))
