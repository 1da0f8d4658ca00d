"""Differential privacy as a privacy wrapper: ``dp``.

``DPWrapper(epsilon=...)`` wraps each table's generator in a :class:`DPProtectedGenerator`, which

1. releases the table's preprocessing statistics through a noisy, accounted mechanism
   (:mod:`hiveframe_privacy.statistics`: the row count, category domains with rare categories
   suppressed by a noisy threshold, value ranges from public bounds or a noisy log-histogram, a noisy
   histogram per column), spending ``preprocess_share`` of epsilon;
2. builds from those releases alone a *surrogate* table, on which the generator fits everything it
   saves about marginals (encoders, VGM modes, category frequencies for CTGAN's conditional vector);
3. cleans the real rows into the released domains and lets the generator learn from them only through
   a DP mechanism with the rest of the budget: DP-SGD for generators that implement
   ``fit_private`` (CTGAN's critic, TVAE), a noisy correlation matrix for the Gaussian copula.

The accountant (:mod:`hiveframe_privacy.accountant`) composes every release and every step in Rényi
DP; training stops before a step would exceed epsilon. The spend is reported per epoch through the
training callback (``epsilon`` in the event) and, per table, in :meth:`DPWrapper.report`, which the
engine writes to the model manifest.

A generator that cannot train privately (``supports_dp`` false) is refused, unless
``allow_non_dp=True``: then it is trained on the real rows as usual, with a loud warning, and the
report and the manifest mark the table ``"private": false``.

The seam is public (:mod:`hiveframe.components.privacy`): a generator sets ``supports_dp = True`` and
implements ``_fit_private(data, table, *, context_columns, seed, callback, workdir, private)``, where
``private`` is a :class:`hiveframe.components.PrivateTraining` (this module's :class:`PrivateTraining`
implements it). It must fit whatever it saves about the data on ``private.surrogate`` and touch
``data`` only through ``private.plan(...).gradient(...)`` or ``private.release(...)``.

Relational databases: :meth:`DPWrapper.begin` plans ONE budget for the whole database, whose privacy
unit is a root entity (:mod:`hiveframe_privacy.units`, :mod:`hiveframe_privacy.budget`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, NoiseSource, PrivacyWrapper, TableGenerator
from hiveframe.errors import ConfigError, MetadataError, Problem
from hiveframe.metadata import Metadata, Table
from hiveframe_privacy._protected import ProtectedGenerator
from hiveframe_privacy.units import DEFAULT_MAX_CHILDREN, PrivacyUnits, check_caps, plan_units

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa
    import torch

    from hiveframe.components import TrainingCallback
    from hiveframe_privacy.budget import DatabaseBudget, TableBudget
    from hiveframe_privacy.statistics import PrivateStatistics

log = logging.getLogger(__name__)


class NonPrivateWarning(UserWarning):
    """A table was trained without differential privacy although DP was asked for."""


# -- what a generator gets to train privately --------------------------------------------------------
@dataclass
class DPSGDPlan:
    """One DP-SGD run: sampling rate, noise, the sampler and the budget it spends."""

    budget: TableBudget
    q: float
    sigma: float
    max_grad_norm: float
    group: int
    steps_per_epoch: int
    total_steps: int
    micro_batch_size: int | None
    sampler: Any  # hiveframe_privacy.dpsgd.PoissonSampler or EntitySampler
    #: the expected number of rows per step, from the *noisy* row count (the gradient's denominator)
    expected_units: float
    noise: NoiseSource  # Poisson sampling and gradient noise: secret, never the seed
    #: rows one privacy unit owns at most: each row's gradient is clipped to max_grad_norm / unit_rows
    unit_rows: float = 1.0
    exhausted: bool = False
    #: the step's noise multiplier relative to ONE row, for the per-row figure (None: sigma * unit_rows)
    row_sigma: float | None = None
    last_stats: dict[str, float] = field(default_factory=dict)
    _sampling_rng: np.random.Generator | None = None
    _noise_gens: dict[str, Any] = field(default_factory=dict)

    @property
    def noise_std(self) -> float:
        return self.sigma * self.max_grad_norm * (2.0 if self.group > 1 else 1.0)

    def sample(self) -> np.ndarray:
        """Row indices of the next private step, shape (units, group) (-1 pads a short group).

        The Poisson sample is drawn from the secret source: the privacy amplification of sampling
        holds only while nobody can tell which rows a step used.
        """
        if self._sampling_rng is None:
            self._sampling_rng = self.noise.numpy()
        return self.sampler.sample(self._sampling_rng)

    def can_step(self) -> bool:
        if not self.exhausted and not self.budget.can_step(self.q, self.sigma):
            self.exhausted = True
            log.info("table %s: privacy budget reached after %d DP-SGD steps (epsilon %.4g)", self.budget.table,
                     self.budget.training["steps"] if self.budget.training else 0, self.budget.epsilon_spent())
        return not self.exhausted

    def gradient(self, loss_fn: Any, params: dict[str, torch.Tensor], inputs: tuple[Any, ...], *,
                 in_dims: tuple[Any, ...] | None = None) -> dict[str, torch.Tensor]:
        """The noisy clipped mean gradient of one private step (accounted here; the noise is secret)."""
        from hiveframe_privacy.dpsgd import private_gradient

        if not self.can_step():
            raise ConfigError(f"table {self.budget.table!r}: the privacy budget is spent",
                              hint="check plan.can_step() before each private step")
        device = next(iter(params.values())).device if params else "cpu"
        generator = self._noise_gens.get(str(device))
        if generator is None:
            generator = self._noise_gens[str(device)] = self.noise.torch(device)
        grads, stats = private_gradient(loss_fn, params, inputs, max_grad_norm=self.max_grad_norm / self.unit_rows,
                                        noise_std=self.noise_std, denominator=self.expected_units,
                                        micro_batch=self.micro_batch_size, generator=generator, in_dims=in_dims)
        row_sigma = self.sigma * self.unit_rows if self.row_sigma is None else self.row_sigma
        self.budget.step(self.q, self.sigma, row_sigma=row_sigma)
        self.last_stats = stats
        return grads

    def epoch_info(self) -> dict[str, Any]:
        """What the epoch callback reports: epsilon spent so far, the table's delta and budget."""
        return {"epsilon": self.budget.epsilon_spent(), "delta": self.budget.delta_spent(),
                "epsilon_budget": self.budget.epsilon, "budget_exhausted": self.exhausted}


@dataclass
class PrivateTraining:
    """Handed to ``generator.fit_private``: implements :class:`hiveframe.components.PrivateTraining`."""

    data: pa.Table  # the real rows, cleaned into the released domains: only for DP mechanisms
    surrogate: pa.Table  # rows following the noisy marginals: fit encoders and frequencies on these
    statistics: PrivateStatistics
    budget: TableBudget
    noise: NoiseSource = field(default_factory=NoiseSource)
    #: the privacy unit (root entity) of every row of ``data``; None: each row is its own unit
    units: np.ndarray | None = None
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None
    micro_batch_size: int | None = None
    learning_rate: float | None = None
    pac: int | None = 1
    #: for the generator's non-private draws only (initialisation, its own sampling); DP draws use ``noise``
    seed: int = 0

    @property
    def rows(self) -> int:
        """The noisy row count (what a generator may report about the table's size).

        Released once for the table (the statistics' release, or else the budget's own).
        """
        return int(self.statistics.rows) if self.statistics is not None else self.budget.rows()

    def plan(self, *, batch_size: int, epochs: int, steps_per_batch: int = 1, group: int = 1) -> DPSGDPlan:
        """Sampling rate, steps and noise for ``epochs`` passes with expected ``batch_size`` units.

        ``steps_per_batch`` private steps are taken per batch (CTGAN's discriminator steps); the
        noise multiplier is derived from epsilon when not given. The sampling rate comes from the
        *noisy* row count: ``batch / n`` with the exact ``n`` would be stored in the manifest and
        reveal it. Poisson sampling at that rate over the real rows is still exactly what the
        accountant assumes.
        """
        from hiveframe_privacy.dpsgd import EntitySampler, PoissonSampler

        n = self.rows
        group = max(1, int(group))
        unit_rows = self.budget.unit_rows
        if unit_rows > 1 and group > 1:
            raise ConfigError(f"table {self.budget.table!r}: pac groups cannot be combined with parent-group "
                              "clipping (a child table under DP)", hint="set pac=1 in the dp options")
        if unit_rows > 1 and self.units is None:
            raise ConfigError(f"table {self.budget.table!r}: DP-SGD needs each row to belong to one privacy unit, "
                              "but this table hangs below several parents",
                              hint="use the DP copula ('gaussian_copula') for this table")
        units = n if group == 1 else max(1, int(np.ceil(n / group)))
        expected = max(1, int(batch_size) // group)
        q = min(1.0, expected / units)
        steps_per_epoch = max(1, int(round(1.0 / q)))
        total = max(1, int(epochs) * steps_per_epoch * max(1, int(steps_per_batch)))
        sigma = self._noise_multiplier(q, total)
        self.budget.start_training(q=q, sigma=sigma, sensitivity_factor=1 if group == 1 else 2,
                                   planned_steps=total, max_grad_norm=self.max_grad_norm)
        log.info("table %s: DP-SGD with sampling rate %.4g, noise multiplier %.3g, clip %.3g, %d steps planned",
                 self.budget.table, q, sigma, self.max_grad_norm, total)
        # the samplers draw from the real rows (or their entities) at rate q; the denominator of the
        # mean gradient (``expected_units``) comes from the noisy count, like q
        sampler = (EntitySampler(self.units, q, expected_rows=q * n) if unit_rows > 1
                   else PoissonSampler(self.data.num_rows, q, group))
        return DPSGDPlan(budget=self.budget, q=q, sigma=sigma, max_grad_norm=self.max_grad_norm, group=group,
                         steps_per_epoch=steps_per_epoch, total_steps=total,
                         micro_batch_size=self.micro_batch_size, sampler=sampler, expected_units=q * units,
                         noise=self.noise, unit_rows=unit_rows)

    def _noise_multiplier(self, q: float, total_steps: int) -> float:
        """The user's ``noise_multiplier``, else the one the budget affords for ``total_steps`` at rate ``q``."""
        if self.noise_multiplier is None:
            return self.budget.training_noise(q, total_steps)
        sigma = float(self.noise_multiplier)
        if sigma <= 0:
            raise ConfigError(f"noise_multiplier must be positive, got {sigma}")
        return sigma

    def unit_plan(self, *, batch_size: int, epochs: int, units: int, noisy_units: float) -> DPSGDPlan:
        """DP-SGD whose gradient is given per privacy unit (a parent with its whole sequence of children).

        Each step Poisson-samples the units ``0 .. units - 1`` (``plan.sample()[:, 0]``) at rate
        ``batch_size / noisy_units`` (a released count: the exact one would be stored with the rate); the
        generator hands ``gradient`` one factored gradient per sampled unit (the sum over all its rows),
        clipped to ``max_grad_norm`` as a whole, so the sampled Gaussian analysis holds per unit. For the
        per-row figure a row counts with sensitivity ``2 * max_grad_norm`` (it changes its unit's clipped
        gradient by at most that).
        """
        from hiveframe_privacy.dpsgd import PoissonSampler

        noisy = max(1.0, float(noisy_units))
        q = min(1.0, max(1, int(batch_size)) / noisy)
        steps_per_epoch = max(1, int(round(1.0 / q)))
        total = max(1, int(epochs) * steps_per_epoch)
        sigma = self._noise_multiplier(q, total)
        self.budget.start_training(q=q, sigma=sigma, sensitivity_factor=1, planned_steps=total,
                                   max_grad_norm=self.max_grad_norm)
        assert self.budget.training is not None
        self.budget.training["clip_unit"] = "sequence (one parent with all its children, clipped as a whole)"
        log.info("table %s: DP-SGD per sequence with sampling rate %.4g, noise multiplier %.3g, clip %.3g, "
                 "%d steps planned", self.budget.table, q, sigma, self.max_grad_norm, total)
        return DPSGDPlan(budget=self.budget, q=q, sigma=sigma, max_grad_norm=self.max_grad_norm, group=1,
                         steps_per_epoch=steps_per_epoch, total_steps=total, micro_batch_size=None,
                         sampler=PoissonSampler(int(units), q), expected_units=q * noisy, noise=self.noise,
                         unit_rows=1.0, row_sigma=sigma / 2)

    def release(self, values: np.ndarray, *, sensitivity: float, label: str,
                mechanism: str) -> tuple[np.ndarray, float]:
        """One Gaussian release with the rest of the table's training budget (per-row ``sensitivity``).

        The noise comes from the budget's secret source (the wrapper's, as :attr:`noise`), never the seed.
        """
        budget = self.budget
        sigma = budget.training_noise(1.0, 1) if self.noise_multiplier is None else float(self.noise_multiplier)
        if not budget.can_step(1.0, sigma):
            raise ConfigError(f"table {budget.table!r}: noise_multiplier {sigma} would exceed epsilon {budget.epsilon}",
                              hint="leave noise_multiplier unset")
        budget.start_training(q=1.0, sigma=sigma, sensitivity_factor=1, planned_steps=1,
                              max_grad_norm=float(sensitivity))
        assert budget.training is not None
        budget.training["mechanism"] = mechanism
        budget.training["clip_unit"] = "row (vector norm clipped)" if budget.unit_rows == 1 else \
            f"root entity ({budget.unit_rows:g} rows at most)"
        values = np.asarray(values, dtype=np.float64)
        std = sigma * float(sensitivity) * budget.unit_rows
        noisy = budget.gaussian_noise(values, std)
        budget.step(1.0, sigma, row_sigma=sigma * budget.unit_rows)
        budget.ledger.append({"release": label, "mechanism": "gaussian (training)", "sensitivity": float(sensitivity),
                              "unit_rows": budget.unit_rows, "noise_std": std, "values": int(values.size)})
        return noisy, std


def supports_private_training(generator: TableGenerator) -> bool:
    return bool(type(generator).supports_dp)


# -- the wrapped generator ---------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class DPProtectedGenerator(ProtectedGenerator):
    """A table generator trained with differential privacy (see the module docstring)."""

    name: ClassVar[str] = "dp_protected"
    requires: ClassVar[tuple[str, ...]] = ("scipy",)

    _wrapper: DPWrapper | None = attrs.field(default=None, alias="_wrapper")
    _report: dict[str, Any] = attrs.field(factory=dict, init=False)
    _rows: int | None = attrs.field(default=None, init=False)

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        return self.inner.conditional

    @property
    def is_private(self) -> bool:
        return True

    @property
    def released_rows(self) -> int | None:
        """The noisy row count released while fitting (None when not trained privately)."""
        return self._rows

    @property
    def privacy_report(self) -> dict[str, Any]:
        return dict(self._report)

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        from hiveframe_privacy.statistics import PrivateStatistics

        wrapper = self._wrapper or DPWrapper(epsilon=1.0)
        if not supports_private_training(self.inner):
            if not wrapper.allow_non_dp:
                raise ConfigError(
                    f"table {table.name!r}: generator {self.inner.name!r} cannot train with differential privacy "
                    "(its class does not set supports_dp)",
                    hint="use 'ctgan', 'tvae', 'autoregressive' or 'gaussian_copula' (a DP copula), or pass allow_non_dp=True "
                    "to accept a model without a privacy guarantee for this table")
            message = (f"table {table.name!r}: generator {self.inner.name!r} is trained WITHOUT differential "
                       "privacy (allow_non_dp=True): the model may reveal individual rows")
            warnings.warn(message, NonPrivateWarning, stacklevel=2)
            log.warning(message)
            self.inner.fit(data, table, context_columns=context_columns, seed=seed, callback=callback,
                           workdir=workdir)
            self._report = {"private": False, "generator": self.inner.name, "reason": "allow_non_dp",
                            "warning": message}
            wrapper._reports[table.name] = self._report
            return
        budget = wrapper.budget_for(table, data.num_rows, generator=self.inner)
        units = wrapper.units_of(table.name, data.num_rows)
        if wrapper._null_handling.get(table.name) == "drop":
            data, units = _complete_rows(data, [c for c in table.column_names if c not in context_columns], units)
        stats = PrivateStatistics.release(data, table, table.column_names, budget, bins=wrapper.bins)
        if wrapper._null_handling.get(table.name) == "mean":
            stats.impute([c for c in table.column_names if c not in context_columns])
        # the surrogate is post-processing of the releases: its shuffles follow the seed (reproducible
        # given the releases); cleaning draws replacements for real rows' values: secret, like the noise
        surrogate = stats.surrogate(max(wrapper.surrogate_rows, 1),
                                    np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 71])))
        clean = stats.clean(data, budget.noise_rng())
        private = PrivateTraining(data=clean, surrogate=surrogate, statistics=stats, budget=budget,
                                  noise=wrapper.noise, units=units,
                                  max_grad_norm=wrapper.max_grad_norm, noise_multiplier=wrapper.noise_multiplier,
                                  micro_batch_size=wrapper.micro_batch_size, learning_rate=wrapper.learning_rate,
                                  pac=wrapper.pac, seed=0 if seed is None else int(seed))
        self.inner.fit_private(clean, table, private=private, context_columns=context_columns, seed=seed,
                               callback=callback, workdir=workdir)
        self._rows = stats.rows
        self._report = {"private": True, "generator": self.inner.name, **budget.report(),
                        "statistics": stats.summary()}
        wrapper._reports[table.name] = self._report
        log.info("table %s: epsilon spent %.4g of %.4g (delta %.3g)", table.name, budget.epsilon_spent(),
                 budget.epsilon, budget.delta_spent())

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        return self.inner.sample(num_rows, context=context, conditions=conditions, seed=seed)

    # -- sequences (hiveframe.components.SequenceGenerator) ------------------------------------------
    @property
    def sequential(self) -> bool | None:
        return getattr(self.inner, "sequential", None)

    def fit_sequences(self, data: pa.Table, table: Table, *, parent_index: np.ndarray, parents: pa.Table,
                      order_by: str | None = None, seed: int | None = None,
                      callback: TrainingCallback | None = None, workdir: Path | None = None) -> DPProtectedGenerator:
        """Learn child rows as one sequence per parent with differential privacy; the privacy unit is one
        parent with its whole sequence.

        Each parent keeps at most ``max_children`` children (the public cap; the rest of a longer sequence
        is dropped, so no length above the cap is learnt or drawn). The statistics of the rows (their own
        columns and the parent's context columns) are released with a parent's sensitivity (``cap`` rows),
        and so is the number of parents (the sampling rate's denominator); the inner generator trains
        through :meth:`PrivateTraining.unit_plan`, clipping each parent's whole gradient.
        """
        import pyarrow as pa

        from hiveframe_privacy.statistics import PrivateStatistics

        wrapper = self._wrapper or DPWrapper(epsilon=1.0)
        fit = getattr(self.inner, "fit_sequences_private", None)
        if fit is None:
            raise ConfigError(f"table {table.name!r}: generator {self.inner.name!r} cannot learn sequences with "
                              "differential privacy", hint="set sequential=false for this table")
        noisy_parents: float | None = None
        if wrapper._database is not None:  # the engine: the parent must be a root entity, the unit
            cap, noisy_parents = self._database_sequences(wrapper, table)
        else:
            spec = wrapper.max_children
            cap = int(spec.get(table.name, spec.get("*", DEFAULT_MAX_CHILDREN))) if isinstance(spec, dict) \
                else int(spec)
        parent_index = np.asarray(parent_index, dtype=np.int64)
        context = [c for c in table.column_names if c in parents.column_names]
        # the public cap: each parent's first ``cap`` children (rows come grouped by parent, in order)
        n = len(parent_index)
        starts = np.r_[0, np.flatnonzero(np.diff(parent_index)) + 1] if n else np.zeros(0, dtype=np.int64)
        position = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) if n else np.zeros(0, np.int64)
        keep = position < cap
        data, parent_index = data.filter(pa.array(keep)), parent_index[keep]
        rows = data
        for c in context:
            if c not in rows.column_names:
                rows = rows.append_column(c, parents.column(c).take(pa.array(parent_index, type=pa.int64())))
        rows = rows.select(table.column_names)
        budget = wrapper.budget_for(table, rows.num_rows, extra_releases=1, generator=self.inner)
        budget.unit_rows = float(cap)  # a parent owns at most ``cap`` rows: every release is per parent
        stats = PrivateStatistics.release(rows, table, table.column_names, budget, bins=wrapper.bins)
        if noisy_parents is None:  # alone: the number of parents (units) is released here
            noisy_parents = float(budget.release(np.array([parents.num_rows]), sensitivity=1.0 / cap,
                                                 label="parents (sequences)")[0])
        surrogate = stats.surrogate(max(wrapper.surrogate_rows, 1),
                                    np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 71])))
        clean = stats.clean(rows, budget.noise_rng())
        clean_parents = stats.clean(parents.select(context), budget.noise_rng()) if context else parents.select([])
        private = PrivateTraining(data=clean, surrogate=surrogate, statistics=stats, budget=budget,
                                  noise=wrapper.noise, units=parent_index,
                                  max_grad_norm=wrapper.max_grad_norm, noise_multiplier=wrapper.noise_multiplier,
                                  micro_batch_size=wrapper.micro_batch_size, learning_rate=wrapper.learning_rate,
                                  pac=wrapper.pac, seed=0 if seed is None else int(seed))
        fit(clean, table, parent_index=parent_index, parents=clean_parents, order_by=order_by, seed=seed,
            callback=callback, private=private, max_length=cap, noisy_parents=noisy_parents)
        self._rows = stats.rows
        self._report = {"private": True, "generator": self.inner.name, **budget.report(),
                        "statistics": stats.summary(), "sequences": {"max_length": cap}}
        wrapper._reports[table.name] = self._report
        self._table = self.inner.fitted_table
        self._context_columns = tuple(context)
        log.info("table %s (sequences): epsilon spent %.4g of %.4g (delta %.3g)", table.name,
                 budget.epsilon_spent(), budget.epsilon, budget.delta_spent())
        return self

    def sample_sequences(self, parents: pa.Table, *, seed: int | None = None) -> tuple[pa.Table, np.ndarray]:
        return self.inner.sample_sequences(parents, seed=seed)  # type: ignore[attr-defined]

    @property
    def private_sequences(self) -> bool:
        """Whether the inner generator learns sequences under DP (the engine asks before choosing them)."""
        return callable(getattr(self.inner, "fit_sequences_private", None))

    @staticmethod
    def _database_sequences(wrapper: DPWrapper, table: Table) -> tuple[int, float]:
        """In the engine: the cap of the table's one foreign key and the released count of its parent, a
        root table (one parent is one privacy unit, so a sequence is a unit's whole contribution)."""
        from hiveframe_privacy.units import cap_for

        md, units = wrapper._md, wrapper._units
        fks = [fk for fk in md.foreign_keys if fk.child_table == table.name] if md is not None else []
        parent = fks[0].parent_table if len(fks) == 1 else None
        budget = wrapper._budgets.get(parent) if parent is not None else None
        cap = cap_for(wrapper.max_children, fks[0]) if fks else 0
        if (parent is None or units is None or parent not in units.roots or budget is None or budget._rows is None
                or units.unit_rows(table.name) != cap):
            raise ConfigError(f"table {table.name!r}: sequences under differential privacy need one foreign key "
                              "to a root table (each parent is one privacy unit), fitted before it",
                              hint="set sequential=false for this table")
        return cap, float(budget._rows)

    def _get_state(self) -> ComponentState:
        return ComponentState(values={"report": self._report, "rows": self._rows})

    def _set_state(self, state: ComponentState) -> None:
        self._report = dict(state.values.get("report") or {})
        rows = state.values.get("rows")
        self._rows = None if rows is None else int(rows)


def _complete_rows(data: pa.Table, columns: list[str], units: np.ndarray | None) -> tuple[pa.Table, np.ndarray | None]:
    """Null handling "drop" under DP: the rows without a null in ``columns`` (and their units)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = np.ones(data.num_rows, dtype=bool)
    for c in columns:
        keep &= ~np.asarray(pc.is_null(data.column(c)).to_numpy(zero_copy_only=False), dtype=bool)
    if not keep.any():
        raise ConfigError("null handling 'drop' leaves no complete row to learn from",
                          hint="use 'model' or 'mean' for this table")
    return data.filter(pa.array(keep)), (None if units is None else units[keep])


# -- the wrapper ---------------------------------------------------------------------------------------
def _positive(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    if value is None:
        return None if allow_none else f"{name} is required"
    if isinstance(value, bool):
        return f"{name} must be a number, got {value!r}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{name} must be a number, got {value!r}"
    return None if v > 0 and np.isfinite(v) else f"{name} must be a positive, finite number, got {value!r}"


@attrs.define(kw_only=True, eq=False)
class DPWrapper(PrivacyWrapper):
    """Differential privacy for a whole database: (epsilon, delta) per root entity (one table: per row).

    ``epsilon`` is required (positive, finite). ``delta`` (strictly between 0 and 1) defaults to
    ``1e-6``, a fixed value, so that the stored delta reveals nothing about the data; ``max_rows``
    declares a public upper bound on the privacy units (root entities; for one table, its rows), and
    then the default delta is ``1/(10 m ln m)`` for that bound ``m`` (capped at 1e-5), a given delta
    must be below ``1/m``, and data with more units is refused before any release.
    ``preprocess_share`` of epsilon goes to the preprocessing statistics (default: 0.3 when every
    table uses the DP copula, 0.15 otherwise). ``max_children`` caps the children each parent row
    contributes, for every relationship or per foreign key (``{"sessions": 20, "*": 5}``; default
    10): rows beyond it are left out of training and reported. ``detect_metadata=True`` accepts
    metadata detected from the private data (outside the guarantee; without it, DP needs declared
    metadata). DP-SGD settings:
    ``max_grad_norm`` (clipping), ``noise_multiplier`` (derived from epsilon, the epochs and the
    sampling rate when not given), ``micro_batch_size`` (per-example gradients are computed this many
    at a time, to bound memory), ``learning_rate`` (overrides the generator's private learning rate),
    ``pac`` (CTGAN's pac group size under DP: 1 clips per row; larger groups are clipped per group
    with twice the sensitivity). ``allow_non_dp`` accepts generators that cannot train privately.

    Every random draw of a DP mechanism (Gaussian releases, noisy thresholds, Poisson sampling,
    DP-SGD noise) comes from one :class:`~hiveframe.components.NoiseSource` held here: fresh OS
    entropy, never the fit's ``seed``, never saved. ``noise=NoiseSource.fixed(k)`` is **for tests
    only** (a neighbouring-dataset test needs the same noise in two fits): the noise can then be
    replayed, and the report (the manifest) says the fit is NOT differentially private. The source is
    not a saved parameter.
    """

    name: ClassVar[str] = "dp"
    requires: ClassVar[tuple[str, ...]] = ("scipy",)
    extra: ClassVar[str | None] = "privacy"
    differentially_private: ClassVar[bool] = True

    epsilon: float | None = None
    delta: float | None = None
    #: a public upper bound on the rows of any table (declared, never measured), for the default delta
    max_rows: int | None = None
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None
    micro_batch_size: int | None = 128
    learning_rate: float | None = None
    #: share of epsilon for preprocessing statistics (None: 0.3 for the DP copula, whose marginals
    #: are most of what it learns; 0.15 for DP-SGD generators)
    preprocess_share: float | None = None
    allow_non_dp: bool = False
    pac: int | None = 1
    #: rows of the surrogate table the encoders are fitted on
    surrogate_rows: int = 5000
    #: bins of the noisy histogram of a numeric column
    bins: int = 128
    #: children kept per parent row: an integer for every foreign key, or a mapping (see units.cap_for)
    max_children: Any = DEFAULT_MAX_CHILDREN
    #: accept metadata detected from the private data (outside the guarantee)
    detect_metadata: bool = False
    #: the source of every DP draw (None: fresh OS entropy); ``NoiseSource.fixed(k)`` is for tests only.
    #: Never saved (see get_params).
    noise: NoiseSource | None = None
    _budgets: dict[str, TableBudget] = attrs.field(factory=dict, init=False)
    _reports: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)
    _null_handling: dict[str, str] = attrs.field(factory=dict, init=False)
    _database: DatabaseBudget | None = attrs.field(default=None, init=False)
    _units: PrivacyUnits | None = attrs.field(default=None, init=False)
    _metadata_detected: bool = attrs.field(default=False, init=False)
    _md: Metadata | None = attrs.field(default=None, init=False)
    def set_null_handling(self, table: str, mode: str) -> None:
        """``"mean"``: nulls become the released mean or most common category; ``"drop"``: rows left out."""
        self._null_handling[table] = mode

    def get_params(self) -> dict[str, Any]:
        """The saved parameters: never the noise source (a secret, or a test-only fixed one)."""
        params = super().get_params()
        params.pop("noise", None)
        return params

    def __attrs_post_init__(self) -> None:
        from hiveframe_privacy.budget import EPSILON_DELTA_HINT, epsilon_delta_problems

        problems = []
        if self.max_rows is not None and (isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int)
                                          or self.max_rows < 1):
            problems.append(f"max_rows must be a positive integer (a public bound on a table's rows), "
                            f"got {self.max_rows!r}")
        problems += epsilon_delta_problems(self.epsilon, self.delta,
                                           max_rows=self.max_rows if not problems else None)
        problems += [p for p in (
            _positive("max_grad_norm", self.max_grad_norm),
            _positive("noise_multiplier", self.noise_multiplier, allow_none=True),
            _positive("learning_rate", self.learning_rate, allow_none=True),
            _positive("micro_batch_size", self.micro_batch_size, allow_none=True),
        ) if p]
        if self.preprocess_share is not None and (_positive("preprocess_share", self.preprocess_share)
                                                  or not 0 < float(self.preprocess_share) < 1):
            problems.append(f"preprocess_share must be between 0 and 1 (exclusive), got {self.preprocess_share!r}")
        if self.pac is not None and (not isinstance(self.pac, int) or self.pac < 1):
            problems.append(f"pac must be a positive integer or None, got {self.pac!r}")
        if self.noise is not None and not isinstance(self.noise, NoiseSource):
            problems.append(f"noise must be a NoiseSource (NoiseSource.fixed(k) in tests), got {self.noise!r}")
        problems += check_caps(self.max_children)
        if not isinstance(self.detect_metadata, bool):
            problems.append(f"detect_metadata must be true or false, got {self.detect_metadata!r}")
        if problems:
            hint = (EPSILON_DELTA_HINT if any(p.startswith(("epsilon", "delta", "max_rows")) for p in problems)
                    else None)
            raise ConfigError("differential privacy: " + "; ".join(problems), hint=hint)
        if self.noise is None:
            self.noise = NoiseSource()
        elif not self.noise.secret:
            log.warning("differential privacy with a FIXED noise source (test only): the fit is NOT private")

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        return DPProtectedGenerator(inner=generator, _wrapper=self)

    # -- the database's budget -------------------------------------------------------------------------
    def begin(self, metadata: Metadata, database: Any, *, planned: Mapping[str, tuple[Table, int]],
              generators: Mapping[str, TableGenerator | None], metadata_detected: bool = False) -> dict[str, pa.Table]:
        """Check the metadata, cap children per parent, and plan one budget for every table.

        ``planned``: per table, the columns its statistics describe and the releases the engine makes
        itself; ``generators``: per table, its generator (None when it learns no column). Returns the
        tables to learn from (children beyond the caps left out).
        """
        from hiveframe_privacy.budget import DatabaseBudget, check_epsilon_delta
        from hiveframe_privacy.statistics import releases_for

        problems = []
        if metadata_detected and not self.detect_metadata:
            problems.append(Problem(
                "differential privacy needs declared metadata: detecting kinds, keys and formats from the "
                "private rows is not private", hint="pass a metadata file (hiveframe detect, then review it), SDV "
                "metadata JSON or a Metadata object; or accept detection outside the guarantee with "
                "detect_metadata=true"))
        for fk in metadata.foreign_keys:
            if any(str(c).startswith("#") for c in fk.context_columns or ()):
                problems.append(Problem(
                    f"context column '#' (the sibling count) of foreign key {fk.name} is refused under differential "
                    "privacy: each child row would carry a count whose change by one person is unbounded",
                    table=fk.child_table, hint="remove '#' from the foreign key's context columns"))
        if problems:
            raise MetadataError(problems)
        self._metadata_detected = bool(metadata_detected)
        self._md = metadata
        tables = {name: database[name] for name in metadata.table_names}
        units, capped = plan_units(metadata, tables, self.max_children, self.noise.numpy())
        self._units = units
        eps, delta = check_epsilon_delta("the database", self.epsilon, self.delta, max_rows=self.max_rows)
        if self.max_rows is not None:
            roots_rows = sum(capped[r].num_rows for r in units.roots)
            if roots_rows > self.max_rows:
                # refused before anything is released: the declared bound is what the default delta relies on
                raise ConfigError(f"the database has more root entities (rows of {', '.join(units.roots)}) than "
                                  f"the declared max_rows {self.max_rows}",
                                  hint="max_rows must bound the privacy units (root entities): raise it, or "
                                  "leave it unset")
        plan: dict[str, tuple[int, int]] = {}
        for name, (table, extra) in planned.items():
            releases, selections = releases_for(table, table.column_names)
            plan[name] = (releases + int(extra), selections)
        private = {n: g for n, g in generators.items()
                   if g is not None and (supports_private_training(_innermost(g)) or not self.allow_non_dp)}
        shares = [self.share_for(g) for g in private.values()] or [self.share_for(None)]
        share = float(self.preprocess_share) if self.preprocess_share is not None else min(shares)
        self._database = DatabaseBudget(eps, delta, preprocess_share=share, planned=plan,
                                        unit_rows={n: units.unit_rows(n) for n in plan},
                                        trainers=[n for n in planned if n in private], noise=self.noise,
                                        rows={n: capped[n].num_rows for n in plan})
        self._budgets = dict(self._database.tables)
        self._reports = {}  # a second fit with this wrapper starts a new account
        return capped

    def rows_left_out(self) -> dict[str, int]:
        """Per table, the real rows the caps left out of the last fit.

        Exact counts of the private data: shown to whoever runs the fit (log, the CLI's last line),
        never put in the report or the model.
        """
        if self._units is None:
            return {}
        return {t: n for t, n in self._units.left_out.items() if n}

    def units_of(self, table: str, rows: int) -> np.ndarray | None:
        """The root entity of each training row of ``table`` (None: a row is its own unit)."""
        if self._units is None:
            return None
        units = self._units.entity.get(table)
        return units if units is not None and len(units) == rows else None

    def share_for(self, generator: TableGenerator | None) -> float:
        if self.preprocess_share is not None:
            return float(self.preprocess_share)
        from hiveframe.baseline import GaussianCopula

        return 0.3 if isinstance(_innermost(generator), GaussianCopula) else 0.15

    def budget_for(self, table: Table, rows: int, *, extra_releases: int = 0,
                   generator: TableGenerator | None = None) -> TableBudget:
        """The budget of ``table``: planned by :meth:`begin`, or else a budget of its own (unit: a row).

        ``extra_releases`` reserves room for statistics released before the table's generator is
        fitted; ``generator`` (the table's) sets the default preprocessing share.
        """
        from hiveframe_privacy.budget import TableBudget, check_epsilon_delta
        from hiveframe_privacy.statistics import releases_for

        if table.name in self._budgets:
            return self._budgets[table.name]
        if self._database is not None:
            raise ConfigError(f"table {table.name!r} was not planned in the database's privacy budget")
        eps, delta = check_epsilon_delta(table.name, self.epsilon, self.delta, max_rows=self.max_rows)
        if self.max_rows is not None and rows > self.max_rows:
            # refused before anything is released: the declared bound is what the default delta relies on
            raise ConfigError(f"table {table.name!r} has more rows than the declared max_rows {self.max_rows}",
                              hint="max_rows must bound the privacy units (here: the table's rows): raise it, "
                              "or leave it unset")
        releases, selections = releases_for(table, table.column_names)
        budget = TableBudget(table.name, eps, delta, preprocess_share=self.share_for(generator),
                             planned_releases=releases + int(extra_releases), planned_selections=selections,
                             rows=rows, noise=self.noise)
        self._budgets[table.name] = budget
        return budget

    def table_budget(self, table: str) -> TableBudget:
        if table not in self._budgets:
            raise ConfigError(f"table {table!r} has no privacy budget", hint="begin() plans every table first")
        return self._budgets[table]

    # -- what the relational engine asks under DP (see hiveframe_privacy.relational) -------------------
    def linkage_model(self, table: str, fk_index: int) -> Any:
        """Children per parent for foreign key ``fk_index`` into ``table``, from the table's budget.

        The cap is a public bound on the count. The histogram's sensitivity per root entity, written
        relative to the child table's ``unit_rows``, is ``m(parent)`` when this foreign key is the child
        table's only way up: every child row of an entity then hangs below one of the entity's own parent
        rows, so removing the entity removes at most ``m(parent)`` counts and moves no other parent
        between bins. Otherwise (a child with several parents, such as a link table) the entity's child
        rows may also move other entities' parents between bins: ``m(parent) + sqrt(2) m(child)``.
        """
        from hiveframe_privacy.linkage import SENSITIVITY, DPHistogramLinkage

        budget = self.table_budget(table)
        cap = self._units.caps.get(fk_index) if self._units is not None else None
        model = DPHistogramLinkage(max_count=cap)
        model.bind(budget)
        if self._units is not None and self._md is not None:
            fk = self._md.foreign_keys[fk_index]
            ways_up = [other for other in self._md.parents_of(table) if not other.is_self_reference]
            owned = self._units.unit_rows(fk.parent_table) / budget.unit_rows
            model.sensitivity = owned if len(ways_up) == 1 else SENSITIVITY + owned
        return model

    # (each draws its noise from the budget's secret source: the engine passes no random generator)
    def noisy_share(self, table: str, count: float, total: float, *, label: str) -> float:
        from hiveframe_privacy.relational import noisy_share

        return noisy_share(self.table_budget(table), count, total, label=label)

    def forest(self, table: str, parent: np.ndarray, rows: int) -> Any:
        from hiveframe_privacy.relational import dp_forest

        return dp_forest(parent, self.table_budget(table), rows)

    def key_format(self, arrow_type: Any) -> dict[str, Any]:
        from hiveframe_privacy.relational import public_key_format

        return public_key_format(arrow_type)

    def report(self) -> dict[str, Any]:
        tables = {name: dict(r) for name, r in self._reports.items()}
        for name, budget in self._budgets.items():
            if name not in tables:
                tables[name] = {"private": True, **budget.report()}
        non_private = sorted(n for n, r in tables.items() if not r.get("private", True))
        db = self._database
        units = self._units
        if db is not None and units is not None:
            unit = units.describe()
            spent = db.epsilon_spent()
            per_row = db.epsilon_per_row()
            guarantee = (f"(epsilon {spent:.4g}, delta {db.delta_spent():.3g})-DP per {unit} (the root row with "
                         f"every row below it, at most {_caps_text(units)} children per parent); "
                         f"epsilon {per_row:.4g} per single row")
            out: dict[str, Any] = {
                "mechanism": "differential privacy",
                "privacy_unit": unit, "roots": list(units.roots), "epsilon": db.epsilon, "delta": db.delta,
                "epsilon_spent": spent, "epsilon_per_entity": spent, "epsilon_per_row": per_row,
                "delta_spent": db.delta_spent(), "delta_conversion": db.delta_rdp,
                "preprocessing_noise_multiplier": db.sigma_pre,
                "max_children": {self._fk_label(j): c for j, c in units.caps.items()},
                "unit_rows": {t: units.unit_rows(t) for t in units.per_root},
                "metadata": ("DETECTED from the private data (detect_metadata=true): kinds, keys and formats are "
                             "outside the guarantee" if self._metadata_detected else "declared (public)"),
            }
        else:
            spent = max((r.get("epsilon_spent", 0.0) for r in tables.values()), default=0.0)
            guarantee = "each table is (epsilon, delta)-DP with respect to one of its rows"
            out = {"mechanism": "differential privacy", "privacy_unit": "row", "epsilon": self.epsilon,
                   "epsilon_spent": spent, "epsilon_per_row": spent}
        if non_private:
            guarantee = f"NO differential privacy for table(s) {non_private} (allow_non_dp); elsewhere " + guarantee
        if self._metadata_detected:
            guarantee += "; the metadata was detected from the private data, outside the guarantee"
        noise = self.noise if self.noise is not None else NoiseSource()
        if not noise.secret:
            guarantee = ("NOT differentially private: the noise came from a FIXED source (NoiseSource.fixed, "
                         "test only) and can be replayed; otherwise " + guarantee)
        out.update({"noise": noise.describe(), "non_private_tables": non_private, "guarantee": guarantee,
                    "tables": tables,
                    "released_values": {name: released_values(name) for name in tables
                                        if tables[name].get("private", True)}})
        return out

    def _fk_label(self, j: int) -> str:
        md = self._md
        if md is None:
            return str(j)
        fk = md.foreign_keys[j]
        return f"{fk.child_table}.{','.join(fk.child_columns)}"


#: fields of a table's report (``/privacy/dp/tables/<t>`` in the manifest, ``/state/report`` of the
#: table's dp component) whose values are DP releases or computed from them (JSON-pointer globs)
_REPORT_RELEASES: tuple[tuple[str, str], ...] = (
    ("/epsilon_spent", "training steps taken (planned from the noisy row count)"),
    ("/split/training_epsilon_alone", "training steps taken"),
    ("/split/training_target_epsilon", "training steps taken by the tables trained before"),
    ("/split/total_epsilon_composed", "training steps taken"),
    ("/statistics/*", "every release of the table (row count, domains, bounds, histograms)"),
    ("/releases/*/values", "number of values released (thresholded histograms: categories above the threshold)"),
    ("/training/sampling_rate", "row count"),
    ("/training/noise_multiplier", "row count (through the sampling rate)"),
    ("/training/planned_steps", "row count (through the sampling rate)"),
    ("/training/steps", "row count (through the sampling rate)"),
    ("/warnings", "row count"),
)


def released_values(table: str) -> list[dict[str, str]]:
    """Where a DP fit of ``table`` stores released values (or values computed from releases only).

    Each entry names a place of the saved model and a JSON-pointer glob within it; anything stored
    elsewhere must not depend on the data. Places: ``manifest`` (manifest.json), ``relational plan``
    (relational.json), ``linkage models`` (the files of the linkage components the relational plan
    names for the table's relationships), ``table report`` (the table's DP report, kept both in the
    manifest and in the ``dp_protected`` component's state), ``dp component`` (that component's file)
    and ``inner generator`` (the wrapped generator's files: fitted on the surrogate of the releases
    and by the private mechanism, so all of it is release-derived). The neighbouring-dataset test
    (tests/hiveframe_privacy/test_dp_noise.py) reads this list.
    """
    t = table.replace("~", "~0").replace("/", "~1")
    out = [
        {"place": "manifest", "at": f"/tables/{t}/rows", "from": "row count"},
        *({"place": "manifest", "at": f"/privacy/dp/{key}", "from": "training steps taken (every table's)"}
          for key in ("epsilon_spent", "epsilon_per_entity", "epsilon_per_row")),
        {"place": "manifest", "at": "/privacy/dp/guarantee", "from": "the epsilon spent, per entity and per row"},
        {"place": "relational plan", "at": f"/tables/{t}/real_rows", "from": "row count"},
        *({"place": "relational plan", "at": f"/tables/{t}/relations/*/{field}",
           "from": "children-per-parent histogram, null share, the parent's row count"}
          for field in ("null_rate", "low", "high", "coverage", "exact_one", "parent_rows", "total")),
        {"place": "relational plan", "at": f"/tables/{t}/self_refs/*/forest/*", "from": "self-reference histogram"},
        {"place": "relational plan", "at": f"/tables/{t}/fills/*/null_rate", "from": "null share"},
        {"place": "linkage models", "at": "*", "from": "children-per-parent histogram"},
        {"place": "dp component", "at": "/state/rows", "from": "row count"},
        {"place": "inner generator", "at": "*", "from": "every release of the table (surrogate and training)"},
    ]
    out += [{"place": "table report", "at": at, "from": why} for at, why in _REPORT_RELEASES]
    return out


def _caps_text(units: PrivacyUnits) -> str:
    caps = sorted(set(units.caps.values()))
    return "no" if not caps else "/".join(str(c) for c in caps)


def _innermost(generator: TableGenerator | None) -> TableGenerator | None:
    inner = generator
    while isinstance(inner, ProtectedGenerator):
        inner = inner.inner
    return inner
