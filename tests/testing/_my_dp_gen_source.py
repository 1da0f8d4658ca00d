"""A third-party differentially private table generator, written against hiveframe's public contracts only.

``my_dp_gen`` is the DP variant of the same author's ``my_gen`` (``hiveframe_mygen``, a dependency of
this distribution): it draws every column independently, as ``my_gen`` does. Under DP
(``fit_private``) it learns category frequencies and numeric ranges from ``private.surrogate`` (built
from the wrapper's noisy releases) and the mean of each numeric column from ONE Gaussian release of
clipped sums, through ``private.release``: the real rows are touched nowhere else.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
from hiveframe_mygen.plugin import IndependentGenerator, as_numbers

from hiveframe.components import PrivateTraining
from hiveframe.hookspecs import hookimpl

__version__ = "0.3.0"


@attrs.define(kw_only=True, eq=False)
class NoisyIndependentGenerator(IndependentGenerator):
    name: ClassVar[str] = "my_dp_gen"
    supports_dp: ClassVar[bool] = True

    def _fit_private(self, data, table, *, context_columns, seed, callback, workdir,
                     private: PrivateTraining) -> None:
        # frequencies and ranges from the noisy marginals only
        self._fit(private.surrogate, table, context_columns=context_columns, seed=seed, callback=None,
                  workdir=workdir)
        numeric = [n for n, e in self._stats.items() if e["kind"] == "number" and e["high"] > e["low"]]
        if not numeric:
            return
        sums = np.zeros(len(numeric))
        for i, name in enumerate(numeric):  # each row adds at most 1 to each clipped, rescaled sum
            e = self._stats[name]
            x = as_numbers(data.column(name))
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


@hookimpl
def hiveframe_register_table_generators():
    return [NoisyIndependentGenerator]
