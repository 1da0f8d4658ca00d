"""Metadata: the structure of a database (tables, columns, keys, relationships).

``Metadata`` is immutable. ``detect`` builds it from data, ``validate_metadata`` and ``validate_data``
list every problem at once, ``from_sdv`` imports SDV multi-table metadata JSON.
"""

# The function shares its name with its module: import it eagerly so that `hiveframe.metadata.detect`
# is always the function (a lazy import would leave the submodule bound to the name). The module
# imports pyarrow only inside its functions, so this stays light.
from hiveframe.metadata.detect import detect
from hiveframe.metadata.model import (
    SPEC_VERSION,
    Column,
    ColumnKind,
    ForeignKey,
    Metadata,
    PIIKind,
    Table,
)


def __getattr__(name: str):
    # validate/sdv pull in pyarrow compute inside their functions; keep `import hiveframe.metadata` light.
    if name in ("validate_metadata", "validate_data"):
        from hiveframe.metadata import validate

        return getattr(validate, name)
    if name == "from_sdv":
        from hiveframe.metadata.sdv import from_sdv

        return from_sdv
    raise AttributeError(name)


__all__ = [
    "SPEC_VERSION", "Column", "ColumnKind", "ForeignKey", "Metadata", "PIIKind", "Table",
    "detect", "from_sdv", "validate_data", "validate_metadata",
]
