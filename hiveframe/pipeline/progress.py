"""Progress lines for fitting and sampling: a plugin on the host, shared by the CLI and the Python API.

Its ``wrapper=True`` implementations of ``hiveframe_fit_table`` / ``hiveframe_sample_table`` print one
line per table as it starts and ends, and its ``callback`` turns training events into plain lines.
``Synthesizer.fit(progress=True)`` registers one on the synthesizer's host; the CLI registers its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from hiveframe.hookspecs import hookimpl

if TYPE_CHECKING:
    import pyarrow as pa


class ProgressPlugin:
    """Prints a line per table as it is fitted or sampled, and throttled training progress.

    ``total`` (set by the command once the metadata is known) turns lines into ``[3/11]`` counters.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool = True, every: float = 5.0) -> None:
        self.stream = stream
        self.enabled = enabled
        self.total: int | None = None
        self.every = every
        self._count = {"fit": 0, "sample": 0}
        self._last_callback = 0.0

    def reset(self, total: int | None) -> None:
        """Start counting again (``[1/total]``) for a new fit or sample."""
        self.total = total
        self._count = {"fit": 0, "sample": 0}

    def _emit(self, text: str) -> None:
        if self.enabled:
            stream = self.stream or sys.stderr
            print(text, file=stream, flush=True)

    def _counter(self, phase: str) -> str:
        self._count[phase] += 1
        n = self._count[phase]
        if self.total and n <= self.total:
            return f"[{n}/{self.total}]"
        return f"[{n}]"

    @hookimpl(wrapper=True)
    def hiveframe_fit_table(self, table_name: str, generator: Any, data: pa.Table):
        counter = self._counter("fit")
        self._emit(f"{counter} fitting {table_name} ({data.num_rows} rows, {data.num_columns} columns, "
                   f"{generator.name})")
        start = time.perf_counter()
        result = yield
        self._emit(f"{counter} fitted {table_name} in {time.perf_counter() - start:.1f}s")
        return result

    @hookimpl(wrapper=True)
    def hiveframe_sample_table(self, table_name: str, num_rows: int):
        counter = self._counter("sample")
        start = time.perf_counter()
        result = yield
        self._emit(f"{counter} sampled {table_name}: {getattr(result, 'num_rows', num_rows)} rows in "
                   f"{time.perf_counter() - start:.1f}s")
        return result

    def callback(self, event: Mapping[str, Any]) -> None:
        """Training callback: at most one plain-language line every ``every`` seconds.

        Only epoch-by-epoch training says something between "fitting" and "fitted"; one-pass fits (the
        copula's single event) add nothing and print nothing.
        """
        text = describe_event(event)
        now = time.perf_counter()
        if text is None or (now - self._last_callback < self.every and event.get("epoch") != event.get("epochs")):
            return
        self._last_callback = now
        self._emit(f"    {text}")


def describe_event(event: Mapping[str, Any]) -> str | None:
    """``Track: epoch 12 of 300, losses generator 1.21 / critic -0.35, validation score 0.91 (best so far,
    epoch 12), 1.7 s per epoch``; None for an event that is not an epoch of training."""
    epoch, epochs = event.get("epoch"), event.get("epochs")
    if not isinstance(epoch, int) or not isinstance(epochs, int) or epoch < 1:
        return None
    parts = [f"{event.get('table', '')}: epoch {epoch} of {epochs}"]
    losses = event.get("losses")
    if isinstance(losses, Mapping) and losses:
        parts.append("losses " + " / ".join(f"{k} {float(v):.3g}" for k, v in losses.items()
                                             if isinstance(v, (int, float))))
    validation = event.get("validation")
    if isinstance(validation, (int, float)):
        best = event.get("best_epoch")
        parts.append(f"validation score {float(validation):.3f} (fidelity of generated rows to held-out real "
                     f"rows, 1 is best{f'; best epoch {best}' if best else ''})")
    seconds = event.get("epoch_seconds")
    if isinstance(seconds, (int, float)):
        parts.append(f"{float(seconds):.2g} s per epoch")
    epsilon = event.get("epsilon")
    if isinstance(epsilon, (int, float)):
        parts.append(f"privacy spent: epsilon {float(epsilon):.3g}")
    return ", ".join(parts)
