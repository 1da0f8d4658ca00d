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
such columns; otherwise all of delta goes to the conversion.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from hiveframe.components import NoiseSource
from hiveframe.errors import ConfigError
from hiveframe_privacy.accountant import (
    RDPAccountant,
    default_delta,
    epsilon_from_rdp,
    noise_for_epsilon,
    step_rdp,
)

log = logging.getLogger(__name__)


def check_epsilon_delta(table: str, epsilon: Any, delta: Any, rows: int) -> tuple[float, float]:
    """Validate (epsilon, delta) for a table of ``rows`` rows; delta defaults from the row count."""
    if epsilon is None:
        raise ConfigError(f"table {table!r}: differential privacy needs an epsilon",
                          hint="set epsilon (e.g. 1, 3 or 10): smaller is more private and less faithful")
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise ConfigError(f"table {table!r}: epsilon must be a number, got {epsilon!r}") from None
    if not eps > 0 or not math.isfinite(eps):
        raise ConfigError(f"table {table!r}: epsilon must be a positive number, got {epsilon!r}",
                          hint="epsilon 0 would mean learning nothing; typical values are 1 to 10")
    n = max(int(rows), 1)
    if delta is None:
        return eps, default_delta(n)
    try:
        d = float(delta)
    except (TypeError, ValueError):
        raise ConfigError(f"table {table!r}: delta must be a number, got {delta!r}") from None
    if not 0 < d < 1.0 / n:
        raise ConfigError(f"table {table!r}: delta {d:g} must be positive and below 1/rows = {1.0 / n:.3g} "
                          f"({n} rows)", hint=f"leave delta unset for a default of {default_delta(n):.3g}")
    return eps, d


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
                 unit_rows: float = 1.0, rows: int | None = None) -> None:
        if database is None:
            database = DatabaseBudget(epsilon, delta, preprocess_share=preprocess_share,
                                      planned={table: (planned_releases, planned_selections)},
                                      rows={table: rows} if rows is not None else None)
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
        self.selections = 0
        self.training: dict[str, Any] | None = None
        self._target: float | None = None
        self._pre_epsilon: float | None = None
        self._true_rows = rows
        self._rows: int | None = None

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
    def release(self, values: np.ndarray, *, sensitivity: float, label: str,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """``values`` (counts) plus Gaussian noise of std ``sigma_pre * sensitivity * unit_rows``.

        ``sensitivity`` is per row; the draw comes from the database's noise source when ``rng`` is
        not given.
        """
        if self.training is not None:
            raise ConfigError(f"table {self.table!r}: a statistic was released after training started")
        if self.db.releases_done >= self.db.planned_releases:
            raise ConfigError(f"table {self.table!r}: release {label!r} was not planned; the budget would be "
                              "exceeded", hint="this is a bug in the planning of releases: please report it")
        values = np.asarray(values, dtype=np.float64)
        std = self.sigma_pre * float(sensitivity) * self.unit_rows
        gen = rng if rng is not None else self.db.noise.numpy()
        noisy = values + gen.normal(0.0, std, size=values.shape)
        self.accountant.step(q=1.0, sigma=self.sigma_pre)
        self.db.row_accountant.step(q=1.0, sigma=self.sigma_pre * self.unit_rows)
        self.db.releases_done += 1
        self.ledger.append({"release": label, "mechanism": "gaussian", "sensitivity": float(sensitivity),
                            "unit_rows": self.unit_rows, "noise_std": std, "values": int(values.size)})
        return noisy

    def noisy_count(self, value: float, *, label: str, rng: np.random.Generator | None = None) -> float:
        return float(self.release(np.array([value]), sensitivity=1.0, label=label, rng=rng)[0])

    def rows(self, n: int | None = None, rng: np.random.Generator | None = None) -> int:
        """The table's noisy row count, released once (whoever asks first: the engine or the generator)."""
        if self._rows is None:
            count = self._true_rows if n is None else n
            if count is None:
                raise ConfigError(f"table {self.table!r}: the row count was asked before the table was planned")
            self._rows = max(1, int(round(self.noisy_count(count, label="row count", rng=rng))))
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
            "training": dict(self.training) if self.training is not None else None,
        }

    def _training_only_epsilon(self) -> float | None:
        from hiveframe_privacy.accountant import compute_epsilon

        t = self.training
        if not t or not t["steps"]:
            return 0.0
        return compute_epsilon(t["sampling_rate"], t["noise_multiplier"], t["steps"], self.delta_rdp)
