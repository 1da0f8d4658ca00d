"""hiveframe: learn a real relational database and generate a synthetic one.

``import hiveframe`` is light: torch, pyspark, polars and pandas load only when a component needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hiveframe._version import __version__
from hiveframe.errors import (
    ConfigError,
    DataError,
    HiveframeError,
    MetadataError,
    PersistenceError,
    PluginError,
    Problem,
    SourceError,
)
from hiveframe.lazy import lazy_getattr

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hiveframe.components import Database
    from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
    from hiveframe.pipeline import Synthesizer
    from hiveframe.plugins import PluginHost

_LAZY = {
    "Database": "hiveframe.components",
    "Metadata": "hiveframe.metadata",
    "Table": "hiveframe.metadata",
    "Column": "hiveframe.metadata",
    "ColumnKind": "hiveframe.metadata",
    "ForeignKey": "hiveframe.metadata",
    "from_sdv": "hiveframe.metadata",
    "PluginHost": "hiveframe.plugins",
    "Synthesizer": "hiveframe.pipeline",
    "read": "hiveframe.pipeline",
    "write": "hiveframe.pipeline",
    "read_catalog": "hiveframe.pipeline.catalog",
}


def detect(database: Database | Mapping[str, Any] | object, *, host: PluginHost | None = None,
           **options: Any) -> Metadata:
    """:func:`hiveframe.metadata.detect` with the installed plugins (a default :class:`PluginHost`)
    when ``host`` is not given; ``options`` are its thresholds (``key_threshold=``, ``detect_pii=``...)."""
    from hiveframe.metadata.detect import detect as detect_metadata

    return detect_metadata(database, host=_host(host), **options)


def validate_metadata(metadata: Metadata, *, host: PluginHost | None = None) -> None:
    """:func:`hiveframe.metadata.validate_metadata` asking the installed plugins when ``host`` is not given."""
    from hiveframe.metadata.validate import validate_metadata as check

    check(metadata, host=_host(host))


def validate_data(metadata: Metadata, database: Database | Mapping[str, Any] | object, *,
                  drop_orphans: bool = False, host: PluginHost | None = None) -> Database:
    """:func:`hiveframe.metadata.validate_data`; a source (a folder, a file) is read by the installed
    readers when ``host`` is not given."""
    from collections.abc import Mapping

    from hiveframe.components import Database
    from hiveframe.metadata.validate import validate_data as check

    in_memory = isinstance(database, (Database, Mapping))
    return check(metadata, database, drop_orphans=drop_orphans, host=host if in_memory else _host(host))


def _host(host: PluginHost | None) -> PluginHost:
    """The convenience default of the public entry points: every installed plugin."""
    if host is not None:
        return host
    from hiveframe.plugins import PluginHost

    return PluginHost()


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "Column", "ColumnKind", "ConfigError", "Database", "DataError", "ForeignKey", "HiveframeError", "Metadata",
    "MetadataError", "PersistenceError", "PluginError", "PluginHost", "Problem", "SourceError", "Synthesizer",
    "Table", "__version__", "detect", "from_sdv", "read", "read_catalog", "validate_data", "validate_metadata",
    "write",
]
