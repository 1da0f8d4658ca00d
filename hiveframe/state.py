"""Component state for plugin authors: learned state as JSON values plus numpy arrays, never pickle.

A component's ``_get_state()`` returns a :class:`~hiveframe.components.ComponentState`; these helpers
build and read the common parts of one:

- :func:`table_to_state` / :func:`table_from_state`: an Arrow table (training rows a generator keeps)
  as JSON values and arrays, nulls and temporal types kept.
- :func:`pack_state` / :func:`unpack_state`: a whole component's learned state, nested components
  included, as one in-memory record (JSON text plus ``.npz`` bytes) that can travel between processes,
  e.g. from a Spark executor to the driver. Only state travels: the receiving side builds the same
  component from the same parameters first.
- :func:`json_default`: the JSON encoder for numpy scalars and arrays, paths and dates that model files
  use.

A model directory on disk is written and read by :func:`hiveframe.persistence.save_component` and
:func:`hiveframe.persistence.load_component`; both go through the same ``get_state``/``set_state``.

>>> import pyarrow as pa
>>> from hiveframe.state import table_from_state, table_to_state
>>> table_from_state(table_to_state(pa.table({"x": [1, None]}))).to_pylist()
[{'x': 1}, {'x': None}]
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.components.base import Component, ComponentState

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["json_default", "nested_components", "pack_state", "table_from_state", "table_to_state",
           "unpack_state"]


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: numpy values, paths, dates and ``to_dict`` objects."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


def nested_components(component: Component) -> Iterator[tuple[str, Component | dict[str, Component]]]:
    """The parameters of ``component`` that are components themselves: one, or a dict of them."""
    for name in component.parameter_names():
        value = getattr(component, name)
        if isinstance(value, Component):
            yield name, value
        elif isinstance(value, dict) and value and all(isinstance(v, Component) for v in value.values()):
            yield name, value


def pack_state(component: Component) -> dict[str, Any]:
    """The component's learned state and its nested components', as JSON text plus ``.npz`` bytes."""
    state = component.get_state()
    buf = io.BytesIO()
    if state.arrays:
        np.savez(buf, **{k: np.asarray(v) for k, v in state.arrays.items()})
    nested: dict[str, Any] = {}
    for name, value in nested_components(component):
        if isinstance(value, Component):
            nested[name] = pack_state(value)
        else:
            nested[name] = {"__dict__": {str(k): pack_state(v) for k, v in value.items()}}
    return {"values": json.dumps(state.values, default=json_default), "arrays": buf.getvalue(), "nested": nested}


def unpack_state(component: Component, packed: Mapping[str, Any]) -> None:
    """Inverse of :func:`pack_state`, on an identically configured component (arrays without pickle)."""
    for name, sub in packed.get("nested", {}).items():
        value = getattr(component, name)
        if "__dict__" in sub:
            for k, s in sub["__dict__"].items():
                unpack_state(value[k], s)
        else:
            unpack_state(value, sub)
    arrays: dict[str, np.ndarray] = {}
    if packed["arrays"]:
        with np.load(io.BytesIO(packed["arrays"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    component.set_state(ComponentState(values=json.loads(packed["values"]), arrays=arrays))


def table_to_state(table: pa.Table) -> ComponentState:
    """An Arrow table as JSON values (schema, strings) and numpy arrays (numbers, validity masks)."""
    import pyarrow as pa

    state = ComponentState(values={"columns": [], "num_rows": table.num_rows})
    for i, field in enumerate(table.schema):
        col = table.column(i).combine_chunks()
        state.values["columns"].append([field.name, str(field.type)])
        state.arrays[f"valid{i}"] = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        t = field.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_duration(t):
            width = pa.int64() if t.bit_width == 64 else pa.int32()
            state.arrays[f"values{i}"] = col.cast(width).fill_null(0).to_numpy(zero_copy_only=False)
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            filler = False if pa.types.is_boolean(t) else 0
            state.arrays[f"values{i}"] = col.fill_null(filler).to_numpy(zero_copy_only=False)
        else:
            state.values[f"values{i}"] = [None if v is None else str(v) for v in col.to_pylist()]
    return state


def table_from_state(state: ComponentState) -> pa.Table:
    """The table stored by :func:`table_to_state`."""
    import pyarrow as pa

    arrays, names = [], []
    for i, (name, dtype) in enumerate(state.values["columns"]):
        t = pa.type_for_alias(dtype)
        mask = ~np.asarray(state.arrays[f"valid{i}"], dtype=bool)
        if f"values{i}" in state.arrays:
            raw = np.asarray(state.arrays[f"values{i}"])
            if raw.dtype.kind in "iu" and not (pa.types.is_integer(t)):
                width = pa.int64() if raw.dtype.itemsize == 8 else pa.int32()
                arr = pa.array(raw, type=width, mask=mask).cast(t)
            else:
                arr = pa.array(raw, type=t, mask=mask)
        else:
            arr = pa.array(state.values[f"values{i}"], type=pa.string()).cast(t)
        arrays.append(arr)
        names.append(name)
    if not names:
        return pa.table({"_": pa.nulls(int(state.values["num_rows"]))}).select([])
    return pa.table(arrays, names=names)
