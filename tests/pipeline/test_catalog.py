"""The catalog entry: written with every output inside its staging, read back from folders, Parquet,
SQLite and single files, naming the source profile's digest (never under DP)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hiveframe
from hiveframe.cli import main
from hiveframe.components import Database
from hiveframe.errors import ConfigError, SourceError
from hiveframe.metadata import Column, ColumnKind, Metadata, Table
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.profile import profile


def people(n: int = 200, seed: int = 0) -> tuple[Database, Metadata]:
    rng = np.random.default_rng(seed)
    table = pa.table({"id": pa.array(np.arange(n)), "age": pa.array(rng.integers(18, 90, n)),
                      "city": pa.array(rng.choice(["a", "b", "c"], n))})
    columns = (Column("id", ColumnKind.ID, "int64", nullable=False),
               Column("age", ColumnKind.NUMERICAL, "int64", low=18, high=90),
               Column("city", ColumnKind.CATEGORICAL, "string", categories=("a", "b", "c")))
    metadata = Metadata(tables=(Table("people", columns, primary_key=("id",)),))
    return Database({"people": table}), metadata


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    database, metadata = people()
    folder = tmp_path_factory.mktemp("catalog") / "data"
    hiveframe.write(database, folder)
    (folder.parent / "metadata.json").write_text(json.dumps(metadata.to_dict()))
    assert main(["fit", str(folder), "--metadata", str(folder.parent / "metadata.json"),
                 "-o", str(folder.parent / "model"), "-q"]) == 0
    return folder.parent / "model"


def test_the_model_keeps_the_digest_of_its_training_datas_profile(model):
    database, metadata = people()
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["source_profile_digest"] == profile(database, metadata)["digest"]
    assert Synthesizer.load(model).source_profile_digest == manifest["source_profile_digest"]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_sample_writes_the_entry_beside_the_tables_and_in_parquet(model, tmp_path, fmt):
    out = tmp_path / "out"
    assert main(["sample", str(model), "-o", str(out), "--rows", "people=150", "--seed", "5",
                 "--format", fmt, "-q"]) == 0
    entry = hiveframe.read_catalog(out)
    assert entry["format"] == "hiveframe.catalog" and entry["version"] == 1
    assert entry["rows"] == {"people": 150} and entry["sampling"] == {"seed": 5, "scale": None,
                                                                      "rows": {"people": 150}}
    assert entry["source_profile_digest"] == json.loads((model / "manifest.json").read_text())[
        "source_profile_digest"]
    assert entry["generator"]["tables"] == {"people": "gaussian_copula"}
    assert entry["generator"]["hiveframe_version"] == hiveframe.__version__
    assert entry["tags"] == ["synthetic"] and entry["quality"] is None and entry["dataset_id"].startswith("hf-")
    provenance = json.loads((out / "_provenance.json").read_text())
    assert provenance["catalog_file"] == "_catalog.json" and "catalog" not in provenance["provenance"]
    if fmt == "parquet":
        assert hiveframe.read_catalog(out / "people.parquet") == entry
        assert b"hiveframe.catalog" in pq.read_schema(out / "people.parquet").metadata
    # the output reads back as tables only, and a rerun replaces it (the entry is hiveframe's own file)
    assert hiveframe.read(out).names == ["people"]
    assert main(["sample", str(model), "-o", str(out), "--rows", "people=10", "--format", fmt, "-q"]) == 0
    second = hiveframe.read_catalog(out)
    assert second["rows"] == {"people": 10} and second["dataset_id"] != entry["dataset_id"]


def test_a_user_file_named_like_the_entry_is_never_replaced(model, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_catalog.json").write_text("mine")
    assert main(["sample", str(model), "-o", str(out), "-q"]) == 1
    assert "_catalog.json" in capsys.readouterr().err
    assert (out / "_catalog.json").read_text() == "mine"


def test_sqlite_and_single_file_outputs_carry_the_entry(model, tmp_path):
    assert main(["sample", str(model), "-o", str(tmp_path / "syn.sqlite"), "-q"]) == 0
    assert hiveframe.read_catalog(tmp_path / "syn.sqlite")["rows"] == {"people": 200}
    assert main(["sample", str(model), "-o", str(tmp_path / "people.csv"), "--rows", "people=7", "-q"]) == 0
    assert (tmp_path / "people.csv.catalog.json").is_file()
    assert hiveframe.read_catalog(tmp_path / "people.csv")["rows"] == {"people": 7}


@pytest.mark.slow
def test_the_demo_entry_has_the_reports_scores(tmp_path):
    """(a minute: the demo fits Chinook and writes its report)"""
    from hiveframe.pipeline.demo import run_demo

    summary = run_demo(tmp_path / "demo", seed=0)
    entry = hiveframe.read_catalog(tmp_path / "demo")
    assert entry == hiveframe.read_catalog(tmp_path / "demo" / "chinook_synthetic.sqlite")
    assert entry["dataset_id"] == summary["dataset_id"] and entry["model"]["path"] == "model"
    assert entry["quality"]["verdict"] == summary["report"]["overall"]["status"]
    assert entry["quality"]["headlines"]["relational"]["value"] == 1.0
    assert entry["rows"] == {t: r["synthetic_rows"] for t, r in summary["tables"].items()}


def test_reading_what_has_no_entry_is_one_clear_error(tmp_path):
    hiveframe.write(people()[0], tmp_path / "plain", provenance=None)
    with pytest.raises(SourceError, match="carries no hiveframe catalog entry"):
        hiveframe.read_catalog(tmp_path / "plain")
    with pytest.raises(SourceError, match="does not exist"):
        hiveframe.read_catalog(tmp_path / "nothing")
    (tmp_path / "x.json").write_text('{"format": "other"}')
    (tmp_path / "x.json.catalog.json").write_text('{"format": "other"}')
    with pytest.raises(SourceError, match="not a hiveframe catalog entry"):
        hiveframe.read_catalog(tmp_path / "x.json")


def test_under_dp_no_digest_leaves_the_fit(tmp_path):
    """The attack a digest would allow: with all rows but one person's, compute the digest of the
    database with and without that person and compare with the model's. Under DP there is nothing to
    compare: the manifest and the catalog carry no digest."""
    database, metadata = people(120)
    without = Database({"people": database["people"].slice(0, 119)})
    for data in (database, without):
        synth = Synthesizer(metadata, seed=0, dp={"epsilon": 5.0}, pii=False).fit(data)
        assert synth.source_profile_digest is None
        saved = synth.save(tmp_path / f"m{data['people'].num_rows}")
        manifest_text = (saved / "manifest.json").read_text()
        assert "source_profile_digest" not in manifest_text
        for candidate in (database, without):
            assert profile(candidate, metadata)["digest"].split(":")[1] not in manifest_text
        sampled = synth.sample(rows={"people": 20}, seed=1)
        from hiveframe.pipeline.catalog import catalog_entry

        entry = catalog_entry(synth, sampled, seed=1)
        assert entry["source_profile_digest"] is None and "privacy-safe" in entry["tags"]
        assert entry["privacy"]["epsilon"] == 5.0


def test_an_entry_made_before_writing_takes_the_rows_written(model):
    """The seam for engines that never hold the tables (docs/catalog.md): rows per table, or None then
    ``with_rows``."""
    from hiveframe.pipeline.catalog import catalog_entry, with_rows

    synth = Synthesizer.load(model)
    early = catalog_entry(synth, None, seed=3, scale=2.0, model=model)
    assert early["rows"] is None and early["sampling"] == {"seed": 3, "scale": 2.0, "rows": None}
    done = with_rows(early, {"people": 400})
    assert done["rows"] == {"people": 400} and {**done, "rows": None} == early
    assert catalog_entry(synth, {"people": 7})["rows"] == {"people": 7}
    with pytest.raises(ConfigError, match="not a hiveframe catalog entry"):
        with_rows({"rows": None}, {"people": 1})


def test_a_parquet_file_spark_wrote_gives_the_entry_from_its_column_metadata(tmp_path):
    """Spark keeps column metadata in its schema JSON in the footer; the entry rides on the first column."""
    entry = {"format": "hiveframe.catalog", "version": 1, "dataset_id": "hf-1", "rows": {"t": 2}}
    schema = {"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True,
         "metadata": {"hiveframe.synthetic": True, "hiveframe.catalog": json.dumps(entry)}}]}
    table = pa.table({"id": [1, 2]}).replace_schema_metadata(
        {b"org.apache.spark.sql.parquet.row.metadata": json.dumps(schema)})
    folder = tmp_path / "t"
    folder.mkdir()
    pq.write_table(table, folder / "part-00000.parquet")
    assert hiveframe.read_catalog(folder / "part-00000.parquet") == entry
    # a part file without it, in a table folder that holds _catalog.json, gives the folder's entry
    pq.write_table(pa.table({"id": [3]}), folder / "part-00001.parquet")
    with pytest.raises(SourceError, match="carries no hiveframe catalog entry"):
        hiveframe.read_catalog(folder / "part-00001.parquet")
    (folder / "_catalog.json").write_text(json.dumps({**entry, "dataset_id": "hf-2"}))
    assert hiveframe.read_catalog(folder / "part-00001.parquet")["dataset_id"] == "hf-2"
