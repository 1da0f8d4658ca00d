"""Sampling's fast path against the straightforward computation: the same logits as
``Network.logits_for`` (first layer from per-value tables, temperature and bans folded into the heads),
inverse-CDF draws with the softmax's frequencies, and whole rows drawn from the model's joint law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hiveframe_autoregressive import _model
from hiveframe_autoregressive._model import Layout, Network, Step

# two model columns of one token, one of two tokens (a number: bin, then step), two context tokens
LAYOUT = Layout(vocab=[3, 4, 5, 2], token_column=[0, 1, 2, 2], token_sub=[0, 0, 0, 1], ctx_vocab=[3, 2])


def random_network(seed: int = 0) -> Network:
    """A tiny network whose every parameter (biases too) is random, so no term can hide behind a zero."""
    net = Network(LAYOUT, embedding_dim=3, hidden=6, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net.eval()


def random_tokens(rows: int, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    sizes = LAYOUT.vocab + LAYOUT.ctx_vocab
    return torch.as_tensor(np.stack([rng.integers(0, v, rows) for v in sizes], axis=1), dtype=torch.long)


@pytest.mark.parametrize("with_tables", [True, False], ids=["tables", "per-step"])
def test_fast_logits_equal_the_straightforward_ones(with_tables: bool) -> None:
    net = random_network()
    tokens = random_tokens(64)
    rng = np.random.default_rng(2)
    tables = _model.first_layer_tables(net) if with_tables else None
    with torch.no_grad():
        for j in range(LAYOUT.n_targets):
            for _ in range(6):  # random known sets: empty, partial, everything else; context known or not
                known = rng.random(LAYOUT.n_sources) < rng.choice([0.0, 0.5, 1.0])
                known[j] = False
                sources = [int(i) for i in np.flatnonzero(known)]
                expected = net.logits_for(j, tokens, torch.as_tensor(known, dtype=torch.float32))
                got = Step.build(net, j, sources, tables=tables).logits(net, tokens)
                torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_temperature_and_banned_values_are_folded_into_the_head() -> None:
    net = random_network()
    tokens = random_tokens(32)
    j, sources = 2, [0, 1, 4, 5]
    banned = torch.tensor([False, True, False, False, True])
    known = torch.zeros(LAYOUT.n_sources)
    known[sources] = 1.0
    with torch.no_grad():
        expected = (net.logits_for(j, tokens, known) / 0.7).masked_fill(banned, -math.inf)
        got = Step.build(net, j, sources, temperature=0.7, banned=banned,
                         tables=_model.first_layer_tables(net)).logits(net, tokens)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_inverse_cdf_draws_the_weights_frequencies_and_never_a_zero_weight() -> None:
    weights = torch.tensor([[0.0, 2.0, 0.0, 1.0, 5.0, 0.0]]).expand(200_000, -1)
    gen = torch.Generator().manual_seed(0)
    drawn = _model.inverse_cdf(weights, torch.rand(len(weights), 1, generator=gen))
    counts = np.bincount(drawn.numpy(), minlength=6)
    assert counts[[0, 2, 5]].sum() == 0, "a value of weight 0 was drawn"
    expected = np.array([0, 2, 0, 1, 5, 0]) / 8 * len(weights)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected + 1)), (counts, expected)


def test_inverse_cdf_never_lands_past_the_last_positive_weight() -> None:
    weights = torch.tensor([[1.0, 3.0, 0.0], [0.0, 1e-30, 0.0], [1.0, 1.0, 1.0]])
    u = torch.ones(3, 1)  # the guard's case: u * total at the total (rounding, or a uniform of 1)
    assert _model.inverse_cdf(weights, u).tolist() == [1, 1, 2]
    assert _model.inverse_cdf(weights, torch.zeros(3, 1)).tolist() == [0, 1, 0]


def exact_law(net: Network, ctx: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """P(column 0) and P(column 1 | column 0) (one row per value of column 0) given the context, by the
    straightforward computation, in table order."""
    v0, v1 = LAYOUT.vocab[0], LAYOUT.vocab[1]
    tokens = torch.zeros(v0, LAYOUT.n_sources, dtype=torch.long)
    tokens[:, 0] = torch.arange(v0)
    tokens[:, LAYOUT.n_targets:] = torch.as_tensor(ctx)
    known = torch.zeros(LAYOUT.n_sources)
    known[LAYOUT.n_targets:] = 1.0
    with torch.no_grad():
        p0 = torch.softmax(net.logits_for(0, tokens[:1], known), dim=1)[0]
        known[0] = 1.0
        p1 = torch.softmax(net.logits_for(1, tokens, known), dim=1)
    assert p1.shape == (v0, v1)
    return p0.numpy(), p1.numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("table_floats", [_model.TABLE_FLOATS, 0], ids=["tables", "per-step"])
def test_generated_rows_follow_the_models_joint_law(monkeypatch, table_floats: int, dtype: torch.dtype) -> None:
    monkeypatch.setattr(_model, "TABLE_FLOATS", table_floats)
    monkeypatch.setattr(_model, "SAMPLE_CHUNK", 7000)  # several chunks, the last one short
    net = random_network(3)
    rows, ctx = 40_000, [2, 1]
    tokens = np.zeros((rows, LAYOUT.n_sources), dtype=np.int64)
    tokens[:, LAYOUT.n_targets:] = ctx
    forbidden = [[], [3], [], []]  # value 3 of column 1 is never to be drawn
    drawn = _model.generate(net, tokens, np.zeros(LAYOUT.n_targets, dtype=bool), [0, 1, 2],
                            forbidden, 1.0, torch.Generator().manual_seed(0), torch.device("cpu"), dtype=dtype)
    assert drawn.shape == (rows, LAYOUT.n_targets)
    assert not (drawn[:, 1] == 3).any(), "a banned value was drawn"
    p0, p1 = exact_law(net, ctx)
    p1[:, 3] = 0.0  # the ban renormalises column 1 given column 0
    expected = p0[:, None] * p1 / p1.sum(axis=1, keepdims=True)
    observed = np.zeros_like(expected)
    np.add.at(observed, (drawn[:, 0], drawn[:, 1]), 1.0)
    observed /= rows
    assert 0.5 * np.abs(observed - expected).sum() < 0.02, (observed, expected)


def test_a_fixed_column_is_kept_and_conditions_the_others() -> None:
    net = random_network(4)
    rows, ctx = 40_000, [0, 0]
    tokens = np.zeros((rows, LAYOUT.n_sources), dtype=np.int64)
    tokens[:, 0] = 2  # column 0 fixed at value 2
    tokens[:, LAYOUT.n_targets:] = ctx
    fixed = np.array([True, False, False, False])
    drawn = _model.generate(net, tokens, fixed, [0, 1, 2], [[], [], [], []], 1.0,
                            torch.Generator().manual_seed(1), torch.device("cpu"))
    assert (drawn[:, 0] == 2).all()
    expected = exact_law(net, ctx)[1][2]
    observed = np.bincount(drawn[:, 1], minlength=LAYOUT.vocab[1]) / rows
    assert 0.5 * np.abs(observed - expected).sum() < 0.02, (observed, expected)


def test_cached_plans_give_the_rows_a_fresh_setup_gives() -> None:
    net = random_network(5)
    tokens = np.zeros((300, LAYOUT.n_sources), dtype=np.int64)
    no_fix = np.zeros(LAYOUT.n_targets, dtype=bool)

    def run(temperature: float, plans: dict | None) -> np.ndarray:
        return _model.generate(net, tokens.copy(), no_fix, [0, 1, 2], [[], [], [], []], temperature,
                               torch.Generator().manual_seed(7), torch.device("cpu"), plans)

    plans: dict = {}
    for temperature in (1.0, 0.5, 1.0, 0.5):  # each setup cached once, then reused
        np.testing.assert_array_equal(run(temperature, plans), run(temperature, None))
    assert len(plans) == 2
    assert not np.array_equal(run(1.0, plans), run(0.5, plans)), "another temperature reused a plan"


def test_a_held_value_keeps_its_share_when_others_are_banned() -> None:
    """Banning ``rare`` (id 1) with null (id 0) held: null's probability is what the model gave it, rare's
    goes to the categories in proportion, and the total stays 1."""
    logits = torch.randn(50, 6, generator=torch.Generator().manual_seed(3))
    banned = torch.tensor([False, True, False, False, False, False])
    before = torch.softmax(logits, dim=1)
    after = torch.softmax(_model.keep_held_share(logits, banned, held=0), dim=1)
    torch.testing.assert_close(after[:, 0], before[:, 0])
    assert bool((after[:, 1] == 0).all())
    categories = before[:, 2:]
    torch.testing.assert_close(after[:, 2:], categories / categories.sum(1, keepdim=True) * (1 - before[:, 0:1]))
    # without a held value a ban renormalizes over everything left, null included: null's share grows
    renormalized = torch.softmax(logits.masked_fill(banned, -math.inf), dim=1)
    assert bool((renormalized[:, 0] > before[:, 0]).all())


# -- training's fast loss -------------------------------------------------------------------------
@pytest.mark.parametrize("fixed_share", [0.0, 0.6, 1.0], ids=["random orders", "mixed", "table order"])
@pytest.mark.parametrize("padded", [True, False], ids=["padded heads", "head by head"])
def test_fast_training_loss_equals_the_plain_formula(fixed_share: float, padded: bool) -> None:
    """Value and every parameter's gradient, whatever the share of rows in the table's order and either
    way of running the heads."""
    net = random_network().train()
    tokens = random_tokens(48)
    ranks = torch.as_tensor(_model.draw_ranks(np.random.default_rng(3), 48, LAYOUT.n_columns, fixed_share))
    fixed = (ranks == torch.arange(LAYOUT.n_columns)).all(1)
    assert fixed_share in (0.0, 1.0) or 0 < int(fixed.sum()) < 48
    fast = _model.FastLoss(LAYOUT, torch.float32, torch.device("cpu"))
    fast.padded = padded
    expected = _model.loss_of(net, tokens, _model.known_masks(LAYOUT, ranks))
    got = fast(net, tokens, ranks, fixed)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)
    params = list(net.parameters())
    for g_exp, g_got in zip(torch.autograd.grad(expected, params), torch.autograd.grad(got, params), strict=True):
        torch.testing.assert_close(g_got, g_exp, rtol=1e-4, atol=1e-4)


def test_bfloat16_training_loss_stays_close_and_keeps_float32_weights() -> None:
    net = random_network().train()
    tokens = random_tokens(64)
    ranks = torch.as_tensor(_model.draw_ranks(np.random.default_rng(4), 64, LAYOUT.n_columns, 0.8))
    fixed = (ranks == torch.arange(LAYOUT.n_columns)).all(1)
    expected = _model.loss_of(net, tokens, _model.known_masks(LAYOUT, ranks))
    got = _model.FastLoss(LAYOUT, torch.bfloat16, torch.device("cpu"))(net, tokens, ranks, fixed)
    assert got.dtype == torch.float32
    assert abs(float(got.detach()) - float(expected.detach())) < 0.02 * abs(float(expected.detach()))
    got.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_precision_resolves_to_what_the_hardware_runs_fast() -> None:
    cpu = torch.device("cpu")
    assert _model.resolve_precision("float32", cpu) == torch.float32
    assert _model.resolve_precision("bfloat16", cpu) == torch.bfloat16
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    assert _model.resolve_precision("auto", cpu) == (torch.bfloat16 if amx else torch.float32)
