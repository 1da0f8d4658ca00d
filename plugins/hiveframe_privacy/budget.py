"""The privacy budget of one table: an RDP accountant, the noise it implies, and a ledger of releases.

Everything a DP model learns from a table goes through one :class:`TableBudget`: the preprocessing
statistics (Gaussian releases on counts: category domains, histograms, bounds, the row count,
children-per-parent histograms) and the DP-SGD steps. All of them are Gaussian mechanisms, so they
compose in Rényi DP in one accountant and the total epsilon is read once, at the table's delta.

Privacy unit: one row of the table (add/remove adjacency). A person whose data spans several rows or
tables is protected by group privacy (epsilon grows with the number of rows).

Delta is split: half for the RDP-to-(epsilon, delta) conversion and half for the noisy thresholds
that decide which categories of a column without a declared domain are released (a category held by
one row alone appears with probability at most the per-column share of that half), when there are
such columns; otherwise all of delta goes to the conversion.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from hiveframe.components import NoiseSource
from hiveframe.errors import ConfigError
from hiveframe_privacy.accountant import DEFAULT_DELTA, RDPAccountant, default_delta, noise_for_epsilon

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


class TableBudget:
    """(epsilon, delta) of one table, spent by Gaussian releases and DP-SGD steps."""

    def __init__(self, table: str, epsilon: float, delta: float, *, preprocess_share: float,
                 planned_releases: int, planned_selections: int, noise: NoiseSource | None = None) -> None:
        if not 0 < preprocess_share < 1:
            raise ConfigError(f"preprocess_share must be in (0, 1), got {preprocess_share}")
        self.table = table
        #: where every random draw of this table's mechanisms comes from (secret; see NoiseSource)
        self.noise = noise if noise is not None else NoiseSource()
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.preprocess_share = float(preprocess_share)
        self.planned_releases = max(1, int(planned_releases))
        self.planned_selections = int(planned_selections)
        self.delta_rdp = self.delta / 2 if planned_selections else self.delta
        self.delta_per_selection = (self.delta / 2) / planned_selections if planned_selections else 0.0
        self.accountant = RDPAccountant(delta=self.delta_rdp)
        #: noise multiplier of every preprocessing release (noise std = sigma * sensitivity)
        self.sigma_pre = noise_for_epsilon(self.epsilon * self.preprocess_share, 1.0, self.planned_releases,
                                           self.delta_rdp)
        self.ledger: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.selections = 0
        self.training: dict[str, Any] | None = None
        self._pre_epsilon: float | None = None
        self._rows: int | None = None

    # -- preprocessing releases ----------------------------------------------------------------------
    def noise_rng(self) -> np.random.Generator:
        """A generator on a secret stream of its own, for a DP mechanism's random draws."""
        return self.noise.numpy()

    def gaussian_noise(self, values: np.ndarray, std: float) -> np.ndarray:
        """``values`` plus N(0, std^2) noise from a secret stream of its own (not accounted here).

        The one place where the table's Gaussian releases get their noise (statistics and the DP
        copula's moments; DP-SGD adds its noise in torch, from the same source).
        """
        values = np.asarray(values, dtype=np.float64)
        return values + self.noise_rng().normal(0.0, float(std), size=values.shape)

    def release(self, values: np.ndarray, *, sensitivity: float, label: str) -> np.ndarray:
        """``values`` (counts) plus Gaussian noise of std ``sigma_pre * sensitivity``; spends budget.

        Each release draws from a secret stream of its own. The ledger records how many values are
        released: the size of ``values`` (callers keep it data-independent: public bins, or bins
        derived from earlier releases), or, for a thresholded histogram, what
        :meth:`record_released` says came out (the number of distinct real values is exact).
        """
        if self.training is not None:
            raise ConfigError(f"table {self.table!r}: a statistic was released after training started")
        values = np.asarray(values, dtype=np.float64)
        noisy = self.gaussian_noise(values, self.sigma_pre * float(sensitivity))
        self.accountant.step(q=1.0, sigma=self.sigma_pre)
        self.ledger.append({"release": label, "mechanism": "gaussian", "sensitivity": float(sensitivity),
                            "noise_std": self.sigma_pre * float(sensitivity),
                            "values": int(values.size)})
        if len(self.ledger) > self.planned_releases:
            log.warning("table %s: %d statistics released, %d planned: the preprocessing share is exceeded "
                        "(training gets less)", self.table, len(self.ledger), self.planned_releases)
        return noisy

    def record_released(self, count: int) -> None:
        """The last release kept only ``count`` of its noisy values (those above a noisy threshold)."""
        self.ledger[-1]["values"] = int(count)

    def noisy_count(self, value: float, *, label: str) -> float:
        return float(self.release(np.array([value]), sensitivity=1.0, label=label)[0])

    def rows(self, n: int) -> int:
        """The table's noisy row count, released once (whoever asks first: the engine or the generator)."""
        if self._rows is None:
            self._rows = max(1, int(round(self.noisy_count(n, label="row count"))))
            if self.delta >= 1.0 / self._rows:
                self.warnings.append(f"delta {self.delta:g} is not below 1/rows for about {self._rows} rows (noisy "
                                     "count): set a smaller delta, or declare max_rows")
                log.warning("table %s: %s", self.table, self.warnings[-1])
        return self._rows

    @property
    def noise_std(self) -> float:
        """Noise std of a sensitivity-1 release (counts)."""
        return self.sigma_pre

    def selection_threshold(self) -> float:
        """Noisy count a category must reach to be released (its domain is not public).

        A category held by one row alone has count 1; it passes with probability
        ``P(1 + N(0, s^2) > t) = delta_per_selection``.
        """
        from scipy.special import ndtri

        if self.delta_per_selection <= 0:
            raise ConfigError(f"table {self.table!r}: a category domain was released without a planned selection")
        self.selections += 1
        return 1.0 + self.noise_std * float(ndtri(1.0 - self.delta_per_selection))

    # -- training ------------------------------------------------------------------------------------
    def preprocessing_epsilon(self) -> float:
        return self.accountant.epsilon()

    def training_noise(self, q: float, steps: int) -> float:
        """The smallest DP-SGD noise multiplier that keeps the table within epsilon after ``steps``."""
        return noise_for_epsilon(self.epsilon, q, steps, self.delta_rdp, base_rdp=self.accountant.rdp)

    def start_training(self, *, q: float, sigma: float, sensitivity_factor: float, planned_steps: int,
                       max_grad_norm: float) -> None:
        self._pre_epsilon = self.accountant.epsilon()
        self.training = {"mechanism": "dp-sgd (poisson-sampled gaussian)", "sampling_rate": q,
                         "noise_multiplier": sigma, "max_grad_norm": max_grad_norm,
                         "clip_unit": "row" if sensitivity_factor == 1 else "pac group (sensitivity 2C)",
                         "planned_steps": planned_steps, "steps": 0}

    def can_step(self, q: float, sigma: float) -> bool:
        return self.accountant.epsilon_after(q=q, sigma=sigma) <= self.epsilon * (1 + 1e-9)

    def step(self, q: float, sigma: float) -> None:
        assert self.training is not None
        self.accountant.step(q=q, sigma=sigma)
        self.training["steps"] += 1

    def charge_gaussian(self, *, sigma: float, label: str, sensitivity: float = 1.0) -> None:
        """Account a Gaussian release made elsewhere with noise multiplier ``sigma``."""
        self.accountant.step(q=1.0, sigma=sigma)
        self.ledger.append({"release": label, "mechanism": "gaussian", "sensitivity": float(sensitivity),
                            "noise_std": sigma * float(sensitivity)})

    # -- reporting -----------------------------------------------------------------------------------
    def epsilon_spent(self) -> float:
        return self.accountant.epsilon()

    def delta_spent(self) -> float:
        return self.delta_rdp + self.selections * self.delta_per_selection

    def report(self) -> dict[str, Any]:
        pre = self._pre_epsilon if self._pre_epsilon is not None else self.accountant.epsilon()
        total = self.accountant.epsilon()
        return {
            "epsilon": self.epsilon, "delta": self.delta, "epsilon_spent": total, "delta_spent": self.delta_spent(),
            "privacy_unit": "one row of this table (add/remove)",
            "accountant": "Renyi DP (sampled Gaussian, Mironov et al. 2019; conversion of Balle et al. 2020)",
            "split": {
                "preprocessing_share": self.preprocess_share,
                "preprocessing_epsilon": pre,
                "training_epsilon_alone": (None if self.training is None else
                                           self._training_only_epsilon()),
                "total_epsilon_composed": total,
                "threshold_delta": self.selections * self.delta_per_selection,
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
