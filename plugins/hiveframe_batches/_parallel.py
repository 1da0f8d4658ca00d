"""Fitting one batch model, in this process or in a worker process started with ``spawn``.

Why spawn: a forked child inherits torch's thread pools and locks from a parent that may hold them,
and deadlocks; a spawned one starts clean. The worker gets its own deep copy of the configured batch
model (sent pickled, as any process pool does; nothing is pickled to disk), fits it, and sends back
its learned state as plain values and numpy arrays, which the parent restores into its own copy.
Errors come back as text, so a failed batch never takes the others down with an unpicklable
exception. Epoch events go through a queue that the parent drains into the user's callback.

Every process (the parent included, while it trains a batch beside the workers) caps its BLAS,
OpenMP and torch threads at its share of the cores: two processes on two cores, each free to start
two threads, would oversubscribe them and run slower than one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.components.base import Component, ComponentState

if TYPE_CHECKING:
    import pyarrow as pa

_EVENTS: Any = None  # the queue of epoch events, set in each worker process
_THREADS: int | None = None  # this worker's share of the cores, set in each worker process
#: environment variables that thread pools read when their library loads (torch, OpenBLAS, MKL...)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (its affinity, where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def init_worker(events: Any, threads: int | None = None) -> None:
    """Worker start: the event queue, and thread caps for the libraries not loaded yet (torch loads
    with the first neural model, and reads OMP_NUM_THREADS then)."""
    global _EVENTS, _THREADS
    _EVENTS = events
    _THREADS = threads
    if threads is not None:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)


@contextlib.contextmanager
def thread_caps(threads: int | None) -> Iterator[None]:
    """At most ``threads`` threads in the loaded BLAS/OpenMP pools and in torch, restored after."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def to_ipc(data: pa.Table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return sink.getvalue().to_pybytes()


def from_ipc(payload: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()


def collect_states(component: Component) -> dict[str, Any]:
    """The component's learned state with its nested components' (e.g. fitted transformers)."""
    state = component.get_state()
    nested: dict[str, Any] = {}
    for name in component.parameter_names():
        value = getattr(component, name)
        if isinstance(value, Component):
            nested[name] = collect_states(value)
        elif isinstance(value, dict) and value and all(isinstance(v, Component) for v in value.values()):
            nested[name] = {"__dict__": {str(k): collect_states(v) for k, v in value.items()}}
    return {"values": state.values, "arrays": {k: np.asarray(v) for k, v in state.arrays.items()}, "nested": nested}


def restore_states(component: Component, states: Mapping[str, Any]) -> None:
    """Inverse of :func:`collect_states`, on an identically configured component."""
    for name, sub in states.get("nested", {}).items():
        value = getattr(component, name)
        if "__dict__" in sub:
            for k, s in sub["__dict__"].items():
                restore_states(value[k], s)
        else:
            restore_states(value, sub)
    component.set_state(ComponentState(values=states["values"], arrays=dict(states["arrays"])))


def fit_in_worker(job: Mapping[str, Any]) -> dict[str, Any]:
    """Fit one batch model in a worker process; returns its states, or the error as text."""
    from hiveframe.metadata import Table

    start = time.perf_counter()
    batch = int(job["batch"])
    try:
        model = job["model"]
        callback = None
        if job["callback"] and _EVENTS is not None:
            events = _EVENTS

            def callback(event: Mapping[str, Any]) -> None:
                events.put((batch, dict(event)))

        with thread_caps(_THREADS):
            model.fit(from_ipc(job["data"]), Table.from_dict(job["table_name"], job["table"]),
                      context_columns=tuple(job["context_columns"]), seed=job["seed"], callback=callback,
                      workdir=Path(job["workdir"]) if job["workdir"] else None)
        return {"batch": batch, "states": collect_states(model), "seconds": time.perf_counter() - start,
                "where": f"worker {os.getpid()}"}
    except BaseException as exc:  # noqa: BLE001 - sent back as text: the parent names the batch
        return {"batch": batch, "error": f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}",
                "seconds": time.perf_counter() - start}
