"""The swap: one end-to-end pipeline, its reader chosen by configuration (Spark or Polars), same results.

The pipeline below never names a reader; it takes the name from its config file. The readers compared
come from ``HIVEFRAME_SWAP_READERS`` (default ``polars_folder,spark``), so a CI job can run the same
test with any pair of registered readers without a code change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")
pytest.importorskip("polars")

from hiveframe.components import Database  # noqa: E402
from hiveframe.pipeline import Synthesizer  # noqa: E402
from hiveframe.plugins import PluginHost  # noqa: E402

pytestmark = pytest.mark.spark

READERS = [r.strip() for r in os.environ.get("HIVEFRAME_SWAP_READERS", "polars_folder,spark").split(",") if r.strip()]


def run_pipeline(config_path: Path) -> dict:
    """read -> detect -> fit -> sample, configured by a JSON file (reader name and parameters included)."""
    config = json.loads(config_path.read_text())
    host = PluginHost()
    reader = host.create("reader", config["reader"], config.get("reader_params", {}))
    real = reader.read(config["source"])
    synth = Synthesizer(seed=config["seed"], host=host).fit(real)
    return {"real": real, "metadata": synth.metadata, "synthetic": synth.sample(scale=config["scale"])}


@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory, berka_small):
    import pyarrow.csv as pacsv

    folder = tmp_path_factory.mktemp("berka-csv")
    for name, table in berka_small.items():
        pacsv.write_csv(table, folder / f"{name}.csv")
    return folder


def test_readers_swap_by_configuration(spark, csv_folder, tmp_path):
    results = {}
    for reader in READERS:
        config = tmp_path / f"pipeline-{reader}.json"
        config.write_text(json.dumps({"source": str(csv_folder), "reader": reader, "seed": 3, "scale": 1.0}))
        results[reader] = run_pipeline(config)
    first, *others = READERS
    base = results[first]
    for reader in others:
        got = results[reader]
        assert got["metadata"].to_dict() == base["metadata"].to_dict(), reader  # identical metadata
        for name in base["real"].names:  # the same Database read, value for value
            assert got["real"][name].equals(base["real"][name]), (reader, name)
        for name in base["synthetic"].names:  # hence the same synthetic database
            assert got["synthetic"][name].equals(base["synthetic"][name]), (reader, name)


def test_parquet_sources_read_the_same(spark, berka_small, tmp_path):
    import pyarrow.parquet as pq

    for name, table in berka_small.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    host = PluginHost()
    dbs = [host.create("reader", r).read(str(tmp_path)) for r in READERS]
    for db in dbs[1:]:
        assert sorted(db.names) == sorted(dbs[0].names)
        assert all(db[n].equals(dbs[0][n]) for n in db.names)
    assert isinstance(dbs[0], Database)
