"""CTGAN and TVAE models, their training steps, and the epoch loop they share (torch).

Imported lazily by :mod:`hiveframe_ctgan.generators`. The epoch loop does what a product needs:
validation on held-out rows with early stopping (``epochs`` is the maximum), keeping the best
weights, an epoch callback, a progress display, checkpoints every N epochs and resuming from them
with the random streams restored (an interrupted and resumed fit ends with the same weights as an
uninterrupted one).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hiveframe.pipeline.progress import TrainingProgress
from hiveframe_ctgan import _nn
from hiveframe_ctgan._data import CondSampler, Layout, steps_per_epoch
from hiveframe_ctgan.errors import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "hiveframe_ctgan-checkpoint"
CHECKPOINT_FORMAT_VERSION = 2  # 2: the generator's weight average is part of the trainer state
GEN_CHUNK = 8192


@dataclass
class TrainData:
    """What the numpy side hands to the trainers (matrices already permuted and scaled)."""

    x: np.ndarray
    ctx: np.ndarray | None
    layout: Layout
    ctx_layout: Layout | None
    sampler: CondSampler
    val_ctx: np.ndarray | None = None
    n_val: int = 0
    #: under differential privacy: context rows from the surrogate table, for the generator's own steps
    surrogate_ctx: np.ndarray | None = None


@dataclass
class FitResult:
    arrays: dict[str, np.ndarray]
    history: list[dict[str, Any]]
    best_epoch: int | None
    epochs_trained: int
    stopped_early: bool
    resumed_from: int = 0
    train_seconds: float = 0.0


def _as_tensor(a: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    if a is None:
        return None
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)


def _adam(params, lr: float, betas: tuple[float, float], weight_decay: float) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (several times faster per step on a CPU)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


# -- CTGAN -----------------------------------------------------------------------------------------
class CTGANModel:
    """The generator (and, when training, the critic, the optimisers and the weight average) of CTGAN.

    With ``ema_decay`` in the config, sampling uses an exponential moving average of the generator's
    weights over the training steps (Polyak averaging of the iterates) rather than the last step's
    weights. A GAN's generator keeps circling its equilibrium; the average sits nearer it. Census TSTR
    AUC at 100 epochs, seeds 0-4: 0.887/0.879/0.865/0.877/0.873 from the last weights,
    0.887/0.887/0.880/0.879/0.882 averaged (decay 0.999), for about 1% of an epoch (in-process A/B).
    """

    def __init__(self, config: Mapping[str, Any], layout: Layout, ctx_layout: Layout | None, n_cond: int,
                 device: torch.device, *, training: bool, seed: int = 0) -> None:
        self.config = dict(config)
        self.layout, self.ctx_layout, self.n_cond, self.device = layout, ctx_layout, n_cond, device
        self.seg = _nn.Segments(layout, device)
        self.z_dim = int(config["embedding_dim"])
        self.G = _nn.Generator(self.z_dim, ctx_layout, n_cond, config["generator_dim"], layout.width)
        init_gen = _nn.make_generator(seed, torch.device("cpu"))
        _nn.init_parameters(self.G, init_gen)
        self.G.to(device)
        self.D: _nn.Discriminator | None = None
        self.G_average: _nn.Generator | None = None
        self.ema_decay = float(config.get("ema_decay") or 0.0)
        if training:
            self.D = _nn.Discriminator(layout, ctx_layout, n_cond, config["discriminator_dim"], int(config["pac"]))
            _nn.init_parameters(self.D, init_gen)
            self.D.to(device)
            self.opt_g = _adam(self.G.parameters(), config["generator_lr"], (0.5, 0.9), config["generator_decay"])
            self.opt_d = _adam(self.D.parameters(), config["discriminator_lr"], (0.5, 0.9),
                               config["discriminator_decay"])
            if self.ema_decay:
                self.G_average = copy.deepcopy(self.G).requires_grad_(False)

    # -- sampling ----------------------------------------------------------------------------------
    def sampling_module(self) -> torch.nn.Module:
        return self.G_average if self.G_average is not None else self.G

    @torch.no_grad()
    def update_average(self, step: int) -> None:
        """Move the averaged weights toward the generator's after its ``step``-th update.

        The decay warms up as ``(1 + step) / (10 + step)`` until it reaches ``ema_decay``, so a short
        fit averages about its last tenth of steps rather than dragging its random initial weights
        along. Batch-norm statistics are copied: they already are running averages of the live model.
        """
        if self.G_average is None:
            return
        decay = min(self.ema_decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(list(self.G_average.parameters()), list(self.G.parameters()), 1.0 - decay)
        for mine, live in zip(self.G_average.buffers(), self.G.buffers(), strict=True):
            mine.copy_(live)

    @torch.no_grad()
    def generate(self, n: int, cond: np.ndarray, ctx: np.ndarray | None, gen: torch.Generator) -> np.ndarray:
        G = self.sampling_module()
        was_training = G.training
        G.eval()
        out = []
        try:
            for start in range(0, n, GEN_CHUNK):
                stop = min(n, start + GEN_CHUNK)
                c = torch.from_numpy(cond[start:stop]).to(self.device)
                x = _as_tensor(ctx[start:stop], self.device) if ctx is not None else None
                z = torch.randn(stop - start, self.z_dim, generator=gen, device=self.device)
                fake = _nn.ctgan_activate(G(z, c, x), self.seg, gen)
                out.append(fake.cpu().numpy())
        finally:
            G.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.layout.width), dtype=np.float32)


class CTGANTrainer:
    """One CTGAN epoch: WGAN-GP with PacGAN, conditional vector and training-by-sampling."""

    def __init__(self, model: CTGANModel, data: TrainData, seed: int) -> None:
        cfg = model.config
        self.model, self.data = model, data
        self.device = model.device
        self.batch = int(cfg["batch_size"])
        self.pac = int(cfg["pac"])
        self.d_steps = int(cfg["discriminator_steps"])
        self.steps = steps_per_epoch(len(data.x), self.batch)
        self.generator_updates = 0  # the weight average's step count
        assert model.D is not None
        self.d_params = list(model.D.parameters())
        self.x = _as_tensor(data.x, self.device)
        self.ctx = _as_tensor(data.ctx, self.device)
        self.p_none = 0.5 if data.ctx is not None and data.sampler.n_columns else 0.0
        self.autocast = _autocast_factory(cfg, self.device)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        self.gen = _nn.make_generator(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]), self.device)
        # where each global category sits: its segment (among all one-hot segments) and its column
        seg_of, pos_of = [], []
        for si, s in enumerate(data.layout.segments):
            if s.discrete:
                seg_of += [si] * s.width
                pos_of += list(range(s.start - data.layout.n_scalar, s.start - data.layout.n_scalar + s.width))
        self.seg_of_cat = torch.as_tensor(seg_of + [0], dtype=torch.long, device=self.device)
        self.pos_of_cat = torch.as_tensor(pos_of + [0], dtype=torch.long, device=self.device)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        cond, rows = self.data.sampler.sample_train(self.batch, self.rng, self.p_none)
        return (torch.from_numpy(cond).to(self.device, non_blocking=True),
                torch.from_numpy(rows).to(self.device, non_blocking=True))

    def _cond_loss(self, logits: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Cross-entropy between the generated logits of the conditioned column and the condition."""
        m = self.model
        if m.n_cond == 0:
            return logits.new_zeros(())
        has = cond < m.n_cond
        c = torch.where(has, cond, torch.zeros_like(cond))
        oh = logits[:, m.seg.n_scalar:]
        lse = _nn.segment_logsumexp(oh, m.seg)
        picked = oh.gather(1, self.pos_of_cat[c][:, None])[:, 0]
        norm = lse.gather(1, self.seg_of_cat[c][:, None])[:, 0]
        return -((picked - norm) * has).sum() / logits.shape[0]

    def _penalty(self, first: torch.Tensor) -> torch.Tensor:
        """WGAN-GP's gradient penalty on packs interpolated between each real pack and its fake pack.

        ``first`` is the critic's first-layer output for the real packs, then the fake packs. That
        layer is linear in the rows and ``alpha`` is shared by the rows of a pack, so the
        interpolated packs' first-layer output is the same interpolation of the real and fake
        packs' outputs: the penalty needs no first-layer pass (forward, or weight gradient) of its
        own. The gradient with respect to the rows is taken back through that layer explicitly.
        """
        D = self.model.D
        assert D is not None
        groups = first.shape[0] // 2
        alpha = torch.rand(groups, 1, generator=self.gen, device=self.device)
        h = alpha * first[:groups] + (1 - alpha) * first[groups:]
        out = D.tail(h, self.gen).float()
        (grad_first,) = torch.autograd.grad(out.sum(), h, create_graph=True)
        norm = D.row_gradient(grad_first.float()).norm(2, dim=1)
        return 10.0 * ((norm - 1.0) ** 2).mean()

    def train_epoch(self) -> dict[str, float]:
        """``steps`` rounds of ``discriminator_steps`` critic updates, then one generator update.

        The generator update reuses the batch the last critic update was shown (its noise, conditions
        and context), kept with its graph: the critic judges it again after its own update, and the
        gradient flows back into the generator. The paper draws a fresh batch for the generator from
        the same distribution; reusing one spares a generator forward pass per step, about a seventh
        of an epoch on census. Census TSTR AUC at 100 epochs, seeds 0/1/2: 0.887/0.879/0.865 reusing,
        0.879/0.886/0.874 drawing anew (both sampling from the last weights), within the spread between
        seeds.
        """
        m = self.model
        G, D = m.G, m.D
        assert D is not None
        g_total = torch.zeros((), device=self.device)
        d_total = torch.zeros((), device=self.device)
        for _ in range(self.steps):
            for d_step in range(self.d_steps):
                cond, rows = self._batch()
                real = self.x.index_select(0, rows)
                ctx = self.ctx.index_select(0, rows) if self.ctx is not None else None
                z = torch.randn(self.batch, m.z_dim, generator=self.gen, device=self.device)
                if d_step == self.d_steps - 1:  # the generator step's batch: keep its graph
                    with self.autocast():
                        logits = G(z, cond, ctx).float()
                        fake_g = _nn.ctgan_activate(logits, m.seg, self.gen)
                    fake = fake_g.detach()
                else:
                    with torch.no_grad(), self.autocast():
                        fake = _nn.ctgan_activate(G(z, cond, ctx).float(), m.seg, self.gen)
                with self.autocast():
                    first = D.first_layer(torch.cat([real, fake]), torch.cat([cond, cond]),
                                          torch.cat([ctx, ctx]) if ctx is not None else None)
                    both = D.tail(first, self.gen).float()
                    half = both.shape[0] // 2
                    loss_d = both[half:].mean() - both[:half].mean() + self._penalty(first)
                m.opt_d.zero_grad(set_to_none=True)
                # only the critic's weights: the penalty's interpolated rows need no gradient of their own
                loss_d.backward(inputs=self.d_params)
                m.opt_d.step()
                d_total += loss_d.detach()
            with frozen(D), self.autocast():  # the critic's weight gradients are not needed here
                loss_g = -D(fake_g, cond, ctx, self.gen).float().mean() + self._cond_loss(logits, cond)
            self._update_generator(loss_g)
            g_total += loss_g.detach()
        return {"generator": float(g_total) / self.steps,
                "discriminator": float(d_total) / (self.steps * self.d_steps)}

    def _update_generator(self, loss: torch.Tensor) -> None:
        """One optimiser step of the generator on ``loss``, then the weight average (post-processing)."""
        m = self.model
        m.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        m.opt_g.step()
        self.generator_updates += 1
        m.update_average(self.generator_updates)

    # -- checkpoint state --------------------------------------------------------------------------
    def _stateful(self) -> dict[str, Any]:
        """What a checkpoint keeps, by name: the networks and optimisers."""
        m = self.model
        assert m.D is not None
        average = {} if m.G_average is None else {"G_average": m.G_average}
        return {"G": m.G, "D": m.D, "opt_g": m.opt_g, "opt_d": m.opt_d, **average}

    def full_state(self) -> dict[str, Any]:
        return {**_states(self._stateful()), "generator_updates": self.generator_updates,
                **_rng_state(self.rng, self.gen)}

    def load_full_state(self, state: Mapping[str, Any]) -> None:
        _load_states(self._stateful(), state)
        self.generator_updates = int(state["generator_updates"])
        _load_rng_state(state, self.rng, self.gen)


# -- TVAE ------------------------------------------------------------------------------------------
class TVAEModel:
    """Encoder and decoder of TVAE (conditional on context when the table has context columns)."""

    def __init__(self, config: Mapping[str, Any], layout: Layout, ctx_layout: Layout | None, n_cond: int,
                 device: torch.device, *, training: bool, seed: int = 0) -> None:
        self.config = dict(config)
        self.layout, self.ctx_layout, self.device = layout, ctx_layout, device
        self.seg = _nn.Segments(layout, device)
        self.z_dim = int(config["embedding_dim"])
        self.decoder = _nn.Decoder(ctx_layout, config["decompress_dims"], self.z_dim, layout.width, layout.n_scalar)
        init_gen = _nn.make_generator(seed, torch.device("cpu"))
        _nn.init_parameters(self.decoder, init_gen)
        self.decoder.to(device)
        self.encoder: _nn.Encoder | None = None
        if training:
            self.encoder = _nn.Encoder(layout, ctx_layout, config["compress_dims"], self.z_dim)
            _nn.init_parameters(self.encoder, init_gen)
            self.encoder.to(device)
            params = list(self.encoder.parameters()) + list(self.decoder.parameters())
            self.opt = _adam(params, config["learning_rate"], (0.9, 0.999), config["l2scale"])

    def sampling_module(self) -> torch.nn.Module:
        return self.decoder

    @torch.no_grad()
    def generate(self, n: int, cond: np.ndarray, ctx: np.ndarray | None, gen: torch.Generator) -> np.ndarray:
        out = []
        k = self.seg.n_scalar
        sigma = self.decoder.sigma.detach()
        for start in range(0, n, GEN_CHUNK):
            stop = min(n, start + GEN_CHUNK)
            x = _as_tensor(ctx[start:stop], self.device) if ctx is not None else None
            z = torch.randn(stop - start, self.z_dim, generator=gen, device=self.device)
            raw = self.decoder(z, x)
            parts = []
            if k:  # alpha ~ N(tanh(.), sigma), the decoder's own likelihood
                noise = torch.randn(stop - start, k, generator=gen, device=self.device)
                parts.append((torch.tanh(raw[:, :k]) + sigma * noise).clamp_(-1.0, 1.0))
            if self.seg.n_seg:  # categories ~ softmax(.), drawn with the Gumbel-max trick
                oh = raw[:, k:]
                parts.append(_nn.hard_segments(oh + _nn.gumbel(oh.shape, gen, self.device), self.seg.onehot_only()))
            out.append(torch.cat(parts, dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.layout.width), dtype=np.float32)


class TVAETrainer:
    """One TVAE epoch: ELBO with a Gaussian likelihood for scalars (learned sigma) and softmax for spans."""

    def __init__(self, model: TVAEModel, data: TrainData, seed: int) -> None:
        cfg = model.config
        self.model, self.data, self.device = model, data, model.device
        self.batch = int(cfg["batch_size"])
        self.loss_factor = float(cfg["loss_factor"])
        self.x = _as_tensor(data.x, self.device)
        self.ctx = _as_tensor(data.ctx, self.device)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        self.gen = _nn.make_generator(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]), self.device)
        self.oh_seg = model.seg.onehot_only()
        self.autocast = _autocast_factory(cfg, self.device)

    def train_epoch(self) -> dict[str, float]:
        m = self.model
        assert m.encoder is not None
        n = self.x.shape[0]
        k = m.seg.n_scalar
        order = torch.randperm(n, generator=self.gen, device=self.device)
        total = torch.zeros((), device=self.device)
        rec_total = torch.zeros((), device=self.device)
        kl_total = torch.zeros((), device=self.device)
        batches = 0
        for start in range(0, n, self.batch):
            idx = order[start : start + self.batch]
            x = self.x.index_select(0, idx)
            ctx = self.ctx.index_select(0, idx) if self.ctx is not None else None
            with self.autocast():
                mu, logvar = (t.float() for t in m.encoder(x, ctx))
                std = torch.exp(0.5 * logvar)
                z = mu + std * torch.randn(std.shape, generator=self.gen, device=self.device)
                raw = m.decoder(z, ctx).float()
            rec = raw.new_zeros(())
            if k:
                sigma = m.decoder.sigma
                rec = rec + (((x[:, :k] - torch.tanh(raw[:, :k])) ** 2) / (2 * sigma ** 2)).sum() \
                    + torch.log(sigma).sum() * x.shape[0]
            if m.seg.n_seg:
                oh = raw[:, k:]
                rec = rec + _nn.segment_logsumexp(oh, self.oh_seg).sum() - (x[:, k:] * oh).sum()
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()
            loss = (self.loss_factor * rec + kl) / x.shape[0]
            m.opt.zero_grad(set_to_none=True)
            loss.backward()
            m.opt.step()
            with torch.no_grad():
                m.decoder.sigma.clamp_(0.01, 1.0)
            total += loss.detach()
            rec_total += rec.detach() / x.shape[0]
            kl_total += kl.detach() / x.shape[0]
            batches += 1
        b = max(1, batches)
        return {"loss": float(total) / b, "reconstruction": float(rec_total) / b, "kl": float(kl_total) / b}

    def _stateful(self) -> dict[str, Any]:
        """What a checkpoint keeps, by name: the networks and the optimiser."""
        m = self.model
        assert m.encoder is not None
        return {"encoder": m.encoder, "decoder": m.decoder, "opt": m.opt}

    def full_state(self) -> dict[str, Any]:
        return {**_states(self._stateful()), **_rng_state(self.rng, self.gen)}

    def load_full_state(self, state: Mapping[str, Any]) -> None:
        _load_states(self._stateful(), state)
        _load_rng_state(state, self.rng, self.gen)


MODELS: dict[str, tuple[type, type]] = {"ctgan": (CTGANModel, CTGANTrainer), "tvae": (TVAEModel, TVAETrainer)}


def _autocast_factory(config: Mapping[str, Any], device: torch.device) -> Callable[[], Any]:
    """Mixed precision for the forward passes when ``precision`` is ``bfloat16`` (weights, optimiser
    state, losses and sampling stay float32)."""
    enabled = config.get("precision", "float32") == "bfloat16"

    def autocast() -> Any:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)

    return autocast


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """``module``'s weights need no gradient inside the block (gradients still flow through it)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


def _states(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The ``state_dict`` of each network or optimiser, by name."""
    return {name: part.state_dict() for name, part in parts.items()}


def _load_states(parts: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    for name, part in parts.items():
        part.load_state_dict(state[name])


def _rng_state(rng: np.random.Generator, gen: torch.Generator) -> dict[str, Any]:
    return {"numpy_rng": json.dumps(rng.bit_generator.state), "torch_rng": gen.get_state(),
            "torch_rng_device": gen.device.type}


def _load_rng_state(state: Mapping[str, Any], rng: np.random.Generator, gen: torch.Generator) -> None:
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    if state.get("torch_rng_device") == gen.device.type:
        gen.set_state(state["torch_rng"].cpu())
    else:  # a checkpoint made on another kind of device: its stream cannot continue here
        log.info("checkpoint was written on %s; reseeding the %s random stream", state.get("torch_rng_device"),
                 gen.device.type)
        gen.manual_seed(int(rng.integers(2**62)))


# -- checkpoints -----------------------------------------------------------------------------------
@dataclass
class CheckpointStore:
    """``checkpoint.pt`` in a table's work folder, written atomically and read with ``weights_only``.

    A save writes a sibling ``.checkpoint.pt.PID.tmp``, flushes it to disk and renames it over the old
    checkpoint, so a kill or a full disk leaves the previous checkpoint whole; the temporary file is
    removed on a failed save, and one left by a killed process is removed by the next load.
    """

    directory: Path
    model: str
    version: str
    fingerprint: str
    device: torch.device
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.directory) / CHECKPOINT_NAME

    def load(self) -> dict[str, Any] | None:
        self._remove_stale_temporaries()
        if not self.path.is_file():
            return None
        hint = f"delete {str(self.path)!r} (or give another work folder) to train from scratch"
        try:
            ck = torch.load(self.path, map_location=self.device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to read means we cannot trust it
            raise CheckpointError(f"checkpoint {str(self.path)!r} cannot be read: {type(exc).__name__}: {exc}",
                                  hint=hint) from None
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{str(self.path)!r} is not a hiveframe_ctgan training checkpoint", hint=hint)
        if ck.get("model") != self.model:
            raise CheckpointError(
                f"checkpoint {str(self.path)!r} was written by model {ck.get('model')!r}, not {self.model!r}",
                hint=hint)
        if ck.get("format_version") != CHECKPOINT_FORMAT_VERSION or ck.get("version") != self.version:
            raise CheckpointError(
                f"checkpoint {str(self.path)!r} was written by hiveframe_ctgan {ck.get('version')} "
                f"(checkpoint format {ck.get('format_version')}); this is {self.version} "
                f"(format {CHECKPOINT_FORMAT_VERSION})", hint=hint)
        if ck.get("fingerprint") != self.fingerprint:
            import warnings

            warnings.warn(f"checkpoint {str(self.path)!r} belongs to other data or other model parameters; "
                          "training from scratch and overwriting it", UserWarning, stacklevel=2)
            return None
        return ck

    def save(self, payload: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        full = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, "model": self.model,
                "version": self.version, "fingerprint": self.fingerprint, **payload}
        tmp = self.path.with_name(f".{CHECKPOINT_NAME}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                torch.save(full, fh)
                fh.flush()
                os.fsync(fh.fileno())  # a power cut after the rename must not leave an empty checkpoint
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _remove_stale_temporaries(self) -> None:
        """Remove the temporary file of a save whose process was killed (never a live process's)."""
        from hiveframe.files import process_alive

        if not self.path.parent.is_dir():
            return
        for tmp in self.path.parent.glob(f".{CHECKPOINT_NAME}.*.tmp"):
            pid = tmp.name[len(CHECKPOINT_NAME) + 2:-len(".tmp")]
            if not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
                continue
            log.info("removing %s, left by an interrupted checkpoint save", tmp)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


# -- the epoch loop --------------------------------------------------------------------------------
def _clone_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train(kind: str, config: Mapping[str, Any], data: TrainData, *, seed: int, device: torch.device, epochs: int,
          patience: int | None, score: Callable[[np.ndarray], float] | None, val_seed: int,
          callback: Callable[[Mapping[str, Any]], None] | None, table_name: str,
          store: CheckpointStore | None, checkpoint_every: int | None, verbose: bool,
          deadline: float | None, private: Any = None) -> FitResult:
    """Train a model; return the weights used for sampling (the best ones under validation).

    ``deadline`` is a ``time.perf_counter()`` value: no epoch is started that would end after it (at
    least one epoch always runs). ``private`` (from the ``dp`` privacy wrapper) trains with DP-SGD
    (:mod:`hiveframe_ctgan._dp`): training also stops when the privacy budget is spent, and each epoch's
    callback event carries the epsilon spent so far.
    """
    model_cls, trainer_cls = MODELS[kind]
    model = model_cls(config, data.layout, data.ctx_layout, data.sampler.n_cats, device, training=True, seed=seed)
    if private is not None:
        from hiveframe_ctgan._dp import TRAINERS

        trainer = TRAINERS[kind](model, data, seed, private, epochs)
    else:
        trainer = trainer_cls(model, data, seed)
    sampling = model.sampling_module()

    start_epoch, history = 0, []
    best_score, best_epoch, best_state = -math.inf, None, None
    if store is not None:
        ck = store.load()
        if ck is not None:
            trainer.load_full_state(ck["trainer"])
            start_epoch = int(ck["epoch"])
            history = list(ck["history"])
            if ck.get("best_state") is not None:
                best_score, best_epoch, best_state = float(ck["best_score"]), int(ck["best_epoch"]), ck["best_state"]
            log.info("%s %s: resuming from the checkpoint of epoch %d", kind, table_name, start_epoch)

    def validate() -> float | None:
        if score is None or data.n_val == 0:
            return None
        gen = _nn.make_generator(val_seed, device)
        vrng = np.random.default_rng(val_seed)
        cond = (np.full(data.n_val, data.sampler.n_cats, dtype=np.int64) if data.ctx is not None
                else data.sampler.sample_original(data.n_val, vrng))
        return float(score(model.generate(data.n_val, cond, data.val_ctx, gen)))

    stopped = False
    if start_epoch and history and history[-1].get("stop"):
        stopped = True  # the checkpointed run had already stopped early (a time limit does not count)
    progress = TrainingProgress(enabled=verbose, every=10.0, logger=logging.getLogger("hiveframe_ctgan.progress"))
    t0 = time.perf_counter()
    epoch = start_epoch
    try:
        while not stopped and epoch < epochs:
            epoch += 1
            e0 = time.perf_counter()
            losses = trainer.train_epoch()
            v0 = time.perf_counter()
            value = validate()
            v_seconds = time.perf_counter() - v0
            if value is not None and value > best_score:
                best_score, best_epoch, best_state = value, epoch, _clone_state(sampling)
            stop = bool(patience and value is not None and best_epoch is not None and epoch - best_epoch >= patience)
            privacy = trainer.epoch_info() if hasattr(trainer, "epoch_info") else {}
            spent = bool(getattr(trainer, "exhausted", False))  # the privacy budget allows no further step
            elapsed = time.perf_counter() - t0
            # stop when the next epoch (at the mean pace so far) would end after the deadline
            pace = (time.perf_counter() - t0) / (epoch - start_epoch)
            out_of_time = bool(deadline is not None and time.perf_counter() + pace > deadline)
            record = {"epoch": epoch, "losses": losses, "validation": value, "seconds": time.perf_counter() - e0,
                      "validation_seconds": v_seconds, "stop": stop, "out_of_time": out_of_time, **privacy}
            history.append(record)
            last = stop or out_of_time or spent or epoch == epochs
            if store is not None and checkpoint_every and (epoch % checkpoint_every == 0 or last):
                store.save({"epoch": epoch, "history": history, "trainer": trainer.full_state(),
                            "best_score": best_score if best_state is not None else None,
                            "best_epoch": best_epoch, "best_state": best_state})
            event = {"table": table_name, "model": kind, "epoch": epoch, "epochs": epochs, "losses": dict(losses),
                     "validation": value, "best_epoch": best_epoch, "elapsed": elapsed,
                     "epoch_seconds": record["seconds"], **privacy}
            progress(event)  # verbose=True: the kernel's progress component, fed the same event
            if callback is not None:
                callback(event)
            if stop:
                log.info("%s %s: early stop at epoch %d (best %d, score %.4f)", kind, table_name, epoch, best_epoch,
                         best_score)
            if spent:
                log.info("%s %s: privacy budget spent after epoch %d", kind, table_name, epoch)
            stopped = stop or out_of_time or spent
    finally:
        progress.close()
    if best_state is not None:
        sampling.load_state_dict(best_state)
    return FitResult(_nn.state_to_numpy(sampling), history, best_epoch, epoch, stopped, start_epoch,
                     time.perf_counter() - t0)


def load_model(kind: str, config: Mapping[str, Any], layout: Layout, ctx_layout: Layout | None, n_cond: int,
               arrays: Mapping[str, np.ndarray], device: torch.device):
    """A sampling-only model from persisted arrays (no torch.load: the arrays are plain numpy)."""
    model_cls, _ = MODELS[kind]
    model = model_cls(config, layout, ctx_layout, n_cond, device, training=False)
    module = model.sampling_module()
    module.load_state_dict({k: v.to(device) for k, v in _nn.numpy_to_state(dict(arrays)).items()})
    # in eval mode for good: ``generate`` then never switches a shared module between modes, which
    # threads sampling one loaded model at once would race on (batch norm in training mode both uses
    # the batch's statistics and overwrites the running ones)
    module.eval()
    return model
