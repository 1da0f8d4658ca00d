"""The ``batches`` table generator: a wide table learnt as a chain of column batches.

The table's columns are split into batches (clustered by association, at most ``max_width`` wide, or
given as ``groups``); each batch gets its own model, a deep copy of the template generator with its own
checkpoint folder, so batches share nothing and can train at the same time: this process and worker
processes take batches, largest first, from one shared queue (workers are started only where the
batches are estimated to take long enough to pay for a worker's start-up). Rows
are joined back by position. Unlike independent batches, each later batch is conditioned on a few
*anchor* columns of the batches before it (the columns most associated with its own), through the
same context mechanism child tables use: the joint is approximated by
``P(B1) · P(B2 | anchors of B1) · P(B3 | anchors of B1, B2) · ...``. Anchors come from the real data at
training time (so every batch trains independently) and from the generated batches when sampling.

A model loaded from a saved folder is read-only: it samples, but ``train_batch`` and
``train_all_batches`` refuse (there is no training data in a model folder); fit a new one instead.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.generators import FitPart, TableGenerator, TrainingCallback
from hiveframe.errors import ConfigError, DataError, HiveframeError, NotFittedError, PluginError, Problem
from hiveframe_batches import __version__
from hiveframe_batches import _cluster as clustering

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Table

log = logging.getLogger(__name__)

STATE_FORMAT = 1
DEFAULT_MAX_WIDTH = 15
#: the folder, inside a batch's checkpoint folder, that holds the batch's finished model
FINISHED = "finished"
#: ``workers="auto"``: worker processes only where a batch's fit is estimated to take at least this
#: long; a spawned worker pays Python, numpy and (for neural models) torch start-up, about 1-3 s
MIN_WORKER_SECONDS = 2.0
#: rough fit costs for that estimate (seconds): per row and column of a statistical model, per
#: optimizer step of a neural one (CTGAN's small default networks on one thread)
CELL_SECONDS = 1e-6
STEP_SECONDS = 0.01


@dataclass(frozen=True)
class Batch:
    """One batch: the columns its model generates and the anchor columns (of earlier batches) it is given."""

    index: int
    columns: tuple[str, ...]
    anchors: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The batch's name in model folders and checkpoint folders."""
        return f"batch_{self.index:03d}"

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "columns": list(self.columns), "anchors": list(self.anchors)}


@dataclass
class _Training:
    """What training needs, kept in memory between create_batches and train_*: never saved."""

    data: pa.Table
    table: Table
    context_columns: tuple[str, ...]
    seed: int
    callback: TrainingCallback | None
    workdir: Path | None
    template: TableGenerator


@attrs.define(kw_only=True, eq=False)
class BatchesGenerator(TableGenerator):
    """Column-cluster batch training for wide tables (see the module docstring and docs/batches.md).

    ``generator`` is the per-batch model: a registered name (with ``generator_params``) or a configured
    instance, deep-copied for every batch. ``max_width`` bounds a batch's columns (or ``num_batches``
    asks for about that many), ``groups`` gives the batches explicitly (columns left out of every group
    form batches of their own, clustered). ``anchors`` is how many columns of earlier batches condition
    each later batch (0: independent batches). ``share_epochs`` gives a neural per-batch model its
    share of the epochs by width. ``workers`` is how many processes ``fit`` trains batches
    in, this one included (1: one after another here); ``"auto"`` (the default) uses every core when
    the batches are estimated to take long enough to pay for worker processes, else trains here.
    ``models`` holds the fitted batch models (filled by training, restored by loading).
    """

    name: ClassVar[str] = "batches"
    #: every batch model is saved in a folder of its own inside the model
    nested_folders: ClassVar[bool] = True

    generator: Any = "gaussian_copula"
    generator_params: dict[str, Any] = attrs.field(factory=dict)
    max_width: int = DEFAULT_MAX_WIDTH
    num_batches: int | None = None
    groups: list[list[str]] | None = None
    anchors: int = 3
    merge_below: int | None = None
    workers: int | str = "auto"
    #: a neural per-batch model trains ``epochs`` x (its columns / the table's columns), at least 1, so
    #: that the batches together take about one model's optimizer steps (False: every batch all epochs)
    share_epochs: bool = False
    models: dict[str, TableGenerator] = attrs.field(factory=dict)

    _batches: list[Batch] = attrs.field(factory=list, init=False)
    _training: _Training | None = attrs.field(default=None, init=False)
    _read_only: bool = attrs.field(default=False, init=False)
    _fit_info: dict[str, Any] = attrs.field(factory=dict, init=False)
    _template: TableGenerator | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        problems = []
        if isinstance(self.max_width, bool) or not isinstance(self.max_width, int) or self.max_width < 1:
            problems.append(f"max_width must be an integer >= 1, got {self.max_width!r}")
        if not _valid_workers(self.workers):
            problems.append(f"workers must be an integer >= 1 or 'auto', got {self.workers!r}")
        if self.num_batches is not None and (isinstance(self.num_batches, bool)
                                             or not isinstance(self.num_batches, int) or self.num_batches < 1):
            problems.append(f"num_batches must be an integer >= 1 or None, got {self.num_batches!r}")
        if isinstance(self.anchors, bool) or not isinstance(self.anchors, int) or self.anchors < 0:
            problems.append(f"anchors must be an integer >= 0, got {self.anchors!r}")
        if not isinstance(self.share_epochs, bool):
            problems.append(f"share_epochs must be true or false, got {self.share_epochs!r}")
        if self.merge_below is not None and (not isinstance(self.merge_below, int) or self.merge_below < 0):
            problems.append(f"merge_below must be an integer >= 0 or None, got {self.merge_below!r}")
        if self.groups is not None and (not isinstance(self.groups, (list, tuple))
                                        or not all(isinstance(g, (list, tuple)) and g
                                                   and all(isinstance(c, str) for c in g) for g in self.groups)):
            problems.append("groups must be a list of non-empty lists of column names, got "
                            f"{self.groups!r}")
        if not isinstance(self.generator, (str, TableGenerator)):
            problems.append(f"generator must be a registered name or a TableGenerator instance, got {self.generator!r}")
        elif isinstance(self.generator, BatchesGenerator) or self.generator == self.name:
            problems.append("the per-batch generator cannot itself be 'batches'")
        if problems:
            raise ConfigError(f"{self.name}: " + "; ".join(problems),
                              hint="e.g. BatchesGenerator(max_width=15, generator='ctgan', anchors=3)")
        if self.groups is not None:
            self.groups = [list(g) for g in self.groups]

    # -- the batches API ---------------------------------------------------------------------------
    @property
    def batches(self) -> list[Batch]:
        """The batches (columns and anchors of each), once created."""
        return list(self._batches)

    @property
    def read_only(self) -> bool:
        """True for a model loaded from a saved folder: it samples, it does not train."""
        return self._read_only

    @property
    def fit_info(self) -> dict[str, Any]:
        """Per batch: seconds, whether it was resumed from a finished checkpoint, its error if it failed."""
        return copy.deepcopy(self._fit_info)

    def batch_layout(self) -> list[dict[str, Any]]:
        """The batches as JSON: index, folder key, columns, anchors and the model's generator name."""
        out = []
        for batch in self._batches:
            model = self.models.get(batch.key)
            out.append({**batch.to_json(), "generator": model.name if model is not None else None})
        return out

    def manifest_entry(self) -> dict[str, Any]:
        return {"batches": self.batch_layout(), "plugin_version": __version__}

    def create_batches(self, data: pa.Table, table: Table, *, context_columns: Sequence[str] = (),
                       seed: int | None = None, callback: TrainingCallback | None = None,
                       workdir: Path | str | None = None) -> list[Batch]:
        """Split ``table``'s columns into batches and keep ``data`` for training them (nothing trained yet).

        ``context_columns`` are parent columns given to every batch model (as for any generator).
        """
        self._check_writable("create batches")
        self.check_available()
        context_columns = tuple(context_columns)
        DataError.raise_if_any(
            [Problem("column described in metadata is missing from the data", table=table.name, column=c)
             for c in table.column_names if c not in data.column_names]
            + [Problem("context column is not described in the table metadata", table=table.name, column=c)
               for c in context_columns if not table.has_column(c)])
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        template = self._make_template()
        self._batches = self._plan(data, table, context_columns, seed, template)
        self._training = _Training(data=data, table=table, context_columns=context_columns, seed=seed,
                                   callback=callback, workdir=Path(workdir) if workdir is not None else None,
                                   template=template)
        self.models = {}
        self._fit_info = {"batches": {}, "seed": seed}
        self._table = table
        self._context_columns = context_columns
        log.info("table %s: %d columns in %d batches of at most %d (%s)", table.name,
                 sum(len(b.columns) for b in self._batches), len(self._batches),
                 max(len(b.columns) for b in self._batches),
                 "given groups" if self.groups else "clustered by association")
        return self.batches

    def train_batch(self, index: int) -> TableGenerator:
        """Train (or retrain) batch ``index`` alone, in this process; the other batches are left as they are."""
        self._check_writable("train_batch")
        training = self._require_training()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not 0 <= int(index) < len(self._batches):
            raise ConfigError(f"table {training.table.name!r} has batches 0 to {len(self._batches) - 1}; "
                              f"there is no batch {index!r}", hint="see .batches for the layout")
        batch = self._batches[int(index)]
        self.models.pop(batch.key, None)
        results = self._train([batch], workers=1)
        self._raise_failures(results)
        return self.models[batch.key]

    def train_all_batches(self, workers: int | str | None = None) -> dict[str, TableGenerator]:
        """Train every batch in ``workers`` processes, this one included (1: one after another, here;
        ``"auto"``: every core when the batches are worth a worker process; None: the ``workers`` parameter).

        A batch that fails does not stop the others: the trained ones are kept, and the error (raised at
        the end) names every failed batch; ``train_batch(i)`` retrains one.
        """
        self._check_writable("train_all_batches")
        self._require_training()
        workers = self.workers if workers is None else workers
        if not _valid_workers(workers):
            raise ConfigError(f"workers must be an integer >= 1 or 'auto', got {workers!r}",
                              hint="e.g. train_all_batches(workers=2), or workers='auto'")
        self.models = {}
        results = self._train(self._batches, workers=workers)
        self._raise_failures(results)
        return dict(self.models)

    def fit_parts(self, data: pa.Table, table: Table, *, context_columns: Sequence[str] = (),
                  seed: int | None = None) -> list[FitPart]:
        """The batches as independent fits, for a parallel trainer (Spark tasks); :meth:`join_parts` takes
        them back. The same batch models, data and seeds as ``fit``: the joined model is the same."""
        self._read_only = False
        self.create_batches(data, table, context_columns=context_columns, seed=seed)
        training = self._require_training()
        parts = []
        for batch in self._batches:
            job = self._job(batch, training)
            parts.append(FitPart(key=batch.key, generator=job["model"], data=job["data"], table=job["table"],
                                 context_columns=tuple(job["context_columns"]), seed=job["seed"]))
        return parts

    def join_parts(self, fitted: Mapping[str, TableGenerator]) -> None:
        """Take the batch models fitted elsewhere (by batch key, from :meth:`fit_parts`)."""
        self._check_writable("join_parts")
        training = self._require_training()
        missing = [b.index for b in self._batches if b.key not in fitted]
        if missing:
            raise PluginError(f"table {training.table.name!r}: batch(es) {missing} came back without a model",
                              plugin=type(self).plugin, component=self.name, hint="fit the table again")
        for batch in self._batches:
            self.models[batch.key] = fitted[batch.key]
            self._fit_info.setdefault("batches", {})[str(batch.index)] = {"elsewhere": True}

    def release_training_data(self) -> None:
        """Drop the reference to the training rows (the batches can no longer be retrained)."""
        self._training = None

    # -- TableGenerator ----------------------------------------------------------------------------
    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        self._read_only = False
        self.create_batches(data, table, context_columns=context_columns, seed=seed, callback=callback,
                            workdir=workdir)
        self.train_all_batches(self.workers)

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        import pyarrow as pa

        table = self.fitted_table
        missing = [b for b in self._batches if b.key not in self.models]
        if missing:
            raise NotFittedError(f"table {table.name!r}: batch(es) {[b.index for b in missing]} are not trained",
                                 hint="train them with train_batch(i) or train_all_batches()")
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        made: dict[str, pa.Array] = {}
        for batch in self._batches:
            model = self.models[batch.key]
            parts = [context.select(list(self._context_columns))] if context is not None and self._context_columns \
                else []
            if batch.anchors:
                parts.append(pa.table([made[a] for a in batch.anchors], names=list(batch.anchors)))
            ctx = _hstack(parts) if parts else None
            own = {k: v for k, v in conditions.items() if k in batch.columns}
            out = model.sample(None if ctx is not None else num_rows, context=ctx, conditions=own,
                               seed=_batch_seed(seed, batch.index))
            if out.num_rows != num_rows:
                raise PluginError(f"table {table.name!r}: batch {batch.index} returned {out.num_rows} rows, "
                                  f"not {num_rows}", plugin=type(model).plugin, component=model.name)
            for name in batch.columns:
                made[name] = out.column(name).combine_chunks()
        names = [c for c in table.column_names if c not in self._context_columns]
        return pa.table([made[c] for c in names], names=names)

    # -- state -------------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        if not self._batches:
            raise NotFittedError(f"generator {self.name!r} used before fit()")
        missing = [b.index for b in self._batches if b.key not in self.models]
        if missing:
            raise NotFittedError(f"generator {self.name!r}: batch(es) {missing} are not trained; a model is saved "
                                 "with every batch trained", hint="train them with train_batch(i)")
        return ComponentState(values={"format": STATE_FORMAT, "version": __version__,
                                      "batches": [b.to_json() for b in self._batches], "fit": self._fit_info})

    def _set_state(self, state: ComponentState) -> None:
        from hiveframe.errors import PersistenceError

        values = state.values
        if values.get("format") != STATE_FORMAT:
            raise PersistenceError(f"saved batches state has format {values.get('format')!r}, not {STATE_FORMAT}",
                                   hint="refit the model")
        batches = [Batch(int(b["index"]), tuple(b["columns"]), tuple(b["anchors"])) for b in values["batches"]]
        missing = [b.key for b in batches if b.key not in self.models]
        if missing:
            raise PersistenceError(f"the saved batches model lacks the models of {missing}", hint="refit the model")
        self._batches = batches
        self._fit_info = dict(values.get("fit") or {})
        self._training = None
        self._read_only = True

    # -- planning ----------------------------------------------------------------------------------
    def _make_template(self) -> TableGenerator:
        """The per-batch model, configured once; its name and parameters are what the model records."""
        spec = self.generator
        if isinstance(spec, TableGenerator):
            template = copy.deepcopy(spec)
        elif self._template is not None and self._template.name == spec:
            template = copy.deepcopy(self._template)
        else:
            from hiveframe.plugins import PluginHost

            template = PluginHost().create("table_generator", spec, dict(self.generator_params))
        template.check_available()
        self._template = template
        self.generator = template.name
        self.generator_params = _plain(template.get_params())
        return template

    def _plan(self, data: pa.Table, table: Table, context: tuple[str, ...], seed: int,
              template: TableGenerator) -> list[Batch]:
        columns = [c for c in table.column_names if c not in context]
        keys = [c for c in table.primary_key if c in columns]
        problems: list[Problem] = [
            Problem("a key column cannot be in a batch: keys are generated by the relational engine, not learnt",
                    table=table.name, column=c,
                    hint="fit the table through a Synthesizer, or drop its key columns before fitting")
            for c in keys]
        if self.num_batches is not None and self.num_batches > len(columns):
            problems.append(Problem(f"num_batches={self.num_batches} is more batches than the {len(columns)} "
                                    "columns to generate", table=table.name,
                                    hint=f"give num_batches of at most {len(columns)}"))
        given: list[list[str]] = []
        if self.groups is not None:
            seen: dict[str, int] = {}
            if len(self.groups) > len(columns):
                problems.append(Problem(f"{len(self.groups)} groups is more batches than the {len(columns)} "
                                        "columns to generate", table=table.name))
            for g, group in enumerate(self.groups):
                for name in group:
                    if name in context:
                        problems.append(Problem(f"group {g} names a context column (given to every batch)",
                                                table=table.name, column=name))
                    elif name in keys:
                        pass  # reported above
                    elif not table.has_column(name):
                        from hiveframe.errors import did_you_mean

                        problems.append(Problem(f"group {g} names a column the table does not have",
                                                table=table.name, column=name,
                                                hint=did_you_mean(name, columns) or f"columns: {columns}"))
                    elif name in seen:
                        problems.append(Problem(f"group {g} repeats a column of group {seen[name]}" if seen[name] != g
                                                else f"group {g} names the column twice", table=table.name,
                                                column=name, hint="every column belongs to one batch"))
                    else:
                        seen[name] = g
            given = [[c for c in group if c in seen and seen[c] == g] for g, group in enumerate(self.groups)]
        DataError.raise_if_any(problems, title=f"cannot split table {table.name!r} into batches")
        if data.num_rows == 0:
            DataError.raise_if_any([Problem("the table has no rows to learn from", table=table.name)])

        rest = [c for c in columns if not any(c in g for g in given)]
        ids = clustering.id_like(table, data, rest)
        free = [c for c in rest if c not in ids]
        max_width = self.max_width
        if self.num_batches is not None:
            max_width = max(1, -(-len(free) // max(1, self.num_batches - len(given) - len(ids))))
        merge_below = self.merge_below if self.merge_below is not None else max(2, max_width // 3)
        everything = [c for g in given for c in g] + free
        association = clustering.association_matrix(data, table, everything, seed=seed) if everything \
            else np.zeros((0, 0))
        index = {c: i for i, c in enumerate(everything)}
        free_idx = [index[c] for c in free]
        groups = [list(g) for g in given if g]
        groups += clustering.cluster(free, association[np.ix_(free_idx, free_idx)], max_width=max_width,
                                     merge_below=merge_below)
        groups += [[c] for c in ids]
        anchor_count = self.anchors if template.conditional else 0
        if self.anchors and not template.conditional:
            log.warning("table %s: generator %s cannot condition on context; batches are independent (no anchors)",
                        table.name, template.name)
        anchors = clustering.choose_anchors(groups, association, index, count=anchor_count, exclude=ids)
        return [Batch(i, tuple(g), tuple(a)) for i, (g, a) in enumerate(zip(groups, anchors, strict=True))]

    # -- training ----------------------------------------------------------------------------------
    def _check_writable(self, action: str) -> None:
        if self._read_only:
            raise ConfigError(f"{action}: this batches model was loaded read-only from a saved model folder (it "
                              "holds no training data)",
                              hint="sample from it, or fit a new one: Synthesizer.fit(...) or generator.fit(data, "
                              "table)")

    def _require_training(self) -> _Training:
        if self._training is None or not self._batches:
            raise NotFittedError("no batches to train: call create_batches(data, table) (or fit) first")
        return self._training

    def _job(self, batch: Batch, training: _Training) -> dict[str, Any]:
        """Everything one batch's fit needs: its own model copy, data, metadata, seed and folder."""
        from dataclasses import replace

        table = training.table
        names = list(batch.columns) + list(training.context_columns) + list(batch.anchors)
        columns = tuple(table.column(c) for c in names)
        constraints = tuple(c for c in table.constraints if set(_constraint_columns(c)) <= set(batch.columns))
        sub = replace(table, columns=columns, primary_key=(), driver=None, constraints=constraints, detection=None)
        model = copy.deepcopy(training.template)
        epochs = getattr(model, "epochs", None)
        if self.share_epochs and type(model).neural and isinstance(epochs, int) and not isinstance(epochs, bool):
            width = sum(len(b.columns) for b in self._batches)
            model.epochs = max(1, round(epochs * len(batch.columns) / max(1, width)))
        overrides = {k: copy.deepcopy(v) for k, v in self.transformers.items() if k not in table.column_names
                     or k in batch.columns}
        if overrides:
            model.transformers = {**overrides, **model.transformers}
        workdir = training.workdir / batch.key if training.workdir is not None else None
        return {"batch": batch.index, "key": batch.key, "model": model, "data": training.data.select(names),
                "table": sub, "context_columns": tuple(training.context_columns) + tuple(batch.anchors),
                "seed": _batch_seed(training.seed, batch.index), "workdir": workdir}

    def _train(self, batches: Sequence[Batch], *, workers: int | str) -> dict[int, dict[str, Any]]:
        training = self._require_training()
        results: dict[int, dict[str, Any]] = {}
        pending = []
        for batch in batches:
            job = self._job(batch, training)
            finished = _load_finished(job)
            if finished is not None:
                self.models[batch.key] = finished
                results[batch.index] = {"batch": batch.index, "seconds": 0.0, "resumed": True}
                log.info("table %s: batch %d resumed from its finished checkpoint", training.table.name, batch.index)
            else:
                pending.append(job)
        processes = processes_for(pending, workers)
        self._fit_info["processes"] = processes
        if processes > 1:
            results.update(self._train_shared(pending, processes, training))
        else:
            for job in pending:
                results[job["batch"]] = self._train_here(job, training)
        for index, result in results.items():
            self._fit_info.setdefault("batches", {})[str(index)] = {
                k: v for k, v in result.items() if k in ("seconds", "resumed", "error", "where")}
        return results

    def _events(self, batch: int, training: _Training) -> TrainingCallback | None:
        user = training.callback
        if user is None:
            return None
        total = len(self._batches)

        def callback(event: Mapping[str, Any]) -> None:
            user({**event, "table": training.table.name, "batch": batch, "batches": total})

        return callback

    def _train_here(self, job: dict[str, Any], training: _Training,
                    callback: TrainingCallback | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        model: TableGenerator = job["model"]
        try:
            model.fit(job["data"], job["table"], context_columns=job["context_columns"], seed=job["seed"],
                      callback=callback or self._events(job["batch"], training), workdir=job["workdir"])
        except HiveframeError as exc:
            return {"batch": job["batch"], "error": f"{type(exc).__name__}: {exc.message}",
                    "seconds": time.perf_counter() - start}
        self._finish(job, model)
        return {"batch": job["batch"], "seconds": time.perf_counter() - start, "where": "main"}

    def _train_shared(self, jobs: list[dict[str, Any]], processes: int, training: _Training) -> dict[int, Any]:
        """Train ``jobs`` in this process and ``processes - 1`` spawned workers, all taking batches from
        one queue, largest first: this process starts on the largest at once (no start-up to pay), the
        workers join as they come up, and whoever is free takes the next. Each process is capped at
        its share of the cores' threads. Epoch events of the workers reach the user's callback here,
        in this thread, whenever this process reports an event of its own or waits."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        from hiveframe_batches import _parallel

        threads = max(1, _parallel.available_cores() // processes)
        context = multiprocessing.get_context("spawn")
        events = context.Queue()
        callbacks = {job["batch"]: self._events(job["batch"], training) for job in jobs}
        by_batch = {job["batch"]: job for job in jobs}
        work: queue.Queue[dict[str, Any]] = queue.Queue()
        for job in sorted(jobs, key=lambda j: -estimate_seconds(j["model"], j["data"].num_rows,
                                                                 j["data"].num_columns)):
            work.put(job)
        results: dict[int, Any] = {}
        log.info("table %s: training %d batches in %d processes (this one and %d workers), %d thread(s) each",
                 training.table.name, len(jobs), processes, processes - 1, threads)

        def drain() -> None:
            while True:
                try:
                    batch, event = events.get_nowait()
                except (queue.Empty, OSError, ValueError):
                    return
                if callbacks.get(batch) is not None:
                    callbacks[batch](event)

        def helper(pool: ProcessPoolExecutor) -> None:
            """One worker's share: take the next batch, fit it in a worker, until the queue is empty."""
            while True:
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                index = job["batch"]
                try:
                    results[index] = pool.submit(_parallel.fit_in_worker,
                                                 _payload(job, callbacks[index] is not None)).result()
                except BrokenProcessPool as exc:  # a worker died: this process trains what is left
                    results[index] = {"batch": index, "error": f"BrokenProcessPool: {exc}", "seconds": 0.0}
                    return
                except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable model: name the batch
                    results[index] = {"batch": index, "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}

        with ProcessPoolExecutor(max_workers=processes - 1, mp_context=context, initializer=_parallel.init_worker,
                                 initargs=(events, threads)) as pool:
            helpers = [threading.Thread(target=helper, args=(pool,), name=f"batches-worker-{i}", daemon=True)
                       for i in range(processes - 1)]
            for thread in helpers:
                thread.start()
            try:
                while True:
                    try:
                        job = work.get_nowait()
                    except queue.Empty:
                        break
                    own = callbacks[job["batch"]]

                    def callback(event: Mapping[str, Any], own: TrainingCallback | None = own) -> None:
                        drain()
                        if own is not None:
                            own(event)

                    with _parallel.thread_caps(threads):
                        results[job["batch"]] = self._train_here(job, training, callback)
                    drain()
            except BaseException:  # e.g. Ctrl-C: the workers take no further batch
                while not work.empty():
                    work.get_nowait()
                raise
            for thread in helpers:
                while thread.is_alive():
                    thread.join(timeout=0.2)
                    drain()
        drain()
        events.close()
        for index, result in results.items():
            if "states" not in result:
                continue
            job = by_batch[index]
            try:
                _parallel.restore_states(job["model"], result.pop("states"))
            except HiveframeError as exc:
                results[index] = {"batch": index, "error": f"{type(exc).__name__}: {exc.message}",
                                  "seconds": result["seconds"]}
            else:
                self._finish(job, job["model"])
        return results

    def _finish(self, job: dict[str, Any], model: TableGenerator) -> None:
        """Keep a trained batch model, and write it into its checkpoint folder for a resumed fit."""
        self.models[job["key"]] = model
        if job["workdir"] is not None:
            _save_finished(job, model)

    def _raise_failures(self, results: Mapping[int, Mapping[str, Any]]) -> None:
        failed = {i: r["error"] for i, r in sorted(results.items()) if "error" in r}
        if not failed:
            return
        table = self.fitted_table.name
        lines = "; ".join(f"batch {i} (columns {', '.join(self._batches[i].columns)}): {e}" for i, e in failed.items())
        trained = sorted(b.index for b in self._batches if b.key in self.models)
        hint = (f"batches {trained} are trained and kept; fix the cause and retrain a failed one with "
                "train_batch(i)" if trained else "fix the cause and fit again")
        if any("BrokenProcessPool" in e for e in failed.values()):
            hint += ("; a worker process died: in a script, start training under `if __name__ == "
                     "'__main__':` (worker processes are spawned and import the main module), or use workers=1")
        raise PluginError(f"table {table!r}: {len(failed)} of {len(self._batches)} batch model(s) failed: {lines}",
                          plugin=type(self).plugin, component=self.name, hint=hint)


# -- finished-batch checkpoints (resume) -----------------------------------------------------------
def _fingerprint(job: Mapping[str, Any]) -> str:
    """What a finished batch was trained from: model parameters, columns, context, seed, data."""
    from hiveframe_batches._parallel import to_ipc

    model: TableGenerator = job["model"]
    digest = hashlib.sha256()
    digest.update(json.dumps({"generator": model.name, "params": _plain(model.get_params()),
                              "table": job["table"].to_dict(), "context": list(job["context_columns"]),
                              "seed": job["seed"], "version": __version__}, sort_keys=True, default=str).encode())
    digest.update(to_ipc(job["data"]))
    return digest.hexdigest()


def _save_finished(job: Mapping[str, Any], model: TableGenerator) -> None:
    from hiveframe.persistence import save_component

    folder = Path(job["workdir"]) / FINISHED
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_component(folder, "model", model)
        (folder / "fingerprint.json").write_text(json.dumps({"fingerprint": _fingerprint(job)}), encoding="utf-8")
    except (OSError, HiveframeError, TypeError) as exc:
        log.warning("batch %s: its finished model could not be kept for resuming (%s)", job["batch"], exc)


def _load_finished(job: Mapping[str, Any]) -> TableGenerator | None:
    """The batch's finished model from an earlier, interrupted fit of the same batch, if there is one."""
    if job["workdir"] is None:
        return None
    folder = Path(job["workdir"]) / FINISHED
    try:
        saved = json.loads((folder / "fingerprint.json").read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if saved != _fingerprint(job):
        log.info("batch %s: its finished checkpoint is from other data or settings; training it again", job["batch"])
        return None
    from hiveframe.persistence import load_component
    from hiveframe.plugins import PluginHost

    model: TableGenerator = job["model"]
    host = PluginHost()
    if not host.registry.get(model.kind, {}).get(model.name):
        host.register(_single_generator_plugin(type(model)), name=f"batch-model-{model.name}")
    try:
        loaded = load_component(folder, "model", host)
    except HiveframeError as exc:
        log.warning("batch %s: its finished checkpoint cannot be read (%s); training it again", job["batch"], exc)
        return None
    return loaded if isinstance(loaded, TableGenerator) else None


def _single_generator_plugin(cls: type[TableGenerator]) -> object:
    """A plugin object registering one generator class (a third party's class not found by entry points)."""
    from hiveframe.hookspecs import hookimpl

    class _One:
        @hookimpl
        def hiveframe_register_table_generators(self):
            return [cls]

    return _One()


def _payload(job: Mapping[str, Any], with_callback: bool) -> dict[str, Any]:
    from hiveframe_batches._parallel import to_ipc

    return {"batch": job["batch"], "model": job["model"], "data": to_ipc(job["data"]),
            "table_name": job["table"].name, "table": job["table"].to_dict(),
            "context_columns": list(job["context_columns"]), "seed": job["seed"],
            "workdir": str(job["workdir"]) if job["workdir"] is not None else None, "callback": with_callback}


def _valid_workers(value: Any) -> bool:
    return value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def estimate_seconds(model: TableGenerator, rows: int, columns: int) -> float:
    """A rough prior of one batch's fit seconds, only to decide whether worker processes pay.

    A neural model costs about a fixed time per optimizer step (small networks: the step's overhead,
    not the width, dominates), so epochs x steps per epoch; a statistical one about its cells."""
    if type(model).neural:
        epochs = getattr(model, "epochs", None) or 100
        batch_size = getattr(model, "batch_size", None) or 500
        return STEP_SECONDS * epochs * -(-max(1, rows) // batch_size)
    return CELL_SECONDS * rows * max(1, columns)


def processes_for(jobs: Sequence[Mapping[str, Any]], workers: int | str) -> int:
    """How many processes train ``jobs`` (this one included): ``workers``, or for ``"auto"`` every
    core when the batches are worth it (estimated at least MIN_WORKER_SECONDS each on average)."""
    if len(jobs) < 2:
        return 1
    if workers != "auto":
        return min(int(workers), len(jobs))
    from hiveframe_batches._parallel import available_cores

    cores = available_cores()
    if cores < 2:
        return 1
    estimates = [estimate_seconds(j["model"], j["data"].num_rows, j["data"].num_columns) for j in jobs]
    worth = sum(estimates) / len(estimates) >= MIN_WORKER_SECONDS
    log.info("batches: estimated %.1f s per batch on average: %s", sum(estimates) / len(estimates),
             f"{min(cores, len(jobs))} processes" if worth else "trained in this process (not worth a worker)")
    return min(cores, len(jobs)) if worth else 1


def _batch_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), 1 + int(index)]).generate_state(1)[0])


def _hstack(parts: Sequence[pa.Table]) -> pa.Table:
    import pyarrow as pa

    arrays, names = [], []
    for part in parts:
        for name in part.column_names:
            if name not in names:
                arrays.append(part.column(name))
                names.append(name)
    return pa.table(arrays, names=names)


def _constraint_columns(constraint: Mapping[str, Any]) -> list[str]:
    return list(constraint.get("columns") or ([constraint["column"]] if "column" in constraint else []))


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-able parameters (components, e.g. transformer overrides, are saved with the batch models)."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[key] = value
    return out


GENERATORS: list[type[TableGenerator]] = [BatchesGenerator]
