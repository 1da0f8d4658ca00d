"""The service's limits, in one place (the CLI's defaults and ``create_app``'s)."""

from __future__ import annotations

import os

import attrs


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@attrs.define(frozen=True, kw_only=True)
class ServeSettings:
    """``max_rows``: the most rows one request may return; ``max_body_bytes``: the largest request
    body; ``workers``: requests sampled at once (the others wait their turn, so a burst cannot take
    every core and all memory); ``chunk_rows``: rows per streamed chunk."""

    max_rows: int = 1_000_000
    max_body_bytes: int = 65_536
    workers: int = attrs.field(factory=_default_workers)
    chunk_rows: int = 10_000
