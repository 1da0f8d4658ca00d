"""``hiveframe sample --engine spark`` and ``hiveframe fit --engine spark``: the Spark plugin's engine (see
:mod:`hiveframe.engines`).

Imports only hiveframe and the standard library: pyspark loads when the engine samples, so a host
without pyspark still lists the engine and says what to install when it is used.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from hiveframe.engines import FitRequest, SampleEngine, SampleRequest
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
    fits = True
    fit_help = ("fit every table's generator, and every column batch of a batches table, as a Spark task of its "
                "own (the same model as a local fit with the same seed; needs hiveframe[spark])")

    def add_fit_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--master", default=None, help="with --engine spark: Spark master (default local[2])")

    def fit(self, request: FitRequest) -> None:
        try:
            from hiveframe_spark.training import fit_parallel
        except ImportError as exc:
            raise ConfigError(f"--engine spark needs the Spark plugin: {exc}",
                              hint="pip install 'hiveframe[spark]'") from None
        fit_parallel(request.synthesizer, request.data, master=request.options.get("master") or "local[2]",
                     callback=request.callback)

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
                           provenance=prov.catalog_fields(dest[0], request.catalog), catalog=request.catalog)
        written = {name: int(table["rows"]) for name, table in result["tables"].items()}
        if request.catalog is not None and dest[0] == "path":
            write_catalog(request, dest, written, master)
        return written


def write_catalog(request: SampleRequest, dest: tuple[str, str], written: Mapping[str, int], master: str) -> None:
    """The root's ``_catalog.json`` (the tables carry the entry already: part files' footers, each
    folder's ``_catalog.json``, written with them)."""
    from hiveframe.pipeline.catalog import with_rows
    from hiveframe_spark import provenance as prov

    assert request.catalog is not None
    from hiveframe_spark.session import get_or_create

    local = "://" not in dest[1] or dest[1].startswith("file:")
    spark = None if local else get_or_create(None, local=True, master=master)  # the session sample_to used
    prov.write_file(spark, dest[1], prov.catalog_json(with_rows(request.catalog, written)), name=prov.CATALOG_FILE)
