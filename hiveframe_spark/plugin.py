"""Entry module of hiveframe_spark: imports only hiveframe and the standard library.

Registers the Spark reader and writer and claims Spark sources (DataFrames, ``catalog:`` names,
``spark:`` paths, remote URIs) before the builtin plugin answers. pyspark is imported only when a
component runs, so a host without pyspark lists this plugin as "unavailable: install hiveframe[spark]".
"""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl

__version__ = "0.1.0"


@hookimpl
def hiveframe_register_readers():
    from hiveframe_spark.io import READERS

    return READERS


@hookimpl
def hiveframe_register_writers():
    from hiveframe_spark.io import WRITERS

    return WRITERS


@hookimpl
def hiveframe_resolve_reader(source: object) -> str | None:
    from hiveframe_spark.io import SparkReader

    if SparkReader.missing_requirements():
        return None
    return SparkReader.name if SparkReader.claims(source) else None


@hookimpl
def hiveframe_resolve_writer(target: object, format: str | None) -> str | None:
    from hiveframe_spark.io import SparkWriter

    if SparkWriter.missing_requirements():
        return None
    return SparkWriter.name if SparkWriter.claims(target, format) else None


@hookimpl
def hiveframe_register_engines():
    from hiveframe_spark.engine import SparkEngine

    return [SparkEngine]
