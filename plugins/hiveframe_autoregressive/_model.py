"""The network, its training loop and autoregressive sampling (torch; imported lazily).

Network (MADE-style masking, arXiv 1502.03509, over random orders as in TabularARGN 2501.12012):
every source token (model columns' tokens and context tokens) is embedded; the first layer of target
token ``j`` sees the concatenation of the source embeddings multiplied by a mask that keeps only the
tokens of columns before ``j``'s column in the row's order (and the earlier sub-tokens of its own
column), plus a learnt "this source is known" term, so that a zero embedding never reads as "known".
A shared residual layer follows, then one softmax head per token. One forward pass trains every token
of every row, each under its own row's order.

Orders: each row of a batch draws a random permutation of the columns, except a share
(``fixed_order_share``) that uses the table's column order, which unconditional sampling follows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hiveframe.pipeline.progress import TrainingProgress
from hiveframe_autoregressive.errors import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "hiveframe_autoregressive-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
#: rows sampled together: on a CPU a batch whose activations stay in cache is fastest, on CUDA a large one
SAMPLE_CHUNK = 4096
SAMPLE_CHUNK_CUDA = 65536
#: largest first-layer tables (floats: targets x source values x hidden) built once per sampling call;
#: past it (many columns, large vocabularies) each step's rows are built per chunk
TABLE_FLOATS = 1 << 24
#: sampling setups (column order, conditions, temperature) a generator keeps for its network
PLANS_KEPT = 8
#: epochs without a lower held-out loss after which the learning rate is halved
LR_HALVING_WAIT = 2


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available; ``cuda`` asked on a machine without it falls back to the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        log.warning("device %r requested but CUDA is not available; using the CPU", name)
        return torch.device("cpu")
    return device


@dataclass
class Layout:
    """The tokens the network sees: ``vocab`` per model token, then ``ctx_vocab`` per context token."""

    vocab: list[int]
    token_column: list[int]  # model column index of each model token
    token_sub: list[int]  # 0 for a column's first token, 1 for its second
    ctx_vocab: list[int] = field(default_factory=list)

    @property
    def n_targets(self) -> int:
        return len(self.vocab)

    @property
    def n_sources(self) -> int:
        return len(self.vocab) + len(self.ctx_vocab)

    @property
    def n_columns(self) -> int:
        return max(self.token_column) + 1 if self.token_column else 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Network(nn.Module):
    def __init__(self, layout: Layout, embedding_dim: int, hidden: int, seed: int) -> None:
        super().__init__()
        self.layout = layout
        T, S, d, h = layout.n_targets, layout.n_sources, embedding_dim, hidden
        sizes = layout.vocab + layout.ctx_vocab
        self.register_buffer("offsets", torch.as_tensor(np.concatenate([[0], np.cumsum(sizes)[:-1]]), dtype=torch.long))
        gen = torch.Generator().manual_seed(int(seed))
        self.embedding = nn.Parameter(torch.randn(int(sum(sizes)), d, generator=gen) * 0.1)
        self.w_in = nn.Parameter(torch.randn(T, S * d, h, generator=gen) / math.sqrt(S * d))
        self.w_known = nn.Parameter(torch.randn(T, S, h, generator=gen) / math.sqrt(S))
        self.b_in = nn.Parameter(torch.zeros(T, h))
        self.w_mid = nn.Parameter(torch.randn(h, h, generator=gen) / math.sqrt(h))
        self.b_mid = nn.Parameter(torch.zeros(h))
        self.heads_w = nn.ParameterList(
            [nn.Parameter(torch.randn(h, v, generator=gen) / math.sqrt(h)) for v in layout.vocab])
        self.heads_b = nn.ParameterList([nn.Parameter(torch.zeros(v)) for v in layout.vocab])
        self.d = d

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding[tokens + self.offsets]  # (B, S, d)

    def _trunk(self, z: torch.Tensor) -> torch.Tensor:
        z = torch.relu(z)
        return z + torch.relu(z @ self.w_mid + self.b_mid)

    def forward(self, tokens: torch.Tensor, known: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every target token; ``known`` (B, T, S) says which sources each target sees."""
        B, S = tokens.shape
        e = self.embed(tokens)  # (B, S, d)
        x = (known.unsqueeze(-1) * e.unsqueeze(1)).reshape(B, self.layout.n_targets, S * self.d)
        z = torch.bmm(x.transpose(0, 1), self.w_in) + torch.bmm(known.transpose(0, 1), self.w_known)
        z = self._trunk(z + self.b_in.unsqueeze(1))  # (T, B, h)
        return [z[j] @ w + b for j, (w, b) in enumerate(zip(self.heads_w, self.heads_b, strict=True))]

    def logits_for(self, j: int, tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Logits of target ``j`` alone; ``known`` (S,) is shared by every row."""
        e = self.embed(tokens) * known[None, :, None]
        z = e.reshape(len(tokens), -1) @ self.w_in[j] + known @ self.w_known[j] + self.b_in[j]
        return self._trunk(z) @ self.heads_w[j] + self.heads_b[j]


def known_masks(layout: Layout, ranks: torch.Tensor) -> torch.Tensor:
    """(B, T, S) masks from each row's column ranks (B, n_columns)."""
    col = torch.as_tensor(layout.token_column, device=ranks.device)
    sub = torch.as_tensor(layout.token_sub, device=ranks.device)
    r = ranks[:, col]  # (B, T) rank of each token's column
    before = r.unsqueeze(2) > r.unsqueeze(1)  # target j after source i
    same = (col.unsqueeze(1) == col.unsqueeze(0)) & (sub.unsqueeze(1) > sub.unsqueeze(0))
    known = before | same.unsqueeze(0)
    if layout.ctx_vocab:
        ctx = torch.ones(ranks.shape[0], layout.n_targets, len(layout.ctx_vocab), dtype=torch.bool,
                         device=ranks.device)
        known = torch.cat([known, ctx], dim=2)
    return known.float()


def draw_ranks(rng: np.random.Generator, rows: int, n_columns: int, fixed_share: float) -> np.ndarray:
    ranks = np.argsort(rng.random((rows, n_columns)), axis=1).argsort(axis=1)
    fixed = rng.random(rows) < fixed_share
    ranks[fixed] = np.arange(n_columns)
    return ranks


def loss_of(net: Network, tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The training loss by the plain formula (:meth:`Network.forward`): the reference of :class:`FastLoss`."""
    logits = net(tokens, known)
    return sum(nn.functional.cross_entropy(lg, tokens[:, j]) for j, lg in enumerate(logits))


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The matmul precision of training: ``auto`` is bfloat16 where the hardware multiplies it natively
    (a CUDA device that supports it; a CPU with AMX tiles, where bfloat16 matmuls run several times faster
    than float32 ones), float32 elsewhere. Weights, Adam's state and the loss stay float32 either way."""
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: probe, never require
    try:
        return torch.bfloat16 if amx is not None and bool(amx()) else torch.float32
    except Exception:  # noqa: BLE001 - a probe that fails means no known fast path
        return torch.float32


class FastLoss:
    """:func:`loss_of` for a training batch, computed cheaply (the same function of the weights).

    Most rows use the table's column order (``fixed_order_share``), so they share one mask: their
    first layer is one product of their concatenated embeddings with the weights masked once per step
    (no per-row, per-target copy of the inputs), and the "known" term folds into the bias. Only the
    random-order rows build the masked (targets, rows, sources x dim) inputs. The heads run as one
    batched product over heads padded to the largest vocabulary (padding at -1e4 before the softmax)
    when that costs little, else one product per head. Matmuls run in ``dtype`` (bfloat16 where the
    hardware is fast at it), the loss in float32.
    """

    #: pad heads to the largest vocabulary while the padded logits are at most this many times the real ones
    PAD_FACTOR = 4

    def __init__(self, layout: Layout, dtype: torch.dtype, device: torch.device) -> None:
        self.layout, self.dtype = layout, dtype
        ranks = torch.arange(layout.n_columns, device=device).unsqueeze(0)
        self.fixed_known = known_masks(layout, ranks)[0]  # (T, S)
        self.v_max = max(layout.vocab)
        self.padded = layout.n_targets * self.v_max <= self.PAD_FACTOR * sum(layout.vocab)
        pad = torch.full((layout.n_targets, 1, self.v_max), -1e4, device=device)
        for j, v in enumerate(layout.vocab):
            pad[j, 0, :v] = 0.0
        self.pad = pad
        self._input_mask: torch.Tensor | None = None  # fixed_known per input (source x dim), built once

    def input_mask(self, d: int) -> torch.Tensor:
        """(T, S * d, 1): the table order's mask repeated over each source's embedding dimensions."""
        if self._input_mask is None or self._input_mask.shape[1] != self.layout.n_sources * d:
            self._input_mask = self.fixed_known.repeat_interleave(d, dim=1).unsqueeze(-1)
        return self._input_mask

    def __call__(self, net: Network, tokens: torch.Tensor, ranks: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """Summed token cross-entropy (mean over rows) of ``tokens`` (B, S) under each row's ``ranks``;
        ``fixed`` (B,) marks the rows in the table's order."""
        layout, dt = self.layout, self.dtype
        T, S, d = layout.n_targets, layout.n_sources, net.d
        h = net.b_mid.shape[0]
        fixed_rows = fixed.nonzero().squeeze(1)
        free_rows = (~fixed).nonzero().squeeze(1)
        e = net.embed(tokens)  # (B, S, d)
        blocks, rows = [], []
        if len(fixed_rows):
            m = self.fixed_known  # (T, S)
            w = (net.w_in * self.input_mask(d)).permute(1, 0, 2).reshape(S * d, T * h)
            bias = net.b_in + torch.einsum("ts,tsh->th", m, net.w_known)
            z = e[fixed_rows].reshape(len(fixed_rows), S * d).to(dt) @ w.to(dt)
            blocks.append(z.view(len(fixed_rows), T, h).transpose(0, 1) + bias.to(dt).unsqueeze(1))
            rows.append(fixed_rows)
        if len(free_rows):
            known = known_masks(layout, ranks[free_rows]).transpose(0, 1)  # (T, b, S)
            x = (known.unsqueeze(-1) * e[free_rows].unsqueeze(0)).reshape(T, len(free_rows), S * d).to(dt)
            z = torch.baddbmm(net.b_in.to(dt).unsqueeze(1), x, net.w_in.to(dt))
            blocks.append(torch.baddbmm(z, known.to(dt), net.w_known.to(dt)))
            rows.append(free_rows)
        z = torch.relu(torch.cat(blocks, dim=1) if len(blocks) > 1 else blocks[0])  # (T, B, h)
        z = z + torch.relu(torch.matmul(z, net.w_mid.to(dt)) + net.b_mid.to(dt))
        targets = tokens[torch.cat(rows)] if len(rows) > 1 else tokens[rows[0]]
        if self.padded:
            v = self.v_max
            w = torch.stack([nn.functional.pad(hw, (0, v - hw.shape[1])) for hw in net.heads_w]).to(dt)
            b = torch.stack([nn.functional.pad(hb, (0, v - hb.shape[0])) for hb in net.heads_b]).unsqueeze(1)
            logits = torch.bmm(z, w).float() + (b + self.pad)  # (T, B, v)
            return nn.functional.cross_entropy(logits.reshape(-1, v), targets[:, :T].t().reshape(-1)) * T
        return sum(nn.functional.cross_entropy(torch.addmm(hb.to(dt), zj, hw.to(dt)).float(), targets[:, j])
                   for j, (zj, hw, hb) in enumerate(zip(z.unbind(0), net.heads_w, net.heads_b, strict=True)))


# -- training -------------------------------------------------------------------------------------
@dataclass
class FitResult:
    arrays: dict[str, np.ndarray]
    history: list[dict[str, Any]]
    best_epoch: int | None
    epochs_trained: int
    stopped_early: bool
    resumed_from: int
    train_seconds: float


@dataclass
class CheckpointStore:
    """``checkpoint.pt`` in the table's work folder: written atomically, read with ``weights_only``."""

    directory: Path
    version: str
    fingerprint: str
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.directory) / CHECKPOINT_NAME

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        hint = f"delete {str(self.path)!r} (or give another work folder) to train from scratch"
        try:
            ck = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to read means we cannot trust it
            raise CheckpointError(f"checkpoint {str(self.path)!r} cannot be read: {type(exc).__name__}: {exc}",
                                  hint=hint) from None
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            found = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
            raise CheckpointError(f"{str(self.path)!r} is not an autoregressive training checkpoint "
                                  f"(it is {found!r})", hint=hint)
        if ck.get("format_version") != CHECKPOINT_FORMAT_VERSION or ck.get("version") != self.version:
            raise CheckpointError(f"checkpoint {str(self.path)!r} was written by hiveframe_autoregressive "
                                  f"{ck.get('version')}; this is {self.version}", hint=hint)
        if ck.get("fingerprint") != self.fingerprint:
            import warnings

            warnings.warn(f"checkpoint {str(self.path)!r} belongs to other data, another seed or other model "
                          "parameters; training from scratch and overwriting it", UserWarning, stacklevel=2)
            return None
        return ck

    def save(self, payload: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        full = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, "version": self.version,
                "fingerprint": self.fingerprint, **payload}
        tmp = self.path.with_name(f".{CHECKPOINT_NAME}.{os.getpid()}.tmp")
        torch.save(full, tmp)
        os.replace(tmp, self.path)


def fingerprint(params: Mapping[str, Any], seed: int, tokens: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps({"params": params, "seed": seed}, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(tokens).tobytes())
    return digest.hexdigest()


def train(layout: Layout, config: Mapping[str, Any], train_tokens: np.ndarray, val_tokens: np.ndarray | None, *,
          seed: int, device: torch.device, epochs: int, patience: int | None,
          callback: Callable[[Mapping[str, Any]], None] | None, table_name: str, store: CheckpointStore | None,
          checkpoint_every: int | None, deadline: float | None, verbose: bool) -> FitResult:
    """Adam on the summed token cross-entropy; early stopping on the held-out rows' loss."""
    net = Network(layout, int(config["embedding_dim"]), int(config["hidden"]), seed).to(device)
    opt = _adam(list(net.parameters()), float(config["learning_rate"]))
    batch_loss = FastLoss(layout, resolve_precision(str(config.get("precision", "auto")), device), device)
    identity = torch.arange(layout.n_columns, device=device)
    batch = int(config["batch_size"])
    share = float(config["fixed_order_share"])
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    x_train = torch.as_tensor(train_tokens, dtype=torch.long, device=device)
    n = len(train_tokens)
    val = None
    if val_tokens is not None and len(val_tokens):
        vr = np.random.default_rng(np.random.SeedSequence([seed, 4]))
        val = (torch.as_tensor(val_tokens, dtype=torch.long, device=device),
               torch.as_tensor(draw_ranks(vr, len(val_tokens), layout.n_columns, share), device=device))

    start_epoch, history = 0, []
    best_loss, best_epoch, best_state = math.inf, None, None
    if store is not None:
        ck = store.load()
        if ck is not None:
            net.load_state_dict(ck["net"])
            opt.load_state_dict(ck["opt"])
            rng.bit_generator.state = json.loads(ck["numpy_rng"])
            start_epoch, history = int(ck["epoch"]), list(ck["history"])
            if ck.get("best_state") is not None:
                best_loss, best_epoch, best_state = float(ck["best_loss"]), int(ck["best_epoch"]), ck["best_state"]
            log.info("autoregressive %s: resuming from the checkpoint of epoch %d", table_name, start_epoch)

    def validate() -> float | None:
        if val is None:
            return None
        net.eval()
        total = 0.0
        with torch.no_grad():
            for s in range(0, len(val[0]), 4096):
                t, r = val[0][s:s + 4096], val[1][s:s + 4096]
                total += float(batch_loss(net, t, r, (r == identity).all(1))) * len(t)
        net.train()
        return total / len(val[0])

    stopped = bool(start_epoch and history and history[-1].get("stop"))
    t0 = time.perf_counter()
    progress = TrainingProgress(enabled=verbose, every=10.0, logger=log)
    epoch = start_epoch
    while not stopped and epoch < epochs:
        epoch += 1
        e0 = time.perf_counter()
        order = rng.permutation(n)
        ranks = torch.as_tensor(draw_ranks(rng, n, layout.n_columns, share), device=device)
        total, steps = 0.0, 0
        for s in range(0, n, batch):
            idx = torch.as_tensor(order[s:s + batch], device=device)
            r = ranks[idx]
            loss = batch_loss(net, x_train[idx], r, (r == identity).all(1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            steps += 1
        value = validate()
        if value is not None and value < best_loss:
            best_loss, best_epoch = value, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        stop = bool(patience and best_epoch is not None and epoch - best_epoch >= patience)
        waited = epoch - best_epoch if best_epoch is not None else 0
        if not stop and waited and waited % LR_HALVING_WAIT == 0:  # halve the step on a plateau
            for group in opt.param_groups:
                group["lr"] *= 0.5
        pace = (time.perf_counter() - t0) / (epoch - start_epoch)
        out_of_time = bool(deadline is not None and time.perf_counter() + pace > deadline)
        train_loss = total / max(1, steps)
        record = {"epoch": epoch, "loss": train_loss, "validation": value, "seconds": time.perf_counter() - e0,
                  "stop": stop, "out_of_time": out_of_time}
        history.append(record)
        last = stop or out_of_time or epoch == epochs
        if store is not None and checkpoint_every and (epoch % checkpoint_every == 0 or last):
            store.save({"epoch": epoch, "history": history, "net": net.state_dict(), "opt": opt.state_dict(),
                        "numpy_rng": json.dumps(rng.bit_generator.state), "best_loss": best_loss,
                        "best_epoch": best_epoch, "best_state": best_state})
        event = {"table": table_name, "model": "autoregressive", "epoch": epoch, "epochs": epochs,
                 "losses": {"loss": train_loss}, "validation": value, "best_epoch": best_epoch,
                 "elapsed": time.perf_counter() - t0, "epoch_seconds": record["seconds"]}
        progress(event)  # verbose=True: the kernel's progress component, fed the same event
        if callback is not None:
            callback(event)
        if stop:
            log.info("autoregressive %s: early stop at epoch %d (best %d)", table_name, epoch, best_epoch)
        stopped = stop or out_of_time
    if best_state is not None:
        net.load_state_dict(best_state)
    arrays = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    return FitResult(arrays, history, best_epoch, epoch, stopped, start_epoch, time.perf_counter() - t0)


def _adam(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with its fused kernel (one pass over every parameter) where this torch has it for the device
    (CPU since torch 2.4), the plain one elsewhere: the same update either way."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def load_network(layout: Layout, config: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                 device: torch.device) -> Network:
    net = Network(layout, int(config["embedding_dim"]), int(config["hidden"]), 0)
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()})
    return net.to(device).eval()


# -- sampling ---------------------------------------------------------------------------------------
# Sampling computes the same logits as ``Network.logits_for``, more cheaply. Target ``j``'s first-layer
# pre-activation is ``b_in[j] + sum over known sources i of (e_i @ w_in[j, block i] + w_known[j, i])``
# and ``e_i`` is one of source ``i``'s few embedding rows, so each term is a row of a table (every value
# of every source times its block of ``w_in[j]``) built once per sampling call, and the sum is one
# ``embedding_bag`` over the known sources: no (rows, sources x dim) @ (sources x dim, hidden) product
# over zeroed unknown sources per token. Temperature and banned values are folded into each head. Each
# token is drawn by inverse CDF (one uniform per row) instead of ``torch.multinomial`` (one exponential
# per row and value): the same distribution, another use of the random stream, so a fixed seed gives
# other rows than the multinomial draws did.


@dataclass
class Step:
    """Everything drawing target ``j`` needs once ``sources`` are known: the first-layer term of every
    value of the known sources (``table``: ``j``'s slice of :func:`first_layer_tables`, or just these
    sources' rows stacked in order; ``starts`` each source's first row in it), and ``j``'s head divided
    by the temperature, banned values at -inf."""

    j: int
    sources: torch.Tensor
    starts: torch.Tensor
    table: torch.Tensor
    head_w: torch.Tensor
    head_b: torch.Tensor
    #: the residual layer in the precision its products run in (float32, or bfloat16 where fast)
    w_mid: torch.Tensor
    b_mid: torch.Tensor

    @classmethod
    def build(cls, net: Network, j: int, sources: list[int], temperature: float = 1.0,
              banned: torch.Tensor | None = None, tables: torch.Tensor | None = None,
              mid: tuple[torch.Tensor, torch.Tensor] | None = None) -> Step:
        """``tables``: :func:`first_layer_tables` of ``net``, else ``j``'s rows of the sources are built here;
        ``mid``: the residual layer's weights cast to the products' precision (:func:`mid_layer`), else
        ``net``'s own (float32); the head runs in the same precision."""
        device = net.offsets.device
        vocab = net.layout.vocab + net.layout.ctx_vocab
        offsets = _value_offsets(vocab)
        if tables is not None:
            table = tables[j]
            starts = torch.as_tensor([offsets[i] for i in sources], dtype=torch.long, device=device)
        else:
            w = net.w_in[j].view(len(vocab), net.d, -1)
            parts, first_rows, at = [], [], 0
            for i in sources:
                first = offsets[i]
                parts.append(torch.addmm(net.w_known[j, i], net.embedding[first:first + vocab[i]], w[i]))
                first_rows.append(at)
                at += vocab[i]
            table = torch.cat(parts) if parts else torch.zeros(0, w.shape[-1], device=device)
            starts = torch.as_tensor(first_rows, dtype=torch.long, device=device)
        head_w, head_b = net.heads_w[j], net.heads_b[j]
        if temperature != 1.0:
            head_w, head_b = head_w / max(temperature, 1e-6), head_b / max(temperature, 1e-6)
        if banned is not None:
            head_b = head_b.masked_fill(banned, -math.inf)
        w_mid, b_mid = mid if mid is not None else (net.w_mid, net.b_mid)
        return cls(j, torch.as_tensor(sources, dtype=torch.long, device=device), starts, table,
                   head_w.to(w_mid.dtype), head_b.to(w_mid.dtype), w_mid, b_mid)

    def logits(self, net: Network, tokens: torch.Tensor) -> torch.Tensor:
        """``net.logits_for(j, tokens, known) / temperature`` (banned values -inf) where ``known`` is 1
        exactly at the sources."""
        if len(self.sources):
            rows = tokens.index_select(1, self.sources).add_(self.starts)
            z = nn.functional.embedding_bag(rows, self.table, mode="sum").add_(net.b_in[self.j])
        else:
            z = net.b_in[self.j].expand(len(tokens), -1).clone()
        z = z.relu_().to(self.w_mid.dtype)
        z += torch.addmm(self.b_mid, z, self.w_mid).relu_()
        return torch.addmm(self.head_b, z, self.head_w).float()


def _value_offsets(vocab: list[int]) -> list[int]:
    """Each source's first embedding row (``Network.offsets`` on the host: no device round trip)."""
    return [0, *np.cumsum(vocab)[:-1].tolist()] if vocab else []


def first_layer_tables(net: Network) -> torch.Tensor:
    """(targets, source values, hidden): row ``offsets[i] + v`` of ``[j]`` is target ``j``'s first-layer
    term of source ``i`` at value ``v`` (its embedding times its block of ``w_in[j]``, plus ``w_known``)."""
    vocab = net.layout.vocab + net.layout.ctx_vocab
    w = net.w_in.view(net.layout.n_targets, len(vocab), net.d, -1)
    parts = []
    for i, (size, first) in enumerate(zip(vocab, _value_offsets(vocab), strict=True)):
        parts.append(torch.matmul(net.embedding[first:first + size], w[:, i]) + net.w_known[:, i, None, :])
    return torch.cat(parts, dim=1)


def inverse_cdf(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from each row of non-negative ``weights`` (B, V) given uniforms ``u`` (B, 1) in [0, 1).

    A value of weight 0 is never drawn: the first index whose cumulative weight exceeds ``u`` times the
    total, capped at the last index of positive weight should ``u * total`` ever reach the total.
    """
    cdf = weights.cumsum(dim=1)
    total = cdf[:, -1:].contiguous()
    drawn = torch.searchsorted(cdf, u * total, right=True)
    return torch.minimum(drawn, torch.searchsorted(cdf, total, right=False))[:, 0]


def keep_held_share(logits: torch.Tensor, banned: torch.Tensor, held: int) -> torch.Tensor:
    """``logits`` with the ``banned`` values' probability moved to the other allowed values, in proportion,
    and value ``held``'s probability left as it was (before the ban).

    A categorical's null keeps its share when its ``rare`` token is banned: renormalizing over every other
    value would hand null its part of the rare mass (a column whose rare categories hold half the rows
    would come out with twice its nulls). The total is unchanged: ``e^l_held + e^lse(others) (1 +
    e^(lse(banned) - lse(others)))`` is the old partition sum.
    """
    others = ~banned
    others[held] = False
    if not bool(others.any()):
        return logits.masked_fill(banned, -math.inf)
    moved = torch.logsumexp(logits[:, banned], dim=1, keepdim=True) - torch.logsumexp(logits[:, others], dim=1,
                                                                                       keepdim=True)
    out = logits.masked_fill(banned, -math.inf)
    out[:, others] += nn.functional.softplus(moved)
    return out


def draw(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One value per row from ``softmax(logits)``."""
    u = torch.rand(len(logits), 1, generator=gen, device=logits.device)
    return inverse_cdf(torch.softmax(logits, dim=1), u)


@dataclass
class Plan:
    """One sampling call's steps in order: (target, the sources known when it is drawn), and their
    :class:`Step` when the first-layer tables are small enough to keep (else built per chunk)."""

    targets: list[tuple[int, list[int]]]
    steps: list[Step] | None
    temperature: float
    ban: list[torch.Tensor | None]
    #: per target token, the value whose share a ban leaves as it was (:func:`keep_held_share`), or None
    held: list[int | None]
    #: the residual layer in the products' precision (:func:`mid_layer`)
    mid: tuple[torch.Tensor, torch.Tensor]

    def step_ban(self, j: int) -> torch.Tensor | None:
        """The ban folded into target ``j``'s head: none where the ban keeps a value's share (applied after)."""
        return None if self.held[j] is not None else self.ban[j]


def mid_layer(net: Network, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual layer's weights in the precision sampling's products run in."""
    return net.w_mid.to(dtype), net.b_mid.to(dtype)


def make_plan(net: Network, fixed: np.ndarray, order: list[int], forbidden: list[list[int]],
              temperature: float, device: torch.device, held: list[int | None] | None = None,
              dtype: torch.dtype = torch.float32) -> Plan:
    layout = net.layout
    ban: list[torch.Tensor | None] = []
    for j, ids in enumerate(forbidden):
        mask = None
        if ids and len(ids) < layout.vocab[j]:
            mask = torch.zeros(layout.vocab[j], dtype=torch.bool, device=device)
            mask[torch.as_tensor(ids, device=device)] = True
        ban.append(mask)
    targets: list[tuple[int, list[int]]] = []
    known = [j for j in range(layout.n_targets) if fixed[j]] + list(range(layout.n_targets, layout.n_sources))
    for c in order:
        for j in (k for k in range(layout.n_targets) if layout.token_column[k] == c and not fixed[k]):
            targets.append((j, sorted(known)))
            known.append(j)
    held = [h if h is not None and ban[j] is not None else None
            for j, h in enumerate(held if held is not None else [None] * layout.n_targets)]
    plan = Plan(targets, None, temperature, ban, held, mid_layer(net, dtype))
    if layout.n_targets * int(net.embedding.shape[0]) * int(net.b_mid.shape[0]) <= TABLE_FLOATS:
        tables = first_layer_tables(net)
        plan.steps = [Step.build(net, j, sources, temperature, plan.step_ban(j), tables, plan.mid)
                      for j, sources in targets]
    return plan


@torch.inference_mode()
def generate(net: Network, tokens: np.ndarray, fixed: np.ndarray, order: list[int],
             forbidden: list[list[int]], temperature: float, gen: torch.Generator,
             device: torch.device, plans: dict[Any, Plan] | None = None,
             held: list[int | None] | None = None, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """Fill the model tokens of ``tokens`` (rows, S) not marked in ``fixed`` (T,), column by column in
    ``order`` (model column indices), drawing each token from its softmax at ``temperature``; the
    ``forbidden`` values of a token are never drawn, and where ``held`` names a value of that token, its
    share stays what the model gives it (:func:`keep_held_share`). ``dtype``: the precision of the
    residual layer's and the heads' products (bfloat16 where the hardware is fast at it).

    ``plans``: a cache of the setup by arguments, for callers that sample the same ``net`` many times in
    small batches (sequences, one call per position); the caller drops it with the network."""
    key = (tuple(bool(f) for f in fixed), tuple(order), tuple(tuple(f) for f in forbidden), float(temperature),
           str(device), tuple(held) if held is not None else None, str(dtype))
    plan = plans.get(key) if plans is not None else None
    if plan is None:
        plan = make_plan(net, fixed, order, forbidden, temperature, device, held, dtype)
        if plans is not None:
            if len(plans) >= PLANS_KEPT:
                plans.clear()
            plans[key] = plan
    chunk = SAMPLE_CHUNK_CUDA if device.type == "cuda" else SAMPLE_CHUNK
    out = []
    for start in range(0, len(tokens), chunk):
        t = torch.as_tensor(tokens[start:start + chunk], dtype=torch.long, device=device)
        for k, (j, sources) in enumerate(plan.targets):
            s = plan.steps[k] if plan.steps is not None else Step.build(net, j, sources, temperature,
                                                                         plan.step_ban(j), mid=plan.mid)
            logits = s.logits(net, t)
            held_value = plan.held[j]
            if held_value is not None:
                ban = plan.ban[j]
                assert ban is not None
                logits = keep_held_share(logits, ban, held_value)
            t[:, j] = draw(logits, gen)
        out.append(t[:, : net.layout.n_targets].cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.layout.n_targets), dtype=np.int64)


@torch.no_grad()
def condition_probabilities(net: Network, tokens: np.ndarray, fixed_tokens: list[list[int]]) -> list[float]:
    """Mean model probability of each conditioned column's first token given the conditions before it."""
    layout = net.layout
    device = net.offsets.device
    t = torch.as_tensor(tokens, dtype=torch.long, device=device)
    known = torch.zeros(layout.n_sources, device=device)
    known[layout.n_targets:] = 1.0
    probs = []
    for group in fixed_tokens:
        first = group[0]
        p = torch.softmax(net.logits_for(first, t, known), dim=1)[:, t[0, first]]
        probs.append(float(p.mean()))
        for j in group:
            known[j] = 1.0
    return probs
