"""Arrow and type helpers for plugin authors: the steps every hiveframe reader and generator shares.

Readers hand over canonical Arrow tables (:func:`normalize_table`, :data:`DEFAULT_NULL_VALUES`), and
generators map metadata type names to Arrow types (:func:`arrow_type`) and temporal columns to integers
and back (:func:`temporal_ints`, :func:`ints_to_temporal`). A plugin that uses these gives the same
columns and types as the builtin components. The implementations live in the kernel's private
``hiveframe._builtin`` package; this module is the stable, public name for them.

>>> import pyarrow as pa
>>> from hiveframe.arrow import arrow_type, as_array
>>> arrow_type("timestamp[us]")
TimestampType(timestamp[us])
>>> as_array(pa.chunked_array([[1], [2]])).to_pylist()
[1, 2]
"""

from __future__ import annotations

from hiveframe._builtin.io_arrow import (
    DEFAULT_NULL_VALUES,
    as_arrow_table,
    is_arrow_table,
    is_pandas_frame,
    is_polars_frame,
    normalize_table,
)
from hiveframe._builtin.io_memory import in_memory_tables
from hiveframe._builtin.transformers import arrow_type, as_array, ints_to_temporal, temporal_ints

__all__ = [
    "DEFAULT_NULL_VALUES", "arrow_type", "as_array", "as_arrow_table", "in_memory_tables", "ints_to_temporal",
    "is_arrow_table", "is_pandas_frame", "is_polars_frame", "normalize_table", "temporal_ints",
]
