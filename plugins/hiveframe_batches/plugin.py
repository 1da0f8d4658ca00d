"""Entry module of hiveframe_batches: imports only hiveframe and the standard library."""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl
from hiveframe_batches import __version__  # noqa: F401 - reported by the host


@hookimpl
def hiveframe_register_table_generators():
    from hiveframe_batches.generators import GENERATORS

    return GENERATORS
