"""DP-SGD: per-example clipping with torch.func, Gaussian noise, Poisson sampling of rows and groups."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hiveframe_privacy.dpsgd import PoissonSampler, private_gradient  # noqa: E402


def _loss(params, x, y):
    pred = x @ params["w"] + params["b"]
    return ((pred - y) ** 2).sum()


def test_clipped_mean_matches_a_loop_over_examples():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=gen) * 5
    y = torch.randn(10, generator=gen)
    params = {"w": torch.randn(3, generator=gen), "b": torch.zeros(())}
    grads, stats = private_gradient(_loss, params, (x, y), max_grad_norm=1.0, noise_std=0.0, denominator=8.0,
                                    micro_batch=3, generator=gen)
    expected = {"w": torch.zeros(3), "b": torch.zeros(())}
    for i in range(10):
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        _loss(p, x[i], y[i]).backward()
        norm = torch.sqrt(sum((p[k].grad ** 2).sum() for k in p))
        factor = min(1.0, 1.0 / (float(norm) + 1e-6))
        for k in p:
            expected[k] += p[k].grad * factor
    for k in expected:
        assert torch.allclose(grads[k], expected[k] / 8.0, atol=1e-5)
    assert 0 < stats["clipped_share"] <= 1


class _FactoredLinear:
    """Per-example gradients of ``_loss`` in factored form: d/dw = 2 r x, d/db = 2 r (r the residual)."""

    def __init__(self, params, x, y):
        self.x, self.r = x, 2 * (x @ params["w"] + params["b"] - y)

    def unit_norms(self):
        return self.r.abs() * torch.sqrt((self.x ** 2).sum(1) + 1)

    def weighted_sum(self, weights):
        return {"w": (self.x * (self.r * weights)[:, None]).sum(0), "b": (self.r * weights).sum()}


def test_factored_gradients_give_the_same_clipped_mean_and_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=gen) * 5
    y = torch.randn(10, generator=gen)
    params = {"w": torch.randn(3, generator=gen), "b": torch.zeros(())}
    out = [private_gradient(f, params, inputs, max_grad_norm=1.0, noise_std=0.3, denominator=8.0, micro_batch=3,
                            generator=torch.Generator().manual_seed(5))
           for f, inputs in ((_loss, (x, y)), (_FactoredLinear(params, x, y), ()))]
    (a, stats_a), (b, stats_b) = out
    assert stats_a["units"] == stats_b["units"] == 10 and stats_a["clipped_share"] == stats_b["clipped_share"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in params)


def test_noise_has_the_requested_scale():
    gen = torch.Generator().manual_seed(1)
    params = {"w": torch.zeros(20_000), "b": torch.zeros(())}
    x = torch.zeros(4, 20_000)
    grads, _ = private_gradient(_loss, params, (x, torch.zeros(4)), max_grad_norm=1.0, noise_std=3.0,
                                denominator=1.0, micro_batch=None, generator=gen)
    assert float(grads["w"].std()) == pytest.approx(3.0, rel=0.05)


def test_an_empty_sample_still_gives_noise():
    gen = torch.Generator().manual_seed(2)
    params = {"w": torch.zeros(5), "b": torch.zeros(())}
    grads, stats = private_gradient(_loss, params, (torch.zeros(0, 5), torch.zeros(0)), max_grad_norm=1.0,
                                    noise_std=1.0, denominator=2.0, micro_batch=4, generator=gen)
    assert stats["units"] == 0 and float(grads["w"].abs().sum()) > 0


def test_poisson_rows_and_groups():
    rng = np.random.default_rng(0)
    rows = PoissonSampler(10_000, 0.05).sample(rng)
    assert rows.shape[1] == 1 and abs(len(rows) - 500) < 100 and len(np.unique(rows)) == len(rows)
    sampler = PoissonSampler(10_000, 0.05, group=10)
    groups = sampler.sample(rng)
    assert groups.shape[1] == 10 and sampler.units == 1000
    members = groups[groups >= 0]
    assert len(np.unique(members)) == len(members)  # a row is in at most one group
    assert abs(len(groups) - 50) < 25
