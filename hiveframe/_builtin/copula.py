"""The builtin baseline table generator: a Gaussian copula over encoded columns.

How it models a table (context columns included, so a child table learns how it depends on its
parent's values):

1. Each column is encoded by a transformer (:mod:`hiveframe._builtin.transformers`, or the user's
   override by column name or kind). Every output column of the encoding is one *dimension*; the
   null indicator of a nullable column is a dimension of its own, so nulls that depend on other
   columns (a booking date that is null exactly when no country was booked) are modelled like any
   other dependence.
2. Each dimension gets an empirical marginal with a bounded size: values frequent enough (and every
   value of a discrete dimension) are *atoms* owning an interval of the uniform scale in proportion
   to their frequency; the rest is a smoothed empirical CDF through at most ``max_quantiles`` knots.
   Samples therefore never leave the observed range, zero-inflated columns keep their spike and
   integer columns keep their values.
3. Categories have no natural order, yet the copula is linear on the normal scale, so each
   categorical dimension's categories are ordered along the direction that the other dimensions
   explain best (the first linear discriminant of the other normal scores, iterated a few times).
4. The correlation matrix of normal scores is estimated pairwise (rows where a value is null do not
   count for that dimension), corrected for the attenuation that coarse (discrete) dimensions cause,
   and repaired to the nearest positive definite correlation matrix.

Sampling draws from the multivariate normal and maps back through the marginals. With ``context``
(one row per output row) or ``conditions`` (fixed for every row), known values become intervals of
the normal scale (points for continuous values): the known dimensions are drawn from the truncated
normal (exactly for one dimension, by Gibbs sweeps for several) and the others from the conditional
normal given them (the Schur complement).

A category column that another one determines (a city's country, a parent's country on an
invoice) is then redrawn from the pairs the data showed (:mod:`hiveframe._builtin.follows`). In the
same way, a column whose nullness another column determines (joint-income columns null exactly when
the application is individual, and so null together) has its nullness redrawn from the observed table
(``keep_null_patterns``); its value, where the redraw un-nulls it, is the copula's own latent draw.

Known limits (it is a baseline): dependence is linear on the normal scale, and each category
column is a single latent dimension, so it can follow only one direction of dependence strongly.
On census, husbands come out married men, but wives come out married without also coming out
women; the CTGAN plugin models such pairs better. On census_adult (80% split) it scores about 0.95
in SDMetrics' QualityReport against about 0.82 for SDV's GaussianCopulaSynthesizer, fitting in a
fraction of a second (``python -m benchmarks.bench_copula``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.encoding import TableEncoder
from hiveframe.components.generators import TableGenerator, TrainingCallback
from hiveframe.errors import ConfigError, DataError, Problem

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.privacy import PrivateTraining
    from hiveframe.components.transformers import Transformer
    from hiveframe.metadata import Column, Table

log = logging.getLogger(__name__)

_EPS_U = 1e-9  # keeps uniform values off 0 and 1 before the normal quantile function
_MIN_PAIR_ROWS = 5


# -- marginals -------------------------------------------------------------------------------------------
@dataclass
class _Marginal:
    """One dimension's distribution on the uniform scale.

    ``atoms`` (in latent order) own the intervals ``[lo, hi)``; ``knots_u``/``knots_x`` describe the
    quantile function of ordinal dimensions (flat over atoms, linear between continuous knots).
    ``nominal`` dimensions (categories) have no knots: their atoms are ordered for the copula, not by
    value.
    """

    atoms: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    knots_u: np.ndarray
    knots_x: np.ndarray
    nominal: bool
    n: int = 1
    #: variance of the normal scores (1 for continuous, less when atoms coarsen the scale)
    score_var: float = 1.0
    _sorted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self._sorted = np.argsort(self.atoms, kind="stable")
        self.score_var = _score_variance(self.lo, self.hi)

    # -- lookups -----------------------------------------------------------------------------------
    def atom_index(self, x: np.ndarray) -> np.ndarray:
        """Index of the atom equal to each value, -1 where none is."""
        if self.atoms.size == 0:
            return np.full(x.shape, -1, dtype=np.int64)
        sorted_atoms = self.atoms[self._sorted]
        pos = np.clip(np.searchsorted(sorted_atoms, x), 0, sorted_atoms.size - 1)
        hit = sorted_atoms[pos] == x
        return np.where(hit, self._sorted[pos], -1)

    def intervals(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uniform-scale interval of each value (a point for continuous values; NaN if unknown)."""
        x = np.asarray(x, dtype=np.float64)
        lo = np.full(x.shape, np.nan)
        hi = np.full(x.shape, np.nan)
        idx = self.atom_index(np.nan_to_num(x, nan=np.inf))
        known = ~np.isnan(x)
        atom = known & (idx >= 0)
        lo[atom], hi[atom] = self.lo[idx[atom]], self.hi[idx[atom]]
        rest = known & ~atom
        if rest.any() and self.knots_x.size:
            u = np.interp(x[rest], self.knots_x, self.knots_u)
            lo[rest] = hi[rest] = u
        return lo, hi

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF: uniform values to values of the dimension."""
        if self.knots_x.size:
            return np.interp(u, self.knots_u, self.knots_x)
        idx = np.searchsorted(self.hi, u, side="right")
        return self.atoms[np.clip(idx, 0, self.atoms.size - 1)]

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Normal scores of fitted values: the conditional mean over an atom's interval, the normal
        quantile of a continuous value."""
        x = np.asarray(x, dtype=np.float64)
        out = np.full(x.shape, np.nan)
        idx = self.atom_index(np.nan_to_num(x, nan=np.inf))
        atom = idx >= 0
        if self.atoms.size:
            out[atom] = _interval_mean(self.lo, self.hi)[idx[atom]]
        rest = ~atom & ~np.isnan(x)
        if rest.any() and self.knots_x.size:
            from scipy.special import ndtri

            floor = 0.5 / max(self.n, 1)
            out[rest] = ndtri(np.clip(np.interp(x[rest], self.knots_x, self.knots_u), floor, 1 - floor))
        return out

    # -- persistence -------------------------------------------------------------------------------
    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}/atoms": self.atoms, f"{prefix}/lo": self.lo, f"{prefix}/hi": self.hi,
                f"{prefix}/knots_u": self.knots_u, f"{prefix}/knots_x": self.knots_x}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, nominal: bool, n: int) -> _Marginal:
        get = lambda k: np.asarray(arrays[f"{prefix}/{k}"], dtype=np.float64)  # noqa: E731
        return cls(atoms=get("atoms"), lo=get("lo"), hi=get("hi"), knots_u=get("knots_u"),
                   knots_x=get("knots_x"), nominal=nominal, n=n)


def _interval_mean(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """E[Z | Phi^-1(lo) < Z < Phi^-1(hi)] for a standard normal Z."""
    from scipy.special import ndtri

    a, b = ndtri(np.clip(lo, 0, 1)), ndtri(np.clip(hi, 0, 1))
    width = np.maximum(hi - lo, 1e-300)
    return (_phi(a) - _phi(b)) / width


def _phi(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return np.where(np.isfinite(z), out, 0.0)


def _score_variance(lo: np.ndarray, hi: np.ndarray) -> float:
    """Variance of the normal scores: 1 minus the within-atom variance lost by coarsening."""
    if lo.size == 0:
        return 1.0
    from scipy.special import ndtri

    w = hi - lo
    keep = w > 0
    lo, hi, w = lo[keep], hi[keep], w[keep]
    a, b = ndtri(np.clip(lo, 0, 1)), ndtri(np.clip(hi, 0, 1))
    with np.errstate(invalid="ignore"):
        a_phi = np.where(np.isfinite(a), a * _phi(a), 0.0)
        b_phi = np.where(np.isfinite(b), b * _phi(b), 0.0)
    m = (_phi(a) - _phi(b)) / w
    within = 1 + (a_phi - b_phi) / w - m * m
    return float(np.clip(1.0 - np.sum(w * within), 0.0, 1.0))


def _fit_marginal(x: np.ndarray, *, nominal: bool, max_quantiles: int, atom_min_fraction: float) -> _Marginal:
    """Atoms for frequent (or all, for discrete dimensions) values, knots for the continuous rest."""
    n = x.size
    uniq, counts = np.unique(x, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])  # first position of each value, sorted
    lo, hi = start / n, (start + counts) / n
    integral = bool(np.all(uniq == np.rint(uniq)))
    discrete = nominal or (integral and uniq.size <= max_quantiles) or uniq.size <= 32
    if discrete:
        is_atom = np.ones(uniq.size, dtype=bool)
    else:
        is_atom = counts >= max(2.0, atom_min_fraction * n)
    atoms, alo, ahi = uniq[is_atom], lo[is_atom], hi[is_atom]
    if nominal:
        return _Marginal(atoms=atoms, lo=alo, hi=ahi, knots_u=np.zeros(0), knots_x=np.zeros(0),
                         nominal=True, n=n)
    cont = np.flatnonzero(~is_atom)
    if cont.size > max_quantiles:
        cont = cont[np.unique(np.linspace(0, cont.size - 1, max_quantiles).round().astype(np.int64))]
    cu = (start[cont] + counts[cont] / 2.0) / n
    knots_x = np.concatenate([atoms, atoms, uniq[cont]])
    knots_u = np.concatenate([alo, ahi, cu])
    order = np.lexsort((knots_u, knots_x))
    return _Marginal(atoms=atoms, lo=alo, hi=ahi, knots_u=knots_u[order], knots_x=knots_x[order],
                     nominal=False, n=n)


def _reorder(marginal: _Marginal, order: np.ndarray, counts: np.ndarray) -> _Marginal:
    """The nominal marginal with its atoms (``counts`` rows each) laid out in ``order``."""
    n = counts.sum()
    c = counts[order]
    hi = np.cumsum(c) / n
    lo = hi - c / n
    return _Marginal(atoms=marginal.atoms[order], lo=lo, hi=hi, knots_u=marginal.knots_u,
                     knots_x=marginal.knots_x, nominal=True, n=marginal.n)


# -- dimensions --------------------------------------------------------------------------------------------
@dataclass
class _Dim:
    column: str
    role: str  # "value" or "null" (the column's null indicator)
    null_dim: int | None  # for value dimensions of a column with a null indicator
    marginal: _Marginal

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "role": self.role, "null_dim": self.null_dim,
                "nominal": self.marginal.nominal, "n": self.marginal.n}


def _nearest_correlation(r: np.ndarray, floor: float) -> np.ndarray:
    """Clip eigenvalues at ``floor`` and rescale to a unit diagonal: a valid correlation matrix."""
    r = (r + r.T) / 2
    w, v = np.linalg.eigh(r)
    if w.min() >= floor:
        return r
    r = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(r))
    r = r / np.outer(d, d)
    np.fill_diagonal(r, 1.0)
    return r


def _truncnorm(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws truncated to [a, b] (vectorized inverse CDF, the precise tail used)."""
    from scipy.special import ndtr, ndtri

    flip = a > 0  # sample the mirrored interval so the CDF values are small (precise)
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    plo, phi = ndtr(lo), ndtr(hi)
    u = plo + rng.random(a.shape) * (phi - plo)
    with np.errstate(divide="ignore"):
        t = ndtri(np.clip(u, plo, phi))
    t = np.clip(t, lo, hi)
    empty = ~(phi > plo)
    if empty.any():  # interval beyond floating point reach: take its finite end
        t[empty] = np.where(np.isfinite(hi[empty]), hi[empty], lo[empty])
    return np.where(flip, -t, t)


# -- the generator -----------------------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class GaussianCopula(TableGenerator):
    """Gaussian copula with empirical marginals: fast, exact marginals, linear dependence.

    ``max_quantiles`` bounds the knots (and ``atom_min_fraction`` the atoms) stored per
    dimension, so the model's size does not grow with rows. ``order_categories`` orders categories
    on the normal scale by their dependence on the other columns (``ordering_rounds`` passes);
    ``correct_attenuation`` undoes the weakening of correlations that discrete dimensions cause;
    ``gibbs_sweeps`` is used when several conditioned dimensions are intervals.
    """

    name: ClassVar[str] = "gaussian_copula"
    supports_dp: ClassVar[bool] = True

    max_quantiles: int = 1000
    atom_min_fraction: float = 0.001
    order_categories: bool = True
    ordering_rounds: int = 2
    #: "lda": the direction the other columns predict best; "pca": the one most correlated with each
    ordering: str = "lda"
    correct_attenuation: bool = True
    max_correlation: float = 0.999
    gibbs_sweeps: int = 20
    #: a category column that another one (of the table or its context) determines to at least this
    #: bias-corrected uncertainty coefficient is drawn from their conditional table (see
    #: :mod:`hiveframe._builtin.follows`); ``None`` draws every column from the copula
    follow_threshold: float | None = 0.8
    #: columns whose nullness another column determines (to ``follow_threshold``) are drawn null from
    #: the observed table, so columns null together in the data stay null together
    keep_null_patterns: bool = True

    _encoder: TableEncoder | None = attrs.field(default=None, init=False)
    _follows: list = attrs.field(factory=list, init=False)
    _null_follows: list = attrs.field(factory=list, init=False)
    _dims: list[_Dim] = attrs.field(factory=list, init=False)
    _corr: np.ndarray = attrs.field(factory=lambda: np.zeros((0, 0)), init=False)
    _chol: np.ndarray | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        checks = [
            (int(self.max_quantiles) >= 2, f"max_quantiles must be at least 2, got {self.max_quantiles}"),
            (0.0 <= float(self.atom_min_fraction) < 1.0,
             f"atom_min_fraction must be in [0, 1), got {self.atom_min_fraction}"),
            (int(self.ordering_rounds) >= 0, f"ordering_rounds must be >= 0, got {self.ordering_rounds}"),
            (self.ordering in ("lda", "pca"), f"ordering must be 'lda' or 'pca', got {self.ordering!r}"),
            (0.0 < float(self.max_correlation) < 1.0,
             f"max_correlation must be in (0, 1), got {self.max_correlation}"),
            (int(self.gibbs_sweeps) >= 1, f"gibbs_sweeps must be at least 1, got {self.gibbs_sweeps}"),
            (self.follow_threshold is None or 0.0 < float(self.follow_threshold) <= 1.0,
             f"follow_threshold must be in (0, 1] or None, got {self.follow_threshold}"),
        ]
        bad = [message for ok, message in checks if not ok]
        if bad:
            raise ConfigError(f"gaussian_copula: {'; '.join(bad)}")

    # -- fit ---------------------------------------------------------------------------------------
    def _new_encoder(self) -> TableEncoder:
        from hiveframe._builtin.transformers import default_transformer

        return TableEncoder(default_transformer, self.transformers)

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        if data.num_rows == 0:
            raise DataError([Problem("the table has no rows to learn from", table=table.name,
                                     hint="drop the table from the metadata or provide rows")])
        for column in table.columns:
            if data.column(column.name).null_count == data.num_rows:
                log.warning("table %r, column %r is entirely null: it will be generated as all null",
                            table.name, column.name)
        encoder = self._new_encoder().fit(data, list(table.columns), seed=seed)
        matrix = encoder.transform(data)
        dims, masks = self._layout(encoder, matrix)
        n = matrix.shape[0]
        nominal_dims = self._nominal_dims(encoder)
        marginals: list[_Marginal] = []
        scores = np.full(matrix.shape, np.nan)
        for j in range(matrix.shape[1]):
            x = matrix[masks[:, j], j] if masks[:, j].any() else matrix[:, j]
            m = _fit_marginal(x, nominal=j in nominal_dims, max_quantiles=int(self.max_quantiles),
                              atom_min_fraction=float(self.atom_min_fraction))
            marginals.append(m)
            scores[:, j] = np.where(masks[:, j], m.scores(matrix[:, j]), np.nan)
        if self.order_categories:
            self._order_categories(matrix, masks, scores, marginals, dims, nominal_dims)
        for d, m in zip(dims, marginals, strict=True):
            d.marginal = m
        self._corr = self._correlation(scores, marginals, n)
        self._encoder, self._dims, self._chol = encoder, dims, None
        self._follows = []
        if self.follow_threshold is not None:
            from hiveframe._builtin.follows import find_follows

            self._follows = find_follows(data, list(table.columns), tuple(context_columns),
                                         threshold=float(self.follow_threshold))
            for f in self._follows:
                log.info("table %r: %r follows %r (strength %.2f)", table.name, f.column, f.lead, f.strength)
        self._null_follows = []
        if self.follow_threshold is not None and self.keep_null_patterns:
            from hiveframe._builtin.follows import find_null_follows

            self._null_follows = find_null_follows(
                data, list(table.columns), tuple(context_columns), indicators=set(self._indicator_dims()),
                exclude={f.column for f in self._follows}, threshold=float(self.follow_threshold))
            for nf in self._null_follows:
                log.info("table %r: nulls of %r follow %r (strength %.2f)", table.name, nf.column, nf.lead,
                         nf.strength)
        if callback is not None:
            callback({"table": table.name, "epoch": 0, "rows": n, "dimensions": len(dims)})

    def _fit_private(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
                     callback: TrainingCallback | None, workdir: Path | None, private: PrivateTraining) -> None:
        """Marginals from the surrogate, correlation from one noisy release (:mod:`._copula_private`)."""
        from hiveframe._builtin._copula_private import fit_copula_private

        fit_copula_private(self, private, table, context_columns=context_columns, seed=seed, callback=callback)

    def _layout(self, encoder: TableEncoder, matrix: np.ndarray) -> tuple[list[_Dim], np.ndarray]:
        """One _Dim per encoded column, and which rows each dimension observes (not null)."""
        dims: list[_Dim] = []
        masks = np.ones(matrix.shape, dtype=bool)
        placeholder = _Marginal(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), False)
        for column, transformer, sl in zip(encoder.columns, encoder.transformers, encoder.column_slices(), strict=True):
            width = sl.stop - sl.start
            has_indicator = bool(getattr(transformer, "null_indicator", False))
            null_dim = sl.stop - 1 if has_indicator else None
            for k in range(width):
                j = sl.start + k
                if null_dim is not None and j == null_dim:
                    dims.append(_Dim(column.name, "null", None, placeholder))
                else:
                    dims.append(_Dim(column.name, "value", null_dim, placeholder))
                    if null_dim is not None:
                        masks[:, j] = matrix[:, null_dim] <= 0.5
        return dims, masks

    @staticmethod
    def _nominal_dims(encoder: TableEncoder) -> set[int]:
        """Dimensions holding category codes (unordered), found from the builtin frequency encoding."""
        from hiveframe._builtin.transformers import CategoricalFrequencyTransformer

        out = set()
        for transformer, sl in zip(encoder.transformers, encoder.column_slices(), strict=True):
            if isinstance(transformer, CategoricalFrequencyTransformer):
                out.add(sl.start)
        return out

    def _order_categories(self, matrix: np.ndarray, masks: np.ndarray, scores: np.ndarray,
                          marginals: list[_Marginal], dims: list[_Dim], nominal_dims: set[int]) -> None:
        """Order each categorical's atoms along the first discriminant of the other dimensions."""
        from scipy.linalg import eigh

        targets = [j for j in sorted(nominal_dims) if marginals[j].atoms.size >= 3]
        if not targets or matrix.shape[1] < 2:
            return
        n = matrix.shape[0]
        for _ in range(max(0, int(self.ordering_rounds))):
            for j in targets:
                others = [k for k in range(matrix.shape[1]) if dims[k].column != dims[j].column]
                if not others:
                    continue
                z = np.nan_to_num(scores[:, others], nan=0.0)
                z = z - z.mean(axis=0)
                m = marginals[j]
                codes = m.atom_index(matrix[:, j])  # atoms are unique: every row matches one
                counts = np.bincount(codes, minlength=m.atoms.size).astype(np.float64)
                sums = np.stack([np.bincount(codes, weights=z[:, i], minlength=m.atoms.size)
                                 for i in range(z.shape[1])], axis=1)
                means = sums / np.maximum(counts, 1)[:, None]
                between = (means * (counts / n)[:, None]).T @ means
                within = z.T @ z / n
                ridge = 1e-6 + 1e-3 * np.trace(within) / max(within.shape[0], 1)
                try:
                    metric = (within + ridge * np.eye(within.shape[0]) if self.ordering == "lda"
                              else np.diag(np.diag(within)) + ridge * np.eye(within.shape[0]))
                    _, vecs = eigh(between, metric,
                                   subset_by_index=[within.shape[0] - 1, within.shape[0] - 1])
                except np.linalg.LinAlgError:
                    continue
                key = means @ vecs[:, 0]
                # keep the current order's direction so repeated passes do not flip back and forth
                current = (m.lo + m.hi) / 2
                if np.dot(key - key.mean(), (current - current.mean()) * counts) < 0:
                    key = -key
                order = np.lexsort((current, key))
                new = _reorder(m, order, counts)
                marginals[j] = new
                scores[:, j] = np.where(masks[:, j], new.scores(matrix[:, j]), np.nan)

    def _correlation(self, scores: np.ndarray, marginals: list[_Marginal], n: int) -> np.ndarray:
        """Pairwise-complete correlations of normal scores, corrected and made positive definite."""
        d = scores.shape[1]
        if d == 0:
            return np.zeros((0, 0))
        observed = ~np.isnan(scores)
        z = np.where(observed, scores, 0.0)
        n_rows = float(scores.shape[0])
        # pairwise-complete moments; only dimensions with nulls need the masked products
        gaps = np.flatnonzero(~observed.all(axis=0))
        m = observed[:, gaps].astype(np.float64)
        count = np.full((d, d), n_rows)
        sx = np.repeat(z.sum(axis=0)[:, None], d, axis=1)  # sx[i, j]: sum of z_i where j is observed
        sxx = np.repeat((z * z).sum(axis=0)[:, None], d, axis=1)
        if gaps.size:
            count[:, gaps] = observed.T.astype(np.float64) @ m
            count[gaps, :] = count[:, gaps].T
            sx[:, gaps] = z.T @ m
            sxx[:, gaps] = (z * z).T @ m
        sxy = z.T @ z
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_i = sx / count
            cov = sxy / count - mean_i * mean_i.T
            var_i = sxx / count - mean_i**2
            corr = cov / np.sqrt(var_i * var_i.T)
        corr[~np.isfinite(corr) | (count < _MIN_PAIR_ROWS)] = 0.0
        return self._finish_correlation(corr, marginals, floor=1e-4)

    def _finish_correlation(self, corr: np.ndarray, marginals: Sequence[_Marginal], floor: float) -> np.ndarray:
        """Raw score correlations made usable: corrected for the attenuation of discrete scores (when
        asked), clipped at ``max_correlation``, unit diagonal, nearest positive definite (eigenvalues
        at least ``floor``). Shared by the plain fit and the private one."""
        if self.correct_attenuation:
            v = np.array([mg.score_var for mg in marginals])
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                factor = 1.0 / np.sqrt(np.outer(v, v))
                corr = np.where(np.isfinite(factor), corr * factor, 0.0)
        limit = float(self.max_correlation)
        corr = np.clip(corr, -limit, limit)
        np.fill_diagonal(corr, 1.0)
        return _nearest_correlation(corr, floor=floor)

    # -- sample ------------------------------------------------------------------------------------
    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.fitted_table
        outputs = [c for c in table.columns if c.name not in self._context_columns]
        if num_rows == 0:
            return pa.table({c.name: pa.array([], type=_target_type(c)) for c in outputs})
        if not outputs:  # nothing to generate (a table of keys only): rows without columns
            return pa.table({"_": pa.nulls(num_rows)}).drop(["_"])
        rng = np.random.default_rng(seed)
        lo, hi = self._known_intervals(num_rows, context, conditions)
        z = self._draw(lo, hi, rng)
        from scipy.special import ndtr

        u = np.clip(ndtr(z), 0.0, 1.0)
        matrix = np.empty_like(u)
        for j, d in enumerate(self._dims):
            matrix[:, j] = d.marginal.quantile(u[:, j])
        assert self._encoder is not None
        onehot = self._onehot_dims()
        # one-hot blocks decode by arg max: among the slots drawn 1 (or all 0), take the highest draw
        matrix[:, onehot] += 0.5 * u[:, onehot]
        indicators = self._indicator_dims()
        flags = {c: matrix[:, j] > 0.5 for c, j in indicators.items()}
        redrawn = [f.column for f in self._null_follows if f.indicator and f.column not in conditions]
        for c in redrawn:  # decode a value everywhere; the redrawn nullness masks it below
            matrix[:, indicators[c]] = 0.0
        decoded = self._encoder.reverse(matrix)
        arrays = {}
        for column in outputs:
            if column.name in conditions:
                arrays[column.name] = _repeat_value(conditions[column.name], num_rows, decoded[column.name].type)
            else:
                arrays[column.name] = decoded[column.name]
        if self._follows:
            from hiveframe._builtin.follows import apply_follows

            apply_follows(self._follows, arrays, context, set(conditions), rng)
        if self._null_follows:
            from hiveframe._builtin.follows import apply_null_follows

            for c in conditions:
                if c in flags:
                    flags[c] = np.asarray(arrays[c].is_null().to_numpy(zero_copy_only=False), dtype=bool)
            apply_null_follows(self._null_follows, arrays, flags, context, set(conditions), rng)
            for c in redrawn:
                arrays[c] = pc.if_else(pa.array(flags[c]), pa.nulls(num_rows, type=arrays[c].type), arrays[c])
        return pa.table({c.name: _cast(arrays[c.name], c, table.name) for c in outputs})

    def _indicator_dims(self) -> dict[str, int]:
        """Per column with a null indicator, the indicator's dimension."""
        return {d.column: j for j, d in enumerate(self._dims) if d.role == "null"}

    def _onehot_dims(self) -> np.ndarray:
        assert self._encoder is not None
        out, start = [], 0
        for _, spans in self._encoder.spans:
            for span in spans:
                if span.activation == "onehot":
                    out.extend(range(start, start + span.width))
                start += span.width
        return np.asarray(out, dtype=np.int64)

    def _known_intervals(self, n: int, context: pa.Table | None,
                         conditions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Per row and dimension, the uniform-scale interval a known value pins (NaN: unknown)."""
        assert self._encoder is not None
        d = len(self._dims)
        lo = np.full((n, d), np.nan)
        hi = np.full((n, d), np.nan)
        slices = dict(zip([c.name for c in self._encoder.columns], self._encoder.column_slices(), strict=True))
        transformers = dict(zip([c.name for c in self._encoder.columns], self._encoder.transformers, strict=True))
        table = self.fitted_table
        known: dict[str, np.ndarray] = {}
        for name in self._context_columns:
            assert context is not None
            values = context.column(name)
            encoded = self._encode(transformers[name], values, strict=False)
            if values.null_count and not _models_nulls(transformers[name]):
                # never null when fitting: a null parent value tells nothing, leave it unknown
                encoded[np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
            known[name] = encoded
        problems = []
        for name, value in conditions.items():
            transformer = transformers[name]
            values = _value_array(value, n=1, column=table.column(name))
            encoded = self._encode(transformer, values, strict=False) if values is not None else None
            ok = encoded is not None and not np.isnan(encoded).any()
            if ok and values.null_count:
                ok = _models_nulls(transformer)
            if ok:
                sl = slices[name]
                for k in range(sl.stop - sl.start):
                    j = sl.start + k
                    nd = self._dims[j].null_dim
                    if nd is not None and encoded[0, nd - sl.start] > 0.5:
                        continue  # a null: the value dimensions stay unknown
                    if np.isnan(self._dims[j].marginal.intervals(encoded[:, k])[0]).any():
                        ok = False
            if not ok:
                hint = None
                cats = getattr(transformer, "categories", None)
                if isinstance(cats, list):
                    shown = ", ".join(map(repr, cats[:10])) + (f" ... ({len(cats)} in all)" if len(cats) > 10 else "")
                    hint = f"known values: {shown}"
                what = "null" if value is None else f"value {value!r}"
                problems.append(Problem(f"condition {what} was never seen when fitting",
                                        table=table.name, column=name, hint=hint))
                continue
            known[name] = np.repeat(encoded, n, axis=0)
        if problems:
            raise ConfigError("cannot sample with these conditions:\n" + "\n".join(
                f"  - {p.render()}" for p in problems))
        for name, encoded in known.items():
            sl = slices[name]
            for k in range(sl.stop - sl.start):
                j = sl.start + k
                lo[:, j], hi[:, j] = self._dims[j].marginal.intervals(encoded[:, k])
            for k in range(sl.stop - sl.start):
                j = sl.start + k
                nd = self._dims[j].null_dim
                if nd is not None:  # a null value: its value dimensions are unknown, not the placeholder
                    is_null = encoded[:, nd - sl.start] > 0.5
                    lo[is_null, j] = hi[is_null, j] = np.nan
        return lo, hi

    @staticmethod
    def _encode(transformer: Transformer, values: pa.Array | pa.ChunkedArray, *, strict: bool) -> np.ndarray:
        lenient = getattr(transformer, "transform_or_nan", None)
        if not strict and lenient is not None:
            return lenient(values)
        return transformer.transform(values)

    def _draw(self, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Normal draws: unconditional where nothing is known, conditional per pattern of known dims."""
        n, d = lo.shape
        z = np.empty((n, d))
        known = ~np.isnan(lo)
        if not known.any():
            return rng.standard_normal((n, d)) @ self._cholesky().T
        patterns, inverse = np.unique(known, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        for p, pattern in enumerate(patterns):
            rows = np.flatnonzero(inverse == p)
            z[rows] = self._draw_conditional(np.flatnonzero(pattern), lo[rows], hi[rows], rng)
        return z

    def _cholesky(self) -> np.ndarray:
        if self._chol is None:
            self._chol = np.linalg.cholesky(self._corr)
        return self._chol

    def _draw_conditional(self, k: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
        from scipy.special import ndtri

        n, d = lo.shape
        if k.size == 0:
            return rng.standard_normal((n, d)) @ self._cholesky().T
        r = self._corr
        a = ndtri(np.clip(lo[:, k], 0.0, 1.0))
        b = ndtri(np.clip(hi[:, k], 0.0, 1.0))
        point = ~(hi[:, k] > lo[:, k])
        # points (continuous values) are fixed; keep them off +-inf
        clipped = ndtri(np.clip(lo[:, k], _EPS_U, 1 - _EPS_U))
        a = np.where(point, clipped, a)
        b = np.where(point, clipped, b)
        r_kk = r[np.ix_(k, k)]
        if k.size == 1:
            zk = np.where(point, a, _truncnorm(a, b, rng))
        else:
            precision = np.linalg.inv(r_kk)
            zk = np.where(point, a, _interval_mean_z(a, b))
            if (~point).any():
                for _ in range(max(1, int(self.gibbs_sweeps))):
                    for i in range(k.size):
                        if point[:, i].all():
                            continue
                        pii = precision[i, i]
                        mu = -(zk @ precision[:, i] - pii * zk[:, i]) / pii
                        sd = 1.0 / np.sqrt(pii)
                        draw = mu + sd * _truncnorm((a[:, i] - mu) / sd, (b[:, i] - mu) / sd, rng)
                        zk[:, i] = np.where(point[:, i], a[:, i], draw)
        u_idx = np.setdiff1d(np.arange(d), k)
        z = np.empty((n, d))
        z[:, k] = zk
        if u_idx.size:
            r_uk = r[np.ix_(u_idx, k)]
            gain = np.linalg.solve(r_kk, r_uk.T).T  # R_uk R_kk^-1
            cov = r[np.ix_(u_idx, u_idx)] - gain @ r_uk.T
            cov = (cov + cov.T) / 2 + 1e-9 * np.eye(u_idx.size)
            try:
                chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                w, v = np.linalg.eigh(cov)
                chol = v * np.sqrt(np.maximum(w, 0.0))
            z[:, u_idx] = zk @ gain.T + rng.standard_normal((n, u_idx.size)) @ chol.T
        return z

    # -- state -------------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        if self._encoder is None:
            return ComponentState()
        state = ComponentState(values={"dims": [d.to_json() for d in self._dims],
                                       "follows": [f.to_json() for f in self._follows],
                                       "null_follows": [f.to_json() for f in self._null_follows]},
                               arrays={"corr": self._corr})
        for i, f in enumerate(self._follows):
            state.arrays[f"follow{i}_probs"] = f.probs
        for i, nf in enumerate(self._null_follows):
            state.arrays[f"null_follow{i}_probs"] = nf.probs
        for j, d in enumerate(self._dims):
            state.arrays.update(d.marginal.arrays(f"dim{j}"))
        state.put_child("encoder", self._encoder.get_state())
        return state

    def _set_state(self, state: ComponentState) -> None:
        table = self.fitted_table
        encoder = self._new_encoder()
        encoder.set_state(state.child("encoder"), list(table.columns))
        dims = []
        for j, info in enumerate(state.values["dims"]):
            marginal = _Marginal.from_arrays(state.arrays, f"dim{j}", bool(info["nominal"]), int(info["n"]))
            dims.append(_Dim(info["column"], info["role"], info["null_dim"], marginal))
        self._encoder, self._dims = encoder, dims
        self._corr = np.asarray(state.arrays["corr"], dtype=np.float64)
        self._chol = None
        from hiveframe._builtin.follows import Follow, NullFollow

        self._follows = [Follow.from_json(f, state.arrays[f"follow{i}_probs"])
                         for i, f in enumerate(state.values.get("follows", []))]
        self._null_follows = [NullFollow.from_json(f, state.arrays[f"null_follow{i}_probs"])
                              for i, f in enumerate(state.values.get("null_follows", []))]


def _models_nulls(transformer: Transformer) -> bool:
    """Whether the fitted encoding represents null (a null indicator, or null as a category)."""
    if getattr(transformer, "null_indicator", False):
        return True
    cats = getattr(transformer, "categories", None)
    return isinstance(cats, list) and None in cats


def _interval_mean_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """E[Z | a < Z < b] for normal-scale bounds (a start for Gibbs sweeps)."""
    from scipy.special import ndtr

    width = ndtr(b) - ndtr(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (_phi(a) - _phi(b)) / width
    mid = np.where(np.isfinite(a) & np.isfinite(b), (a + b) / 2, np.where(np.isfinite(a), a, b))
    return np.where((width > 1e-12) & np.isfinite(out), out, np.nan_to_num(mid))


# -- Arrow helpers ------------------------------------------------------------------------------------------
def _target_type(column: Column) -> pa.DataType:
    from hiveframe._builtin.transformers import arrow_type

    try:
        return arrow_type(column.dtype)
    except (ValueError, KeyError):
        import pyarrow as pa

        return pa.string()


def _cast(values: pa.Array, column: Column, table: str) -> pa.Array:
    """The generated values as the column's declared Arrow type."""
    import pyarrow as pa

    from hiveframe._builtin.transformers import arrow_type

    try:
        target = arrow_type(column.dtype)
    except (ValueError, KeyError):
        log.debug("table %s, column %s: unknown dtype %r, kept %s", table, column.name, column.dtype, values.type)
        return values
    if values.type == target:
        return values
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError([Problem(f"generated values of type {values.type} cannot be cast to {target}: {exc}",
                                 table=table, column=column.name,
                                 hint="check the column's dtype in the metadata")]) from None


def _value_array(value: Any, *, n: int, column: Column) -> pa.Array | None:
    """A condition value as an Arrow array of ``n`` copies (None when Arrow cannot hold it)."""
    import pyarrow as pa

    try:
        arr = pa.array([value] * n)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if arr.type == pa.null():
        arr = pa.nulls(n, type=_target_type(column))
    return arr


def _repeat_value(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    import pyarrow as pa

    arr = pa.array([value])
    if arr.type == pa.null():
        return pa.nulls(n, type=type_)
    try:
        arr = arr.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return arr.take(pa.array(np.zeros(n, dtype=np.int64)))


GENERATORS: list[type[TableGenerator]] = [GaussianCopula]

__all__: Sequence[str] = ["GENERATORS", "GaussianCopula"]
