"""DP-SGD (Abadi et al. 2016) with per-example gradients from ``torch.func``: clip, sum, add noise.

Why not opacus's ``PrivacyEngine``: its per-sample gradients come from module hooks, which support a
fixed list of layer types and no double backward. CTGAN's critic is trained with a gradient
penalty (a gradient of a gradient) and both CTGAN and TVAE use modules opacus has no hooks for (raw
parameters such as TVAE's learned sigmas and the span embeddings). ``torch.func.vmap(grad(...))``
computes exact per-example gradients of any loss, penalty included. Opacus's RDP analysis is the
independent check of the accountant (tests/hiveframe_privacy/test_accountant.py).

Sampling (:class:`PoissonSampler`): each step draws a Poisson sample of *units* with rate ``q``,
which is what the RDP analysis of the sampled Gaussian mechanism assumes. A unit is a row, or a *pac
group* for CTGAN's PacGAN critic: rows are assigned to groups independently and uniformly at random
(independently of the data) and whole groups are sampled. Removing a row then changes one group's
clipped gradient by at most ``2C``, so group clipping is accounted with sensitivity ``2C`` (the noise
std is ``2 * sigma * C``); with single rows it is ``C``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


class PoissonSampler:
    """Poisson sampling of rows, or of random pac groups of rows."""

    def __init__(self, n: int, q: float, group: int = 1) -> None:
        self.n, self.q, self.group = int(n), float(q), max(1, int(group))
        self.units = self.n if self.group == 1 else max(1, int(np.ceil(self.n / self.group)))

    @property
    def expected_units(self) -> float:
        return self.q * self.units

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Row indices, shape (units, group); -1 marks padding (a group with fewer rows than ``group``)."""
        if self.group == 1:
            rows = np.flatnonzero(rng.random(self.n) < self.q)
            return rows[:, None]
        assign = rng.integers(self.units, size=self.n)
        chosen = np.flatnonzero(rng.random(self.units) < self.q)
        if not chosen.size:
            return np.zeros((0, self.group), dtype=np.int64)
        member = np.isin(assign, chosen)
        rows = np.flatnonzero(member)
        rows = rows[rng.permutation(rows.size)]  # which rows of a crowded group are kept is random
        slot = np.searchsorted(chosen, assign[rows])
        out = np.full((chosen.size, self.group), -1, dtype=np.int64)
        order = np.argsort(slot, kind="stable")
        rows, slot = rows[order], slot[order]
        starts = np.searchsorted(slot, np.arange(chosen.size))
        rank = np.arange(rows.size) - starts[slot]
        keep = rank < self.group
        out[slot[keep], rank[keep]] = rows[keep]
        return out[(out >= 0).any(axis=1)]


class EntitySampler:
    """Poisson sampling of privacy units (root entities): each is drawn with rate ``q``, with all its rows.

    Used for a child table, whose privacy unit owns several rows: the plan clips each row's gradient to
    ``C / unit_rows``, so one entity changes the summed gradient by at most ``C`` and the sampled
    Gaussian analysis holds per entity.
    """

    def __init__(self, units: np.ndarray, q: float, *, expected_rows: float) -> None:
        self.q = float(q)
        codes, self.of_row = np.unique(np.asarray(units), return_inverse=True)
        self.units = int(codes.size)
        self._expected_rows = float(expected_rows)

    @property
    def expected_units(self) -> float:
        """The denominator of the mean gradient: the expected number of rows in a step."""
        return self._expected_rows

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Row indices of the sampled entities, shape (rows, 1)."""
        chosen = rng.random(self.units) < self.q
        return np.flatnonzero(chosen[self.of_row])[:, None]


def private_gradient(loss_fn: Callable[..., torch.Tensor], params: Mapping[str, torch.Tensor],
                     inputs: tuple[Any, ...], *, max_grad_norm: float, noise_std: float, denominator: float,
                     micro_batch: int | None, generator: torch.Generator,
                     in_dims: tuple[Any, ...] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Noisy mean gradient: per-unit gradients of ``loss_fn(params, *unit_inputs)`` clipped to
    ``max_grad_norm``, summed, plus N(0, noise_std^2), divided by ``denominator`` (the expected
    number of units, not the drawn one, so the batch size itself stays private).

    ``inputs`` are batched along their first dimension (``in_dims`` may mark some ``None``: shared).
    Returns the gradients and diagnostics (share of clipped units, mean norm).

    ``loss_fn`` may instead be *factored per-unit gradients* (:func:`is_factored`): an object whose
    ``unit_norms()`` gives each unit's exact gradient norm and ``weighted_sum(weights)`` the sum of the
    units' gradients scaled by ``weights``, both without materialising one gradient per unit (for
    layers whose per-unit gradient is an outer product: "ghost clipping", Goodfellow 2015, Li et al.
    2022). ``inputs`` are then ignored; clipping, noise and the denominator are the same.
    """
    import torch
    from torch.func import grad, vmap

    if is_factored(loss_fn):
        return _factored_gradient(loss_fn, params, max_grad_norm=max_grad_norm, noise_std=noise_std,
                                  denominator=denominator, generator=generator)

    names = list(params)
    frozen = {k: v.detach() for k, v in params.items()}
    per_unit = vmap(grad(loss_fn), in_dims=(None,) + (in_dims or (0,) * len(inputs)), randomness="different")
    total = {k: torch.zeros_like(v) for k, v in frozen.items()}
    batched = [x for x, d in zip(inputs, in_dims or (0,) * len(inputs), strict=False) if d is not None]
    n = int(batched[0].shape[0]) if batched else 0
    chunk = n if not micro_batch else max(1, int(micro_batch))
    clipped = 0
    norms_sum = 0.0
    for start in range(0, n, max(chunk, 1)):
        stop = min(n, start + chunk)
        part = tuple(x[start:stop] if d is not None else x
                     for x, d in zip(inputs, in_dims or (0,) * len(inputs), strict=False))
        grads = per_unit(frozen, *part)
        flat = torch.cat([grads[k].reshape(stop - start, -1) for k in names], dim=1)
        norms = flat.norm(2, dim=1)
        factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        clipped += int((norms > max_grad_norm).sum())
        norms_sum += float(norms.sum())
        for k in names:
            g = grads[k]
            total[k] += (g * factor.view(-1, *([1] * (g.dim() - 1)))).sum(dim=0)
    out = {}
    for k in names:
        noise = torch.randn(total[k].shape, generator=generator, device=total[k].device) * noise_std
        out[k] = (total[k] + noise) / max(denominator, 1e-12)
    stats = {"units": float(n), "clipped_share": clipped / n if n else 0.0,
             "mean_norm": norms_sum / n if n else 0.0}
    return out, stats


def is_factored(loss_fn: Any) -> bool:
    """Whether ``loss_fn`` is factored per-unit gradients (``unit_norms`` and ``weighted_sum``)."""
    return callable(getattr(loss_fn, "unit_norms", None)) and callable(getattr(loss_fn, "weighted_sum", None))


def _factored_gradient(factored: Any, params: Mapping[str, torch.Tensor], *, max_grad_norm: float,
                       noise_std: float, denominator: float,
                       generator: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """:func:`private_gradient` from factored per-unit gradients: clip factors from the exact norms, one
    weighted sum, the same Gaussian noise."""
    import torch

    norms = factored.unit_norms().detach()
    n = int(norms.shape[0])
    factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
    total = factored.weighted_sum(factor)
    out = {}
    for k, v in params.items():
        summed = total[k].detach() if k in total else torch.zeros_like(v)
        noise = torch.randn(summed.shape, generator=generator, device=summed.device) * noise_std
        out[k] = (summed + noise) / max(denominator, 1e-12)
    stats = {"units": float(n), "clipped_share": float((norms > max_grad_norm).sum()) / n if n else 0.0,
             "mean_norm": float(norms.sum()) / n if n else 0.0}
    return out, stats


def apply_gradients(module: torch.nn.Module, grads: Mapping[str, torch.Tensor]) -> None:
    """Put ``grads`` into ``module``'s parameters' ``.grad`` (for the optimiser's step)."""
    for name, p in module.named_parameters():
        if name in grads:
            p.grad = grads[name].to(p.dtype)
        elif p.requires_grad:
            p.grad = None
