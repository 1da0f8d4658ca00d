"""The vectorised building blocks equal their literal definitions (hiveframe_ctgan._nn)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hiveframe_ctgan import _nn  # noqa: E402
from hiveframe_ctgan._data import Layout, Segment  # noqa: E402


def layout() -> Layout:
    # two scalars, then segments of widths 3, 1, 4
    segs = [Segment(2, 3, 0, True, False), Segment(5, 1, 1, True, False), Segment(6, 4, 2, False, False)]
    return Layout(10, np.arange(10), 2, segs, np.zeros(2), np.ones(2))


def test_segment_softmax_and_logsumexp_match_per_segment_ops():
    lay = layout()
    seg = _nn.Segments(lay, torch.device("cpu"))
    x = torch.randn(7, 8, generator=torch.Generator().manual_seed(0)) * 20
    soft = _nn.segment_softmax(x, seg)
    lse = _nn.segment_logsumexp(x, seg)
    for i, s in enumerate(lay.segments):
        block = x[:, s.start - 2 : s.start - 2 + s.width]
        torch.testing.assert_close(soft[:, s.start - 2 : s.start - 2 + s.width], torch.softmax(block, dim=1))
        torch.testing.assert_close(lse[:, i], torch.logsumexp(block, dim=1))


def test_activation_is_tanh_then_gumbel_softmax_rows():
    lay = layout()
    seg = _nn.Segments(lay, torch.device("cpu"))
    logits = torch.randn(5, 10, generator=torch.Generator().manual_seed(1))
    out = _nn.ctgan_activate(logits, seg, torch.Generator().manual_seed(2))
    torch.testing.assert_close(out[:, :2], torch.tanh(logits[:, :2]))
    for s in lay.segments:
        torch.testing.assert_close(out[:, s.start : s.start + s.width].sum(dim=1), torch.ones(5))
    hard = _nn.hard_segments(out, seg)
    assert set(hard[:, 2:].unique().tolist()) <= {0.0, 1.0}


def test_cond_linear_equals_a_linear_layer_on_the_concatenated_one_hot():
    layer = _nn.CondLinear(4, 3, n_cond=5)
    _nn.init_parameters(layer, torch.Generator().manual_seed(0))
    x = torch.randn(6, 4)
    cond = torch.tensor([0, 4, 5, 2, 5, 1])  # 5 = no condition
    onehot = torch.nn.functional.one_hot(cond, 6)[:, :5].float()
    weight = torch.cat([layer.linear.weight, layer.cond[:5].T], dim=1)
    expected = torch.cat([x, onehot], dim=1) @ weight.T + layer.linear.bias
    torch.testing.assert_close(layer(x, cond), expected)


def test_pac_conditions_equal_a_linear_layer_on_packed_one_hots():
    pac, n_cond = 3, 4
    pc = _nn.PacCond(n_cond, pac, 2, fan_in=10)
    _nn.init_parameters(pc, torch.Generator().manual_seed(0))
    cond = torch.tensor([0, 3, 4, 1, 4, 4])  # two packs of three; 4 = none
    onehot = torch.nn.functional.one_hot(cond, n_cond + 1)[:, :n_cond].float().reshape(2, pac * n_cond)
    expected = onehot @ pc.table[: pac * n_cond]
    torch.testing.assert_close(pc(cond), expected)


def test_init_is_reproducible_from_the_generator_only():
    torch.manual_seed(123)  # the global stream must not matter
    a = _nn.Generator(8, None, 3, (16,), 5)
    _nn.init_parameters(a, torch.Generator().manual_seed(7))
    torch.manual_seed(456)
    b = _nn.Generator(8, None, 3, (16,), 5)
    _nn.init_parameters(b, torch.Generator().manual_seed(7))
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(va, vb, msg=k)


def test_leaky_relu_dropout_uses_the_generator():
    x = torch.ones(100, 10)
    a = _nn.leaky_relu_dropout(x, 0.5, torch.Generator().manual_seed(3))
    b = _nn.leaky_relu_dropout(x, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and set(a.unique().tolist()) == {0.0, 2.0}


def test_leaky_relu_dropout_equals_the_two_step_form_through_a_gradient_penalty():
    """Values, gradients and the penalty's gradient of a gradient match leaky_relu then dropout bit for bit."""

    def two_step(h: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
        keep = torch.rand(h.shape, generator=gen) >= p
        return torch.nn.functional.leaky_relu(h, 0.2) * keep / (1.0 - p)

    x0 = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    w0 = torch.randn(64, 48, generator=torch.Generator().manual_seed(1))
    results = []
    for act in (two_step, _nn.leaky_relu_dropout):
        x, w = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
        y = act(x @ w, 0.5, torch.Generator().manual_seed(3))
        (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        (gw,) = torch.autograd.grad(gx.norm(), w)
        results.append((y, gx, gw))
    for ours, reference in zip(*results, strict=True):
        assert torch.equal(ours, reference)


def test_critic_row_gradient_through_the_first_layer_equals_autograd_on_interpolated_rows():
    """The penalty interpolates first-layer outputs instead of rows; with wide (embedded) spans and
    context, the rows' gradient and the penalty's weight gradients equal the literal form."""
    torch.manual_seed(0)
    segs = [Segment(2, 3, 0, True, False), Segment(5, 6, 1, True, True), Segment(11, 7, 2, True, True)]
    rows = Layout(18, np.arange(18), 2, segs, np.zeros(2), np.ones(2))
    ctx = Layout(4, np.arange(4), 1, [Segment(1, 3, 0, True, False)], np.zeros(1), np.ones(1))
    pac, n_cond, groups = 3, 16, 4
    D = _nn.Discriminator(rows, ctx, n_cond, (8, 8), pac).double()
    _nn.init_parameters(D, torch.Generator().manual_seed(1))
    n = pac * groups
    real, fake = torch.rand(n, 18, dtype=torch.float64), torch.rand(n, 18, dtype=torch.float64)
    context = torch.rand(n, 4, dtype=torch.float64)
    cond = torch.randint(0, n_cond + 1, (n,))
    alpha = torch.rand(groups, 1, dtype=torch.float64)

    def literal():
        a = alpha.repeat_interleave(pac, dim=0)
        interp = (a * real + (1 - a) * fake).requires_grad_(True)
        out = D(interp, cond, context, torch.Generator().manual_seed(5))
        (g,) = torch.autograd.grad(out.sum(), interp, create_graph=True)
        return g.reshape(groups, -1)

    def interpolated_first_layer():
        first = D.first_layer(torch.cat([real, fake]), torch.cat([cond, cond]), torch.cat([context, context]))
        h = alpha * first[:groups] + (1 - alpha) * first[groups:]
        out = D.tail(h, torch.Generator().manual_seed(5))
        (g,) = torch.autograd.grad(out.sum(), h, create_graph=True)
        return D.row_gradient(g)

    results = []
    for form in (literal, interpolated_first_layer):
        g = form()
        penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        grads = torch.autograd.grad(penalty, list(D.parameters()), allow_unused=True)
        # the first layer's bias and the condition table shift it, so they get no gradient
        results.append((g, [torch.zeros_like(p) if d is None else d for p, d in zip(D.parameters(), grads, strict=True)]))
    torch.testing.assert_close(results[1][0], results[0][0])
    for ours, reference in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(ours, reference)


@pytest.mark.parametrize("wide_context", [False, True])
def test_generator_gradients_equal_the_literal_residual_concatenation(wide_context):
    """The residual layers skip the noise block's input gradient; every weight gradient (and, with a
    learned context embedding, the embedding's) equals autograd through literal concatenations."""
    torch.manual_seed(0)
    segs = [Segment(1, 3, 0, True, False)] + ([Segment(4, 60, 1, True, True)] if wide_context else [])
    ctx_layout = Layout(4 + 60 * wide_context, np.arange(4 + 60 * wide_context), 1, segs, np.zeros(1), np.ones(1))
    G = _nn.Generator(6, ctx_layout, 5, (8, 7), 9).double()
    _nn.init_parameters(G, torch.Generator().manual_seed(0))
    z = torch.randn(12, 6, dtype=torch.float64)
    ctx = torch.rand(12, ctx_layout.width, dtype=torch.float64)
    cond = torch.randint(0, 6, (12,))
    weights = torch.randn(12, 9, dtype=torch.float64)
    has_cond = (cond < 5)[:, None]  # 5: no condition, whose row of the table stays zero

    def literal():
        x = torch.cat([z, G.ctx_embed(ctx)], dim=1)
        for lin, bn in zip(G.hidden, G.norms, strict=True):
            x = torch.cat([x, torch.relu(bn(lin.linear(x) + lin.cond[cond] * has_cond))], dim=1)
        return G.out.linear(x) + G.out.cond[cond] * has_cond

    results = []
    for form in (literal, lambda: G(z, cond, ctx)):
        out = form()
        results.append((out, torch.autograd.grad((out * weights).sum(), list(G.parameters()))))
    torch.testing.assert_close(results[1][0], results[0][0])
    for ours, reference in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(ours, reference)
