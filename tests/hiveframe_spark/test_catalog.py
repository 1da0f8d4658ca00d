"""The catalog entry of Spark outputs: ``_catalog.json`` at the root and in every table folder, the
part files' footers (when the writer has the entry before writing), catalog table properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

import hiveframe  # noqa: E402
from hiveframe.components import Database  # noqa: E402
from hiveframe.engines import SampleRequest  # noqa: E402
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table  # noqa: E402
from hiveframe.pipeline import Synthesizer  # noqa: E402
from hiveframe.pipeline.catalog import catalog_entry  # noqa: E402
from hiveframe_spark import provenance as prov  # noqa: E402
from hiveframe_spark.engine import SparkEngine  # noqa: E402
from hiveframe_spark.io import SparkWriter  # noqa: E402

pytestmark = pytest.mark.spark


def tiny() -> tuple[Database, Metadata]:
    """Two related tables, small enough to fit in a second."""
    rng = np.random.default_rng(0)
    n = 40
    per = rng.integers(0, 4, n)
    db = Database({
        "users": pa.table({"id": np.arange(n), "age": rng.integers(18, 90, n)}),
        "visits": pa.table({"visit_id": np.arange(int(per.sum())), "user_id": np.repeat(np.arange(n), per),
                            "minutes": rng.gamma(2.0, 5.0, int(per.sum()))}),
    })
    md = Metadata(tables=(
        Table("users", (Column("id", ColumnKind.ID, "int64", False),
                        Column("age", ColumnKind.NUMERICAL, "int64", False)), primary_key=("id",)),
        Table("visits", (Column("visit_id", ColumnKind.ID, "int64", False),
                         Column("user_id", ColumnKind.ID, "int64", False),
                         Column("minutes", ColumnKind.NUMERICAL, "double", False)), primary_key=("visit_id",)),
    ), foreign_keys=(ForeignKey("visits", ("user_id",), "users", ("id",)),))
    return db, md


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    db, md = tiny()
    path = tmp_path_factory.mktemp("models") / "tiny"
    Synthesizer(md, seed=5).fit(db).save(path)
    return path


def test_cli_spark_engine_writes_the_entry_at_the_root_and_in_every_table_folder(spark, model, tmp_path, capsys):
    from hiveframe.cli import main

    out = tmp_path / "out"
    code = main(["sample", str(model), "-o", str(out), "--engine", "spark", "--partitions", "2", "--seed", "3",
                 "--rows", "users=30", "-q"])
    assert code == 0, capsys.readouterr().err
    entry = hiveframe.read_catalog(out)
    back = hiveframe.read(out)
    written = json.loads((out / prov.FILE_NAME).read_text())
    assert entry["rows"] == written["rows"] == {name: back[name].num_rows for name in back.names}
    assert entry["rows"]["users"] == 30 and entry["rows"]["visits"] > 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert entry["source_profile_digest"] == manifest["source_profile_digest"] is not None
    assert entry["sampling"] == {"seed": 3, "scale": None, "rows": {"users": 30}}
    assert entry["tags"] == ["synthetic"] and entry["generator"]["tables"].keys() == {"users", "visits"}
    assert entry["model"]["path"] == str(model)
    # every table folder and every part file of it gives the same entry; the provenance names it
    assert written["dataset_id"] == entry["dataset_id"] and written["catalog_file"] == "_catalog.json"
    for name in ("users", "visits"):
        assert hiveframe.read_catalog(out / name) == entry
        parts = sorted((out / name).glob("part-*.parquet"))
        assert parts and all(hiveframe.read_catalog(p) == entry for p in parts)
        (out / name / "_catalog.json").rename(tmp_path / "away.json")  # a part file alone holds it too
        assert all(hiveframe.read_catalog(p) == entry for p in parts)
        (tmp_path / "away.json").rename(out / name / "_catalog.json")
        table_rec = json.loads((out / name / prov.FILE_NAME).read_text())
        assert table_rec["dataset_id"] == entry["dataset_id"] and table_rec["rows"] == entry["rows"][name]
        assert entry["dataset_id"] in spark.read.parquet(str(out / name)).schema.fields[0].metadata[
            prov.KEY_PROVENANCE]
    assert hiveframe.read(out).names == ["users", "visits"]  # the entry files are no tables


def test_spark_engine_to_catalog_tables_sets_the_entry_property(spark, model):
    synth = Synthesizer.load(model)
    request = SampleRequest(model=str(model), output="catalog:hf_catalog", format="parquet", seed=2,
                            overwrite=True, options={"partitions": 2},
                            catalog=catalog_entry(synth, None, seed=2, scale=1.0, model=model))
    written = SparkEngine().sample(request)
    for name, rows in written.items():
        props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES hf_catalog.{name}").collect()}
        entry = json.loads(props[prov.KEY_CATALOG])
        assert entry["rows"] == dict(written) and entry["dataset_id"] == request.catalog["dataset_id"]
        assert spark.table(f"hf_catalog.{name}").count() == rows
        assert json.loads(props[prov.KEY_PROVENANCE])["dataset_id"] == entry["dataset_id"]


def test_writer_embeds_a_given_entry_in_every_part_files_footer(spark, model, tmp_path):
    synth = Synthesizer.load(model)
    data = synth.sample(seed=1)
    entry = catalog_entry(synth, data, seed=1, scale=1.0, model=model, tags=["conditioned"])
    out = tmp_path / "synthetic"
    SparkWriter(spark=spark, partitions=2).write(data, out, provenance={"seed": 1, "catalog": entry})
    assert hiveframe.read_catalog(out) == entry and entry["tags"] == ["conditioned", "synthetic"]
    root_rec = json.loads((out / prov.FILE_NAME).read_text())
    assert "catalog" not in root_rec and root_rec["catalog_file"] == "_catalog.json"
    for name in data.names:
        assert hiveframe.read_catalog(out / name) == entry
        parts = sorted((out / name).glob("part-*.parquet"))
        assert len(parts) == 2
        for part in parts:  # the file alone carries it: Spark's schema JSON in its footer
            (out / name / "_catalog.json").rename(tmp_path / "away.json")
            assert hiveframe.read_catalog(part) == entry
            (tmp_path / "away.json").rename(out / name / "_catalog.json")
    SparkWriter(spark=spark).write(data, "catalog:hf_catalog_w", provenance={"catalog": entry})
    props = {r["key"]: r["value"] for r in spark.sql("SHOW TBLPROPERTIES hf_catalog_w.users").collect()}
    assert json.loads(props[prov.KEY_CATALOG]) == entry
