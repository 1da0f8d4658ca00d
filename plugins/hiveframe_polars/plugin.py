"""Entry module of hiveframe_polars: imports only hiveframe and the standard library.

polars itself is imported only when a polars component runs; without it the plugin shows as
"unavailable: install hiveframe[polars]".
"""

from __future__ import annotations

import sys

from hiveframe.hookspecs import hookimpl

__version__ = "0.1.0"


@hookimpl
def hiveframe_register_readers():
    from hiveframe_polars.components import PolarsFolderReader, PolarsReader

    return [PolarsReader, PolarsFolderReader]


@hookimpl
def hiveframe_register_writers():
    from hiveframe_polars.components import PolarsFolderWriter

    return [PolarsFolderWriter]


@hookimpl
def hiveframe_resolve_reader(source: object) -> str | None:
    """Claim polars objects (and mappings holding one) before the builtin resolution runs."""
    if "polars" not in sys.modules:  # nothing can be a polars object if polars was never imported
        return None
    from hiveframe_polars.components import PolarsReader

    return PolarsReader.name if PolarsReader.claims(source) else None
