"""A third-party differentially private table generator, written against hiveframe's public contracts only.

``my_dp_gen`` draws every column independently. Under DP (``fit_private``) it learns category
frequencies and numeric ranges from ``private.surrogate`` (built from the wrapper's noisy releases)
and the mean of each numeric column from ONE Gaussian release of clipped sums, through
``private.release``: the real rows are touched nowhere else.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, PrivateTraining, TableGenerator
from hiveframe.hookspecs import hookimpl

__version__ = "0.3.0"


def _numbers(values: Any) -> np.ndarray:
    import pyarrow as pa

    t = values.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        values = values.cast(pa.int64())
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _is_number(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_integer(t) or pa.types.is_floating(t)


@attrs.define(kw_only=True, eq=False)
class NoisyIndependentGenerator(TableGenerator):
    name: ClassVar[str] = "my_dp_gen"
    conditional: ClassVar[bool] = False
    supports_dp: ClassVar[bool] = True

    _stats: dict = attrs.field(factory=dict, init=False)

    def _describe(self, data: Any, table: Any, context_columns: tuple[str, ...]) -> None:
        """Frequencies and ranges of ``data`` (the real rows, or under DP the surrogate)."""
        self._stats = {}
        for column in table.columns:
            if column.name in context_columns:
                continue
            values = data.column(column.name)
            entry: dict[str, Any] = {"null_rate": values.null_count / max(1, len(values))}
            present = values.drop_null()
            if _is_number(values.type):
                nums = _numbers(present)
                nums = nums if len(nums) else np.zeros(1)
                entry.update(kind="number", mean=float(nums.mean()), std=float(nums.std()),
                             low=float(nums.min()), high=float(nums.max()))
            else:
                counts = present.value_counts().to_pylist()
                entry.update(kind="category", values=[c["values"] for c in counts],
                             weights=[c["counts"] for c in counts])
            self._stats[column.name] = entry

    def _fit(self, data, table, *, context_columns, seed, callback, workdir) -> None:
        self._describe(data, table, context_columns)

    def _fit_private(self, data, table, *, context_columns, seed, callback, workdir,
                     private: PrivateTraining) -> None:
        self._describe(private.surrogate, table, context_columns)  # noisy marginals only
        numeric = [n for n, e in self._stats.items() if e["kind"] == "number" and e["high"] > e["low"]]
        if not numeric:
            return
        sums = np.zeros(len(numeric))
        for i, name in enumerate(numeric):  # each row adds at most 1 to each clipped, rescaled sum
            e = self._stats[name]
            x = _numbers(data.column(name))
            scaled = np.clip((x - e["low"]) / (e["high"] - e["low"]), 0.0, 1.0)
            sums[i] = float(np.nansum(scaled))
        noisy, _ = private.release(sums, sensitivity=float(np.sqrt(len(numeric))), label="my_dp_gen: clipped sums",
                                   mechanism="gaussian (clipped sums of rescaled numbers)")
        for i, name in enumerate(numeric):
            e = self._stats[name]
            share = float(np.clip(noisy[i] / max(private.rows, 1), 0.0, 1.0))
            e["mean"] = e["low"] + share * (e["high"] - e["low"])
        if callback is not None:
            callback({"table": table.name, **{"epsilon": private.budget.epsilon_spent()}})

    def _sample(self, num_rows, *, context, conditions, seed):
        import pyarrow as pa

        rng = np.random.default_rng(seed)
        table = self.fitted_table
        out = {}
        for name, entry in self._stats.items():
            dtype = pa.type_for_alias(table.column(name).dtype)
            nulls = rng.random(num_rows) < entry["null_rate"]
            if entry["kind"] == "number":
                draw = np.clip(rng.normal(entry["mean"], entry["std"], size=num_rows), entry["low"], entry["high"])
                if pa.types.is_floating(dtype):
                    arr = pa.array(draw, type=dtype, mask=nulls)
                else:
                    arr = pa.array(np.round(draw).astype(np.int64), mask=nulls)
                    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
                        arr = arr.cast(pa.int64() if dtype.bit_width == 64 else pa.int32())
                    arr = arr.cast(dtype)
            else:
                weights = np.asarray(entry["weights"], dtype=np.float64)
                if len(weights) == 0:
                    arr = pa.nulls(num_rows, type=dtype)
                else:
                    picks = rng.choice(len(weights), size=num_rows, p=weights / weights.sum())
                    arr = pa.array([None if nulls[i] else entry["values"][k] for i, k in enumerate(picks)], type=dtype)
            out[name] = arr
        return pa.table(out) if out else pa.table({"_": pa.nulls(num_rows)}).select([])

    def _get_state(self) -> ComponentState:
        return ComponentState(values={"stats": self._stats})

    def _set_state(self, state: ComponentState) -> None:
        self._stats = dict(state.values["stats"])


@hookimpl
def hiveframe_register_table_generators():
    return [NoisyIndependentGenerator]
