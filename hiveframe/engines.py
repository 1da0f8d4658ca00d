"""Engines: ways to sample a saved model (``sample --engine NAME``), and for engines that can, to fit
one (``fit --engine NAME``), other than in this process.

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

__all__ = ["LOCAL", "FitRequest", "SampleEngine", "SampleRequest"]

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


@dataclass(frozen=True)
class FitRequest:
    """What ``hiveframe fit --engine NAME`` asks of an engine: fit ``synthesizer`` on ``data``, in place.

    The kernel has read the data and configured the synthesizer (metadata, generators, parameters,
    seed) exactly as for a local fit; the engine only decides where the generator fits run, and the
    kernel saves the fitted synthesizer."""

    synthesizer: Any  #: a configured, unfitted :class:`hiveframe.pipeline.Synthesizer`
    data: Any  #: the database the CLI read
    callback: Any = None  #: the progress callback (``TrainingCallback``), or None
    options: Mapping[str, Any] = field(default_factory=dict)  #: the engine's own ``fit`` CLI options, by dest


class SampleEngine(abc.ABC):
    """One engine. Subclasses set ``name`` and ``help`` and implement :meth:`sample`; one that can also
    fit sets ``fits = True`` and implements :meth:`fit`."""

    name: ClassVar[str]
    #: where it runs, for messages ("sampled ... on Spark"); defaults to the name
    title: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: whether :meth:`fit` is implemented (``hiveframe fit --engine NAME``)
    fits: ClassVar[bool] = False
    #: what ``fit --engine NAME`` does, for ``hiveframe fit --help``
    fit_help: ClassVar[str] = ""

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:  # noqa: B027 - optional, empty by default
        """Add this engine's options to ``hiveframe sample`` (default ``None``; given only with this engine)."""

    def add_fit_arguments(self, group: argparse._ArgumentGroup) -> None:  # noqa: B027 - optional, empty by default
        """Add this engine's options to ``hiveframe fit`` (default ``None``; given only with this engine)."""

    def fit(self, request: FitRequest) -> None:
        """Fit ``request.synthesizer`` on ``request.data`` in place (only where ``fits`` is true)."""
        from hiveframe.errors import ConfigError

        raise ConfigError(f"engine {self.name!r} samples only; it cannot fit", hint="drop --engine from fit")

    @abc.abstractmethod
    def sample(self, request: SampleRequest) -> Mapping[str, int]:
        """Sample and write the model's tables; return the rows written per table.

        Raise a :class:`~hiveframe.errors.ConfigError` for a request the engine cannot serve (a format
        it does not write, a missing dependency with the extra to install).
        """
