"""The ``autoregressive`` table generator (TabularARGN-style, written from arXiv 2501.12012).

Every column becomes one or two discrete tokens (:mod:`hiveframe_autoregressive._tokens`); a small
network predicts each token from the tokens of the columns before it in a random order, with the
context columns (parent attributes) always visible (:mod:`hiveframe_autoregressive._model`). Because
it learnt every order, sampling can fix any set of columns (``conditions``) and draw the others given
them: no rejection sampling. Unconditional sampling follows the table's column order, which a share of
the training rows (``fixed_order_share``) also uses.

This module imports no torch: the class is cheap to register and list.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.generators import TableGenerator, TrainingCallback
from hiveframe.errors import ConfigError, DataError, NotFittedError, PersistenceError, Problem
from hiveframe_autoregressive import __version__
from hiveframe_autoregressive import _offsets as offsets_
from hiveframe_autoregressive._offsets import Offset
from hiveframe_autoregressive._tokens import Codec

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column, Table

log = logging.getLogger(__name__)

STATE_FORMAT = 1
MODEL_NAME = "autoregressive"
#: parameters that do not change what is learnt (a checkpoint stays valid when they change)
_RUN_PARAMS = {"epochs", "patience", "checkpoint_every", "verbose", "device", "max_seconds", "threads",
               "temperature", "min_condition_probability", "transformers"}
_MIN_VALIDATION_ROWS = 50
#: first-layer weights above which the fit warns (wide tables: it grows with columns squared)
_LARGE_FIRST_LAYER = 20_000_000
#: optimiser steps per epoch at least (small tables get smaller batches)
MIN_STEPS_PER_EPOCH = 10


@attrs.define(kw_only=True, eq=False)
class AutoregressiveGenerator(TableGenerator):
    """Columns as tokens, each predicted from the columns before it over random column orders.

    ``min_count`` protects rare values: a category seen in fewer rows is never generated (nor may it be
    used in ``conditions``), and numbers are clipped to their ``min_count``-th smallest and largest values.
    Under the ``dp`` privacy wrapper every step is DP-SGD (:mod:`hiveframe_autoregressive._dp`). ``temperature`` below 1 sharpens every token's distribution, above 1
    flattens it.
    """

    name: ClassVar[str] = "autoregressive"
    requires: ClassVar[tuple[str, ...]] = ("torch",)
    extra: ClassVar[str | None] = "autoregressive"
    supports_dp: ClassVar[bool] = True  # DP-SGD (hiveframe_autoregressive._dp)

    epochs: int = 100
    batch_size: int = 512
    learning_rate: float = 2e-3
    embedding_dim: int = 8
    hidden: int = 128
    #: epochs without a lower held-out loss before stopping; None trains every epoch on every row
    patience: int | None = 5
    validation_fraction: float = 0.1
    #: a category seen in fewer rows is never emitted, numbers are clipped to their min_count-th smallest and
    #: largest values (value protection of rare categories and extreme numbers; 1 turns it off)
    min_count: int = 5
    numeric_bins: int = 32
    fine_bins: int = 16
    #: share of training rows that use the table's column order instead of a random one
    fixed_order_share: float = 0.8
    temperature: float = 1.0
    #: conditions whose combination the model gives less probability than this are refused
    min_condition_probability: float = 1e-3
    checkpoint_every: int | None = 5
    max_seconds: float | None = None
    device: str = "auto"
    #: matmul precision of training: "auto" (bfloat16 where the hardware is fast at it: CUDA, CPUs with
    #: AMX), "float32" or "bfloat16"; weights are kept and saved in float32 either way
    precision: str = "auto"
    #: torch intra-op threads while fitting and sampling (None: leave torch's setting alone)
    threads: int | None = 1
    verbose: bool = False
    #: child tables: True models the driver relationship as sequences (all children of a parent
    #: together), False as rows drawn one by one; None lets the relational engine's rule decide
    sequential: bool | None = None
    #: learn a date or number column that real rows always keep at or after another one as the gap from
    #: it (:mod:`._offsets`), so synthetic rows keep the order (off under differential privacy)
    offsets: bool = True

    _sequences: dict[str, Any] | None = attrs.field(default=None, init=False)
    _codecs: list[Codec] = attrs.field(factory=list, init=False)
    #: ordered columns learnt as gaps from their anchors (:mod:`._offsets`)
    _offsets: list[Offset] = attrs.field(factory=list, init=False)
    _ctx_codecs: list[Codec] = attrs.field(factory=list, init=False)
    _layout: Any = attrs.field(default=None, init=False)
    _config: dict[str, Any] = attrs.field(factory=dict, init=False)
    _arrays: dict[str, np.ndarray] = attrs.field(factory=dict, init=False)
    _fit_info: dict[str, Any] = attrs.field(factory=dict, init=False)
    _net: Any = attrs.field(default=None, init=False)
    #: sampling setups of ``_net`` (:func:`._model.generate`'s cache), dropped with it
    _plans: dict[Any, Any] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        problems = self._parameter_problems()
        if problems:
            raise ConfigError(f"{self.name}: " + "; ".join(problems))

    def _parameter_problems(self) -> list[str]:
        out = []
        for name in ("epochs", "batch_size", "embedding_dim", "hidden", "min_count", "numeric_bins", "fine_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.append(f"{name} must be a positive integer, got {value!r}")
        for name in ("patience", "checkpoint_every", "threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                out.append(f"{name} must be a positive integer or None, got {value!r}")
        if not isinstance(self.offsets, bool):
            out.append(f"offsets must be true or false, got {self.offsets!r}")
        if self.sequential is not None and not isinstance(self.sequential, bool):
            out.append(f"sequential must be true, false or None, got {self.sequential!r}")
        if not 0 <= float(self.validation_fraction) < 0.5:
            out.append(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction!r}")
        if not 0 <= float(self.fixed_order_share) <= 1:
            out.append(f"fixed_order_share must be in [0, 1], got {self.fixed_order_share!r}")
        if not float(self.temperature) > 0:
            out.append(f"temperature must be positive, got {self.temperature!r}")
        if not float(self.learning_rate) > 0:
            out.append(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0 <= float(self.min_condition_probability) < 1:
            out.append(f"min_condition_probability must be in [0, 1), got {self.min_condition_probability!r}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            out.append(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            out.append(f"precision must be 'auto', 'float32' or 'bfloat16', got {self.precision!r}")
        device = self.device
        if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
            out.append(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        return out

    # -- fit ---------------------------------------------------------------------------------------
    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        import time

        from hiveframe_autoregressive import _model

        started = time.perf_counter()
        self._sequences = None
        model_cols = [c for c in table.columns if c.name not in context_columns]
        problems = []
        if data.num_rows == 0:
            problems.append(Problem("the table has no rows to learn from", table=table.name))
        if not model_cols:
            problems.append(Problem("no columns left to model (every column is a context column)", table=table.name))
        DataError.raise_if_any(problems)
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        data, gap_columns = self._learn_offsets(data, table, model_cols)

        def fit_codec(column: Column) -> Codec:
            column = gap_columns.get(column.name, column)
            return Codec.fit(column, data.column(column.name), min_count=self.min_count, bins=self.numeric_bins,
                             fine_bins=self.fine_bins)

        self._codecs = [fit_codec(c) for c in model_cols]
        self._ctx_codecs = [fit_codec(table.column(c)) for c in context_columns]
        for codec in self._codecs:
            if codec.kind == "categorical" and not codec.categories and data.column(codec.name).null_count < data.num_rows:
                log.warning("%s %s: every category of column %s is seen fewer than min_count=%d times; it is "
                            "generated as null (rare categories are never emitted)", self.name, table.name,
                            codec.name, self.min_count)
        tokens = self._encode(data, self._codecs, self._ctx_codecs)
        self._layout = self._make_layout()
        first_layer = self._layout.n_targets * self._layout.n_sources * self.embedding_dim * self.hidden
        if first_layer > _LARGE_FIRST_LAYER:
            log.warning("%s %s: %d tokens make a first layer of %.0fM weights (it grows with the square of the "
                        "number of columns); lower hidden or embedding_dim if the fit is too slow", self.name,
                        table.name, self._layout.n_sources, first_layer / 1e6)

        n = data.num_rows
        rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
        n_val = int(n * float(self.validation_fraction)) if self.patience is not None else 0
        if 0 < n_val < _MIN_VALIDATION_ROWS or n - n_val < _MIN_VALIDATION_ROWS:
            n_val = 0
        order = rng.permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        self._config = {"embedding_dim": self.embedding_dim, "hidden": self.hidden,
                        "learning_rate": self.learning_rate, "batch_size": small_table_batch(self.batch_size, len(train_idx)),
                        "fixed_order_share": self.fixed_order_share, "precision": self.precision}
        device = _model.resolve_device(self.device)
        store = None
        if workdir is not None and self.checkpoint_every:
            learn = {k: v for k, v in self.get_params().items() if k not in _RUN_PARAMS}
            store = _model.CheckpointStore(Path(workdir), __version__,
                                           _model.fingerprint({**learn, "table": table.to_dict()}, seed, tokens))
        preprocess = time.perf_counter() - started
        with _torch_threads(self.threads):
            result = _model.train(
                self._layout, self._config, tokens[train_idx], tokens[val_idx] if n_val else None, seed=seed,
                device=device, epochs=self.epochs, patience=self.patience if n_val else None, callback=callback,
                table_name=table.name, store=store, checkpoint_every=self.checkpoint_every,
                deadline=started + self.max_seconds if self.max_seconds is not None else None,
                verbose=self.verbose)
        self._arrays = result.arrays
        self._net = None
        self._fit_info = {
            "epochs_trained": result.epochs_trained, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "resumed_from": result.resumed_from,
            "offsets": {o.column: o.anchor for o in self._offsets},
            "train_rows": int(len(train_idx)), "validation_rows": int(n_val), "seed": seed, "device": str(device),
            "precision": str(_model.resolve_precision(self.precision, device)).removeprefix("torch."),
            "preprocess_seconds": round(preprocess, 4), "train_seconds": round(result.train_seconds, 4),
            "history": [{"epoch": h["epoch"], "loss": round(h["loss"], 6),
                         "validation": None if h["validation"] is None else round(h["validation"], 6)}
                        for h in result.history],
        }

    def _fit_private(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
                     callback: TrainingCallback | None, workdir: Path | None, private: Any) -> None:
        """Fit with differential privacy (the ``dp`` wrapper's public seam): see :mod:`._dp`."""
        from hiveframe_autoregressive import _dp

        _dp.fit_private(self, data, table, context_columns=context_columns, seed=seed, callback=callback,
                        workdir=workdir, private=private)

    def _learn_offsets(self, data: pa.Table, table: Table, model_cols: list[Column], *,
                       private: bool = False) -> tuple[pa.Table, dict]:
        """Find the ordered columns to learn as gaps (:mod:`._offsets`) and put the gaps in ``data``;
        returns the data and each gap's column metadata (for its codec). ``private``: a differentially
        private fit, where choosing the pairs would read exact facts of the real rows: none are used."""
        if private and self.offsets:
            log.info("%s %s: offsets are off under differential privacy", self.name, table.name)
        use = self.offsets and not private
        self._offsets = offsets_.find(data, table, [c.name for c in model_cols]) if use else []
        if not self._offsets:
            return data, {}
        log.info("%s %s: learnt as gaps from an earlier column: %s", self.name, table.name,
                 ", ".join(f"{o.column} >= {o.anchor}" for o in self._offsets))
        return offsets_.to_gaps(data, self._offsets), {o.column: offsets_.gap_column(o, table) for o in self._offsets}

    def _make_layout(self):
        from hiveframe_autoregressive._model import Layout

        vocab, col, sub = [], [], []
        for i, codec in enumerate(self._codecs):
            for s, v in enumerate(codec.vocab):
                vocab.append(v)
                col.append(i)
                sub.append(s)
        ctx_vocab = [v for codec in self._ctx_codecs for v in codec.vocab]
        return Layout(vocab, col, sub, ctx_vocab)

    @staticmethod
    def _encode(data: pa.Table, codecs: Sequence[Codec], ctx_codecs: Sequence[Codec]) -> np.ndarray:
        blocks = [c.encode(data.column(c.name).combine_chunks()) for c in list(codecs) + list(ctx_codecs)]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((data.num_rows, 0), dtype=np.int64)

    @property
    def fit_info(self) -> dict[str, Any]:
        """Epochs trained, best epoch, whether training stopped early, and per-epoch losses."""
        return dict(self._fit_info)

    # -- sequences (hiveframe.components.SequenceGenerator) ----------------------------------------
    def fit_sequences(self, data: pa.Table, table: Table, *, parent_index: np.ndarray, parents: pa.Table,
                      order_by: str | None = None, seed: int | None = None,
                      callback: TrainingCallback | None = None,
                      workdir: Path | None = None) -> AutoregressiveGenerator:
        """Learn the child rows ``data`` as one sequence per parent (see :mod:`._sequences`).

        ``table`` describes the rows' columns and the parents' context columns; ``parent_index`` gives
        each row's parent (ascending, rows of a parent in order).
        """
        from hiveframe_autoregressive import _sequences as seq

        self.check_available()
        parent_index = np.asarray(parent_index, dtype=np.int64)
        seq.check_input(table, data, parent_index, parents)
        context = [c for c in table.column_names if c in parents.column_names]
        own = [c for c in table.column_names if c not in parents.column_names]
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        seeds = np.random.SeedSequence([seed, 31]).generate_state(2)
        params = {k: v for k, v in self.get_params().items() if k != "sequential"}
        counts = np.bincount(parent_index, minlength=parents.num_rows)
        lengths = AutoregressiveGenerator(**params)
        length_data = seq.hstack(parents.select(context), seq.place_columns(counts, counts - 1).select([seq.LENGTH]))
        lengths.fit(length_data, seq.length_table(table, context), context_columns=context, seed=int(seeds[0]),
                    callback=callback, workdir=(Path(workdir) / "lengths") if workdir is not None else None)
        rows = None
        counted = [c for c in own if data.column(c).null_count > 0]  # earlier siblings' nulls are context
        if data.num_rows:
            rows = AutoregressiveGenerator(**params)
            row_table, row_context = seq.row_table(table, own, context, counted)
            rows.fit(seq.training_rows(data, parent_index, parents, own, context, counted), row_table,
                     context_columns=row_context, seed=int(seeds[1]), callback=callback,
                     workdir=(Path(workdir) / "rows") if workdir is not None else None)
        self._sequences = {"lengths": lengths, "rows": rows, "context": context, "own": own, "order_by": order_by,
                           "max_length": int(counts.max()) if len(counts) else 0, "null_counted": counted}
        self._fit_info = {"sequences": {"parents": int(parents.num_rows), "rows": int(data.num_rows),
                                        "lengths": lengths.fit_info, "rows_model": rows.fit_info if rows else None}}
        self._table = table
        self._context_columns = tuple(context)
        return self

    def fit_sequences_private(self, data: pa.Table, table: Table, *, parent_index: np.ndarray, parents: pa.Table,
                              order_by: str | None, seed: int | None, callback: TrainingCallback | None,
                              private: Any, max_length: int, noisy_parents: float) -> AutoregressiveGenerator:
        """Learn sequences with differential privacy (the ``dp`` wrapper's ``fit_sequences``): see :mod:`._dp`."""
        from hiveframe_autoregressive import _dp

        self.check_available()
        _dp.fit_sequences_private(self, data, table, parent_index=parent_index, parents=parents, order_by=order_by,
                                  seed=seed, callback=callback, private=private, max_length=max_length,
                                  noisy_parents=noisy_parents)
        return self

    def sample_sequences(self, parents: pa.Table, *, seed: int | None = None) -> tuple[pa.Table, np.ndarray]:
        """Every child of every row of ``parents`` and its parent's index (ascending, in sequence order)."""
        from hiveframe_autoregressive import _sequences as seq

        if self._sequences is None:
            raise NotFittedError(f"generator {self.name!r} was not fitted as sequences",
                                 hint="fit it with fit_sequences (the relational engine does for a sequential table)")
        spec = self._sequences
        missing = [c for c in spec["context"] if c not in parents.column_names]
        if missing:
            raise ConfigError(f"parents for table {self.fitted_table.name!r} lack context column(s) {missing}")
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        rows, parent_index, _ = seq.sample(spec["lengths"], spec["rows"], parents, spec["context"], spec["own"],
                                           max_length=spec["max_length"], order_by=spec["order_by"], seed=seed,
                                           counted=spec.get("null_counted", []))
        out_columns = [self.fitted_table.column(c) for c in spec["own"]]
        if rows is None:
            return _to_table({}, out_columns, 0), parent_index
        return _to_table({c: rows.column(c).combine_chunks() for c in spec["own"]}, out_columns,
                         rows.num_rows), parent_index

    # -- sample ------------------------------------------------------------------------------------
    def _network(self):
        if self._net is None:
            from hiveframe_autoregressive import _model

            if not self._arrays or self._layout is None:
                raise NotFittedError(f"generator {self.name!r} has no trained weights")
            self._net = _model.load_network(self._layout, self._config, self._arrays,
                                            _model.resolve_device(self.device))
            self._plans = {}
        return self._net

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        if self._sequences is not None:
            raise ConfigError(f"table {self.fitted_table.name!r} was learnt as sequences: its rows come with their "
                              "parents (sample the database, or call sample_sequences with one row per parent)")
        with _torch_threads(self.threads):
            return self._sample_rows(num_rows, context=context, conditions=conditions, seed=seed)

    def _sample_rows(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                     seed: int | None) -> pa.Table:
        import torch

        from hiveframe_autoregressive import _model

        table = self.fitted_table
        out_columns = [c for c in table.columns if c.name not in self._context_columns]
        layout = self._layout
        gap_fixed = self._gap_conditions(conditions)  # a later column's value: its anchor follows from it
        fixed_groups = self._condition_tokens({k: v for k, v in conditions.items() if k not in gap_fixed})
        if fixed_groups and float(self._config.get("fixed_order_share", 0.8)) >= 1.0:
            wanted = sorted(c for c, _ in fixed_groups)
            if wanted != list(range(len(wanted))):
                raise ConfigError(
                    f"table {table.name!r}: this model learnt the column order only (fixed_order_share=1), so it "
                    f"can condition on the first columns of the table alone, not on {sorted(conditions)}",
                    hint="refit with fixed_order_share below 1 (the default 0.8 also learns every other order)")
        if num_rows == 0:
            return _to_table({}, out_columns, 0)
        net = self._network()
        device = net.offsets.device
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
        gen = torch.Generator(device=device).manual_seed(int(np.random.SeedSequence([seed, 22]).generate_state(1)[0]))
        tokens = np.zeros((num_rows, layout.n_sources), dtype=np.int64)
        if context is not None and self._ctx_codecs:
            tokens[:, layout.n_targets:] = self._encode(context, [], self._ctx_codecs)
        fixed = np.zeros(layout.n_targets, dtype=bool)
        for column_index, ids in fixed_groups:
            js = [j for j in range(layout.n_targets) if layout.token_column[j] == column_index]
            tokens[:, js] = ids
            fixed[js] = True
        if len(fixed_groups) > 1:
            self._check_compatible(net, tokens[: min(num_rows, 2000)], fixed_groups, conditions)
        first = [c for c, _ in fixed_groups]
        order = first + [c for c in range(len(self._codecs)) if c not in first]
        forbidden = [f for codec in self._codecs for f in codec.forbidden()]
        at = 0
        for codec in self._codecs:  # a later column asked for is not null: neither is its gap
            if codec.name in gap_fixed and 0 not in forbidden[at]:
                forbidden[at] = [*forbidden[at], 0]
            at += len(codec.vocab)
        held = [h for codec in self._codecs for h in codec.held()]
        drawn = _model.generate(net, tokens, fixed, order, forbidden, float(self.temperature), gen, device,
                                self._plans, held, _model.resolve_precision(self.precision, device))
        columns: dict[str, pa.Array] = {}
        start = 0
        for codec in self._codecs:
            width = len(codec.vocab)
            columns[codec.name] = codec.decode(drawn[:, start:start + width], rng)
            start += width
        gaps = {o.column: columns[o.column] for o in self._offsets}
        gapped = set(gaps)
        for name, value in conditions.items():  # the exact value asked for, not its bin's draw
            if name not in gapped or value is None:
                columns[name] = _repeat(value, columns[name].type, num_rows)
        for o in self._offsets:  # a later column asked for: its anchor is the value less the drawn gap
            if o.column in gap_fixed and o.anchor not in conditions and o.anchor not in gapped:
                columns[o.anchor] = offsets_.anchor_from(gap_fixed[o.column], gaps[o.column], columns[o.anchor], o)
        if self._offsets:  # each later column is its anchor (exact where asked for) plus its gap
            columns = offsets_.from_gaps(columns, self._offsets)
            for name, value in gap_fixed.items():
                columns[name] = _repeat(value, columns[name].type, num_rows)
        return _to_table(columns, out_columns, num_rows)

    def _gap_conditions(self, conditions: Mapping[str, Any]) -> dict[str, Any]:
        """The conditions on columns learnt as gaps (not null: a null gap is a null value, a token like
        any other), checked against the column's real range. The gap is drawn freely and the column keeps
        the value asked for; its anchor becomes the value minus the gap where the anchor is not fixed."""
        import pyarrow as pa

        from hiveframe.arrow import arrow_type

        out, problems = {}, []
        for o in self._offsets:
            value = conditions.get(o.column)
            if value is None:
                continue
            try:
                x = offsets_._physical(pa.array([value]).cast(arrow_type(o.dtype)))[0][0]
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError) as exc:
                problems.append(Problem(f"condition {o.column}={value!r} is not a {o.dtype} value: {exc}",
                                        table=self.fitted_table.name, column=o.column))
                continue
            if not o.low <= x <= o.high:
                problems.append(Problem(f"condition {o.column}={value!r} is outside the column's range",
                                        table=self.fitted_table.name, column=o.column,
                                        hint="condition on a value in range"))
                continue
            out[o.column] = value
        DataError.raise_if_any(problems)
        return out

    def _condition_tokens(self, conditions: Mapping[str, Any]) -> list[tuple[int, np.ndarray]]:
        """Each condition as (model column index, token ids); every impossible value reported at once."""
        import pyarrow as pa

        table = self.fitted_table
        index = {c.name: i for i, c in enumerate(self._codecs)}
        problems, out = [], []
        for name, value in conditions.items():
            i = index[name]
            codec = self._codecs[i]
            if value is None:
                if not codec.has_null:
                    problems.append(Problem("condition on null, but the column had no nulls", table=table.name,
                                            column=name, hint="condition on a value the column holds"))
                    continue
                ids = np.zeros(len(codec.vocab), dtype=np.int64)
            elif codec.kind == "categorical":
                try:
                    ids = codec.encode(pa.array([value]).cast(pa.string() if codec.as_string else
                                                              pa.array([value]).type))[0]
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    ids = np.array([1])
                if ids[0] < 2:
                    shown = ", ".join(map(repr, codec.categories[:10])) + (" ..." if len(codec.categories) > 10 else "")
                    problems.append(Problem(
                        f"condition {name}={value!r}: the value was never seen in training, or seen fewer than "
                        f"min_count={self.min_count} times (rare values are never generated)",
                        table=table.name, column=name, hint=f"values that can be asked for: {shown}"))
                    continue
            else:
                try:
                    x = codec.physical_value(value)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError) as exc:
                    problems.append(Problem(f"condition {name}={value!r} is not a {codec.dtype} value: {exc}",
                                            table=table.name, column=name))
                    continue
                bounds = codec.range()
                if bounds is None or x is None or not bounds[0] <= x <= bounds[1]:
                    problems.append(Problem(f"condition {name}={value!r} is outside the column's range {bounds}",
                                            table=table.name, column=name, hint="condition on a value in range"))
                    continue
                ids = codec.encode_numbers(np.array([x]))[0]
            out.append((i, ids))
        DataError.raise_if_any(problems)
        return out

    def _check_compatible(self, net, tokens: np.ndarray, groups: list[tuple[int, np.ndarray]],
                          conditions: Mapping[str, Any]) -> None:
        """Refuse conditions the model finds (nearly) contradictory instead of generating nonsense."""
        from hiveframe_autoregressive import _model

        layout = self._layout
        token_groups = [[j for j in range(layout.n_targets) if layout.token_column[j] == c] for c, _ in groups]
        probs = _model.condition_probabilities(net, tokens, token_groups)
        names = [self._codecs[c].name for c, _ in groups]
        bad = [(names[k], p) for k, p in enumerate(probs) if k > 0 and p < self.min_condition_probability]
        if bad:
            given = ", ".join(f"{k}={conditions[k]!r}" for k in names)
            detail = "; ".join(f"P({n} | the conditions before it) = {p:.2g}" for n, p in bad)
            raise ConfigError(
                f"table {self.fitted_table.name!r}: the conditions {given} contradict each other in the learnt "
                f"data ({detail}, below min_condition_probability={self.min_condition_probability})",
                hint="drop one of the conditions, or lower min_condition_probability to sample such rows anyway")

    # -- state -------------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        if self._sequences is not None:
            spec = self._sequences
            state = ComponentState(values={
                "format": STATE_FORMAT, "model": MODEL_NAME, "version": __version__, "fit": self._fit_info,
                "sequences": {k: spec.get(k) for k in ("context", "own", "order_by", "max_length", "null_counted")}})
            state.put_child("lengths", spec["lengths"].get_state())
            if spec["rows"] is not None:
                state.put_child("rows", spec["rows"].get_state())
            return state
        if self._layout is None:
            raise NotFittedError(f"generator {self.name!r} used before fit()")
        state = ComponentState(values={
            "format": STATE_FORMAT, "model": MODEL_NAME, "version": __version__, "config": self._config,
            "layout": self._layout.to_json(), "codecs": [c.to_json() for c in self._codecs],
            "ctx_codecs": [c.to_json() for c in self._ctx_codecs], "fit": self._fit_info,
            "offsets": [o.to_json() for o in self._offsets],
        })
        for k, v in self._arrays.items():
            state.arrays[f"net/{k}"] = v
        return state

    def _set_state(self, state: ComponentState) -> None:
        from hiveframe_autoregressive._model import Layout

        v = state.values
        if v.get("model") != MODEL_NAME or v.get("format") != STATE_FORMAT:
            raise PersistenceError(f"saved state is for model {v.get('model')!r} (format {v.get('format')}), "
                                   f"not {MODEL_NAME!r} (format {STATE_FORMAT})", hint="refit the model")
        if "sequences" in v:
            params = {k: val for k, val in self.get_params().items() if k != "sequential"}
            spec: dict[str, Any] = dict(v["sequences"])
            for part in ("lengths", "rows"):
                spec[part] = None
                if part in v:
                    spec[part] = AutoregressiveGenerator(**params)
                    spec[part].set_state(state.child(part))
            if spec["lengths"] is None:
                raise PersistenceError("saved sequence state has no length model", hint="refit the model")
            self._sequences = spec
            self._fit_info = dict(v.get("fit") or {})
            self._layout = None
            self._net = None
            return
        self._sequences = None
        self._config = dict(v["config"])
        self._layout = Layout(**v["layout"])
        self._codecs = [Codec.from_json(c) for c in v["codecs"]]
        self._ctx_codecs = [Codec.from_json(c) for c in v["ctx_codecs"]]
        self._offsets = [Offset.from_json(o) for o in v.get("offsets", [])]
        self._arrays = {k[4:]: np.asarray(a) for k, a in state.arrays.items() if k.startswith("net/")}
        self._fit_info = dict(v.get("fit") or {})
        self._net = None


def small_table_batch(batch_size: int, rows: int) -> int:
    """The batch size that gives at least :data:`MIN_STEPS_PER_EPOCH` optimiser steps per epoch: a table of a
    few hundred rows in one batch of 512 takes one step an epoch and stops early long before it fits."""
    return max(1, min(int(batch_size), math.ceil(rows / MIN_STEPS_PER_EPOCH)))


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


def _repeat(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    import pyarrow as pa

    if value is None:
        return pa.nulls(n, type=type_)
    return pa.array([value] * n).cast(type_)


def _to_table(columns: Mapping[str, pa.Array], order: Sequence[Column], n: int) -> pa.Table:
    """The generated columns in metadata order, in their metadata types."""
    import pyarrow as pa

    from hiveframe.arrow import arrow_type

    arrays = []
    for column in order:
        try:
            target = arrow_type(column.dtype)
        except (ValueError, KeyError, TypeError):
            target = None
        arr = columns.get(column.name)
        if arr is None:
            arr = pa.nulls(n, type=target if target is not None else pa.string())
        elif target is not None and arr.type != target:
            if pa.types.is_null(target) or arr.null_count == len(arr):
                arr = pa.nulls(n, type=target)
            else:
                try:
                    arr = arr.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    log.debug("column %s: kept type %s (metadata says %s)", column.name, arr.type, column.dtype)
        arrays.append(arr)
    return pa.table(arrays, names=[c.name for c in order])


GENERATORS: list[type[TableGenerator]] = [AutoregressiveGenerator]
