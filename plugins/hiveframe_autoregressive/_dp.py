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
  sample (:meth:`PrivateSteps.sample`), computes each row's gradient of its summed token cross-entropy
  with ``torch.func`` (:func:`torch.func.functional_call` of :class:`._model.Network` under
  ``vmap(grad)``, in :func:`hiveframe_privacy.dpsgd.private_gradient`), clips it, adds Gaussian noise
  and lets the accountant count the step.
* **Secret randomness.** The Poisson samples and the gradient noise come from the wrapper's secret
  source, and so do the column orders of the sampled rows (drawn per step, as many as the secret sample
  holds rows). Only the weights' initialisation follows ``seed``; nothing about the source is saved.
* **No early stopping, no checkpoints.** A held-out loss on real rows would be an exact statistic
  choosing the epoch; training runs ``epochs`` (or until the budget is spent, or ``max_seconds``) and
  keeps the last weights. A checkpoint would lose the accountant's state, so none is written. Neither
  losses nor timings are reported (both are statistics of the real rows without noise).
* **Sequences are refused** (``sequential=True``): the privacy unit of a sequence is the parent's
  whole sequence, which needs the length model and the row model to share one budget per parent; the
  relational engine under DP models child tables row by row instead.
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
    per row."""

    def loss(params: Mapping[str, torch.Tensor], tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        logits = functional_call(net, dict(params), (tokens.unsqueeze(0), known.unsqueeze(0)))
        return sum(nn.functional.cross_entropy(lg, tokens[j : j + 1]) for j, lg in enumerate(logits))

    return loss


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
            f"table {table.name!r}: sequential=True is not available under differential privacy (a sequence's "
            "privacy unit, one parent with all its children, is not built for the autoregressive generator yet)",
            hint="leave sequential unset (or false): under DP the child table is generated row by row",
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
    gen._codecs = [fit_codec(c) for c in model_cols]
    gen._ctx_codecs = [fit_codec(table.column(c)) for c in context_columns]
    tokens = gen._encode(data, gen._codecs, gen._ctx_codecs)  # real rows: DP-SGD only
    layout = gen._layout = gen._make_layout()
    gen._config = {
        "embedding_dim": gen.embedding_dim,
        "hidden": gen.hidden,
        "learning_rate": float(private.learning_rate or gen.learning_rate),
        "batch_size": gen.batch_size,
        "fixed_order_share": gen.fixed_order_share,
        "precision": "float32",
    }
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
    loss = row_loss_fn(net)
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
            grads = plan.gradient(loss, params, (x[torch.as_tensor(rows, device=device)], known))
            for name, p in net.named_parameters():
                p.grad = grads[name].to(p.dtype)
            opt.step()
        info = plan.epoch_info()
        history.append({"epoch": epoch, "epsilon": info["epsilon"]})
        elapsed = time.perf_counter() - t0
        out_of_time = bool(deadline is not None and time.perf_counter() + elapsed / epoch > deadline)
        event = {
            "table": table_name,
            "model": "autoregressive",
            "epoch": epoch,
            "epochs": epochs,
            "losses": {},
            "validation": None,
            "best_epoch": None,
            "elapsed": elapsed,
            **info,
        }
        if callback is not None:
            callback(event)
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
