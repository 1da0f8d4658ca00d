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

A generator that cannot train privately is refused, unless ``allow_non_dp=True``: then it is trained
on the real rows as usual, with a loud warning, and the report marks the table ``"private": false``.

The protocol a generator implements to train privately::

    def fit_private(self, data, table, *, context_columns, seed, callback, workdir, private) -> None

``data`` are the cleaned real rows, ``private`` a :class:`PrivateTraining` (surrogate rows, the
noisy statistics, DP-SGD helpers bound to the table's budget). It must fit whatever it saves about
the data on ``private.surrogate`` and touch ``data`` only inside ``private.plan(...).gradient(...)``.
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
from hiveframe.errors import ConfigError
from hiveframe.metadata import Table

if TYPE_CHECKING:
    import pyarrow as pa
    import torch

    from hiveframe.components import TrainingCallback
    from hiveframe_privacy.budget import TableBudget
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
    sampler: Any  # hiveframe_privacy.dpsgd.PoissonSampler
    #: the expected number of units per step, from the *noisy* row count (the gradient's denominator)
    expected_units: float
    noise: NoiseSource  # Poisson sampling and gradient noise: secret, never the seed
    exhausted: bool = False
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
        grads, stats = private_gradient(loss_fn, params, inputs, max_grad_norm=self.max_grad_norm,
                                        noise_std=self.noise_std, denominator=self.expected_units,
                                        micro_batch=self.micro_batch_size, generator=generator, in_dims=in_dims)
        self.budget.step(self.q, self.sigma)
        self.last_stats = stats
        return grads

    def epoch_info(self) -> dict[str, Any]:
        """What the epoch callback reports: epsilon spent so far, the table's delta and budget."""
        return {"epsilon": self.budget.epsilon_spent(), "delta": self.budget.delta_spent(),
                "epsilon_budget": self.budget.epsilon, "budget_exhausted": self.exhausted}


@dataclass
class PrivateTraining:
    """Handed to ``generator.fit_private``: what a generator may use to learn a table privately."""

    data: pa.Table  # the real rows, cleaned into the released domains: only for DP mechanisms
    surrogate: pa.Table  # rows following the noisy marginals: fit encoders and frequencies on these
    statistics: PrivateStatistics
    budget: TableBudget
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None
    micro_batch_size: int | None = None
    learning_rate: float | None = None
    pac: int | None = 1
    #: for the generator's non-private draws only (initialisation, its own sampling); DP draws use ``noise``
    seed: int = 0
    #: the secret source of every DP draw of this fit (the budget's)
    noise: NoiseSource = field(default_factory=NoiseSource)

    @property
    def rows(self) -> int:
        """The noisy row count (what a generator may report about the table's size)."""
        return self.statistics.rows

    def plan(self, *, batch_size: int, epochs: int, steps_per_batch: int = 1, group: int = 1) -> DPSGDPlan:
        """Sampling rate, steps and noise for ``epochs`` passes with expected ``batch_size`` units.

        ``steps_per_batch`` private steps are taken per batch (CTGAN's discriminator steps); the
        noise multiplier is derived from epsilon when not given. The sampling rate comes from the
        *noisy* row count: ``batch / n`` with the exact ``n`` would be stored in the manifest and
        reveal it. Poisson sampling at that rate over the real rows is still exactly what the
        accountant assumes.
        """
        from hiveframe_privacy.dpsgd import PoissonSampler

        n = self.rows
        group = max(1, int(group))
        units = n if group == 1 else max(1, int(np.ceil(n / group)))
        expected = max(1, int(batch_size) // group)
        q = min(1.0, expected / units)
        steps_per_epoch = max(1, int(round(1.0 / q)))
        total = max(1, int(epochs) * steps_per_epoch * max(1, int(steps_per_batch)))
        if self.noise_multiplier is not None:
            sigma = float(self.noise_multiplier)
            if sigma <= 0:
                raise ConfigError(f"noise_multiplier must be positive, got {sigma}")
        else:
            sigma = self.budget.training_noise(q, total)
        self.budget.start_training(q=q, sigma=sigma, sensitivity_factor=1 if group == 1 else 2,
                                   planned_steps=total, max_grad_norm=self.max_grad_norm)
        log.info("table %s: DP-SGD with sampling rate %.4g, noise multiplier %.3g, clip %.3g, %d steps planned",
                 self.budget.table, q, sigma, self.max_grad_norm, total)
        return DPSGDPlan(budget=self.budget, q=q, sigma=sigma, max_grad_norm=self.max_grad_norm, group=group,
                         steps_per_epoch=steps_per_epoch, total_steps=total,
                         micro_batch_size=self.micro_batch_size, sampler=PoissonSampler(self.data.num_rows, q, group),
                         expected_units=q * units, noise=self.noise)


def supports_private_training(generator: TableGenerator) -> bool:
    from hiveframe.builtin.copula import GaussianCopula

    return callable(getattr(generator, "fit_private", None)) or isinstance(generator, GaussianCopula)


# -- the wrapped generator ---------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class DPProtectedGenerator(TableGenerator):
    """A table generator trained with differential privacy (see the module docstring)."""

    name: ClassVar[str] = "dp_protected"
    requires: ClassVar[tuple[str, ...]] = ("scipy",)
    extra: ClassVar[str | None] = "privacy"

    inner: TableGenerator
    _wrapper: DPWrapper | None = attrs.field(default=None, alias="_wrapper")
    _report: dict[str, Any] = attrs.field(factory=dict, init=False)
    _rows: int | None = attrs.field(default=None, init=False)

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        return type(self.inner).conditional

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
        budget = wrapper.budget_for(table, data.num_rows, generator=self.inner)
        if not supports_private_training(self.inner):
            if not wrapper.allow_non_dp:
                raise ConfigError(
                    f"table {table.name!r}: generator {self.inner.name!r} cannot train with differential privacy",
                    hint="use 'ctgan', 'tvae' or 'gaussian_copula' (a DP copula), or pass allow_non_dp=True "
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
        stats = PrivateStatistics.release(data, table, table.column_names, budget, bins=wrapper.bins)
        if wrapper._null_handling.get(table.name) == "mean":
            stats.impute([c for c in table.column_names if c not in context_columns])
        # the surrogate is post-processing of the releases: its shuffles follow the seed (reproducible
        # given the releases); cleaning draws replacements for real rows' values: secret, like the noise
        surrogate = stats.surrogate(max(wrapper.surrogate_rows, 1),
                                    np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 71])))
        clean = stats.clean(data, budget.noise_rng())
        private = PrivateTraining(data=clean, surrogate=surrogate, statistics=stats, budget=budget,
                                  max_grad_norm=wrapper.max_grad_norm, noise_multiplier=wrapper.noise_multiplier,
                                  micro_batch_size=wrapper.micro_batch_size, learning_rate=wrapper.learning_rate,
                                  pac=wrapper.pac, seed=0 if seed is None else int(seed), noise=budget.noise)
        fit_private = getattr(self.inner, "fit_private", None)
        if callable(fit_private):
            fit_private(clean, table, context_columns=context_columns, seed=seed, callback=callback,
                        workdir=workdir, private=private)
        else:
            from hiveframe_privacy.copula import fit_copula_private

            fit_copula_private(self.inner, private, table, context_columns=context_columns, seed=seed,
                               callback=callback)
        self._rows = stats.rows
        self._report = {"private": True, "generator": self.inner.name, **budget.report(),
                        "statistics": stats.summary()}
        wrapper._reports[table.name] = self._report
        log.info("table %s: epsilon spent %.4g of %.4g (delta %.3g)", table.name, budget.epsilon_spent(),
                 budget.epsilon, budget.delta_spent())

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        return self.inner.sample(num_rows, context=context, conditions=conditions, seed=seed)

    def _get_state(self) -> ComponentState:
        return ComponentState(values={"report": self._report, "rows": self._rows})

    def _set_state(self, state: ComponentState) -> None:
        self._report = dict(state.values.get("report") or {})
        rows = state.values.get("rows")
        self._rows = None if rows is None else int(rows)


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
    """Differential privacy for every table it wraps: (epsilon, delta) per table (privacy unit: a row).

    ``epsilon`` is required (positive, finite). ``delta`` (strictly between 0 and 1) defaults to
    ``1e-6``, a fixed value, so that the stored delta reveals nothing about the data; ``max_rows``
    declares a public upper bound on the rows of any table, and then the default delta is
    ``1/(10 m ln m)`` for that bound ``m`` (capped at 1e-5) and a given delta must be below ``1/m``.
    ``preprocess_share`` of epsilon goes to the preprocessing statistics (default: 0.3 for the DP
    copula, 0.15 for DP-SGD generators). DP-SGD settings:
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
    #: the source of every DP draw (None: fresh OS entropy); ``NoiseSource.fixed(k)`` is for tests only
    noise: NoiseSource | None = None
    _budgets: dict[str, TableBudget] = attrs.field(factory=dict, init=False)
    _reports: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)
    _null_handling: dict[str, str] = attrs.field(factory=dict, init=False)

    def set_null_handling(self, table: str, mode: str) -> None:
        """``"mean"``: nulls of the table's columns become the released mean or most common category."""
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

    # -- budgets ---------------------------------------------------------------------------------------
    def share_for(self, generator: TableGenerator | None) -> float:
        if self.preprocess_share is not None:
            return float(self.preprocess_share)
        from hiveframe.builtin.copula import GaussianCopula

        inner = generator
        while inner is not None and not isinstance(inner, GaussianCopula) and hasattr(inner, "inner"):
            inner = inner.inner
        return 0.3 if isinstance(inner, GaussianCopula) else 0.15

    def budget_for(self, table: Table, rows: int, *, extra_releases: int = 0,
                   generator: TableGenerator | None = None) -> TableBudget:
        """The budget of ``table`` (created on first use, from its columns and ``rows``).

        ``extra_releases`` reserves room for statistics the engine releases itself (children per
        parent, null foreign keys) before the table's generator is fitted; ``generator`` (the table's)
        sets the default preprocessing share.
        """
        from hiveframe_privacy.budget import TableBudget, check_epsilon_delta
        from hiveframe_privacy.statistics import releases_for

        if table.name in self._budgets:
            return self._budgets[table.name]
        eps, delta = check_epsilon_delta(table.name, self.epsilon, self.delta, max_rows=self.max_rows)
        if self.max_rows is not None and rows > self.max_rows:
            # refused before anything is released: the declared bound is what the default delta relies on
            raise ConfigError(f"table {table.name!r} has more rows than the declared max_rows {self.max_rows}",
                              hint="max_rows must bound every table's rows: raise it, or leave it unset")
        releases, selections = releases_for(table, table.column_names)
        budget = TableBudget(table.name, eps, delta, preprocess_share=self.share_for(generator),
                             planned_releases=releases + int(extra_releases), planned_selections=selections,
                             noise=self.noise)
        self._budgets[table.name] = budget
        return budget

    def linkage_model(self, table: Table, rows: int, *, max_count: int | None = None) -> Any:
        """A children-per-parent model for a relationship into ``table``, spending ``table``'s budget."""
        from hiveframe_privacy.linkage import DPHistogramLinkage

        model = DPHistogramLinkage(max_count=max_count)
        model.bind(self.budget_for(table, rows))
        return model

    # -- what the relational engine asks under DP (see hiveframe_privacy.relational) -------------------
    # (each draws its noise from the budget's secret source: the engine passes no random generator)
    def noisy_share(self, budget: TableBudget, count: float, total: float, *, label: str) -> float:
        from hiveframe_privacy.relational import noisy_share

        return noisy_share(budget, count, total, label=label)

    def forest(self, parent: np.ndarray, budget: TableBudget, rows: int) -> Any:
        from hiveframe_privacy.relational import dp_forest

        return dp_forest(parent, budget, rows)

    def key_format(self, arrow_type: Any) -> dict[str, Any]:
        from hiveframe_privacy.relational import public_key_format

        return public_key_format(arrow_type)

    def report(self) -> dict[str, Any]:
        tables = {name: dict(r) for name, r in self._reports.items()}
        for name, budget in self._budgets.items():
            if name not in tables:
                tables[name] = {"private": True, **budget.report()}
        non_private = sorted(n for n, r in tables.items() if not r.get("private", True))
        secret = self.noise is None or self.noise.secret
        if not secret:
            guarantee = ("NOT differentially private: the noise came from a FIXED source (NoiseSource.fixed, "
                         "test only) and can be replayed")
        elif non_private:
            guarantee = f"NO differential privacy for table(s) {non_private} (allow_non_dp)"
        else:
            guarantee = "each table is (epsilon, delta)-DP with respect to one of its rows"
        return {
            "mechanism": "differential privacy",
            "noise": self.noise.describe() if self.noise is not None else NoiseSource().describe(),
            "epsilon_per_table": self.epsilon,
            "max_epsilon_spent": max((r.get("epsilon_spent", 0.0) for r in tables.values()), default=0.0),
            "non_private_tables": non_private,
            "guarantee": guarantee,
            "tables": tables,
            "released_values": {name: released_values(name) for name in tables if tables[name].get("private", True)},
        }


#: fields of a table's report (``/privacy/dp/tables/<t>`` in the manifest, ``/state/report`` of the
#: table's dp component) whose values are DP releases or computed from them (JSON-pointer globs)
_REPORT_RELEASES: tuple[tuple[str, str], ...] = (
    ("/epsilon_spent", "training steps taken (planned from the noisy row count)"),
    ("/split/training_epsilon_alone", "training steps taken"),
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
        {"place": "manifest", "at": "/privacy/dp/max_epsilon_spent", "from": "training steps taken"},
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
