"""A third-party hiveframe plugin, as its author would write it (installed in tests as a fake distribution).

It provides one table generator, ``my_gen``: every column drawn independently (numbers from a normal
fitted to the column and clipped to its range, categories and booleans from their frequencies,
datetimes uniformly in their range), nulls at the observed rate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, TableGenerator
from hiveframe.hookspecs import hookimpl

__version__ = "1.4.2"


def is_number(t: Any) -> bool:
    """Whether an Arrow type is drawn as a number (dates and timestamps as their integer values)."""
    import pyarrow as pa

    return pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_integer(t) or pa.types.is_floating(t)


def as_numbers(values: Any) -> np.ndarray:
    """An Arrow array of a number type as floats (dates and timestamps as their integer values)."""
    import pyarrow as pa

    t = values.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        values = values.cast(pa.int64())
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


@attrs.define(kw_only=True, eq=False)
class IndependentGenerator(TableGenerator):
    name: ClassVar[str] = "my_gen"
    conditional: ClassVar[bool] = False

    spread: float = attrs.field(default=1.0)
    _stats: dict = attrs.field(factory=dict, init=False)

    def _fit(self, data, table, *, context_columns, seed, callback, workdir) -> None:
        self._stats = {}
        for column in table.columns:
            if column.name in context_columns:
                continue
            values = data.column(column.name)
            entry: dict[str, Any] = {"null_rate": values.null_count / max(1, len(values))}
            present = values.drop_null()
            if is_number(values.type):
                nums = as_numbers(present)
                nums = nums if len(nums) else np.zeros(1)
                entry.update(kind="number", mean=float(nums.mean()), std=float(nums.std()),
                             low=float(nums.min()), high=float(nums.max()))
            else:
                counts = present.value_counts().to_pylist()
                entry.update(kind="category", values=[c["values"] for c in counts],
                             weights=[c["counts"] for c in counts])
            self._stats[column.name] = entry
            if callback is not None:
                callback({"table": table.name, "column": column.name})

    def _sample(self, num_rows, *, context, conditions, seed):
        import pyarrow as pa

        rng = np.random.default_rng(seed)
        table = self.fitted_table
        out = {}
        for name, entry in self._stats.items():
            dtype = pa.type_for_alias(table.column(name).dtype)
            nulls = rng.random(num_rows) < entry["null_rate"]
            if entry["kind"] == "number":
                draw = rng.normal(entry["mean"], entry["std"] * self.spread, size=num_rows)
                draw = np.clip(draw, entry["low"], entry["high"])
                if not pa.types.is_floating(dtype):
                    draw = np.round(draw).astype(np.int64)
                    arr = pa.array(draw, mask=nulls)
                    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
                        arr = arr.cast(pa.int64() if dtype.bit_width == 64 else pa.int32())
                    arr = arr.cast(dtype)
                else:
                    arr = pa.array(draw, type=dtype, mask=nulls)
            else:
                weights = np.asarray(entry["weights"], dtype=np.float64)
                if len(weights) == 0:
                    arr = pa.nulls(num_rows, type=dtype)
                else:
                    picks = rng.choice(len(weights), size=num_rows, p=weights / weights.sum())
                    values = [None if nulls[i] else entry["values"][k] for i, k in enumerate(picks)]
                    arr = pa.array(values, type=dtype)
            out[name] = arr
        return pa.table(out) if out else pa.table({"_": pa.nulls(num_rows)}).select([])

    def _get_state(self) -> ComponentState:
        return ComponentState(values={"stats": self._stats})

    def _set_state(self, state: ComponentState) -> None:
        self._stats = dict(state.values["stats"])


@hookimpl
def hiveframe_register_table_generators():
    return [IndependentGenerator]
