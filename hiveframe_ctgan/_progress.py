"""A tiny progress display for training (no tqdm dependency).

On a terminal it redraws one line on stderr; elsewhere (logs, CI, notebooks without a TTY) it emits a
``logging`` record at most every ``log_every`` seconds. Disabled, it does nothing, so tests stay quiet.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("hiveframe_ctgan.progress")


class Progress:
    def __init__(self, total: int, label: str, *, enabled: bool, stream: TextIO | None = None,
                 log_every: float = 10.0) -> None:
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self._last_log = 0.0
        self._drawn = False

    def update(self, done: int, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            width = 24
            filled = int(width * min(done, self.total) / self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {text}\x1b[K")
            self.stream.flush()
            self._drawn = True
            return
        now = time.monotonic()
        if done >= self.total or now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s: epoch %d/%d %s", self.label, done, self.total, text)

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
