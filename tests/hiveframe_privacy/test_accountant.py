"""The RDP accountant against two independent computations (opacus's RDP analysis and Google's
``dp-accounting``, both in the ``dev`` extra) and known limits."""

from __future__ import annotations

import math

import pytest
from hiveframe_privacy.accountant import (
    DEFAULT_ORDERS,
    RDPAccountant,
    compute_epsilon,
    default_delta,
    noise_for_epsilon,
    rdp_sampled_gaussian,
)

from hiveframe.errors import ConfigError


@pytest.mark.parametrize(("q", "sigma", "steps", "delta"), [
    (0.01, 1.1, 10_000, 1e-5),
    (0.0128, 0.8, 3_900, 1e-6),
    (0.1, 2.5, 500, 1e-5),
    (0.005, 5.0, 20_000, 1e-7),
])
def test_epsilon_matches_opacus_analysis(q, sigma, steps, delta):
    analysis = pytest.importorskip("opacus.accountants.analysis.rdp")
    orders = list(DEFAULT_ORDERS)
    rdp = analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    expected, _ = analysis.get_privacy_spent(orders=orders, rdp=rdp, delta=delta)
    assert compute_epsilon(q, sigma, steps, delta) == pytest.approx(float(expected), rel=1e-9)


#: (sampling rate, noise multiplier, steps, delta): DP-SGD on census-sized data (batch 500 of 39k rows,
#: 300 epochs), a small table with a large batch, and a long run at low noise
SETTINGS = [
    (500 / 39_074, 1.1, 300 * 78, 1e-6),
    (0.1, 2.5, 500, 1e-5),
    (0.004, 0.7, 50_000, 1e-7),
]


@pytest.mark.parametrize(("q", "sigma", "steps", "delta"), SETTINGS)
def test_accountant_matches_opacus_and_dp_accounting(q, sigma, steps, delta):
    """Three implementations of the sampled Gaussian's RDP (ours from the papers, opacus, Google's
    dp-accounting) give the same epsilon at the same orders; Google's PLD accountant, which is
    tighter than any RDP bound, gives a smaller epsilon, but not much smaller."""
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant
    from dp_accounting.rdp import rdp_privacy_accountant
    from opacus.accountants.analysis import rdp as opacus_rdp

    ours = compute_epsilon(q, sigma, steps, delta)
    orders = list(DEFAULT_ORDERS)
    opacus, _ = opacus_rdp.get_privacy_spent(
        orders=orders, rdp=opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders),
        delta=delta)
    event = dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)
    google_rdp = rdp_privacy_accountant.RdpAccountant(orders=[float(a) for a in orders]).compose(event)
    google, order = google_rdp.get_epsilon_and_optimal_order(delta)
    assert ours == pytest.approx(float(opacus), rel=1e-9)
    assert ours == pytest.approx(google, rel=1e-6), order
    pld = pld_privacy_accountant.PLDAccountant().compose(event).get_epsilon(delta)
    assert 0.6 * ours < pld <= ours * (1 + 1e-6)
    # and the accountant object, stepped one step at a time in bulk, agrees
    acc = RDPAccountant(delta=delta)
    acc.step(q=q, sigma=sigma, steps=steps)
    assert acc.epsilon() == pytest.approx(ours, rel=1e-12)


def test_full_batch_gaussian_is_closed_form():
    # with q = 1 the mechanism is the plain Gaussian mechanism: RDP(alpha) = alpha / (2 sigma^2)
    assert rdp_sampled_gaussian(1.0, 2.0, 7) == pytest.approx(7 / 8)


def test_subsampling_amplifies_privacy():
    assert rdp_sampled_gaussian(0.01, 1.0, 8) < rdp_sampled_gaussian(0.1, 1.0, 8) < rdp_sampled_gaussian(1.0, 1.0, 8)


def test_accountant_accumulates_steps():
    acc = RDPAccountant(delta=1e-5)
    acc.step(q=0.02, sigma=1.2, steps=100)
    first = acc.epsilon()
    assert acc.epsilon_after(q=0.02, sigma=1.2, steps=100) > first
    acc.step(q=0.02, sigma=1.2, steps=100)
    assert acc.epsilon() == pytest.approx(compute_epsilon(0.02, 1.2, 200, 1e-5))


def test_noise_for_epsilon_reaches_target_from_above():
    sigma = noise_for_epsilon(3.0, 0.0128, 7800, 1e-5)
    assert compute_epsilon(0.0128, sigma, 7800, 1e-5) <= 3.0
    assert compute_epsilon(0.0128, sigma * 0.97, 7800, 1e-5) > 3.0


def test_noise_for_epsilon_rejects_bad_epsilon():
    with pytest.raises(ConfigError, match="epsilon must be positive"):
        noise_for_epsilon(0.0, 0.01, 100, 1e-5)


def test_default_delta_for_a_declared_bound_is_below_one_over_n():
    for n in (100, 39_074, 10**7):
        assert default_delta(n) < 1 / n
        assert default_delta(n) > 0
    assert math.isclose(default_delta(10**7), min(1e-5, default_delta(10**7)))
