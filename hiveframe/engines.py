"""Sampling engines: ways to sample a saved model other than in this process (``sample --engine NAME``).

The kernel samples locally. A plugin adds an engine (the Spark plugin's ``spark`` generates partitions
on executors and writes straight to storage) by returning a :class:`SampleEngine` subclass from
``hiveframe_register_engines``; the CLI then accepts ``--engine NAME`` and the engine's own options,
without the kernel importing the plugin. See docs/plugins.md, "A sampling engine".
"""

from __future__ import annotations

import abc
import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["LOCAL", "SampleEngine", "SampleRequest"]

#: the kernel's own engine: sample in this process (``Synthesizer.sample``) and write with a writer.
LOCAL = "local"


@dataclass(frozen=True)
class SampleRequest:
    """What ``hiveframe sample`` asks of an engine; the kernel has checked the model and the tables."""

    model: str  #: the model directory
    output: str  #: the output folder or URI
    format: str  #: parquet, csv, jsonl or sqlite (the CLI's choice, the engine may refuse one)
    scale: float = 1.0
    rows: Mapping[str, int] | None = None  #: rows per root table, instead of ``scale``
    seed: int | None = None  #: None: the model's seed
    overwrite: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)  #: the engine's own CLI options, by dest
    #: the output's catalog entry (docs/catalog.md), made by the kernel before sampling with ``rows``
    #: None: the engine sets the rows it wrote (``hiveframe.pipeline.catalog.with_rows``) and stores it
    #: with the output; None when the caller wants no entry
    catalog: Mapping[str, Any] | None = None


class SampleEngine(abc.ABC):
    """One sampling engine. Subclasses set ``name`` and ``help`` and implement :meth:`sample`."""

    name: ClassVar[str]
    #: where it runs, for messages ("sampled ... on Spark"); defaults to the name
    title: ClassVar[str] = ""
    help: ClassVar[str] = ""

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:  # noqa: B027 - optional, empty by default
        """Add this engine's options to ``hiveframe sample`` (default ``None``; given only with this engine)."""

    @abc.abstractmethod
    def sample(self, request: SampleRequest) -> Mapping[str, int]:
        """Sample and write the model's tables; return the rows written per table.

        Raise a :class:`~hiveframe.errors.ConfigError` for a request the engine cannot serve (a format
        it does not write, a missing dependency with the extra to install).
        """
