"""Progress for fitting and sampling: the one progress component, shared by the CLI, the Python API and
the generators' ``verbose`` option.

Training progress reaches it only as :data:`~hiveframe.components.TrainingCallback` events
(``{"table", "model", "epoch", "epochs", "losses", "validation", ...}``): :class:`TrainingProgress`
draws them as a tqdm bar on a terminal and as throttled plain lines (or log records) elsewhere.
:class:`ProgressPlugin`'s ``wrapper=True`` implementations of ``hiveframe_fit_table`` /
``hiveframe_sample_table`` add one line per table as it starts and ends. ``Synthesizer.fit(progress=True)``
registers one on the synthesizer's host; the CLI registers its own.
"""

from __future__ import annotations

import logging
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
        self.training = TrainingProgress(stream, enabled=enabled, every=every)

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
        try:
            result = yield
        finally:
            self.training.close()  # the bar ends before the table's last line
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
        """Training callback: drawn by :class:`TrainingProgress` (a bar on a terminal, plain lines elsewhere).

        Only epoch-by-epoch training says something between "fitting" and "fitted"; one-pass fits (the
        copula's single event) add nothing and print nothing.
        """
        self.training(event)


class TrainingProgress:
    """Draws training events: a tqdm bar per table on a terminal; elsewhere (logs, CI, notebooks without a
    TTY) a line at most every ``every`` seconds and at the last epoch, printed to ``stream`` or, when
    ``logger`` is given, logged at INFO. Disabled, it does nothing. Use it as a ``TrainingCallback``.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool = True, every: float = 5.0,
                 logger: logging.Logger | None = None) -> None:
        self.stream = stream
        self.enabled = enabled
        self.every = every
        self.logger = logger
        self._bar: Any = None
        self._bar_key: tuple[str, int] | None = None
        self._last_line = 0.0

    def __call__(self, event: Mapping[str, Any]) -> None:
        epoch, epochs = event.get("epoch"), event.get("epochs")
        if not self.enabled or not isinstance(epoch, int) or not isinstance(epochs, int) or epoch < 1:
            return
        stream = self.stream or sys.stderr
        if self.logger is None and bool(getattr(stream, "isatty", lambda: False)()):
            self._draw(stream, event, epoch, epochs)
            return
        now = time.perf_counter()
        if now - self._last_line < self.every and epoch != epochs:
            return
        self._last_line = now
        if self.logger is not None:
            self.logger.info("%s: epoch %d/%d %s", _label(event), epoch, epochs, _short(event))
        else:
            print(f"    {describe_event(event)}", file=stream, flush=True)

    def _draw(self, stream: IO[str], event: Mapping[str, Any], epoch: int, epochs: int) -> None:
        from tqdm import tqdm

        key = (_label(event), epochs)
        if self._bar is None or key != self._bar_key:
            self.close()
            self._bar = tqdm(total=epochs, desc=key[0], file=stream, unit="epoch", mininterval=0, leave=True,
                             dynamic_ncols=True, initial=epoch - 1)
            self._bar_key = key
        self._bar.set_postfix_str(_short(event), refresh=False)
        self._bar.update(epoch - self._bar.n)
        if epoch >= epochs:
            self.close()

    def close(self) -> None:
        """End the current bar (the next event starts a new one)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._bar_key = None


def _label(event: Mapping[str, Any]) -> str:
    return " ".join(str(part) for part in (event.get("model"), event.get("table")) if part)


def _short(event: Mapping[str, Any]) -> str:
    """``generator=1.210 critic=-0.350 val=0.910``: the losses and validation score, compact."""
    losses = event.get("losses")
    parts = [f"{k}={float(v):.3f}" for k, v in (losses.items() if isinstance(losses, Mapping) else ())
             if isinstance(v, (int, float))]
    validation = event.get("validation")
    if isinstance(validation, (int, float)):
        parts.append(f"val={float(validation):.3f}")
    return " ".join(parts)


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
