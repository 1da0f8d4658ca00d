"""CTGAN and TVAE table generators (Xu et al. 2019), registered as ``ctgan`` and ``tvae``.

This module imports no torch: the component classes are cheap to register and list. Training and
sampling import :mod:`hiveframe_ctgan._train` (torch) inside ``_fit``/``_sample``.

Encoding. Numbers and datetimes use the VGM transformer (mode-specific normalisation); categories,
booleans and anything else use the builtin ``onehot`` transformer (null is one more category). A
one-hot block wider than ``embedding_threshold`` is *embedded*: the critic, the TVAE encoder and the
context inputs see it through a learned embedding (``min(50, 1.6 K^0.56)`` wide), while generators
still output a softmax over all K categories, so every category can be generated and the conditional
vector keeps one slot per category. Keys never reach a generator (the engine strips them).

Context. Context columns (parent attributes) are encoded separately and given to the generator (and
the critic, and the TVAE encoder and decoder) as extra inputs; at sampling time each row gets its
context row. With context, CTGAN trains half of each batch without a conditional vector (real rows
drawn uniformly) and samples that way, so generated rows follow P(row | context) rather than the
log-frequency-balanced conditional used to cover rare categories.

Null rules. When a discrete column fixes exactly whether a continuous column is null (AirBnB's
``date_first_booking`` is null exactly for ``NDF``), generated rows are made to obey it, since a GAN
learns such a dependence only after many epochs (see :class:`hiveframe_ctgan._data.NullRule`).

Validation. A fraction of the rows (``validation_fraction``) is held out; after every epoch the model
generates as many rows (with fixed noise) and scores them against the held-out rows with a cheap
fidelity score (column shapes and pair trends, see :class:`hiveframe_ctgan._data.FidelityScorer`).
Training stops after ``patience`` epochs without improvement (``epochs`` is the maximum) and the best
weights are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.encoding import TableEncoder
from hiveframe.components.generators import TableGenerator, TrainingCallback
from hiveframe.errors import ConfigError, DataError, NotFittedError, PersistenceError, Problem
from hiveframe_ctgan import __version__
from hiveframe_ctgan._data import (
    CONTINUOUS_KINDS,
    CondSampler,
    FidelityScorer,
    Layout,
    NullRule,
    NullRulePlace,
    apply_null_rules,
    build_layout,
    discrete_codes,
    encode_permuted,
    find_null_rules,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.transformers import Transformer
    from hiveframe.metadata import Column, Table

log = logging.getLogger(__name__)

STATE_FORMAT = 1
#: parameters that do not change what is learnt (a checkpoint stays valid when they change)
_RUN_PARAMS = {"epochs", "patience", "checkpoint_every", "verbose", "device", "max_seconds", "max_tries",
               "transformers", "threads"}
_MIN_VALIDATION_ROWS = 100


def _dims(value: Any) -> Any:
    """Layer sizes as a tuple of ints; anything else is kept as given and refused, by name, when checked."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return value


def _dims_problem(name: str, value: Any, *, allow_empty: bool = True) -> str | None:
    if (isinstance(value, tuple) and all(v >= 1 for v in value) and (allow_empty or value)):
        return None
    return f"{name} must be a list of positive layer sizes, e.g. [256, 256], got {value!r}"


def _rate_problem(name: str, value: Any, *, zero: bool = False) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value >= 0 if zero else value > 0):
        return None
    return f"{name} must be a {'non-negative' if zero else 'positive'} number, got {value!r}"


def _device_ok(device: str) -> bool:
    return device in ("auto", "cpu", "cuda") or device.startswith("cuda:")


@attrs.define(kw_only=True, eq=False)
class NeuralTableGenerator(TableGenerator):
    """What CTGAN and TVAE share: encoding, validation, early stopping, checkpoints, sampling."""

    requires: ClassVar[tuple[str, ...]] = ("torch",)
    extra: ClassVar[str | None] = "ctgan"
    model_kind: ClassVar[str] = ""
    supports_dp: ClassVar[bool] = True  # DP-SGD (hiveframe_ctgan._dp)
    neural: ClassVar[bool] = True

    epochs: int = 300
    batch_size: int = 500
    embedding_dim: int = 128
    embedding_threshold: int = 50
    #: epochs without a better validation score before stopping; None trains all ``epochs`` on every
    #: row and keeps the last weights (no rows are held out)
    patience: int | None = 30
    #: share of rows held out for the validation score (with ``patience``); 0 disables validation and
    #: early stopping
    validation_fraction: float = 0.1
    #: write a checkpoint every N epochs when the engine gives a work folder (None: never)
    checkpoint_every: int | None = 10
    #: wall-clock limit for the whole fit: no epoch starts that would end after it (at least one runs)
    max_seconds: float | None = None
    device: str = "auto"
    #: torch intra-op threads while fitting and sampling (None: leave torch's setting alone). One by
    #: default: torch's own choice (a thread per core) spin-waits on cores other processes hold, and on a
    #: shared 2-core machine an epoch took 20-50x longer; one thread costs little on a quiet machine
    #: (benchmarks/RESULTS.md, "threads").
    threads: int | None = 1
    #: ``float32``, or ``bfloat16`` mixed precision for the training forward passes (opt-in: faster
    #: matmuls on CPUs with bf16 units and on recent GPUs, but lower quality measured on census)
    precision: str = "float32"
    verbose: bool = False
    #: rounds of rejection sampling for ``conditions`` before giving up
    max_tries: int = 20

    _encoder: TableEncoder | None = attrs.field(default=None, init=False)
    _ctx_encoder: TableEncoder | None = attrs.field(default=None, init=False)
    _layout: Layout | None = attrs.field(default=None, init=False)
    _ctx_layout: Layout | None = attrs.field(default=None, init=False)
    _counts: list[np.ndarray] = attrs.field(factory=list, init=False)
    _null_rules: list[NullRule] = attrs.field(factory=list, init=False)
    _config: dict[str, Any] = attrs.field(factory=dict, init=False)
    _arrays: dict[str, np.ndarray] = attrs.field(factory=dict, init=False)
    _fit_info: dict[str, Any] = attrs.field(factory=dict, init=False)
    _model: Any = attrs.field(default=None, init=False)
    _private: Any = attrs.field(default=None, init=False)  # set only during fit_private

    def __attrs_post_init__(self) -> None:
        problems = self._parameter_problems()
        if problems:
            raise ConfigError(f"{self.name}: " + "; ".join(problems))

    # -- parameters --------------------------------------------------------------------------------
    def _parameter_problems(self) -> list[str]:
        out = []
        if not isinstance(self.embedding_threshold, int) or self.embedding_threshold < 2:
            out.append(f"embedding_threshold must be an integer of at least 2, got {self.embedding_threshold!r} "
                       "(it is the number of categories above which a column is embedded)")
        for name in ("epochs", "batch_size", "embedding_dim", "max_tries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                out.append(f"{name} must be a positive integer, got {value!r}")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            out.append(f"patience must be a positive integer or None, got {self.patience!r}")
        if self.checkpoint_every is not None and (not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 1):
            out.append(f"checkpoint_every must be a positive integer or None, got {self.checkpoint_every!r}")
        if not 0 <= float(self.validation_fraction) < 0.5:
            out.append(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction!r}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            out.append(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            out.append(f"threads must be a positive integer or None, got {self.threads!r}")
        if self.precision not in ("float32", "bfloat16"):
            out.append(f"precision must be 'float32' or 'bfloat16', got {self.precision!r}")
        if not isinstance(self.device, str) or not _device_ok(self.device):
            out.append(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        return out

    def _model_config(self, batch_size: int) -> dict[str, Any]:
        """The JSON config the torch model is built from (subclasses add their own)."""
        return {"embedding_dim": self.embedding_dim, "batch_size": batch_size, "precision": self.precision}

    def _effective_batch_size(self) -> int:
        return self.batch_size

    # -- encoding ----------------------------------------------------------------------------------
    def _default_transformer(self, column: Column) -> Transformer:
        from hiveframe.baseline import OneHotTransformer
        from hiveframe_ctgan.transformers import VGMTransformer

        if column.kind in CONTINUOUS_KINDS:
            return VGMTransformer()
        return OneHotTransformer()

    def _encode_context(self, data: pa.Table) -> np.ndarray | None:
        """Context rows as a permuted matrix; a category the fit never saw becomes an all-zero block."""
        enc, layout = self._ctx_encoder, self._ctx_layout
        if enc is None or layout is None or not enc.columns:
            return None
        blocks = []
        for column, t in zip(enc.columns, enc.transformers, strict=True):
            values = data.column(column.name)
            block = t.transform_or_nan(values) if hasattr(t, "transform_or_nan") else t.transform(values)
            blocks.append(np.nan_to_num(np.asarray(block, dtype=np.float64).reshape(len(values), -1)))
        return layout.forward(np.concatenate(blocks, axis=1))

    def _decode(self, matrix: np.ndarray) -> dict[str, pa.Array]:
        assert self._encoder is not None and self._layout is not None
        return self._encoder.reverse(self._layout.backward(matrix))

    # -- exact null dependencies ---------------------------------------------------------------
    def _find_null_rules(self, x_train: np.ndarray, codes: Sequence[np.ndarray]) -> list[NullRule]:
        """Continuous columns whose nulls a discrete column fixes exactly in the training rows (see
        :class:`hiveframe_ctgan._data.NullRule`)."""
        from hiveframe_ctgan.transformers import VGMTransformer

        assert self._encoder is not None and self._layout is not None
        nulls = {}
        for s in self._layout.segments:
            t = self._encoder.transformers[s.column]
            if not s.discrete and isinstance(t, VGMTransformer) and t.has_null_mode:
                nulls[s.column] = x_train[:, s.start + s.width - 1] > 0.5
        if not nulls:
            return []
        sources = {s.column: (c, s.width) for s, c in zip(self._layout.discrete_segments, codes, strict=True)}
        rules = find_null_rules(nulls, sources)
        for r in rules:
            log.info("%s: %s is null exactly for some categories of %s; generated rows keep that", self.name,
                     self._encoder.columns[r.target].name, self._encoder.columns[r.source].name)
        return rules

    def _null_rule_places(self) -> list[NullRulePlace]:
        """The rules' positions in the permuted matrix."""
        from hiveframe_ctgan.transformers import VGMTransformer

        if not self._null_rules:
            return []
        assert self._encoder is not None and self._layout is not None
        inverse = self._layout.positions()
        slices = self._encoder.column_slices()
        places = []
        for r in self._null_rules:
            source = next(s for s in self._layout.segments if s.column == r.source and s.discrete)
            target = next(s for s in self._layout.segments if s.column == r.target and not s.discrete)
            t = self._encoder.transformers[r.target]
            assert isinstance(t, VGMTransformer)
            places.append(NullRulePlace(r, source, target, int(inverse[slices[r.target].start]), t.modes[0]))
        return places

    # -- fit ---------------------------------------------------------------------------------------
    def _fit_private(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
                     callback: TrainingCallback | None, workdir: Path | None, private: Any) -> None:
        """Fit with differential privacy (``fit_private``, the public seam of ``hiveframe.components``).

        ``private`` holds the surrogate table built from noisy statistics, on which the encoders,
        the layout and the category counts of the conditional vector are fitted, and the DP-SGD
        machinery that alone touches ``data`` (the cleaned real rows): see :mod:`hiveframe_ctgan._dp`.
        Validation for early stopping compares generated rows with the surrogate's noisy marginals
        (column shapes only), and no checkpoint is written (resuming would lose the accountant).
        """
        self._private = private
        try:
            self._fit(data, table, context_columns=context_columns, seed=seed, callback=callback, workdir=None)
        finally:
            self._private = None

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        if self._private is not None:
            self._train_private(data, table, context_columns=context_columns, seed=seed, callback=callback)
            return
        import time

        from hiveframe_ctgan import _train

        if data.num_rows == 0:
            raise DataError([Problem("the table has no rows to learn from", table=table.name)])
        started = time.perf_counter()
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        batch = self._effective_batch_size()
        model_cols = [c for c in table.columns if c.name not in context_columns]
        ctx_cols = [table.column(c) for c in context_columns]
        if not model_cols:
            raise DataError([Problem("no columns left to model (every column is a context column)", table=table.name)])

        n = data.num_rows
        rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
        # a fixed number of epochs (no patience) trains on every row: holding rows out, and then
        # keeping the epoch a fidelity proxy liked best, cost census 0.02 of TSTR AUC at 100 epochs
        n_val = int(n * float(self.validation_fraction)) if self.patience is not None else 0
        if 0 < n_val < _MIN_VALIDATION_ROWS or n - n_val < _MIN_VALIDATION_ROWS:
            if n_val:
                log.info("%s %s: %d rows are too few to hold out a validation set; early stopping is off",
                         self.name, table.name, n)
            n_val = 0
        order = rng.permutation(n) if n_val else np.arange(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])

        # encoders fitted on every row; only the training rows are encoded for the networks
        self._encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
        self._encoder.fit(data, model_cols, seed=seed)
        self._layout, x_train, codes = encode_permuted(self._encoder, data, self.embedding_threshold,
                                                       rows=train_idx if n_val else None)
        ctx = None
        self._ctx_encoder, self._ctx_layout = None, None
        if ctx_cols:
            self._ctx_encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
            self._ctx_encoder.fit(data, ctx_cols, seed=seed + 7919)
            self._ctx_layout, ctx, _ = encode_permuted(self._ctx_encoder, data, self.embedding_threshold)
        segments = self._layout.discrete_segments
        self._counts = [np.bincount(c, minlength=s.width).astype(np.int64) for c, s in zip(codes, segments, strict=True)]
        sampler = CondSampler(self._counts, codes, log_frequency=getattr(self, "log_frequency", True),
                              n_rows=len(x_train))
        self._null_rules = self._find_null_rules(x_train, codes)
        places = self._null_rule_places()
        scorer = None
        if n_val:
            scorer = FidelityScorer(data.take(val_idx), model_cols, seed=seed)
        train_data = _train.TrainData(
            x=x_train, ctx=ctx[train_idx] if ctx is not None else None, layout=self._layout,
            ctx_layout=self._ctx_layout, sampler=sampler,
            val_ctx=ctx[val_idx] if ctx is not None and n_val else None, n_val=n_val)
        if n < batch:
            log.info("%s %s: %d rows, fewer than one batch of %d; batches are drawn with replacement",
                     self.name, table.name, n, batch)

        self._config = self._model_config(batch)
        device = _train_device(self.device)
        preprocess_seconds = time.perf_counter() - started
        store = None
        if workdir is not None and self.checkpoint_every:
            store = _train.CheckpointStore(Path(workdir), self.model_kind, __version__,
                                           self._fingerprint(seed, x_train, ctx, table), device)

        def score(matrix: np.ndarray) -> float:
            assert scorer is not None
            matrix = apply_null_rules(matrix, places, np.random.default_rng(seed + 104729))
            return scorer.score(self._decode(matrix))

        with _torch_threads(self.threads):
            result = _train.train(
                self.model_kind, self._config, train_data, seed=seed, device=device, epochs=self.epochs,
                patience=self.patience, score=score if scorer is not None else None, val_seed=seed + 104729,
                callback=callback, table_name=table.name, store=store, checkpoint_every=self.checkpoint_every,
                verbose=self.verbose,
                deadline=started + self.max_seconds if self.max_seconds is not None else None)
        self._arrays = result.arrays
        self._model = None
        self._fit_info = {
            "epochs_trained": result.epochs_trained, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "resumed_from": result.resumed_from,
            "train_rows": int(len(train_idx)), "validation_rows": int(n_val), "seed": seed,
            "device": str(device), "preprocess_seconds": round(preprocess_seconds, 4),
            "train_seconds": round(result.train_seconds, 4),
            "validation_seconds": round(sum(h.get("validation_seconds", 0.0) for h in result.history), 4),
            "null_rules": [{"column": self._encoder.columns[r.target].name,
                            "given": self._encoder.columns[r.source].name} for r in self._null_rules],
            "history": [{"epoch": h["epoch"], "validation": h["validation"],
                         **{k: round(float(v), 6) for k, v in h["losses"].items()}} for h in result.history],
        }

    def _train_private(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
                     callback: TrainingCallback | None) -> None:
        import time

        from hiveframe_ctgan import _train

        private = self._private
        started = time.perf_counter()
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        model_cols = [c for c in table.columns if c.name not in context_columns]
        ctx_cols = [table.column(c) for c in context_columns]
        if not model_cols:
            raise DataError([Problem("no columns left to model (every column is a context column)", table=table.name)])
        surrogate = private.surrogate
        # everything saved about the data is fitted on the surrogate (noisy marginals)
        self._encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
        self._encoder.fit(surrogate, model_cols, seed=seed)
        surrogate_encoded = self._encoder.transform(surrogate)
        self._layout = build_layout(self._encoder, surrogate_encoded, self.embedding_threshold)
        x_surrogate = self._layout.forward(surrogate_encoded)
        x = self._layout.forward(self._encoder.transform(data))  # real rows: only for DP-SGD
        ctx = surrogate_ctx = None
        self._ctx_encoder, self._ctx_layout = None, None
        if ctx_cols:
            self._ctx_encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
            self._ctx_encoder.fit(surrogate, ctx_cols, seed=seed + 7919)
            ctx_surrogate = self._ctx_encoder.transform(surrogate)
            self._ctx_layout = build_layout(self._ctx_encoder, ctx_surrogate, self.embedding_threshold)
            surrogate_ctx = self._ctx_layout.forward(ctx_surrogate)
            ctx = self._ctx_layout.forward(self._ctx_encoder.transform(data))
        segments = self._layout.discrete_segments
        codes = discrete_codes(x_surrogate, segments)
        self._null_rules = []  # finding them would read the real rows outside DP-SGD
        self._counts = [np.bincount(c, minlength=s.width).astype(np.int64) for c, s in zip(codes, segments, strict=True)]
        sampler = CondSampler(self._counts, log_frequency=getattr(self, "log_frequency", True))
        # validation against the noisy marginals (free: post-processing), for early stopping
        n_val = min(surrogate.num_rows, 2000) if self.validation_fraction > 0 else 0
        scorer = FidelityScorer(surrogate.slice(0, n_val), model_cols, max_pairs=0, seed=seed) if n_val else None
        train_data = _train.TrainData(
            x=x, ctx=ctx, layout=self._layout, ctx_layout=self._ctx_layout, sampler=sampler,
            val_ctx=surrogate_ctx[:n_val] if surrogate_ctx is not None and n_val else None, n_val=n_val,
            surrogate_ctx=surrogate_ctx)
        batch = self.batch_size
        self._config = self._model_config(batch)
        if "pac" in self._config and private.pac is not None:
            self._config["pac"] = int(private.pac)
        device = _train_device(self.device)

        def score(matrix: np.ndarray) -> float:
            assert scorer is not None
            return scorer.score(self._decode(matrix))

        with _torch_threads(self.threads):
            result = _train.train(
                self.model_kind, self._config, train_data, seed=seed, device=device, epochs=self.epochs,
                patience=self.patience, score=score if scorer is not None else None, val_seed=seed + 104729,
                callback=callback, table_name=table.name, store=None, checkpoint_every=None, verbose=self.verbose,
                deadline=started + self.max_seconds if self.max_seconds is not None else None, private=private)
        self._arrays = result.arrays
        self._model = None
        self._fit_info = {
            "epochs_trained": result.epochs_trained, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "train_rows": int(private.rows), "validation_rows": 0,
            "validation": "noisy marginals (column shapes)", "seed": seed, "device": str(device),
            # no timings: how long the real rows took to encode and train on grows with their exact count
            "history": [{"epoch": h["epoch"], "validation": h["validation"], "epsilon": h.get("epsilon"),
                         **{k: round(float(v), 6) for k, v in h["losses"].items()}} for h in result.history],
        }

    def _fingerprint(self, seed: int, x: np.ndarray, ctx: np.ndarray | None, table: Table) -> str:
        """What a checkpoint must match to be resumed: parameters that shape learning, seed and data."""
        params = {k: v for k, v in self.get_params().items() if k not in _RUN_PARAMS}
        digest = hashlib.sha256(json.dumps({"params": params, "seed": seed, "table": table.to_dict(),
                                            "config": self._config}, sort_keys=True, default=str).encode())
        digest.update(np.ascontiguousarray(x).tobytes())
        if ctx is not None:
            digest.update(np.ascontiguousarray(ctx).tobytes())
        return digest.hexdigest()

    @property
    def fit_info(self) -> dict[str, Any]:
        """Epochs trained, best epoch, whether training stopped early, and per-epoch losses."""
        return dict(self._fit_info)

    # -- sample ------------------------------------------------------------------------------------
    def _torch_model(self):
        if self._model is None:
            from hiveframe_ctgan import _train

            if not self._arrays or self._layout is None:
                raise NotFittedError(f"generator {self.name!r} has no trained weights")
            n_cond = int(sum(len(c) for c in self._counts))
            self._model = _train.load_model(self.model_kind, self._config, self._layout, self._ctx_layout, n_cond,
                                            self._arrays, _train_device(self.device))
        return self._model

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        with _torch_threads(self.threads):
            return self._sample_rows(num_rows, context=context, conditions=conditions, seed=seed)

    def _sample_rows(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                     seed: int | None) -> pa.Table:
        from hiveframe_ctgan import _nn

        table = self.fitted_table
        out_columns = [c for c in table.columns if c.name not in self._context_columns]
        if num_rows == 0:
            return _empty_table(out_columns)
        model = self._torch_model()
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
        gen = _nn.make_generator(int(np.random.SeedSequence([seed, 22]).generate_state(1)[0]), model.device)
        ctx = self._encode_context(context) if context is not None else None
        sampler = CondSampler(self._counts)
        if conditions:
            matrix = self._sample_conditional(model, num_rows, ctx, conditions, sampler, rng, gen)
        else:
            cond = (np.full(num_rows, sampler.n_cats, dtype=np.int64) if ctx is not None
                    else sampler.sample_original(num_rows, rng))
            matrix = apply_null_rules(model.generate(num_rows, cond, ctx, gen), self._null_rule_places(), rng)
        return _to_table(self._decode(matrix), out_columns)

    def _sample_conditional(self, model, n: int, ctx: np.ndarray | None, conditions: Mapping[str, Any],
                            sampler: CondSampler, rng: np.random.Generator, gen) -> np.ndarray:
        """Rows that satisfy ``conditions``: the conditional vector for one discrete column (CTGAN),
        then rejection sampling, in rounds, for every condition."""
        import pyarrow as pa

        assert self._encoder is not None and self._layout is not None
        table = self.fitted_table
        by_column = {c.name: (i, t) for i, (c, t)
                     in enumerate(zip(self._encoder.columns, self._encoder.transformers, strict=True))}
        seg_of_column = {s.column: s for s in self._layout.discrete_segments}
        discrete: list[tuple[str, Any, int, int]] = []  # column, segment, category index, global id
        others: list[tuple[str, Any]] = []
        problems = []
        offsets = np.concatenate([[0], np.cumsum([s.width for s in self._layout.discrete_segments])])
        seg_rank = {s.column: r for r, s in enumerate(self._layout.discrete_segments)}
        for name, value in conditions.items():
            i, transformer = by_column[name]
            seg = seg_of_column.get(i)
            if seg is None:
                others.append((name, value))
                continue
            try:
                onehot = transformer.transform(pa.array([value]))
            except DataError as exc:
                first = exc.problems[0]
                problems.append(Problem(f"condition {name}={value!r} cannot be met: {first.message}",
                                        table=table.name, column=name, hint=first.hint))
                continue
            k = int(np.asarray(onehot)[0].argmax())
            r = seg_rank[i]
            discrete.append((name, seg, k, int(offsets[r] + k)))
        DataError.raise_if_any(problems)

        if discrete and self.model_kind == "ctgan":
            # the rarest conditioned category goes into the conditional vector
            cond_id = min(discrete, key=lambda d: self._counts[seg_rank[d[1].column]][d[2]])[3]
        else:
            cond_id = None

        def accept(m: np.ndarray) -> np.ndarray:
            ok = np.ones(len(m), dtype=bool)
            for _, seg, k, _ in discrete:
                ok &= m[:, seg.start : seg.start + seg.width].argmax(axis=1) == k
            if others and ok.any():
                cols = self._decode(m)
                for name, value in others:
                    ok &= _equals(cols[name], value)
            return ok

        out = np.zeros((n, self._layout.width), dtype=np.float32)
        places = self._null_rule_places()
        pending = np.arange(n)
        rate = 1.0
        generated = 0
        cap = max(n, min(200_000, 20_000_000 // max(1, self._layout.width)))  # candidates per round
        for _ in range(self.max_tries):
            if not len(pending):
                break
            reps = int(min(64, max(1, math.ceil(1.2 / max(rate, 1e-6)))))
            slots = np.repeat(pending, reps)[: max(len(pending), cap)]
            cond = (np.full(len(slots), cond_id, dtype=np.int64) if cond_id is not None else
                    np.full(len(slots), sampler.n_cats, dtype=np.int64) if ctx is not None
                    else sampler.sample_original(len(slots), rng))
            m = model.generate(len(slots), cond, ctx[slots] if ctx is not None else None, gen)
            m = apply_null_rules(m, places, rng)
            ok = accept(m)
            generated += len(slots)
            rate = max(float(ok.mean()), 1e-6)
            hit_slots, first = np.unique(slots[ok], return_index=True)
            out[hit_slots] = m[np.flatnonzero(ok)[first]]
            pending = np.setdiff1d(pending, hit_slots, assume_unique=True)
        if len(pending):
            shown = ", ".join(f"{k}={v!r}" for k, v in conditions.items())
            raise ConfigError(
                f"table {table.name!r}: could generate only {n - len(pending)} of {n} rows with {shown} "
                f"after {generated} tries (about {rate:.2%} of generated rows match)",
                hint="the model rarely produces these values: condition on categorical columns, on fewer "
                "columns, on values that occur in the data, or raise max_tries")
        return out

    # -- state -------------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        if self._encoder is None or self._layout is None:
            raise NotFittedError(f"generator {self.name!r} used before fit()")
        state = ComponentState(values={
            "format": STATE_FORMAT, "model": self.model_kind, "version": __version__, "config": self._config,
            "layout": self._layout.to_json(),
            "ctx_layout": self._ctx_layout.to_json() if self._ctx_layout is not None else None,
            "n_counts": len(self._counts), "fit": self._fit_info,
            "null_rules": [r.to_json() for r in self._null_rules],
        })
        state.put_child("encoder", self._encoder.get_state())
        if self._ctx_encoder is not None:
            state.put_child("ctx_encoder", self._ctx_encoder.get_state())
        for i, c in enumerate(self._counts):
            state.arrays[f"counts/{i}"] = np.asarray(c, dtype=np.int64)
        for k, v in self._arrays.items():
            state.arrays[f"net/{k}"] = v
        return state

    def _set_state(self, state: ComponentState) -> None:
        v = state.values
        if v.get("model") != self.model_kind or int(v.get("format", -1)) != STATE_FORMAT:
            raise PersistenceError(f"saved state is for model {v.get('model')!r} (format {v.get('format')}), "
                                   f"not {self.model_kind!r} (format {STATE_FORMAT})", hint="refit the model")
        table = self.fitted_table
        columns = list(table.columns)
        self._config = dict(v["config"])
        self._layout = Layout.from_json(v["layout"])
        self._ctx_layout = Layout.from_json(v["ctx_layout"]) if v.get("ctx_layout") else None
        self._encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
        self._encoder.set_state(state.child("encoder"), columns)
        self._ctx_encoder = None
        if self._ctx_layout is not None:
            self._ctx_encoder = TableEncoder(self._default_transformer, overrides=self.transformers)
            self._ctx_encoder.set_state(state.child("ctx_encoder"), columns)
        self._counts = [np.asarray(state.arrays[f"counts/{i}"], dtype=np.int64) for i in range(int(v["n_counts"]))]
        self._null_rules = [NullRule.from_json(r) for r in v.get("null_rules") or []]
        self._arrays = {k[4:]: a for k, a in state.arrays.items() if k.startswith("net/")}
        self._fit_info = dict(v.get("fit") or {})
        self._model = None


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count for the duration (it is process-wide), then restore it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_device(device: str):
    from hiveframe_ctgan._nn import resolve_device

    return resolve_device(device)


def _equals(values: pa.Array, target: Any) -> np.ndarray:
    """Row-wise ``values == target`` (null matches null), in the values' own type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if target is None:
        return np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
    try:
        scalar = pa.array([target]).cast(values.type)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return np.zeros(len(values), dtype=bool)
    eq = pc.equal(values, scalar).fill_null(False)
    return np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)


def _empty_table(columns: Sequence[Column]) -> pa.Table:
    import pyarrow as pa

    from hiveframe.arrow import arrow_type

    arrays = []
    for c in columns:
        try:
            arrays.append(pa.array([], type=arrow_type(c.dtype)))
        except (ValueError, KeyError, pa.ArrowInvalid):
            arrays.append(pa.array([], type=pa.string()))
    return pa.table(arrays, names=[c.name for c in columns])


def _to_table(columns: Mapping[str, pa.Array], order: Sequence[Column]) -> pa.Table:
    """The generated columns in metadata order, cast to their metadata types where they differ."""
    import pyarrow as pa

    from hiveframe.arrow import arrow_type

    arrays, names = [], []
    for column in order:
        arr = columns[column.name]
        try:
            target = arrow_type(column.dtype)
            if arr.type != target and not pa.types.is_null(target):
                arr = arr.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError, KeyError):
            log.debug("column %s: kept type %s (metadata says %s)", column.name, arr.type, column.dtype)
        arrays.append(arr)
        names.append(column.name)
    return pa.table(arrays, names=names)


@attrs.define(kw_only=True, eq=False)
class CTGANGenerator(NeuralTableGenerator):
    """Conditional tabular GAN: WGAN-GP critic with PacGAN, conditional vector, training-by-sampling.

    ``batch_size`` must be a multiple of ``pac``; otherwise it is raised to the next multiple with a
    warning. Defaults follow the paper and the reference implementation.
    """

    name: ClassVar[str] = "ctgan"
    model_kind: ClassVar[str] = "ctgan"

    generator_dim: tuple[int, ...] = attrs.field(default=(256, 256), converter=_dims)
    discriminator_dim: tuple[int, ...] = attrs.field(default=(256, 256), converter=_dims)
    generator_lr: float = 2e-4
    generator_decay: float = 1e-6
    discriminator_lr: float = 2e-4
    discriminator_decay: float = 1e-6
    discriminator_steps: int = 1
    pac: int = 10
    #: training-by-sampling draws categories with log(1 + frequency) (the paper); False: frequency
    log_frequency: bool = True
    #: sample from an exponential moving average of the generator's weights with this decay per step
    #: (warmed up over the first steps); None: from the last step's weights, as the paper does
    ema_decay: float | None = 0.999

    def _parameter_problems(self) -> list[str]:
        out = super()._parameter_problems()
        if not isinstance(self.pac, int) or self.pac < 1:
            out.append(f"pac must be a positive integer, got {self.pac!r}")
        if not isinstance(self.discriminator_steps, int) or self.discriminator_steps < 1:
            out.append(f"discriminator_steps must be a positive integer, got {self.discriminator_steps!r}")
        out += [p for p in (
            _dims_problem("generator_dim", self.generator_dim),
            _dims_problem("discriminator_dim", self.discriminator_dim, allow_empty=False),
            _rate_problem("generator_lr", self.generator_lr), _rate_problem("discriminator_lr", self.discriminator_lr),
            _rate_problem("generator_decay", self.generator_decay, zero=True),
            _rate_problem("discriminator_decay", self.discriminator_decay, zero=True)) if p]
        decay = self.ema_decay
        if decay is not None and (isinstance(decay, bool) or not isinstance(decay, float | int) or not 0 < decay < 1):
            out.append(f"ema_decay must be a number in (0, 1) or None, got {self.ema_decay!r}")
        return out

    def _effective_batch_size(self) -> int:
        if self.batch_size % self.pac:
            fixed = self.pac * math.ceil(self.batch_size / self.pac)
            # logged, not warnings.warn: the CLI shows hiveframe's log, and a user must see this
            log.warning("ctgan: batch_size=%d is not a multiple of pac=%d; using batch_size=%d",
                        self.batch_size, self.pac, fixed)
            return fixed
        return self.batch_size

    def _model_config(self, batch_size: int) -> dict[str, Any]:
        return {**super()._model_config(batch_size), "generator_dim": list(self.generator_dim),
                "discriminator_dim": list(self.discriminator_dim), "generator_lr": self.generator_lr,
                "generator_decay": self.generator_decay, "discriminator_lr": self.discriminator_lr,
                "discriminator_decay": self.discriminator_decay, "discriminator_steps": self.discriminator_steps,
                "pac": self.pac, "ema_decay": self.ema_decay}


@attrs.define(kw_only=True, eq=False)
class TVAEGenerator(NeuralTableGenerator):
    """Tabular VAE: Gaussian scalars with learned sigmas, softmax spans; a conditional VAE on context."""

    name: ClassVar[str] = "tvae"
    model_kind: ClassVar[str] = "tvae"

    compress_dims: tuple[int, ...] = attrs.field(default=(128, 128), converter=_dims)
    decompress_dims: tuple[int, ...] = attrs.field(default=(128, 128), converter=_dims)
    learning_rate: float = 1e-3
    l2scale: float = 1e-5
    loss_factor: float = 2.0

    def _parameter_problems(self) -> list[str]:
        out = super()._parameter_problems()
        out += [p for p in (
            _dims_problem("compress_dims", self.compress_dims), _dims_problem("decompress_dims", self.decompress_dims),
            _rate_problem("learning_rate", self.learning_rate), _rate_problem("l2scale", self.l2scale, zero=True),
            _rate_problem("loss_factor", self.loss_factor)) if p]
        return out

    def _model_config(self, batch_size: int) -> dict[str, Any]:
        return {**super()._model_config(batch_size), "compress_dims": list(self.compress_dims),
                "decompress_dims": list(self.decompress_dims), "learning_rate": self.learning_rate,
                "l2scale": self.l2scale, "loss_factor": self.loss_factor}


GENERATORS: list[type[TableGenerator]] = [CTGANGenerator, TVAEGenerator]
