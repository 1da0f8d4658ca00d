"""The privacy budget of a database: one RDP accountant for every mechanism of every table.

Everything a DP model learns goes through a :class:`TableBudget`, one table's view of the database's
:class:`DatabaseBudget`: the preprocessing statistics (Gaussian releases on counts: category domains,
histograms, bounds, row counts, children-per-parent histograms) and the training (DP-SGD steps or the
copula's one release). All of them are Gaussian mechanisms, so they compose in Rényi DP in ONE
accountant and the total epsilon is read once, at the database's delta.

Privacy unit: a root entity, a row of a table without parent with every row that hangs below it
(add/remove adjacency); for a single table, a row. One entity owns at most ``unit_rows`` rows of a
table (the product of the per-parent caps down the chain, summed over parent foreign keys), so every
statistic of that table is released with its per-row sensitivity times ``unit_rows`` (triangle
inequality over the entity's rows).

The split: ``preprocess_share`` of epsilon goes to the planned preprocessing releases of the whole
database (one noise multiplier for all, calibrated before the first release and reserved in the
accountant until spent); the rest is shared by the tables that train, in fitting order: each table's
training may bring the composed epsilon (reserved releases included) up to an equal part of what
is left, the last one up to epsilon.

Delta is split: half for the RDP-to-(epsilon, delta) conversion and half for the noisy thresholds
that decide which categories of a column without a declared domain are released (a category held by
one entity alone appears with probability at most the per-column share of that half), when there are
such columns; otherwise all of delta goes to the conversion. The default delta depends on public
inputs only (see :func:`check_epsilon_delta`), never on an exact row count.

Every noise draw comes from the database's :class:`~hiveframe.components.NoiseSource` (OS entropy by
default), never from the user's seed, and is never saved; the ledger records how many values each
release put out, never a count of the real data.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from hiveframe.components import NoiseSource
from hiveframe.errors import ConfigError
from hiveframe_privacy.accountant import (
    DEFAULT_DELTA,
    RDPAccountant,
    default_delta,
    epsilon_from_rdp,
    noise_for_epsilon,
    step_rdp,
)

log = logging.getLogger(__name__)


def _number(name: str, value: Any) -> tuple[float | None, str | None]:
    """``value`` as a float, or why it is not one (booleans and text are refused, not coerced)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None, f"{name} must be a number, got {value!r}"
    return float(value), None


def epsilon_delta_problems(epsilon: Any, delta: Any, *, max_rows: int | None = None) -> list[str]:
    """Every problem with (epsilon, delta), each naming its parameter (empty when both are usable)."""
    problems = []
    if epsilon is None:
        problems.append("epsilon is required")
    else:
        eps, why = _number("epsilon", epsilon)
        if why:
            problems.append(why)
        elif not (math.isfinite(eps) and eps > 0):  # type: ignore[arg-type]
            problems.append(f"epsilon must be a positive, finite number, got {epsilon!r}")
    if delta is not None:
        d, why = _number("delta", delta)
        if why:
            problems.append(why)
        elif not (math.isfinite(d) and 0 < d < 1):  # type: ignore[arg-type]
            problems.append(f"delta must be strictly between 0 and 1, got {delta!r}")
        elif max_rows is not None and d >= 1.0 / max_rows:
            problems.append(f"delta {d:g} must be below 1/max_rows = {1.0 / max_rows:.3g} (max_rows {max_rows})")
    return problems


EPSILON_DELTA_HINT = ("epsilon is the privacy budget (smaller is more private; typical 1 to 10); delta is the "
                      f"failure probability, strictly between 0 and 1 and far below 1/rows: leave it unset for "
                      f"{DEFAULT_DELTA:g}, or declare max_rows (a public bound on the rows of a table)")


def check_epsilon_delta(table: str, epsilon: Any, delta: Any, *, max_rows: int | None = None) -> tuple[float, float]:
    """Validated (epsilon, delta) for ``table``.

    The default delta depends on nothing but public inputs: ``DEFAULT_DELTA``, or, when the user
    declares ``max_rows`` (a public upper bound on a table's rows), ``default_delta(max_rows)``. It
    never depends on the exact row count, which a stored delta would otherwise reveal.
    """
    problems = epsilon_delta_problems(epsilon, delta, max_rows=max_rows)
    if problems:
        raise ConfigError(f"table {table!r}: differential privacy: " + "; ".join(problems), hint=EPSILON_DELTA_HINT)
    if delta is None:
        delta = DEFAULT_DELTA if max_rows is None else default_delta(max_rows)
    return float(epsilon), float(delta)


class DatabaseBudget:
    """(epsilon, delta) per privacy unit for a whole database: one accountant, a view per table."""

    def __init__(self, epsilon: float, delta: float, *, preprocess_share: float,
                 planned: dict[str, tuple[int, int]], unit_rows: dict[str, float] | None = None,
                 trainers: list[str] | None = None, noise: NoiseSource | None = None,
                 rows: dict[str, int] | None = None) -> None:
        if not 0 < preprocess_share < 1:
            raise ConfigError(f"preprocess_share must be in (0, 1), got {preprocess_share}")
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.preprocess_share = float(preprocess_share)
        self.noise = noise if noise is not None else NoiseSource()
        self.planned_releases = max(1, sum(max(1, int(r)) for r, _ in planned.values()))
        self.planned_selections = sum(int(s) for _, s in planned.values())
        self.delta_rdp = self.delta / 2 if self.planned_selections else self.delta
        self.delta_per_selection = ((self.delta / 2) / self.planned_selections
                                    if self.planned_selections else 0.0)
        self.accountant = RDPAccountant(delta=self.delta_rdp)
        #: the same accounting with every mechanism's noise relative to ONE row (the per-row figure)
        self.row_accountant = RDPAccountant(delta=self.delta_rdp)
        #: noise multiplier of every preprocessing release (noise std = sigma * sensitivity * unit_rows)
        self.sigma_pre = noise_for_epsilon(self.epsilon * self.preprocess_share, 1.0, self.planned_releases,
                                           self.delta_rdp)
        self.releases_done = 0
        self.selections = 0
        self.trainers = list(trainers if trainers is not None else planned)
        self.trained: list[str] = []
        unit_rows = unit_rows or {}
        rows = rows or {}
        self.tables: dict[str, TableBudget] = {
            name: TableBudget(name, self.epsilon, self.delta, preprocess_share=self.preprocess_share,
                              planned_releases=r, planned_selections=s, database=self,
                              unit_rows=float(unit_rows.get(name, 1.0)), rows=rows.get(name))
            for name, (r, s) in planned.items()}

    def reserved_rdp(self) -> np.ndarray:
        """RDP spent so far plus the planned preprocessing releases not made yet."""
        left = max(0, self.planned_releases - self.releases_done)
        reserve = left * step_rdp(1.0, float(self.sigma_pre), self.accountant.orders)
        return self.accountant.rdp + reserve

    def reserved_epsilon(self, extra: np.ndarray | None = None) -> float:
        rdp = self.reserved_rdp() if extra is None else self.reserved_rdp() + extra
        return epsilon_from_rdp(rdp.tolist(), self.accountant.orders, self.delta_rdp)[0]

    def training_target(self, table: str) -> float:
        """The composed epsilon ``table``'s training may reach (see the module docstring)."""
        waiting = [t for t in self.trainers if t not in self.trained] or [table]
        reserved = self.reserved_epsilon()
        if reserved >= self.epsilon:
            raise ConfigError(f"table {table!r}: epsilon {self.epsilon} is already spent before training",
                              hint="raise epsilon or lower preprocess_share")
        return reserved + (self.epsilon - reserved) / len(waiting)

    def epsilon_spent(self) -> float:
        return self.accountant.epsilon()

    def epsilon_per_row(self) -> float:
        return self.row_accountant.epsilon()

    def delta_spent(self) -> float:
        return self.delta_rdp + self.selections * self.delta_per_selection


class TableBudget:
    """One table's view of the database budget: its releases, its training, its sensitivity scale.

    Made standalone (without ``database``) it is the budget of a single table whose privacy unit is
    a row, as a one-table :class:`DatabaseBudget`.
    """

    def __init__(self, table: str, epsilon: float, delta: float, *, preprocess_share: float,
                 planned_releases: int, planned_selections: int, database: DatabaseBudget | None = None,
                 unit_rows: float = 1.0, rows: int | None = None, noise: NoiseSource | None = None) -> None:
        if database is None:
            database = DatabaseBudget(epsilon, delta, preprocess_share=preprocess_share,
                                      planned={table: (planned_releases, planned_selections)},
                                      rows={table: rows} if rows is not None else None, noise=noise)
            database.tables[table] = self
        self.db = database
        self.table = table
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.preprocess_share = float(preprocess_share)
        self.planned_releases = max(1, int(planned_releases))
        self.planned_selections = int(planned_selections)
        #: rows of this table one privacy unit owns at most (1 for a root table)
        self.unit_rows = float(unit_rows)
        self.ledger: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.selections = 0
        self.training: dict[str, Any] | None = None
        self._target: float | None = None
        self._pre_epsilon: float | None = None
        self._true_rows = rows
        self._rows: int | None = None

    @property
    def noise(self) -> NoiseSource:
        """Where every random draw of this table's mechanisms comes from: the database's secret source."""
        return self.db.noise

    @property
    def accountant(self) -> RDPAccountant:
        return self.db.accountant

    @property
    def sigma_pre(self) -> float:
        return self.db.sigma_pre

    @property
    def delta_rdp(self) -> float:
        return self.db.delta_rdp

    @property
    def delta_per_selection(self) -> float:
        return self.db.delta_per_selection

    # -- preprocessing releases ----------------------------------------------------------------------
    def noise_rng(self) -> np.random.Generator:
        """A generator on a secret stream of its own, for a DP mechanism's random draws."""
        return self.noise.numpy()

    def gaussian_noise(self, values: np.ndarray, std: float) -> np.ndarray:
        """``values`` plus N(0, std^2) noise from a secret stream of its own (not accounted here).

        The one place where Gaussian releases get their noise (statistics, linkage histograms, the
        DP copula's moments through ``PrivateTraining.release``; DP-SGD adds its noise in torch, from
        the same source).
        """
        values = np.asarray(values, dtype=np.float64)
        return values + self.noise_rng().normal(0.0, float(std), size=values.shape)

    def release(self, values: np.ndarray, *, sensitivity: float, label: str) -> np.ndarray:
        """``values`` (counts) plus Gaussian noise of std ``sigma_pre * sensitivity * unit_rows``.

        ``sensitivity`` is per row. Each release draws from a secret stream of its own (the
        database's noise source, never the seed). The ledger records how many values are released:
        the size of ``values`` (callers keep it data-independent: public bins, or bins derived from
        earlier releases), or, for a thresholded histogram, what :meth:`record_released` says came
        out (the number of distinct real values is exact and is never recorded).
        """
        if self.training is not None:
            raise ConfigError(f"table {self.table!r}: a statistic was released after training started")
        if self.db.releases_done >= self.db.planned_releases:
            raise ConfigError(f"table {self.table!r}: release {label!r} was not planned; the budget would be "
                              "exceeded", hint="this is a bug in the planning of releases: please report it")
        values = np.asarray(values, dtype=np.float64)
        std = self.sigma_pre * float(sensitivity) * self.unit_rows
        noisy = self.gaussian_noise(values, std)
        self.accountant.step(q=1.0, sigma=self.sigma_pre)
        self.db.row_accountant.step(q=1.0, sigma=self.sigma_pre * self.unit_rows)
        self.db.releases_done += 1
        self.ledger.append({"release": label, "mechanism": "gaussian", "sensitivity": float(sensitivity),
                            "unit_rows": self.unit_rows, "noise_std": std, "values": int(values.size)})
        return noisy

    def record_released(self, count: int) -> None:
        """The last release kept only ``count`` of its noisy values (those above a noisy threshold)."""
        self.ledger[-1]["values"] = int(count)

    def noisy_count(self, value: float, *, label: str) -> float:
        return float(self.release(np.array([value]), sensitivity=1.0, label=label)[0])

    def rows(self, n: int | None = None) -> int:
        """The table's noisy row count, released once (whoever asks first: the engine or the generator).

        For a root table (``unit_rows`` 1: one row is one privacy unit) the noisy count is also the
        number of units, so delta is checked against it: a warning when delta is not below 1/units.
        """
        if self._rows is None:
            count = self._true_rows if n is None else n
            if count is None:
                raise ConfigError(f"table {self.table!r}: the row count was asked before the table was planned")
            self._rows = max(1, int(round(self.noisy_count(count, label="row count"))))
            if self.unit_rows == 1 and self.delta >= 1.0 / self._rows:
                self.warnings.append(f"delta {self.delta:g} is not below 1/rows for about {self._rows} rows (noisy "
                                     "count): set a smaller delta, or declare max_rows")
                log.warning("table %s: %s", self.table, self.warnings[-1])
        return self._rows

    @property
    def noise_std(self) -> float:
        """Noise std of a release of a per-row sensitivity-1 statistic (counts) of this table."""
        return self.sigma_pre * self.unit_rows

    def selection_threshold(self) -> float:
        """Noisy count a category must reach to be released (its domain is not public).

        A category held by one privacy unit alone has count at most ``unit_rows``; it passes with
        probability ``P(unit_rows + N(0, s^2) > t) = delta_per_selection``.
        """
        from scipy.special import ndtri

        if self.delta_per_selection <= 0:
            raise ConfigError(f"table {self.table!r}: a category domain was released without a planned selection")
        self.db.selections += 1
        self.selections += 1
        return self.unit_rows + self.noise_std * float(ndtri(1.0 - self.delta_per_selection))

    # -- training ------------------------------------------------------------------------------------
    def preprocessing_epsilon(self) -> float:
        return self.accountant.epsilon()

    def _training_target(self) -> float:
        if self._target is None:
            self._target = self.db.training_target(self.table)
        return self._target

    def training_noise(self, q: float, steps: int) -> float:
        """The smallest noise multiplier that keeps the composed epsilon within this table's target."""
        return noise_for_epsilon(self._training_target(), q, steps, self.delta_rdp, base_rdp=self.db.reserved_rdp())

    def start_training(self, *, q: float, sigma: float, sensitivity_factor: float, planned_steps: int,
                       max_grad_norm: float) -> None:
        self._training_target()
        self._pre_epsilon = self.accountant.epsilon()
        self.training = {"mechanism": "dp-sgd (poisson-sampled gaussian)", "sampling_rate": q,
                         "noise_multiplier": sigma, "max_grad_norm": max_grad_norm,
                         "clip_unit": "row" if sensitivity_factor == 1 else "pac group (sensitivity 2C)",
                         "planned_steps": planned_steps, "steps": 0, "unit_rows": self.unit_rows}
        if self.table not in self.db.trained:
            self.db.trained.append(self.table)

    def can_step(self, q: float, sigma: float) -> bool:
        extra = step_rdp(float(q), float(sigma), self.accountant.orders)
        return self.db.reserved_epsilon(extra) <= self._training_target() * (1 + 1e-9)

    def step(self, q: float, sigma: float, *, row_sigma: float | None = None) -> None:
        """One training step; ``row_sigma``: its noise relative to one row (default ``sigma``)."""
        assert self.training is not None
        self.accountant.step(q=q, sigma=sigma)
        self.db.row_accountant.step(q=q, sigma=sigma if row_sigma is None else row_sigma)
        self.training["steps"] += 1

    def charge_gaussian(self, *, sigma: float, label: str, sensitivity: float = 1.0) -> None:
        """Account a Gaussian release made elsewhere with noise multiplier ``sigma``."""
        self.accountant.step(q=1.0, sigma=sigma)
        self.db.row_accountant.step(q=1.0, sigma=sigma * self.unit_rows)
        self.ledger.append({"release": label, "mechanism": "gaussian", "sensitivity": float(sensitivity),
                            "noise_std": sigma * float(sensitivity) * self.unit_rows})

    # -- reporting -----------------------------------------------------------------------------------
    def epsilon_spent(self) -> float:
        """Epsilon composed over the whole database so far (per privacy unit)."""
        return self.accountant.epsilon()

    def delta_spent(self) -> float:
        return self.db.delta_spent()

    def report(self) -> dict[str, Any]:
        pre = self._pre_epsilon if self._pre_epsilon is not None else self.accountant.epsilon()
        total = self.accountant.epsilon()
        return {
            "epsilon": self.epsilon, "delta": self.delta, "epsilon_spent": total, "delta_spent": self.delta_spent(),
            "privacy_unit": ("one row of this table (add/remove)" if self.unit_rows == 1 else
                             f"one root entity: at most {self.unit_rows:g} rows of this table"),
            "unit_rows": self.unit_rows,
            "accountant": "Renyi DP (sampled Gaussian, Mironov et al. 2019; conversion of Balle et al. 2020)",
            "split": {
                "preprocessing_share": self.preprocess_share,
                "preprocessing_epsilon": pre,
                "training_target_epsilon": self._target,
                "training_epsilon_alone": (None if self.training is None else
                                           self._training_only_epsilon()),
                "total_epsilon_composed": total,
                "threshold_delta": self.db.selections * self.delta_per_selection,
            },
            "preprocessing_noise_multiplier": self.sigma_pre,
            "releases": list(self.ledger),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            "training": dict(self.training) if self.training is not None else None,
        }

    def _training_only_epsilon(self) -> float | None:
        from hiveframe_privacy.accountant import compute_epsilon

        t = self.training
        if not t or not t["steps"]:
            return 0.0
        return compute_epsilon(t["sampling_rate"], t["noise_multiplier"], t["steps"], self.delta_rdp)
