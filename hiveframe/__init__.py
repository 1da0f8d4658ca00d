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

if TYPE_CHECKING:
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
    "detect": "hiveframe.metadata",
    "validate_data": "hiveframe.metadata",
    "validate_metadata": "hiveframe.metadata",
    "from_sdv": "hiveframe.metadata",
    "PluginHost": "hiveframe.plugins",
    "Synthesizer": "hiveframe.pipeline",
    "read": "hiveframe.pipeline",
    "write": "hiveframe.pipeline",
    "read_catalog": "hiveframe.pipeline.catalog",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hiveframe' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Column", "ColumnKind", "ConfigError", "Database", "DataError", "ForeignKey", "HiveframeError", "Metadata",
    "MetadataError", "PersistenceError", "PluginError", "PluginHost", "Problem", "SourceError", "Synthesizer",
    "Table", "__version__", "detect", "from_sdv", "read", "read_catalog", "validate_data", "validate_metadata",
    "write",
]
