"""Torch networks of CTGAN and TVAE (Xu et al. 2019), written for speed on small CPUs.

Imported only inside ``fit``/``sample`` (never by the plugin entry module). Choices that differ in
form, not in substance, from a literal reading of the paper:

* the conditional vector is a one-hot over every category of every discrete column; a linear layer
  applied to ``concat(x, cond)`` equals ``linear(x) + E[cond]`` where ``E`` holds the columns of the
  weight matrix that face the one-hot, so each layer that sees the condition adds an embedding
  lookup (:class:`CondLinear`) instead of multiplying by a mostly-zero matrix;
* all output activations run in one pass: ``tanh`` on the scalar block, one segmented
  (Gumbel-)softmax over every one-hot segment (:func:`segment_softmax`);
* one-hot segments wider than the embedding threshold enter the discriminator, the TVAE encoder and
  the context inputs through a learned embedding (:class:`SpanEmbed`); generators still output a
  softmax over all the categories;
* the gradient penalty interpolates the critic's first-layer outputs of a real pack and its fake
  pack rather than the rows (equal, since that layer is linear and alpha is shared within a pack),
  and takes the rows' gradient back through the first layer explicitly
  (:meth:`Discriminator.row_gradient`): the penalty needs no first-layer pass of its own;
* the generator's residual layers take the noise and the earlier layers' outputs as separate
  blocks of one input (:class:`_ResidualLinear`), so the backward pass multiplies the output
  gradient only by the weight columns facing the blocks that need a gradient (not the noise's);
* every random draw (initialisation, noise, Gumbel noise, dropout) takes an explicit
  ``torch.Generator``: no global seeding, and the same seed gives the same model on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hiveframe_ctgan._data import Layout, embedding_dim


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA when available; an explicit ``cuda`` on a machine without one falls back to CPU."""
    import logging

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        logging.getLogger(__name__).warning("device %r requested but CUDA is not available; using the CPU", device)
        return torch.device("cpu")
    return dev


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


# -- building blocks -------------------------------------------------------------------------------
class SpanEmbed(nn.Module):
    """Replaces each wide one-hot segment of a permuted row by a learned embedding of it."""

    def __init__(self, layout: Layout) -> None:
        super().__init__()
        self.narrow_end = layout.narrow_end
        self.width = layout.width
        self.spans = [(s.start, s.width) for s in layout.wide_segments]
        self.tables = nn.ParameterList([nn.Parameter(torch.empty(w, embedding_dim(w))) for _, w in self.spans])
        self.out_dim = layout.embedded_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.spans:
            return x
        parts = [x[:, : self.narrow_end]]
        for (start, width), table in zip(self.spans, self.tables, strict=True):
            parts.append(x[:, start : start + width] @ table)
        return torch.cat(parts, dim=1)

    def transpose(self, g: torch.Tensor) -> torch.Tensor:
        """Map a gradient with respect to the embedded rows back to the rows (the map is linear)."""
        if not self.spans:
            return g
        parts, offset = [g[:, : self.narrow_end]], self.narrow_end
        for table in self.tables:
            parts.append(g[:, offset : offset + table.shape[1]] @ table.t())
            offset += table.shape[1]
        return torch.cat(parts, dim=1)


class CondLinear(nn.Module):
    """``Linear(concat(x, onehot(cond)))`` computed as ``Linear(x) + E[cond]``; ``cond == n_cond`` is none."""

    def __init__(self, in_dim: int, out_dim: int, n_cond: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.n_cond = n_cond
        self.cond = nn.Parameter(torch.zeros(n_cond + 1, out_dim)) if n_cond else None
        self.fan_in = in_dim + n_cond

    def forward(self, x: torch.Tensor, cond: torch.Tensor, hidden: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """The layer applied to ``concat(x, *hidden)`` (and the condition).

        Given ``hidden`` separately, the backward pass computes no gradient for the ``x`` block of the
        input unless ``x`` needs one: a residual generator's noise needs none, which spares a slice
        of every layer's input-gradient product (:class:`_ResidualLinear`).
        """
        shift = self.linear.bias
        if self.cond is not None:  # bias + E[cond] + x W^T in one addmm (no extra pass over the output)
            shift = F.embedding(cond, self.cond, padding_idx=self.n_cond) + shift
        if hidden:
            return _ResidualLinear.apply(shift, self.linear.weight, x, *hidden)
        return torch.addmm(shift, x, self.linear.weight.t())


class _ResidualLinear(torch.autograd.Function):
    """``shift + concat(x, *hidden) @ weight.T``, with the input gradient taken for the blocks that need it.

    Autograd would multiply the output gradient by the whole weight and drop the columns facing
    ``x`` when ``x`` needs no gradient; this multiplies by the columns facing ``hidden`` only.
    """

    @staticmethod
    def forward(ctx, shift: torch.Tensor, weight: torch.Tensor, x: torch.Tensor,  # type: ignore[override]
                *hidden: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([x, *hidden], dim=1)
        ctx.save_for_backward(joined, weight)
        ctx.shift_shape = shift.shape
        ctx.widths = [x.shape[1]] + [h.shape[1] for h in hidden]
        return torch.addmm(shift, joined, weight.t())

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        joined, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        grad, joined = grad.to(weight.dtype), joined.to(weight.dtype)  # under autocast: back in the weights' dtype
        grad_shift = grad.sum_to_size(ctx.shift_shape) if need[0] else None
        grad_weight = grad.t() @ joined if need[1] else None
        grad_x: torch.Tensor | None = None
        grad_hidden: Sequence[torch.Tensor | None] = [None] * (len(ctx.widths) - 1)
        if need[2]:
            grad_x, *grad_hidden = (grad @ weight).split(ctx.widths, dim=1)
        elif any(need[3:]):
            grad_hidden = (grad @ weight[:, ctx.widths[0]:]).split(ctx.widths[1:], dim=1)
        return grad_shift, grad_weight, grad_x, *grad_hidden


def init_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """Uniform(+-1/sqrt(fan_in)) for linear layers and embeddings, from ``gen`` (reproducible).

    This is torch's default scheme for linear layers, drawn from an explicit generator; a layer
    that also faces a condition one-hot counts those inputs in its fan-in.
    """
    inner = {id(m.linear) for m in module.modules() if isinstance(m, CondLinear)}
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, CondLinear):
                bound = 1.0 / math.sqrt(max(1, m.fan_in))
                m.linear.weight.uniform_(-bound, bound, generator=gen)
                m.linear.bias.uniform_(-bound, bound, generator=gen)
                if m.cond is not None:
                    m.cond.uniform_(-bound, bound, generator=gen)
                    m.cond[m.n_cond].zero_()
            elif isinstance(m, nn.Linear) and id(m) not in inner:
                bound = 1.0 / math.sqrt(max(1, getattr(m, "_hf_fan_in", m.in_features)))
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, SpanEmbed):
                for table in m.tables:
                    bound = 1.0 / math.sqrt(table.shape[0])
                    table.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, PacCond):
                m.table.uniform_(-m.bound, m.bound, generator=gen)
                m.table[m.pad].zero_()
            elif isinstance(m, nn.BatchNorm1d):
                m.reset_parameters()


# -- activations -----------------------------------------------------------------------------------
class Segments:
    """Index tensors of the one-hot part of a layout (positions ``n_scalar`` onwards)."""

    def __init__(self, layout: Layout, device: torch.device) -> None:
        self.n_scalar = layout.n_scalar
        self.n_seg = len(layout.segments)
        self.ids = torch.as_tensor(layout.segment_ids(), device=device)
        self.width = layout.width

    def onehot_only(self) -> Segments:
        """The same segments, for a tensor that holds only the one-hot part."""
        s = object.__new__(Segments)
        s.n_scalar, s.n_seg, s.ids, s.width = 0, self.n_seg, self.ids, self.width - self.n_scalar
        return s


def segment_max(x: torch.Tensor, seg: Segments) -> torch.Tensor:
    with torch.no_grad():
        out = torch.full((x.shape[0], seg.n_seg), -torch.inf, device=x.device, dtype=x.dtype)
        return out.scatter_reduce(1, seg.ids.expand(x.shape[0], -1), x, "amax", include_self=True)


def segment_softmax(x: torch.Tensor, seg: Segments) -> torch.Tensor:
    """Softmax within every segment of ``x`` (rows, one-hot positions), in one pass."""
    top = segment_max(x, seg).index_select(1, seg.ids)
    e = torch.exp(x - top)
    total = torch.zeros(x.shape[0], seg.n_seg, device=x.device, dtype=x.dtype).index_add_(1, seg.ids, e)
    return e / total.index_select(1, seg.ids)


def segment_logsumexp(x: torch.Tensor, seg: Segments) -> torch.Tensor:
    """log-sum-exp of every segment: (rows, segments)."""
    top = segment_max(x, seg)
    e = torch.exp(x - top.index_select(1, seg.ids))
    total = torch.zeros(x.shape[0], seg.n_seg, device=x.device, dtype=x.dtype).index_add_(1, seg.ids, e)
    return torch.log(total) + top


def gumbel(shape: Sequence[int], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Gumbel(0, 1) noise, -log(-log(U)) (torch's exponential_ with a generator is several times slower
    on a CPU than uniform_ plus two logarithms)."""
    u = torch.rand(*shape, generator=gen, device=device).clamp_(1e-10, 1.0 - 1e-7)
    return u.log_().neg_().log_().neg_()


def ctgan_activate(logits: torch.Tensor, seg: Segments, gen: torch.Generator, tau: float = 0.2) -> torch.Tensor:
    """tanh on scalars, Gumbel-softmax (temperature ``tau``) on every one-hot segment."""
    n = seg.n_scalar
    parts = []
    if n:
        parts.append(torch.tanh(logits[:, :n]))
    if seg.n_seg:
        oh = logits[:, n:]
        parts.append(segment_softmax((oh + gumbel(oh.shape, gen, logits.device)) / tau, seg))
    return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


def hard_segments(x: torch.Tensor, seg: Segments) -> torch.Tensor:
    """One-hot of the arg max of every segment (the scalar block is kept)."""
    n = seg.n_scalar
    if not seg.n_seg:
        return x
    oh = x[:, n:]
    is_max = oh >= segment_max(oh, seg).index_select(1, seg.ids)
    return torch.cat([x[:, :n], is_max.to(x.dtype)], dim=1)


# -- CTGAN -----------------------------------------------------------------------------------------
class Generator(nn.Module):
    """Residual generator of the paper: h_i = h_{i-1} ⊕ ReLU(BN(FC(h_{i-1}))), all layers see the condition."""

    def __init__(self, z_dim: int, ctx_layout: Layout | None, n_cond: int, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.ctx_embed = SpanEmbed(ctx_layout) if ctx_layout is not None and ctx_layout.width else None
        in_dim = z_dim + (self.ctx_embed.out_dim if self.ctx_embed is not None else 0)
        self.hidden = nn.ModuleList()
        self.norms = nn.ModuleList()
        for d in dims:
            self.hidden.append(CondLinear(in_dim, d, n_cond))
            self.norms.append(nn.BatchNorm1d(d))
            in_dim += d
        self.out = CondLinear(in_dim, out_dim, n_cond)

    def forward(self, z: torch.Tensor, cond: torch.Tensor, ctx: torch.Tensor | None) -> torch.Tensor:
        x = z if self.ctx_embed is None or ctx is None else torch.cat([z, self.ctx_embed(ctx)], dim=1)
        hidden: list[torch.Tensor] = []
        for lin, bn in zip(self.hidden, self.norms, strict=True):
            hidden.append(F.relu(bn(lin(x, cond, hidden))))
        return self.out(x, cond, hidden)


class PacCond(nn.Module):
    """The conditions of the ``pac`` rows of a pack, as one summed lookup per slot of the pack."""

    def __init__(self, n_cond: int, pac: int, out_dim: int, fan_in: int) -> None:
        super().__init__()
        self.n_cond, self.pac = n_cond, pac
        self.pad = n_cond * pac
        self.table = nn.Parameter(torch.zeros(n_cond * pac + 1, out_dim))
        self.bound = 1.0 / math.sqrt(max(1, fan_in))
        self.register_buffer("slot", torch.arange(pac) * n_cond, persistent=False)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        c = cond.view(-1, self.pac)
        idx = torch.where(c == self.n_cond, torch.full_like(c, self.pad), c + self.slot)
        return F.embedding(idx, self.table, padding_idx=self.pad).sum(dim=1)


def leaky_relu_dropout(h: torch.Tensor, p: float, gen: torch.Generator, slope: float = 0.2) -> torch.Tensor:
    """``dropout(leaky_relu(h, slope), p)`` as one product ``h * factor``.

    The factor (``1/(1-p)`` or ``slope/(1-p)`` by the sign of ``h``, zero where dropped) is
    piecewise constant in ``h``, so it carries no gradient: the backward pass, and the gradient
    penalty's backward of a backward, become a single multiply each instead of a chain of three.
    For ``p = 0.5`` the values equal the two-step form bit for bit (scaling by 2 is exact).
    """
    scale = 1.0 / (1.0 - p)
    keep = torch.rand(h.shape, generator=gen, device=h.device) >= p
    factor = torch.where(h.detach() > 0, scale, slope * scale).to(h.dtype) * keep
    return h * factor


class Discriminator(nn.Module):
    """PacGAN critic: ``pac`` rows (each with its condition and context) judged together."""

    def __init__(self, layout: Layout, ctx_layout: Layout | None, n_cond: int, dims: Sequence[int], pac: int) -> None:
        super().__init__()
        self.pac = pac
        self.row_embed = SpanEmbed(layout)
        self.ctx_embed = SpanEmbed(ctx_layout) if ctx_layout is not None and ctx_layout.width else None
        row_dim = self.row_embed.out_dim + (self.ctx_embed.out_dim if self.ctx_embed is not None else 0)
        self.row_dim, self.width = row_dim, layout.width
        in_dim = pac * row_dim
        self.first = nn.Linear(in_dim, dims[0])
        self.cond = PacCond(n_cond, pac, dims[0], in_dim + pac * n_cond) if n_cond else None
        if self.cond is not None:  # the first layer faces the condition one-hots too
            self.first._hf_fan_in = in_dim + pac * n_cond  # type: ignore[attr-defined]
        self.rest = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.out = nn.Linear(dims[-1], 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, ctx: torch.Tensor | None, gen: torch.Generator,
                p: float = 0.5) -> torch.Tensor:
        return self.tail(self.first_layer(x, cond, ctx), gen, p)

    def first_layer(self, x: torch.Tensor, cond: torch.Tensor, ctx: torch.Tensor | None) -> torch.Tensor:
        """The first layer's pre-activation, one row per pack: a linear function of the rows."""
        h = self.row_embed(x)
        if self.ctx_embed is not None and ctx is not None:
            h = torch.cat([h, self.ctx_embed(ctx)], dim=1)
        h = h.reshape(-1, h.shape[1] * self.pac)
        if self.cond is not None:
            return torch.addmm(self.cond(cond) + self.first.bias, h, self.first.weight.t())
        return self.first(h)

    def tail(self, h: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
        """Everything after the first layer's pre-activation."""
        h = leaky_relu_dropout(h, p, gen)
        for lin in self.rest:
            h = leaky_relu_dropout(lin(h), p, gen)
        return self.out(h)

    def row_gradient(self, grad_first: torch.Tensor) -> torch.Tensor:
        """The gradient with respect to each pack's rows (flattened per pack, context left out), from
        the gradient with respect to the first layer's pre-activation; differentiable in the weights."""
        g = (grad_first @ self.first.weight).reshape(-1, self.row_dim)[:, : self.row_embed.out_dim]
        return self.row_embed.transpose(g).reshape(-1, self.pac * self.width)


# -- TVAE ------------------------------------------------------------------------------------------
def _mlp(in_dim: int, dims: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for d in dims:
        layers += [nn.Linear(in_dim, d), nn.ReLU()]
        in_dim = d
    return nn.Sequential(*layers), in_dim


class Encoder(nn.Module):
    """q(z | row, context): two ReLU layers, then the mean and log-variance of z."""

    def __init__(self, layout: Layout, ctx_layout: Layout | None, dims: Sequence[int], z_dim: int) -> None:
        super().__init__()
        self.row_embed = SpanEmbed(layout)
        self.ctx_embed = SpanEmbed(ctx_layout) if ctx_layout is not None and ctx_layout.width else None
        in_dim = self.row_embed.out_dim + (self.ctx_embed.out_dim if self.ctx_embed is not None else 0)
        self.body, last = _mlp(in_dim, dims)
        self.mu = nn.Linear(last, z_dim)
        self.logvar = nn.Linear(last, z_dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.row_embed(x)
        if self.ctx_embed is not None and ctx is not None:
            h = torch.cat([h, self.ctx_embed(ctx)], dim=1)
        h = self.body(h)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """p(row | z, context): two ReLU layers, then raw outputs; one learned sigma per scalar."""

    def __init__(self, ctx_layout: Layout | None, dims: Sequence[int], z_dim: int, out_dim: int, n_scalar: int) -> None:
        super().__init__()
        self.ctx_embed = SpanEmbed(ctx_layout) if ctx_layout is not None and ctx_layout.width else None
        in_dim = z_dim + (self.ctx_embed.out_dim if self.ctx_embed is not None else 0)
        self.body, last = _mlp(in_dim, dims)
        self.out = nn.Linear(last, out_dim)
        self.sigma = nn.Parameter(torch.full((n_scalar,), 0.1))

    def forward(self, z: torch.Tensor, ctx: torch.Tensor | None) -> torch.Tensor:
        if self.ctx_embed is not None and ctx is not None:
            z = torch.cat([z, self.ctx_embed(ctx)], dim=1)
        return self.out(self.body(z))


# -- state dicts <-> numpy ----------------------------------------------------------------------------
def state_to_numpy(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def numpy_to_state(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
