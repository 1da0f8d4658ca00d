"""``hiveframe sample --engine spark``: the Spark plugin's sampling engine (see :mod:`hiveframe.engines`).

Imports only hiveframe and the standard library: pyspark loads when the engine samples, so a host
without pyspark still lists the engine and says what to install when it is used.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

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
        result = sample_to(request.model, request.output, scale=request.scale, rows=request.rows,
                           seed=request.seed, partitions=request.options.get("partitions"), format=request.format,
                           master=request.options.get("master") or "local[2]",
                           mode="overwrite" if request.overwrite else "errorifexists")
        return {name: int(table["rows"]) for name, table in result["tables"].items()}
