"""Parallel training: every table's generator is fitted as its own Spark task.

A child table's generator learns from the *real* child rows joined with real parent context, so no
generator waits for another one: the relational engine prepares every table's training data on the
driver (linkage models, context choice, keys: cheap), and the expensive part, the generator fits, runs
concurrently on the executors. How: a plugin registered on the synthesizer's host for the duration of
``fit`` answers the ``hiveframe_fit_table`` hook by recording the request instead of fitting; the
recorded requests (Arrow IPC data, the table's metadata, the generator's name and parameters, the
seed) become Spark tasks; each task rebuilds the generator by registered name, fits it, and returns its
learned state as JSON plus ``.npz`` bytes; the driver restores those states into the synthesizer's own
generators. Same seeds as a sequential fit, so the fitted model is the same. A generator that splits
its fit into independent parts (``TableGenerator.fit_parts``: the column batches of a wide table) has
each part fitted as a task of its own, and is joined from them on the driver.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.components.base import Component
from hiveframe.errors import HiveframeError, PluginError
from hiveframe.hookspecs import hookimpl
from hiveframe.state import pack_state, unpack_state

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from hiveframe.components import TableGenerator, TrainingCallback
    from hiveframe.metadata import Table
    from hiveframe.pipeline import Synthesizer

log = logging.getLogger(__name__)


@dataclass
class FitJob:
    table_name: str
    generator: TableGenerator
    data: pa.Table
    table: Table
    context_columns: tuple[str, ...]
    seed: int | None
    #: (table, part key) for one part of a table's fit (``TableGenerator.fit_parts``); None: the whole table
    part: tuple[str, str] | None = None


class _DeferFits:
    """Answers the fit hook first: records the request and hands the generator back unfitted."""

    def __init__(self) -> None:
        self.jobs: list[FitJob] = []

    @hookimpl(tryfirst=True)
    def hiveframe_fit_table(self, table_name, generator, data, table, context_columns, seed, callback, workdir):
        self.jobs.append(FitJob(table_name, generator, data, table, tuple(context_columns), seed))
        return generator


# -- components <-> JSON specs and states (no pickle) ---------------------------------------------
def component_spec(component: Component) -> dict[str, Any]:
    """A component's registered name and parameters, nested components included, as JSON."""
    nested: dict[str, Any] = {}
    for name in component.parameter_names():
        value = getattr(component, name)
        if isinstance(value, Component):
            nested[name] = component_spec(value)
        elif isinstance(value, dict) and value and all(isinstance(v, Component) for v in value.values()):
            nested[name] = {"__dict__": {str(k): component_spec(v) for k, v in value.items()}}
    plain = {k: v for k, v in component.get_params().items() if k not in nested}
    try:
        params = json.loads(json.dumps(plain, default=_no_json))
    except TypeError as exc:
        raise PluginError(f"its parameters cannot be sent to Spark executors: {exc}",
                          plugin=type(component).plugin, component=component.name,
                          hint="give parameters as plain values (numbers, strings, lists, dicts)") from None
    return {"kind": component.kind, "name": component.name, "plugin": type(component).plugin,
            "params": params, "nested": nested}


def _no_json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def build_component(host: Any, spec: Mapping[str, Any]) -> Component:
    params = dict(spec["params"])
    for name, sub in spec.get("nested", {}).items():
        if "__dict__" in sub:
            params[name] = {k: build_component(host, s) for k, s in sub["__dict__"].items()}
        else:
            params[name] = build_component(host, sub)
    try:
        return host.create(spec["kind"], spec["name"], params)
    except HiveframeError as exc:
        raise PluginError(f"cannot be built on a Spark executor: {exc}", plugin=spec.get("plugin"),
                          component=spec["name"],
                          hint="install the plugin that provides it on every executor "
                          "(the same Python environment as the driver)") from None


# -- executors -------------------------------------------------------------------------------------
_HOSTS: list[Any] = []  # one PluginHost per Python worker, built on its first task


def _worker_host() -> Any:
    if not _HOSTS:
        from hiveframe.plugins import PluginHost

        _HOSTS.append(PluginHost())
    return _HOSTS[0]


def fit_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Fit one table's generator (runs on an executor). Returns its states and timing."""
    import pyarrow as pa

    from hiveframe.metadata import Table

    start = time.perf_counter()
    host = _worker_host()
    generator = build_component(host, json.loads(job["spec"]))
    data = pa.ipc.open_stream(pa.py_buffer(job["data"])).read_all()
    table = Table.from_dict(job["table_name"], json.loads(job["table"]))
    host.hooks.fit_table(table_name=job["table_name"], generator=generator, data=data, table=table,
                         context_columns=tuple(job["context_columns"]), seed=job["seed"], callback=None,
                         workdir=None)
    return {"table_name": job["table_name"], "states": pack_state(generator),
            "seconds": time.perf_counter() - start}


def _job_payload(job: FitJob) -> dict[str, Any]:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, job.data.schema) as writer:
        writer.write_table(job.data)
    return {"table_name": job.table_name, "spec": json.dumps(component_spec(job.generator)),
            "data": sink.getvalue().to_pybytes(), "table": json.dumps(job.table.to_dict(), default=str),
            "context_columns": list(job.context_columns), "seed": job.seed}


# -- the driver ------------------------------------------------------------------------------------
def fit_parallel(synth: Synthesizer, data: Any, *, spark: SparkSession | None = None, local: bool = True,
                 master: str = "local[2]", spark_conf: Mapping[str, Any] | None = None,
                 callback: TrainingCallback | None = None, workdir: str | Path | None = None,
                 **fit_kwargs: Any) -> Synthesizer:
    """``synth.fit(data)`` with the generator fits running concurrently as Spark tasks.

    ``callback`` receives one record per table when its fit is back (per-epoch callbacks cannot run on
    executors); ``workdir`` is ignored (executors have no shared folder). Returns ``synth``.
    """
    from hiveframe_spark.session import get_or_create

    if workdir is not None:
        log.warning("fit_parallel: workdir is ignored; executors fit in memory")
    recorder = _DeferFits()
    pm = synth.host.pm
    pm.register(recorder, name="hiveframe-spark-deferred-fit")
    try:
        start = time.perf_counter()
        synth.fit(data, **fit_kwargs)
        prepared = time.perf_counter() - start
    finally:
        pm.unregister(recorder)
    split, recorded = _split_parts(recorder.jobs)
    local_jobs = [j for j in recorded if not _registered(synth.host, j.generator)]
    for job in local_jobs:  # e.g. the engine's unregistered no-columns generator: nothing to learn
        job.generator.fit(job.data, job.table, context_columns=job.context_columns, seed=job.seed)
    jobs = sorted((j for j in recorded if j not in local_jobs),
                  key=lambda j: -(j.data.num_rows * max(1, j.data.num_columns)))
    if not jobs:
        _join_parts(synth, split)
        return synth
    spark = get_or_create(spark, local=local, master=master, config=spark_conf)
    payloads = [_job_payload(j) for j in jobs]
    log.info("fitting %d table generator(s) as Spark tasks (prepared in %.1fs)", len(jobs), prepared)
    rdd = spark.sparkContext.parallelize(payloads, numSlices=len(payloads))
    try:
        results = rdd.map(fit_one).collect()
    except Exception as exc:  # noqa: BLE001 - a task failure arrives as a Py4J error; keep its last line
        raise PluginError(f"parallel fit failed on a Spark executor: {_last_python_error(exc)}",
                          plugin="spark", hint="run Synthesizer.fit() in-process to see the full error") from None
    by_name = {j.table_name: j for j in jobs}
    for result in results:
        job = by_name[result["table_name"]]
        unpack_state(job.generator, result["states"])
        event = {"table": job.table_name, "event": "fitted", "seconds": result["seconds"], "spark": True}
        if job.part is not None:
            table_name, key = job.part
            event.update(table=table_name, part=key)
            log.info("table %s, part %s fitted on an executor in %.2fs", table_name, key, result["seconds"])
        else:
            synth.table_generators[job.table_name] = job.generator
            log.info("table %s fitted on an executor in %.2fs", job.table_name, result["seconds"])
        if callback is not None:
            callback(event)
    _join_parts(synth, split)
    return synth


def _split_parts(jobs: list[FitJob]) -> tuple[dict[str, tuple[FitJob, list[FitJob]]], list[FitJob]]:
    """Jobs whose generator splits its fit into independent parts (``TableGenerator.fit_parts``, e.g. the
    column batches of a wide table) become one job per part, so the parts train as tasks of their own."""
    split: dict[str, tuple[FitJob, list[FitJob]]] = {}
    out: list[FitJob] = []
    for job in jobs:
        parts = job.generator.fit_parts(job.data, job.table, context_columns=job.context_columns, seed=job.seed)
        if parts is None:
            out.append(job)
            continue
        pieces = [FitJob(f"{job.table_name}/{p.key}", p.generator, p.data, p.table, tuple(p.context_columns),
                         p.seed, part=(job.table_name, p.key)) for p in parts]
        split[job.table_name] = (job, pieces)
        out.extend(pieces)
    return split, out


def _join_parts(synth: Synthesizer, split: Mapping[str, tuple[FitJob, list[FitJob]]]) -> None:
    for table_name, (job, pieces) in split.items():
        job.generator.join_parts({p.part[1]: p.generator for p in pieces if p.part is not None})
        synth.table_generators[table_name] = job.generator


def _registered(host: Any, component: Component) -> bool:
    reg = host.registry.get(component.kind, {}).get(component.name)
    return reg is not None and reg.cls is type(component)


def _last_python_error(exc: BaseException) -> str:
    from hiveframe_spark.session import error_summary

    return error_summary(exc)
