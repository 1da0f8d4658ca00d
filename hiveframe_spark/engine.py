"""``hiveframe sample --engine spark``: the Spark plugin's sampling engine (see :mod:`hiveframe.engines`).

Imports only hiveframe and the standard library: pyspark loads when the engine samples, so a host
without pyspark still lists the engine and says what to install when it is used.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from hiveframe.engines import SampleEngine, SampleRequest
from hiveframe.errors import ConfigError


def _partitions(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class SparkEngine(SampleEngine):
    """Generates the tables in partitions on Spark executors and writes them without collecting."""

    name = "spark"
    title = "Spark"
    help = "generate in partitions on Spark executors and write straight to storage (needs hiveframe[spark])"

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--partitions", type=_partitions, default=None,
                           help="with --engine spark: partitions of the root tables (same seed + partitions, "
                           "same output)")
        group.add_argument("--master", default=None, help="with --engine spark: Spark master (default local[2])")

    def sample(self, request: SampleRequest) -> Mapping[str, int]:
        if request.format == "sqlite":
            raise ConfigError("--engine spark writes folders (parquet, csv, jsonl), not a SQLite file",
                              hint="drop --engine spark for a .sqlite output, or choose --format parquet")
        try:
            from hiveframe_spark.sampling import sample_to
        except ImportError as exc:
            raise ConfigError(f"--engine spark needs the Spark plugin: {exc}",
                              hint="pip install 'hiveframe[spark]'") from None
        from hiveframe_spark import provenance as prov
        from hiveframe_spark.io import parse_target

        dest = parse_target(request.output)
        master = request.options.get("master") or "local[2]"
        result = sample_to(request.model, request.output, scale=request.scale, rows=request.rows,
                           seed=request.seed, partitions=request.options.get("partitions"), format=request.format,
                           master=master, mode="overwrite" if request.overwrite else "errorifexists",
                           provenance=prov.catalog_fields(dest[0], request.catalog))
        written = {name: int(table["rows"]) for name, table in result["tables"].items()}
        if request.catalog is not None:
            write_catalog(request, dest, result, written, master)
        return written


def write_catalog(request: SampleRequest, dest: tuple[str, str], result: Mapping[str, Any],
                  written: Mapping[str, int], master: str) -> None:
    """Store the kernel's entry with the rows written: ``_catalog.json`` at the root and in every table
    folder, or the catalog tables' ``hiveframe.catalog`` property. The part files were written before
    the rows were counted, so they name the entry by ``dataset_id`` in their provenance only."""
    from hiveframe.pipeline.catalog import with_rows
    from hiveframe_spark import provenance as prov
    from hiveframe_spark.session import get_or_create

    assert request.catalog is not None
    locations = {name: str(table["location"]) for name, table in result["tables"].items()}
    local = dest[0] == "path" and ("://" not in dest[1] or dest[1].startswith("file:"))
    spark = None if local else get_or_create(None, local=True, master=master)  # the session sample_to used
    prov.write_catalog(spark, dest, locations, with_rows(request.catalog, written))
