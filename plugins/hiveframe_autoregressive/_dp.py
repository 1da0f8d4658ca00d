"""Differentially private training of the autoregressive generator (``fit_private``, under the ``dp`` wrapper).

The DP machinery (Poisson sampling of rows or privacy units, per-unit clipping, Gaussian noise, the
accountant) is the ``dp`` wrapper's, reached through the public seam
(:class:`hiveframe.components.PrivateTraining`); this module says which loss is private per row:

* **What is saved about the data comes from releases only.** The codecs (categories, numeric point
  masses, bins, ranges, precision) are fitted on ``private.surrogate``, built from the wrapper's noisy
  statistics: the released category domains (rare ones suppressed by a noisy threshold) and released
  ranges replace ``min_count`` and the extreme-value clipping of a non-private fit. The row count
  reported is the noisy one.
* **Every step is DP-SGD.** The network sees real rows in every step, so each step takes a Poisson
  sample (:meth:`PrivateSteps.sample`) and hands each row's exact gradient of its summed token
  cross-entropy to the wrapper's ``gradient``, which clips it, adds Gaussian noise and lets the
  accountant count the step. The per-row gradients are given in factored form (:class:`RowGradients`):
  one batched backward gives each row's layer inputs and output gradients, every weight's per-row
  gradient is their product, so the norms and the clipped sum come without one gradient tensor per row
  (17 times cheaper than ``vmap(grad)`` of the network through ``functional_call``, :func:`row_loss_fn`,
  or of the linearised loss, :func:`linearised_loss`, the two references the tests compare it with).
* **Secret randomness.** The Poisson samples and the gradient noise come from the wrapper's secret
  source, and so do the column orders of the sampled rows (drawn per step, as many as the secret sample
  holds rows). Only the weights' initialisation follows ``seed``; nothing about the source is saved.
* **No early stopping, no checkpoints.** A held-out loss on real rows would be an exact statistic
  choosing the epoch; training runs ``epochs`` (or until the budget is spent, or ``max_seconds``) and
  keeps the last weights. A checkpoint would lose the accountant's state, so none is written. Neither
  losses nor timings are reported (both are statistics of the real rows without noise).
* **Sequences: one parent's whole sequence is one privacy unit** (:func:`fit_sequences_private`, reached
  through the wrapper's ``fit_sequences``): parents are Poisson-sampled, each parent's gradient (its
  length row and all its children's rows, both networks) is clipped as a whole (:class:`UnitGradients`),
  and lengths are capped at the public ``max_length`` (the wrapper's ``max_children``). Through ``fit``
  (rows without their parents) ``sequential=True`` is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from hiveframe.errors import ConfigError, DataError, Problem
from hiveframe_autoregressive import _model
from hiveframe_autoregressive._tokens import Codec

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import PrivateTraining, TrainingCallback
    from hiveframe.metadata import Column, Table
    from hiveframe_autoregressive.generators import AutoregressiveGenerator

log = logging.getLogger(__name__)


def row_loss_fn(net: _model.Network) -> Any:
    """``loss(params, tokens, known)`` of ONE row (``tokens`` (S,), ``known`` (T, S)): the summed token
    cross-entropy of :func:`._model.loss_of`, through ``functional_call`` so ``vmap(grad)`` can take it
    per row. The reference of :func:`linearised_loss` (slow under ``vmap``: each op of the network is
    batched per row)."""

    def loss(params: Mapping[str, torch.Tensor], tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        logits = functional_call(net, dict(params), (tokens.unsqueeze(0), known.unsqueeze(0)))
        return sum(nn.functional.cross_entropy(lg, tokens[j : j + 1]) for j, lg in enumerate(logits))

    return loss


def backprops(net: _model.Network, tokens: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One batched pass of :meth:`._model.Network.forward` and its backward: each row's layer inputs and
    the gradients of ITS loss at each layer's output (rows are independent, so the gradient of the summed
    loss at row ``i``'s activations is row ``i``'s own). Returns the inputs of :func:`linearised_loss`."""
    layout, d = net.layout, net.d
    B, S = tokens.shape
    T = layout.n_targets
    idx = tokens + net.offsets
    e = net.embedding.detach()[idx].requires_grad_()  # (B, S, d)
    x = (known.unsqueeze(-1) * e.unsqueeze(1)).reshape(B, T, S * d)
    z1 = (
        torch.einsum("btk,tkh->bth", x, net.w_in)
        + torch.einsum("bts,tsh->bth", known, net.w_known)
        + net.b_in
    )
    a = torch.relu(z1)
    m = a @ net.w_mid + net.b_mid
    z = a + torch.relu(m)
    logits = [z[:, j] @ w + b for j, (w, b) in enumerate(zip(net.heads_w, net.heads_b, strict=True))]
    loss = sum(nn.functional.cross_entropy(lg, tokens[:, j], reduction="sum") for j, lg in enumerate(logits))
    de, dz1, dm, *dlog = torch.autograd.grad(loss, [e, z1, m, *logits])
    v_max = max(layout.vocab)
    dlogits = torch.stack([nn.functional.pad(g, (0, v_max - g.shape[1])) for g in dlog], dim=1)  # (B, T, v)
    return x.detach(), dz1, known, a.detach(), dm, z.detach(), dlogits, idx, de


def linearised_loss(net: _model.Network) -> Any:
    """``loss(params, *backprops_of_one_row)``: linear in each parameter, with the row's true gradient as
    its gradient (every weight's gradient is its layer's input times the gradient at its output, both
    fixed by :func:`backprops` at the current weights). ``vmap(grad)`` of it gives exact per-row gradients
    from a few products per row instead of the whole network's backward per row (50x cheaper on census)."""
    vocab = list(net.layout.vocab)

    def loss(
        params: Mapping[str, torch.Tensor],
        x: torch.Tensor,
        dz1: torch.Tensor,
        known: torch.Tensor,
        a: torch.Tensor,
        dm: torch.Tensor,
        z: torch.Tensor,
        dlogits: torch.Tensor,
        idx: torch.Tensor,
        de: torch.Tensor,
    ) -> torch.Tensor:
        # each term is sum(weight * its gradient): the gradient is the product, formed once per row
        out = (params["w_in"] * (x.unsqueeze(-1) * dz1.unsqueeze(1))).sum()
        out = out + (params["w_known"] * (known.unsqueeze(-1) * dz1.unsqueeze(1))).sum()
        out = out + (params["b_in"] * dz1).sum()
        out = out + (params["w_mid"] * (a.t() @ dm)).sum() + params["b_mid"] @ dm.sum(0)
        for j, v in enumerate(vocab):
            g = dlogits[j, :v]
            out = out + (params[f"heads_w.{j}"] * torch.outer(z[j], g)).sum() + params[f"heads_b.{j}"] @ g
        return out + (params["embedding"][idx] * de).sum()

    return loss


class RowGradients:
    """Each row's exact gradient in factored form, for DP-SGD without one gradient tensor per row.

    Every weight's per-row gradient is a product of the row's layer input and the gradient at the
    layer's output (:func:`backprops`), an outer product per target token (``w_in``, ``w_known``, each
    head), a small matrix (``w_mid``) or a few embedding rows (distinct per source). So the norms are
    sums of products of norms, and a weighted sum over rows is one batched product per weight: the
    wrapper's ``private_gradient`` clips and noises them like ``vmap(grad)``'s per-row gradients
    (``unit_norms`` / ``weighted_sum``; equal to ``vmap(grad)`` of :func:`linearised_loss`, and of the
    network itself, :func:`row_loss_fn`, up to rounding: tested).
    """

    def __init__(self, net: _model.Network, tokens: torch.Tensor, known: torch.Tensor) -> None:
        self.net = net
        self.x, self.dz1, self.known, self.a, self.dm, self.z, self.dlogits, self.idx, self.de = backprops(
            net, tokens, known
        )
        self.dmid = torch.bmm(self.a.transpose(1, 2), self.dm)  # (B, h, h): each row's w_mid gradient

    def __call__(self, *args: Any) -> Any:  # a loss_fn slot: never evaluated as a loss
        raise TypeError("RowGradients is read through unit_norms and weighted_sum")

    def unit_norms(self) -> torch.Tensor:
        dz2 = self.dz1.square().sum(-1)  # (B, T)
        sq = (self.x.square().sum(-1) * dz2).sum(1)  # w_in
        sq = sq + (self.known.square().sum(-1) * dz2).sum(1) + dz2.sum(1)  # w_known, b_in
        sq = sq + self.dmid.square().sum((1, 2)) + self.dm.sum(1).square().sum(-1)  # w_mid, b_mid
        g2 = self.dlogits.square().sum(-1)  # (B, T)
        sq = sq + (self.z.square().sum(-1) * g2).sum(1) + g2.sum(1)  # heads
        sq = sq + self.de.square().sum((1, 2))  # embedding rows (distinct per source)
        return sq.sqrt()

    def weighted_sum(self, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        net, w = self.net, weights.to(self.x.dtype)
        dz1w = self.dz1 * w[:, None, None]
        out = {
            "w_in": torch.einsum("btk,bth->tkh", self.x, dz1w),
            "w_known": torch.einsum("bts,bth->tsh", self.known, dz1w),
            "b_in": dz1w.sum(0),
            "w_mid": torch.einsum("bhg,b->hg", self.dmid, w),
            "b_mid": (self.dm.sum(1) * w[:, None]).sum(0),
        }
        for j, v in enumerate(net.layout.vocab):
            g = self.dlogits[:, j, :v] * w[:, None]
            out[f"heads_w.{j}"] = self.z[:, j].t() @ g
            out[f"heads_b.{j}"] = g.sum(0)
        emb = torch.zeros_like(net.embedding)
        out["embedding"] = emb.index_add_(
            0, self.idx.reshape(-1), (self.de * w[:, None, None]).reshape(-1, net.d)
        )
        return out


def _unit_square_norms(rg: RowGradients, unit: torch.Tensor, n_units: int) -> torch.Tensor:
    """Each unit's squared norm of the SUM of its rows' gradients (rows of ``rg``, ``unit`` (B,) their units).

    The sum of a unit's outer products ``x_i g_i^T`` has squared norm ``sum_ij (x_i.x_j)(g_i.g_j)`` over
    the unit's pairs of rows (ghost clipping per group): the rows are laid out per unit, padded to the
    longest unit of the step with zero rows (whose gradient factors are zero, so they add nothing), and
    Gram matrices within each unit give it without a gradient tensor per unit, in memory linear in the
    units and quadratic only in a unit's rows; the small ``w_mid`` and bias gradients are summed per unit
    directly. Embedding rows of different sources never coincide (disjoint offsets), so only the same
    source of two rows can hit the same embedding row."""
    n = unit.shape[0]
    dtype, device = rg.x.dtype, rg.x.device
    order = torch.argsort(unit, stable=True)
    sizes = torch.bincount(unit, minlength=n_units)
    starts = torch.cumsum(sizes, 0) - sizes
    sorted_unit = unit[order]
    rank = torch.arange(n, device=device) - starts[sorted_unit]
    width = int(sizes.max()) if n else 0

    def pad(t: torch.Tensor, fill: float = 0) -> torch.Tensor:
        out = torch.full((n_units, width, *t.shape[1:]), fill, dtype=t.dtype, device=device)
        out[sorted_unit, rank] = t[order]
        return out

    x, dz1, known, z, dl, de = (pad(t) for t in (rg.x, rg.dz1, rg.known, rg.z, rg.dlogits, rg.de))
    idx = pad(rg.idx, -1)
    g_d = torch.einsum("uith,ujth->utij", dz1, dz1)
    g_in = torch.einsum("uitk,ujtk->utij", x, x) + torch.einsum("uits,ujts->utij", known, known) + 1.0
    sq = (g_in * g_d).sum((1, 2, 3))  # w_in, w_known, b_in
    g_l = torch.einsum("uitv,ujtv->utij", dl, dl)
    sq = sq + ((torch.einsum("uitk,ujtk->utij", z, z) + 1.0) * g_l).sum((1, 2, 3))  # heads
    hit = (idx[:, :, None, :] == idx[:, None, :, :]).to(dtype)  # (U, L, L, S)
    sq = sq + (hit * torch.einsum("uisd,ujsd->uijs", de, de)).sum((1, 2, 3))  # embedding
    mid = torch.zeros((n_units, *rg.dmid.shape[1:]), dtype=dtype, device=device)
    sq = sq + mid.index_add(0, unit, rg.dmid).square().sum((1, 2))
    bmid = torch.zeros((n_units, rg.dm.shape[-1]), dtype=dtype, device=device)
    return sq + bmid.index_add(0, unit, rg.dm.sum(1)).square().sum(-1)


class UnitGradients:
    """Per-unit gradients of several networks trained as one, in factored form (a sequence under DP).

    ``parts`` maps a parameter prefix (``"lengths"``, ``"rows"``) to one network's :class:`RowGradients`
    and each of its rows' unit (0 .. ``n_units`` - 1). A unit's gradient is the sum of its rows'
    gradients in every network (a parent's length row plus all its children's rows): ``unit_norms`` is
    the exact norm of that whole vector and ``weighted_sum`` scales every row by its unit's weight, so
    the wrapper's ``private_gradient`` clips per unit, not per row (equal to summing ``vmap(grad)``'s
    per-row gradients per unit: tested). Parameters are named ``prefix.name``.
    """

    def __init__(self, parts: Mapping[str, tuple[RowGradients, torch.Tensor]], n_units: int) -> None:
        self.parts = dict(parts)
        self.n_units = int(n_units)

    def __call__(self, *args: Any) -> Any:  # a loss_fn slot: never evaluated as a loss
        raise TypeError("UnitGradients is read through unit_norms and weighted_sum")

    def unit_norms(self) -> torch.Tensor:
        sq = torch.zeros(self.n_units)
        for rg, unit in self.parts.values():
            sq = sq.to(rg.x.device) + _unit_square_norms(rg, unit, self.n_units)
        return sq.sqrt()

    def weighted_sum(self, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for prefix, (rg, unit) in self.parts.items():
            for k, v in rg.weighted_sum(weights[unit]).items():
                out[f"{prefix}.{k}"] = v
        return out


def fit_private(
    gen: AutoregressiveGenerator,
    data: pa.Table,
    table: Table,
    *,
    context_columns: tuple[str, ...],
    seed: int | None,
    callback: TrainingCallback | None,
    workdir: Path | None,
    private: PrivateTraining,
) -> None:
    """Fit ``gen`` with differential privacy (module docstring); ``data`` is touched through ``private`` only."""
    if gen.sequential is True:
        raise ConfigError(
            f"table {table.name!r}: sequential=True is not available under differential privacy through fit "
            "(rows without their parents): a sequence's privacy unit is its parent with all its children",
            hint="fit the wrapped generator with fit_sequences (the relational engine does with sequential=True), "
            "or leave sequential unset to learn the rows one by one",
        )
    if workdir is not None and gen.checkpoint_every:
        log.info(
            "%s %s: no checkpoints under differential privacy (resuming would lose the accountant)",
            gen.name,
            table.name,
        )
    started = time.perf_counter()
    model_cols = [c for c in table.columns if c.name not in context_columns]
    problems = []
    if data.num_rows == 0:
        problems.append(Problem("the table has no rows to learn from", table=table.name))
    if not model_cols:
        problems.append(
            Problem("no columns left to model (every column is a context column)", table=table.name)
        )
    DataError.raise_if_any(problems)
    seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    surrogate = private.surrogate

    def fit_codec(column: Column) -> Codec:
        # the released domains are the protection: min_count=1 keeps every released category and range
        return Codec.fit(
            column,
            surrogate.column(column.name).combine_chunks(),
            min_count=1,
            bins=gen.numeric_bins,
            fine_bins=gen.fine_bins,
        )

    gen._sequences = None
    gen._offsets = []  # choosing ordered pairs reads exact facts of the real rows: none under DP
    gen._codecs = [fit_codec(c) for c in model_cols]
    gen._ctx_codecs = [fit_codec(table.column(c)) for c in context_columns]
    tokens = gen._encode(data, gen._codecs, gen._ctx_codecs)  # real rows: DP-SGD only
    layout = gen._layout = gen._make_layout()
    gen._config = _private_config(gen, private)
    device = _model.resolve_device(gen.device)
    deadline = started + gen.max_seconds if gen.max_seconds is not None else None
    from hiveframe_autoregressive.generators import _torch_threads

    with _torch_threads(gen.threads):
        arrays, history, exhausted = _train(
            layout,
            gen._config,
            tokens,
            private,
            seed=seed,
            device=device,
            epochs=gen.epochs,
            callback=callback,
            table_name=table.name,
            deadline=deadline,
        )
    gen._arrays = arrays
    gen._net = None
    gen._plans = {}
    gen._fit_info = {
        "private": True,
        "epochs_trained": len(history),
        "best_epoch": None,
        "stopped_early": exhausted,
        "resumed_from": 0,
        "train_rows": int(private.rows),
        "validation_rows": 0,
        "seed": seed,
        "device": str(device),
        "precision": "float32",
        # no losses and no timings: both are statistics of the real rows without noise
        "history": [{"epoch": h["epoch"], "epsilon": h["epsilon"]} for h in history],
    }


def _sub_generator(
    gen: AutoregressiveGenerator, codecs: list[Codec], ctx_codecs: list[Codec], config: dict
) -> Any:
    """A length or row model of a private sequence fit: codecs set, trained below."""
    from hiveframe_autoregressive.generators import AutoregressiveGenerator

    sub = AutoregressiveGenerator(**{k: v for k, v in gen.get_params().items() if k != "sequential"})
    sub._sequences, sub._offsets, sub._codecs, sub._ctx_codecs = None, [], codecs, ctx_codecs
    sub._layout = sub._make_layout()
    sub._config = dict(config)
    return sub


def fit_sequences_private(
    gen: AutoregressiveGenerator,
    data: pa.Table,
    table: Table,
    *,
    parent_index: np.ndarray,
    parents: pa.Table,
    order_by: str | None,
    seed: int | None,
    callback: TrainingCallback | None,
    private: Any,
    max_length: int,
    noisy_parents: float,
) -> None:
    """Fit ``gen`` as sequences with differential privacy; the privacy unit is one parent's whole sequence.

    The length model and the row model (:mod:`._sequences`) train as ONE network pair under DP-SGD
    (``private.unit_plan``): each step Poisson-samples parents, and a parent's gradient is its length
    row's gradient plus the sum of all its children's rows' gradients (:class:`UnitGradients`), clipped
    as a whole. Every codec is public or released: own and context columns from ``private.surrogate``,
    the length, position, remaining-siblings and null-count columns on ``0 .. max_length`` (the public
    cap, the most children drawn per parent). ``data`` and ``parents`` were cleaned into the released
    domains by the wrapper, and rows beyond ``max_length`` per parent dropped.
    """
    import pyarrow as pa

    from hiveframe_autoregressive import _sequences as seq

    parent_index = np.asarray(parent_index, dtype=np.int64)
    seq.check_input(table, data, parent_index, parents)
    if data.num_rows and np.bincount(parent_index).max() > max_length:
        raise DataError(f"table {table.name!r}: a parent has more than max_length={max_length} children")
    context = [c for c in table.column_names if c in parents.column_names]
    own = [c for c in table.column_names if c not in parents.column_names]
    if not own:
        raise DataError(f"table {table.name!r}: no columns left to model (every column is a context column)")
    seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    surrogate = private.surrogate
    counted = [c for c in own if surrogate.column(c).null_count > 0]  # released null rates, not the rows'
    span = pa.array(np.arange(max_length + 1, dtype=np.int64))

    def codec(column: Column, values: Any | None = None) -> Codec:
        if values is None:
            values = surrogate.column(
                column.name.split(".", 1)[-1]
                if column.name.startswith((seq.PREVIOUS, seq.FIRST))
                else column.name
            ).combine_chunks()
            if column.name.startswith((seq.PREVIOUS, seq.FIRST)):
                values = pa.concat_arrays([values, pa.nulls(1, type=values.type)])
        return Codec.fit(column, values, min_count=1, bins=gen.numeric_bins, fine_bins=gen.fine_bins)

    def public(column: Column) -> bool:
        name = column.name
        return name in (seq.LENGTH, seq.POSITION, seq.REMAINING) or name.startswith(seq.NULLS)

    def codecs_of(t: Table, ctx: list[str]) -> tuple[list[Codec], list[Codec]]:
        fit = [codec(c, span if public(c) else None) for c in t.columns]
        by = {c.name: f for c, f in zip(t.columns, fit, strict=True)}
        return [by[c.name] for c in t.columns if c.name not in ctx], [by[c] for c in ctx]

    config = _private_config(gen, private)
    length_table = seq.length_table(table, context)
    row_table, row_context = seq.row_table(table, own, context, counted)
    lengths = _sub_generator(gen, *codecs_of(length_table, context), config)
    rows = _sub_generator(gen, *codecs_of(row_table, row_context), config)
    counts = np.bincount(parent_index, minlength=parents.num_rows)
    length_data = seq.hstack(parents.select(context), pa.table({seq.LENGTH: pa.array(counts)}))
    length_tokens = lengths._encode(length_data, lengths._codecs, lengths._ctx_codecs)
    row_tokens = rows._encode(
        seq.training_rows(data, parent_index, parents, own, context, counted), rows._codecs, rows._ctx_codecs
    )
    seeds = np.random.SeedSequence([seed, 31]).generate_state(2)
    device = _model.resolve_device(gen.device)
    from hiveframe_autoregressive.generators import _torch_threads

    with _torch_threads(gen.threads):
        arrays, history, exhausted = _train_sequences(
            {"lengths": lengths._layout, "rows": rows._layout},
            config,
            length_tokens,
            row_tokens,
            counts,
            private,
            noisy_parents=noisy_parents,
            seeds=[int(seeds[0]), int(seeds[1])],
            device=device,
            epochs=gen.epochs,
            callback=callback,
            table_name=table.name,
        )
    for name, sub, t, ctx in (
        ("lengths", lengths, length_table, context),
        ("rows", rows, row_table, row_context),
    ):
        sub._arrays = arrays[name]
        sub._net, sub._plans = None, {}
        sub._fit_info = {"private": True, "epochs_trained": len(history), "seed": seed, "device": str(device)}
        sub._table, sub._context_columns = t, tuple(ctx)
    gen._sequences = {
        "lengths": lengths,
        "rows": rows,
        "context": context,
        "own": own,
        "order_by": order_by,
        "max_length": int(max_length),
        "null_counted": counted,
    }
    gen._fit_info = {
        "private": True,
        "sequences": {
            "parents": int(round(noisy_parents)),
            "rows": int(private.rows),
            "max_length": int(max_length),
        },
        "epochs_trained": len(history),
        "stopped_early": exhausted,
        "seed": seed,
        "device": str(device),
        # no losses and no timings: both are statistics of the real rows without noise
        "history": [{"epoch": h["epoch"], "epsilon": h["epsilon"]} for h in history],
    }
    gen._table = table
    gen._context_columns = tuple(context)


def _train_sequences(
    layouts: Mapping[str, _model.Layout],
    config: Mapping[str, Any],
    length_tokens: np.ndarray,
    row_tokens: np.ndarray,
    counts: np.ndarray,
    private: Any,
    *,
    noisy_parents: float,
    seeds: list[int],
    device: torch.device,
    epochs: int,
    callback: TrainingCallback | None,
    table_name: str,
) -> tuple[dict[str, dict[str, np.ndarray]], list[dict[str, Any]], bool]:
    """DP-SGD of the length and row networks together, one privacy unit per parent (a Poisson sample of
    parents per step, each parent's gradient over both networks clipped as a whole)."""
    nets = {
        name: _model.Network(layouts[name], int(config["embedding_dim"]), int(config["hidden"]), s).to(device)
        for name, s in zip(("lengths", "rows"), seeds, strict=True)
    }
    params = {f"{name}.{k}": v for name, net in nets.items() for k, v in net.named_parameters()}
    opt = _model._adam(list(params.values()), float(config["learning_rate"]))
    plan = private.unit_plan(
        batch_size=int(config["batch_size"]), epochs=epochs, units=len(counts), noisy_units=noisy_parents
    )
    share = float(config["fixed_order_share"])
    orders = private.noise.numpy()  # column orders of sampled rows: secret, like the sample itself
    lx = torch.as_tensor(length_tokens, dtype=torch.long, device=device)
    rx = torch.as_tensor(row_tokens, dtype=torch.long, device=device)
    first_row = np.r_[0, np.cumsum(counts)][:-1]
    history: list[dict[str, Any]] = []
    exhausted = False
    t0 = time.perf_counter()

    def factored(name: str, tokens: torch.Tensor, unit: np.ndarray) -> tuple[RowGradients, torch.Tensor]:
        layout = layouts[name]
        ranks = torch.as_tensor(
            _model.draw_ranks(orders, len(tokens), layout.n_columns, share), device=device
        )
        return RowGradients(nets[name], tokens, _model.known_masks(layout, ranks)), torch.as_tensor(
            unit, device=device
        )

    for epoch in range(1, epochs + 1):
        for _ in range(plan.steps_per_epoch):
            if not plan.can_step():
                exhausted = True
                break
            chosen = plan.sample()[:, 0]
            parts = {}
            if len(chosen):
                parts["lengths"] = factored(
                    "lengths", lx[torch.as_tensor(chosen, device=device)], np.arange(len(chosen))
                )
                n_rows = counts[chosen]
                if n_rows.sum():
                    unit = np.repeat(np.arange(len(chosen)), n_rows)
                    within = np.arange(int(n_rows.sum())) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
                    rows = np.repeat(first_row[chosen], n_rows) + within
                    parts["rows"] = factored("rows", rx[torch.as_tensor(rows, device=device)], unit)
            grads = plan.gradient(UnitGradients(parts, len(chosen)), params, ())
            for name, p in params.items():
                p.grad = grads[name].to(p.dtype)
            opt.step()
        info = plan.epoch_info()
        history.append({"epoch": epoch, "epsilon": info["epsilon"]})
        if callback is not None:
            callback(_epoch_event(table_name, epoch, epochs, time.perf_counter() - t0, info))
        if exhausted:
            log.info(
                "autoregressive %s: DP training of the sequences stopped after epoch %d (budget spent)",
                table_name,
                epoch,
            )
            break
    arrays = {
        name: {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()} for name, net in nets.items()
    }
    return arrays, history, exhausted


def _train(
    layout: _model.Layout,
    config: Mapping[str, Any],
    tokens: np.ndarray,
    private: PrivateTraining,
    *,
    seed: int,
    device: torch.device,
    epochs: int,
    callback: TrainingCallback | None,
    table_name: str,
    deadline: float | None,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]], bool]:
    """DP-SGD epochs with Adam; returns the last weights, per-epoch privacy records, and whether the budget
    ran out before the last planned step."""
    net = _model.Network(layout, int(config["embedding_dim"]), int(config["hidden"]), seed).to(device)
    opt = _model._adam(list(net.parameters()), float(config["learning_rate"]))
    plan = private.plan(batch_size=int(config["batch_size"]), epochs=epochs)
    share = float(config["fixed_order_share"])
    orders = private.noise.numpy()  # column orders of sampled rows: secret, like the sample itself
    x = torch.as_tensor(tokens, dtype=torch.long, device=device)
    params = dict(net.named_parameters())
    history: list[dict[str, Any]] = []
    exhausted = False
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for _ in range(plan.steps_per_epoch):
            if not plan.can_step():
                exhausted = True
                break
            rows = plan.sample()[:, 0]
            ranks = torch.as_tensor(
                _model.draw_ranks(orders, len(rows), layout.n_columns, share), device=device
            )
            known = _model.known_masks(layout, ranks)
            grads = plan.gradient(
                RowGradients(net, x[torch.as_tensor(rows, device=device)], known), params, ()
            )
            for name, p in net.named_parameters():
                p.grad = grads[name].to(p.dtype)
            opt.step()
        info = plan.epoch_info()
        history.append({"epoch": epoch, "epsilon": info["epsilon"]})
        elapsed = time.perf_counter() - t0
        out_of_time = bool(deadline is not None and time.perf_counter() + elapsed / epoch > deadline)
        if callback is not None:
            callback(_epoch_event(table_name, epoch, epochs, elapsed, info))
        if exhausted or out_of_time:
            log.info(
                "autoregressive %s: DP training stopped after epoch %d (%s)",
                table_name,
                epoch,
                "privacy budget spent" if exhausted else "max_seconds reached",
            )
            break
    arrays = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    return arrays, history, exhausted


def _epoch_event(table_name: str, epoch: int, epochs: int, elapsed: float, info: dict[str, Any]) -> dict[str, Any]:
    """The epoch callback's state under DP: the privacy figures, and no losses (they read real rows)."""
    return {"table": table_name, "model": "autoregressive", "epoch": epoch, "epochs": epochs, "losses": {},
            "validation": None, "best_epoch": None, "elapsed": elapsed, **info}


def _private_config(gen: Any, private: Any) -> dict[str, Any]:
    """The saved training settings of a private fit (always float32 products)."""
    return {"embedding_dim": gen.embedding_dim, "hidden": gen.hidden,
            "learning_rate": float(private.learning_rate or gen.learning_rate), "batch_size": gen.batch_size,
            "fixed_order_share": gen.fixed_order_share, "precision": "float32"}
