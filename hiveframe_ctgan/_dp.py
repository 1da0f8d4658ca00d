"""Differentially private training of CTGAN and TVAE (used when the ``dp`` privacy wrapper asks).

Imported only by :func:`hiveframe_ctgan._train.train` when a generator is fitted through
``fit_private``; the DP machinery (Poisson sampling, per-example clipping with ``torch.func``,
Gaussian noise, the accountant) comes from the :class:`PrivateTraining` object the ``dp`` wrapper
hands over (``hiveframe_privacy``), so this module only says *which* loss is private per example.

CTGAN. Only the critic touches real rows, so only its steps are private (DP-SGD); the generator
learns through the critic, which is post-processing. Under DP:

* real rows are Poisson-sampled uniformly (training-by-sampling would pick rows by their category,
  which the privacy analysis does not allow); each real row is conditioned on its own category of a
  discrete column drawn at random, and the fake rows of a critic step on conditions drawn from the
  *noisy* category frequencies (the same distribution in expectation), so the critic still learns
  P(row | condition);
* the generator's own steps draw conditions from the noisy log-frequencies, as CTGAN does, so rare
  categories are still practised;
* the loss of one pac group (critic scores of its real and fake rows and its gradient penalty, a
  gradient of a gradient) is differentiated per group with ``torch.func``, clipped and noised;
* with context columns (a child table), the fake rows of a critic step take the real rows' context
  and conditions and are generated with the generator in eval mode, so a group's loss depends on its
  own rows only (batch normalisation would mix rows); the generator's steps take context rows from
  the surrogate table.

TVAE. Encoder and decoder both see real rows: every step is private, the per-row ELBO is clipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, grad

from hiveframe_ctgan import _nn
from hiveframe_ctgan._train import CTGANTrainer, frozen

log = logging.getLogger(__name__)


def _grads_to(module: torch.nn.Module, grads: Mapping[str, torch.Tensor], prefix: str = "") -> None:
    for name, p in module.named_parameters():
        g = grads.get(prefix + name)
        p.grad = None if g is None else g.to(p.dtype)


class DPCTGANTrainer(CTGANTrainer):
    """CTGAN epochs with a DP-SGD critic."""

    def __init__(self, model: Any, data: Any, seed: int, private: Any, epochs: int) -> None:
        # the parent sets the batch, pac, discriminator steps, the real rows as tensors, the random
        # streams and the layout lookups of the conditional loss
        super().__init__(model, data, seed)
        self.private = private
        self.plan = private.plan(batch_size=self.batch, epochs=epochs, steps_per_batch=self.d_steps, group=self.pac)
        self.steps = self.plan.steps_per_epoch
        if private.learning_rate is not None:
            for group in model.opt_d.param_groups:
                group["lr"] = float(private.learning_rate)
        self.gen_ctx = None if getattr(data, "surrogate_ctx", None) is None else torch.from_numpy(
            np.ascontiguousarray(data.surrogate_ctx, dtype=np.float32)).to(self.device)
        # Poisson sampling and the gradients' noise are drawn by ``self.plan`` from the DP wrapper's
        # secret source (never ``seed``). The other draws of a step (latent z, the interpolation alpha,
        # which column conditions a real row) follow ``seed``: each enters one unit's loss only, and
        # the DP-SGD analysis holds for any fixed value of them, so knowing them reveals nothing.
        # The generator's steps get streams of their own: a critic step draws as many values as the
        # secret Poisson sample holds rows, so sharing its streams would make every later generator
        # step depend on the sample sizes, which are not released (the generator would no longer be
        # post-processing of the noisy critic). tests/hiveframe_privacy/test_dp_noise.py replays them.
        self.g_rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
        self.g_gen = _nn.make_generator(int(np.random.SeedSequence([seed, 4]).generate_state(1)[0]), self.device)
        sampler = data.sampler
        self.sampler = sampler
        # each real row's category (global id) in every discrete column: its possible conditions
        segs = data.layout.discrete_segments
        self.row_codes = np.zeros((len(data.x), len(segs)), dtype=np.int64)
        for j, s in enumerate(segs):
            self.row_codes[:, j] = data.x[:, s.start:s.start + s.width].argmax(axis=1) + sampler.offsets[j]
        self.n_cond = model.n_cond
        self.exhausted = False
        self.D_params = dict(model.D.named_parameters())

    # -- conditions -------------------------------------------------------------------------------
    def _real_conds(self, rows: np.ndarray) -> np.ndarray:
        """A random discrete column's category of each real row (n_cond for padding / none)."""
        out = np.full(rows.shape, self.n_cond, dtype=np.int64)
        if self.row_codes.shape[1] == 0:
            return out
        valid = rows >= 0
        cols = self.rng.integers(self.row_codes.shape[1], size=rows.shape)
        out[valid] = self.row_codes[rows[valid], cols[valid]]
        if self.p_none > 0:
            out[valid & (self.rng.random(rows.shape) < self.p_none)] = self.n_cond
        return out

    def _fake_conds(self, size: int, log_frequency: bool, rng: np.random.Generator) -> np.ndarray:
        s = self.sampler
        if s.n_columns == 0:
            return np.full(size, self.n_cond, dtype=np.int64)
        cats = s._draw(s._log_cum if log_frequency else s._freq_cum, size, rng)
        if self.p_none > 0:
            cats = np.where(rng.random(size) < self.p_none, s.n_cats, cats)
        return cats.astype(np.int64)

    # -- one private critic step --------------------------------------------------------------------
    def _critic_step(self) -> None:
        m = self.model
        G, D = m.G, m.D
        units = self.plan.sample()  # (groups, pac), -1 pads; secret
        k = units.shape[0]
        pac = self.pac
        flat = units.reshape(-1)
        valid = torch.from_numpy(flat >= 0).to(self.device)
        real = self.x.index_select(0, torch.from_numpy(np.maximum(flat, 0)).to(self.device))
        real = real * valid[:, None].to(real.dtype)
        cond_real = torch.from_numpy(self._real_conds(flat)).to(self.device)
        ctx_real = None
        if self.ctx is not None:
            ctx_real = self.ctx.index_select(0, torch.from_numpy(np.maximum(flat, 0)).to(self.device))
            ctx_real = ctx_real * valid[:, None].to(ctx_real.dtype)
        n = flat.size
        z = torch.randn(n, m.z_dim, generator=self.gen, device=self.device)
        with torch.no_grad():
            if ctx_real is not None:  # fakes per real row (its context and condition), no batch mixing
                G.eval()
                cond_fake = cond_real
                fake = _nn.ctgan_activate(G(z, cond_fake, ctx_real), m.seg, self.gen)
                G.train()
            else:
                cond_fake = torch.from_numpy(self._fake_conds(n, False, self.rng)).to(self.device)
                # batch statistics as in CTGAN, but the running statistics are left as they were: updated
                # from a batch of the secret sample's size, they would carry it into the saved generator
                with _running_stats_kept(G):
                    fake = _nn.ctgan_activate(G(z, cond_fake, None), m.seg, self.gen) if n else real
        alpha = torch.rand(k, 1, 1, generator=self.gen, device=self.device)
        gen = self.gen
        width = real.shape[1]

        def group_loss(params, real_g, fake_g, cr_g, cf_g, ctx_g, a_g):
            def critic(x, c):
                return functional_call(D, params, (x, c, ctx_g, gen))
            interp = a_g * real_g + (1 - a_g) * fake_g
            gx = grad(lambda t: critic(t, cr_g).sum())(interp)
            penalty = 10.0 * (gx.norm(2) - 1.0) ** 2
            return critic(fake_g, cf_g).mean() - critic(real_g, cr_g).mean() + penalty

        shape = (k, pac)
        inputs = (real.view(k, pac, width), fake.view(k, pac, width), cond_real.view(shape), cond_fake.view(shape),
                  None if ctx_real is None else ctx_real.view(k, pac, -1), alpha)
        in_dims = (0, 0, 0, 0, None if ctx_real is None else 0, 0)
        grads = self.plan.gradient(group_loss, self.D_params, inputs, in_dims=in_dims)
        _grads_to(D, grads)
        m.opt_d.step()

    def _generator_step(self) -> float:
        m = self.model
        G, D = m.G, m.D
        cond = torch.from_numpy(self._fake_conds(self.batch, True, self.g_rng)).to(self.device)
        ctx = None
        if self.gen_ctx is not None:
            rows = torch.from_numpy(self.g_rng.integers(self.gen_ctx.shape[0], size=self.batch)).to(self.device)
            ctx = self.gen_ctx.index_select(0, rows)
        z = torch.randn(self.batch, m.z_dim, generator=self.g_gen, device=self.device)
        logits = G(z, cond, ctx)
        fake = _nn.ctgan_activate(logits, m.seg, self.g_gen)
        with frozen(D):
            loss = -D(fake, cond, ctx, self.g_gen).mean() + self._cond_loss(logits, cond)
        self._update_generator(loss)  # the weight average is post-processing of the generator: no privacy cost
        return float(loss.detach())

    def train_epoch(self) -> dict[str, float]:
        """One epoch; the losses reported are the generator's only (the critic's, or its gradient norms,
        would be statistics of the real rows without noise)."""
        g_total = 0.0
        g_steps = d_steps = 0
        for _ in range(self.steps):
            for _ in range(self.d_steps):
                if not self.plan.can_step():
                    self.exhausted = True
                    break
                self._critic_step()
                d_steps += 1
            if self.exhausted:
                break
            g_total += self._generator_step()
            g_steps += 1
        return {"generator": g_total / max(1, g_steps), "private_steps": float(d_steps)}

    def epoch_info(self) -> dict[str, Any]:
        return self.plan.epoch_info()


@contextmanager
def _running_stats_kept(module: torch.nn.Module) -> Iterator[None]:
    """Run ``module`` in training mode without changing its normalisation layers' running statistics."""
    saved = {name: buf.clone() for name, buf in module.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, buf in module.named_buffers():
                buf.copy_(saved[name])


class DPTVAETrainer:
    """TVAE epochs where every step is DP-SGD on the per-row ELBO."""

    def __init__(self, model: Any, data: Any, seed: int, private: Any, epochs: int) -> None:
        cfg = model.config
        self.model, self.data, self.device = model, data, model.device
        self.batch = int(cfg["batch_size"])
        self.loss_factor = float(cfg["loss_factor"])
        self.plan = private.plan(batch_size=self.batch, epochs=epochs)
        if private.learning_rate is not None:
            for group in model.opt.param_groups:
                group["lr"] = float(private.learning_rate)
        self.x = torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32)).to(self.device)
        self.ctx = None if data.ctx is None else torch.from_numpy(
            np.ascontiguousarray(data.ctx, dtype=np.float32)).to(self.device)
        # the reparametrisation noise follows ``seed`` (it enters one row's loss only: the DP-SGD analysis
        # holds for any fixed value of it); Poisson sampling and gradient noise come from ``self.plan``'s
        # secret source, never from ``seed``
        self.gen = _nn.make_generator(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]), self.device)
        self.oh_seg = model.seg.onehot_only()
        self.modules = torch.nn.ModuleDict({"encoder": model.encoder, "decoder": model.decoder})
        self.params = {k: v for k, v in self.modules.named_parameters()}
        self.exhausted = False

    def _step(self) -> None:
        m = self.model
        rows = self.plan.sample()[:, 0]
        idx = torch.from_numpy(rows).to(self.device)
        x = self.x.index_select(0, idx)
        ctx = self.ctx.index_select(0, idx) if self.ctx is not None else None
        eps = torch.randn(len(rows), m.z_dim, generator=self.gen, device=self.device)
        k = m.seg.n_scalar
        n_seg = m.seg.n_seg
        spans = [(sg.start - k, sg.width) for sg in self.data.layout.segments]
        modules = self.modules
        loss_factor = self.loss_factor

        def row_loss(params, x_i, ctx_i, e_i):
            xb = x_i[None]
            cb = None if ctx_i is None else ctx_i[None]
            mu, logvar = functional_call(modules["encoder"], {n[8:]: p for n, p in params.items()
                                                               if n.startswith("encoder.")}, (xb, cb))
            z = mu + torch.exp(0.5 * logvar) * e_i[None]
            dec = {n[8:]: p for n, p in params.items() if n.startswith("decoder.")}
            raw = functional_call(modules["decoder"], dec, (z, cb))
            rec = raw.new_zeros(())
            if k:
                sigma = dec["sigma"]
                rec = rec + (((xb[:, :k] - torch.tanh(raw[:, :k])) ** 2) / (2 * sigma ** 2)).sum() + torch.log(sigma).sum()
            if n_seg:  # softmax cross-entropy per segment (slices: vmap has no in-place index_add)
                oh = raw[:, k:]
                lse = sum(torch.logsumexp(oh[:, a:a + w], dim=1).sum() for a, w in spans)
                rec = rec + lse - (xb[:, k:] * oh).sum()
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()
            return loss_factor * rec + kl

        inputs = (x, ctx, eps)
        in_dims = (0, None if ctx is None else 0, 0)
        grads = self.plan.gradient(row_loss, self.params, inputs, in_dims=in_dims)
        _grads_to(self.modules, grads)
        m.opt.step()
        with torch.no_grad():
            m.decoder.sigma.clamp_(0.01, 1.0)

    def train_epoch(self) -> dict[str, float]:
        """One epoch; no loss is reported (the ELBO of real rows would be a statistic without noise)."""
        steps = 0
        for _ in range(self.plan.steps_per_epoch):
            if not self.plan.can_step():
                self.exhausted = True
                break
            self._step()
            steps += 1
        return {"private_steps": float(steps)}

    def epoch_info(self) -> dict[str, Any]:
        return self.plan.epoch_info()


TRAINERS = {"ctgan": DPCTGANTrainer, "tvae": DPTVAETrainer}
