"""hiveframe_spark: read, write, sample and train through Apache Spark (first-party hiveframe plugin).

``import hiveframe_spark`` does not import pyspark; the names below load on first use.
"""

from __future__ import annotations

from hiveframe.lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "SparkReader": "hiveframe_spark.io",
    "SparkWriter": "hiveframe_spark.io",
    "SparkSource": "hiveframe_spark.source",
    "SparkUnavailableError": "hiveframe_spark.session",
    "get_or_create": "hiveframe_spark.session",
    "sample_to": "hiveframe_spark.sampling",
    "fit_parallel": "hiveframe_spark.training",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["__version__", *_LAZY]
