"""Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD), written from the papers.

* RDP of the sampled Gaussian mechanism at integer orders: Mironov, Talwar, Zhang (2019), "Rényi
  Differential Privacy of the Sampled Gaussian Mechanism", the binomial expansion for integer alpha.
* RDP -> (epsilon, delta): the tighter conversion of Balle et al. (2020), "Hypothesis testing
  interpretations and Renyi differential privacy", Theorem 21.

Only integer orders are used: they give a slightly looser (never optimistic) epsilon than also
searching fractional orders, and the computation stays exact in log space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hiveframe.errors import ConfigError

DEFAULT_ORDERS: tuple[int, ...] = tuple(range(2, 64)) + (80, 96, 128, 192, 256)


def _log_add(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    if lo == -math.inf:
        return hi
    return hi + math.log1p(math.exp(lo - hi))


def rdp_sampled_gaussian(q: float, sigma: float, order: int) -> float:
    """RDP epsilon at integer ``order`` of one step with sampling rate ``q`` and noise ``sigma``."""
    if q == 0:
        return 0.0
    if sigma <= 0:
        return math.inf
    if q == 1.0:
        return order / (2 * sigma**2)
    log_a = -math.inf
    for k in range(order + 1):
        term = (
            math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
            + k * math.log(q) + (order - k) * math.log1p(-q)
            + (k * k - k) / (2 * sigma**2)
        )
        log_a = _log_add(log_a, term)
    return log_a / (order - 1)


def epsilon_from_rdp(rdp: Sequence[float], orders: Sequence[int], delta: float) -> tuple[float, int]:
    """The smallest epsilon over orders (Balle et al. 2020 conversion) and the order achieving it."""
    best, best_order = math.inf, orders[0]
    for r, a in zip(rdp, orders, strict=False):
        eps = r + math.log1p(-1 / a) - (math.log(delta) + math.log(a)) / (a - 1)
        if eps < best:
            best, best_order = eps, a
    return max(best, 0.0), best_order


@lru_cache(maxsize=256)
def step_rdp(q: float, sigma: float, orders: tuple[int, ...] = DEFAULT_ORDERS) -> np.ndarray:
    """RDP of one step at every order (cached: DP-SGD repeats the same step thousands of times)."""
    out = np.array([rdp_sampled_gaussian(q, sigma, a) for a in orders])
    out.setflags(write=False)
    return out


def compute_epsilon(q: float, sigma: float, steps: int, delta: float,
                    orders: Sequence[int] = DEFAULT_ORDERS, *, base_rdp: np.ndarray | None = None) -> float:
    """Epsilon after ``steps`` steps (on top of ``base_rdp``, RDP already spent, when given)."""
    rdp = steps * step_rdp(float(q), float(sigma), tuple(orders)) if steps else np.zeros(len(orders))
    if base_rdp is not None:
        rdp = rdp + base_rdp
    return epsilon_from_rdp(list(rdp), orders, delta)[0]


def noise_for_epsilon(target_epsilon: float, q: float, steps: int, delta: float, *,
                      tolerance: float = 0.01, base_rdp: np.ndarray | None = None,
                      orders: Sequence[int] = DEFAULT_ORDERS) -> float:
    """The smallest noise multiplier whose epsilon after ``steps`` stays within ``target_epsilon``.

    ``base_rdp`` is what was spent before (preprocessing releases): the steps get what is left.
    """
    if not target_epsilon > 0:
        raise ConfigError(f"epsilon must be positive, got {target_epsilon}")
    if base_rdp is not None and compute_epsilon(q, 1.0, 0, delta, orders, base_rdp=base_rdp) >= target_epsilon:
        raise ConfigError(f"epsilon {target_epsilon} is already spent before training",
                          hint="raise epsilon or lower the share spent on preprocessing statistics")
    low, high = 0.0, 1.0
    while compute_epsilon(q, high, steps, delta, orders, base_rdp=base_rdp) > target_epsilon:
        low, high = high, high * 2
        if high > 1e4:
            raise ConfigError(f"epsilon {target_epsilon} cannot be reached with {steps} steps at sampling "
                              f"rate {q:.4g}", hint="raise epsilon, or lower epochs / batch size")
    while high - low > tolerance * high:
        mid = (low + high) / 2
        if compute_epsilon(q, mid, steps, delta, orders, base_rdp=base_rdp) > target_epsilon:
            low = mid
        else:
            high = mid
    return high


@dataclass
class RDPAccountant:
    """Accumulates RDP over DP-SGD steps (and other Gaussian releases) and reports epsilon."""

    delta: float
    orders: tuple[int, ...] = DEFAULT_ORDERS
    _rdp: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._rdp = np.zeros(len(self.orders))

    @property
    def rdp(self) -> np.ndarray:
        """RDP spent so far, one value per order (a copy)."""
        return self._rdp.copy()

    def step(self, *, q: float, sigma: float, steps: int = 1) -> None:
        self._rdp = self._rdp + steps * step_rdp(float(q), float(sigma), tuple(self.orders))

    def epsilon(self) -> float:
        return epsilon_from_rdp(self._rdp.tolist(), self.orders, self.delta)[0]

    def epsilon_after(self, *, q: float, sigma: float, steps: int = 1) -> float:
        """Epsilon if ``steps`` more steps were taken (to stop before the budget is exceeded)."""
        extra = steps * step_rdp(float(q), float(sigma), tuple(self.orders))
        return epsilon_from_rdp((self._rdp + extra).tolist(), self.orders, self.delta)[0]


#: delta when the user gives none and declares no row bound: fixed, so it reveals nothing about the data
#: (a delta computed from the exact row count would store that count); far below 1/n up to ~10^5 rows
DEFAULT_DELTA = 1e-6


def default_delta(num_rows: int) -> float:
    """A delta well below 1/n for a *public* bound n on the rows: 1 / (10 n ln n), capped at 1e-5.

    Never call it with an exact row count of private data (the delta is stored in the model).
    """
    n = max(int(num_rows), 2)
    return min(1e-5, 1.0 / (n * math.log(n) * 10))
