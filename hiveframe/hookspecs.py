"""Every hook a hiveframe plugin can implement, grouped by phase.

Hooks are always called with keyword arguments (pluggy requires it), through the typed facade in
:mod:`hiveframe.plugins`. ``docs/hooks.md`` documents each one with its exact signature; a test keeps
the two in step.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import (
        Database,
        LinkageModel,
        PrivacyWrapper,
        Reader,
        TableGenerator,
        Transformer,
        Validator,
        Writer,
    )
    from hiveframe.errors import Problem
    from hiveframe.metadata import Column, Metadata, Table

PROJECT = "hiveframe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- discovery: each plugin announces the component classes it provides ---------------------------
@hookspec
def hiveframe_register_readers() -> Sequence[type[Reader]]:
    """Return reader classes (sources -> :class:`hiveframe.Database`)."""


@hookspec
def hiveframe_register_writers() -> Sequence[type[Writer]]:
    """Return writer classes (:class:`hiveframe.Database` -> storage)."""


@hookspec
def hiveframe_register_transformers() -> Sequence[type[Transformer]]:
    """Return column transformer classes (column values <-> numeric encodings)."""


@hookspec
def hiveframe_register_linkage_models() -> Sequence[type[LinkageModel]]:
    """Return linkage model classes (children per parent row)."""


@hookspec
def hiveframe_register_table_generators() -> Sequence[type[TableGenerator]]:
    """Return table generator classes (one table's joint distribution)."""


@hookspec
def hiveframe_register_privacy_wrappers() -> Sequence[type[PrivacyWrapper]]:
    """Return privacy wrapper classes (make a generator's training private)."""


@hookspec
def hiveframe_register_validators() -> Sequence[type[Validator]]:
    """Return validator classes (score synthetic data against real data)."""


# -- resolution of defaults ------------------------------------------------------------------------
@hookspec(firstresult=True)
def hiveframe_resolve_reader(source: object) -> str | None:
    """Return the name of the reader that should read ``source``, or ``None`` to pass.

    The first non-``None`` answer wins; the builtin plugin answers last.
    """


@hookspec(firstresult=True)
def hiveframe_resolve_writer(target: object, format: str | None) -> str | None:
    """Return the name of the writer for ``target`` (a path or object) in ``format``, or ``None``."""


# -- metadata --------------------------------------------------------------------------------------
@hookspec
def hiveframe_validate_metadata(metadata: Metadata) -> Sequence[Problem]:
    """Return every problem this plugin sees in ``metadata`` (empty when fine).

    The answers of all plugins are collected and raised together as one error.
    """


@hookspec
def hiveframe_detect_columns(table_name: str, data: pa.Table, columns: Sequence[Column]) -> Mapping[str, Column] | None:
    """Refine the columns ``detect`` found for one table; return replacements by column name.

    Called for every table after the builtin detection (for example to mark PII columns).
    """


# -- execution (wrap these with ``wrapper=True`` for progress, timing, accounting) ----------------
@hookspec(firstresult=True)
def hiveframe_fit_table(
    table_name: str,
    generator: TableGenerator,
    data: pa.Table,
    table: Table,
    context_columns: Sequence[str],
    seed: int | None,
    callback: Callable[[Mapping[str, Any]], None] | None,
    workdir: Path | None,
) -> TableGenerator:
    """Fit ``generator`` on ``data`` (the table joined with its context columns) and return it.

    ``table`` describes the columns of ``data``; ``workdir`` is a per-table folder for checkpoints.
    """


@hookspec(firstresult=True)
def hiveframe_sample_table(
    table_name: str,
    generator: TableGenerator,
    num_rows: int,
    context: pa.Table | None,
    conditions: Mapping[str, Any] | None,
    seed: int | None,
) -> pa.Table:
    """Sample ``num_rows`` rows (one per ``context`` row when given) and return them."""


# -- reporting -------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def hiveframe_write_report(
    real: Database,
    synthetic: Database,
    metadata: Metadata,
    out_dir: Path,
    options: Mapping[str, Any],
) -> Mapping[str, Any] | None:
    """Compare ``synthetic`` with ``real``, write the report into ``out_dir`` and return its summary.

    The summary holds at least ``path`` (the main file written) and ``overall`` (``status`` one of
    ``pass``/``warn``/``fail``/``info``, ``counts``, ``reasons``). ``options``: ``target``, ``holdout``
    (real tables the generator never saw), ``privacy`` (the model's privacy report), ``model_seed``,
    ``title``. How ``hiveframe report``, ``fit --report`` and the demo reach a report plugin without
    importing it; ``None`` when no plugin writes reports.
    """


# -- command line ------------------------------------------------------------------------------------
@hookspec
def hiveframe_register_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add CLI subcommands: ``subparsers.add_parser(name, parents=[common], ...)`` and
    ``.set_defaults(func=handler)`` where ``handler(args) -> int`` is the exit status."""
