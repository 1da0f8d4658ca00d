"""Fitting one batch model, in this process or in a worker process started with ``spawn``.

Why spawn: a forked child inherits torch's thread pools and locks from a parent that may hold them,
and deadlocks; a spawned one starts clean. The worker gets its own deep copy of the configured batch
model (sent pickled, as any process pool does; nothing is pickled to disk), fits it, and sends back
its learned state as plain values and numpy arrays, which the parent restores into its own copy.
Errors come back as text, so a failed batch never takes the others down with an unpicklable
exception. Epoch events go through a queue that the parent drains into the user's callback.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.components.base import Component, ComponentState

if TYPE_CHECKING:
    import pyarrow as pa

_EVENTS: Any = None  # the queue of epoch events, set in each worker process


def init_worker(events: Any) -> None:
    global _EVENTS
    _EVENTS = events


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

        model.fit(from_ipc(job["data"]), Table.from_dict(job["table_name"], job["table"]),
                  context_columns=tuple(job["context_columns"]), seed=job["seed"], callback=callback,
                  workdir=Path(job["workdir"]) if job["workdir"] else None)
        return {"batch": batch, "states": collect_states(model), "seconds": time.perf_counter() - start}
    except BaseException as exc:  # noqa: BLE001 - sent back as text: the parent names the batch
        return {"batch": batch, "error": f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}",
                "seconds": time.perf_counter() - start}
