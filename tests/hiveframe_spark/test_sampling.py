"""Distributed sampling: partitions on executors, keys valid across partitions, same seed same rows."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

from hiveframe.components import Database  # noqa: E402
from hiveframe.errors import ConfigError, PersistenceError, SourceError  # noqa: E402
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table  # noqa: E402
from hiveframe.pipeline import Synthesizer  # noqa: E402
from hiveframe_spark import provenance as prov  # noqa: E402
from hiveframe_spark.sampling import generate_partition, integrity, make_plan, read_output, sample_to  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def berka_model(tmp_path_factory, berka_small):
    path = tmp_path_factory.mktemp("models") / "berka"
    Synthesizer(seed=11).fit(Database(dict(berka_small))).save(path)
    return path


def shop() -> tuple[Database, Metadata]:
    """Random string customer ids, a lookup table with counter codes (P-0001), integer order ids."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    ids = sorted({"".join(rng.choice(letters, 8)) for _ in range(40)})
    codes = [f"P-{i:04d}" for i in range(1, 13)]
    per = rng.integers(0, 5, len(ids))
    orders_customer = np.repeat(ids, per)
    n = len(orders_customer)
    db = Database({
        "customers": pa.table({"id": ids, "age": rng.integers(18, 90, len(ids))}),
        "products": pa.table({"code": codes, "price": rng.gamma(2.0, 10.0, len(codes))}),
        "orders": pa.table({"order_id": np.arange(1000, 1000 + n), "customer_id": orders_customer,
                            "product_code": rng.choice(codes, n), "amount": rng.normal(50, 10, n)}),
    })
    md = Metadata(tables=(
        Table("customers", (Column("id", ColumnKind.ID, "string", False),
                            Column("age", ColumnKind.NUMERICAL, "int64", False)), primary_key=("id",)),
        Table("products", (Column("code", ColumnKind.ID, "string", False),
                           Column("price", ColumnKind.NUMERICAL, "double", False)), primary_key=("code",)),
        Table("orders", (Column("order_id", ColumnKind.ID, "int64", False),
                         Column("customer_id", ColumnKind.ID, "string", False),
                         Column("product_code", ColumnKind.ID, "string", False),
                         Column("amount", ColumnKind.NUMERICAL, "double", False)),
              primary_key=("order_id",), driver="customer_id"),
    ), foreign_keys=(
        ForeignKey("orders", ("customer_id",), "customers", ("id",)),
        ForeignKey("orders", ("product_code",), "products", ("code",)),
    ))
    return db, md


def music() -> tuple[Database, Metadata]:
    """Record labels (a root that drives records) with unique names; records with unique titles."""
    rng = np.random.default_rng(4)
    syllables = ["ka", "lo", "mi", "ren", "sa", "tor", "vel", "dan", "ri", "po", "ne", "sul"]

    def word(k: int) -> str:
        return "".join(rng.choice(syllables, k)).capitalize()

    names: list[str] = []
    while len(names) < 30:
        name = f"{word(2)} {word(int(rng.integers(1, 3)))}"
        if name not in names:
            names.append(name)
    per = rng.integers(1, 4, len(names))
    titles: list[str] = []
    while len(titles) < per.sum():
        title = word(int(rng.integers(2, 4)))
        if title not in titles:
            titles.append(title)
    db = Database({
        "labels": pa.table({"label_id": np.arange(1, 31), "name": names}),
        "records": pa.table({"record_id": np.arange(1, len(titles) + 1), "label_id": np.repeat(np.arange(1, 31), per),
                             "title": titles, "year": rng.integers(1960, 2020, len(titles))}),
    })
    md = Metadata(tables=(
        Table("labels", (Column("label_id", ColumnKind.ID, "int64", False),
                         Column("name", ColumnKind.CATEGORICAL, "string", False)), primary_key=("label_id",)),
        Table("records", (Column("record_id", ColumnKind.ID, "int64", False),
                          Column("label_id", ColumnKind.ID, "int64", False),
                          Column("title", ColumnKind.CATEGORICAL, "string", False),
                          Column("year", ColumnKind.NUMERICAL, "int64", False)), primary_key=("record_id",)),
    ), foreign_keys=(ForeignKey("records", ("label_id",), "labels", ("label_id",)),))
    return db, md


def test_berka_partitions_keep_every_key_valid(spark, berka_model, tmp_path):
    out = tmp_path / "synthetic"
    result = sample_to(berka_model, out, scale=2.0, seed=5, partitions=2, spark=spark)
    md = Synthesizer.load(berka_model).metadata
    frames = read_output(spark, out, md)
    report = integrity(spark, frames, md)
    assert report["ok"] and report["integrity"] == 1.0, report
    assert result["partitions"] == 2
    for name, info in result["tables"].items():
        assert frames[name].count() == info["rows"] > 0
    assert result["tables"]["district"]["rows"] == 16  # 8 real districts, scale 2
    rec = json.loads((out / "order" / prov.FILE_NAME).read_text())
    assert rec["synthetic"] is True and rec["model_id"] == result["model_id"] and rec["seed"] == 5
    assert rec["partitions"] == 2 and rec["engine"] == "spark"
    # the partition-local keys were shifted into one range per table: 1..n for counters from 1
    ids = sorted(r[0] for r in frames["district"].select("district_id").collect())
    assert ids == list(range(ids[0], ids[0] + 16))


def test_unique_columns_stay_unique_across_partitions(spark, tmp_path):
    """Each partition draws names from the same real pool: across partitions they would repeat. Repeats
    take the real names no partition used, then new names in their style; same seed, same names."""
    db, md = music()
    model = tmp_path / "music-model"
    Synthesizer(md, seed=1).fit(db).save(model)
    real_names, real_titles = set(db["labels"]["name"].to_pylist()), set(db["records"]["title"].to_pylist())
    styled = re.compile(r"[A-Z][a-z]+( [A-Z][a-z]+)*( \d+)?")
    seen = {}
    for run, scale in enumerate((1.0, 3.0, 3.0)):
        out = tmp_path / f"music{run}"
        result = sample_to(model, out, scale=scale, seed=4, partitions=3, spark=spark)
        assert result["partitions"] == 3
        frames = read_output(spark, out, md)
        assert integrity(spark, frames, md)["ok"]
        labels = sorted(map(tuple, frames["labels"].select("label_id", "name").collect()))
        names = [n for _, n in labels]
        titles = [r[0] for r in frames["records"].select("title").collect()]
        assert len(names) == len(set(names)) == round(30 * scale), names
        assert len(titles) == len(set(titles)), sorted(titles)
        if scale == 1.0:  # as many rows as real names: the real names, each once
            assert set(names) == real_names
        else:  # every real name, then new ones that look like them and copy none
            assert real_names <= set(names)
            assert len(real_titles & set(titles)) == len(real_titles)
            new = (set(names) - real_names) | (set(titles) - real_titles)
            assert new and all(styled.fullmatch(v) for v in new), sorted(new)
        seen[run] = (labels, sorted(titles))
    assert seen[1] == seen[2]  # same model, seed and partitions: the same names


def test_same_seed_and_partitions_same_rows(spark, tmp_path):
    db, md = shop()
    model = tmp_path / "shop-model"
    Synthesizer(md, seed=2).fit(db).save(model)
    runs = []
    for i, seed in enumerate((7, 7, 8)):
        out = tmp_path / f"out{i}" if i < 2 else "catalog:hf_shop"  # the third run writes catalog tables
        sample_to(model, out, scale=2.0, seed=seed, partitions=3, spark=spark)
        frames = read_output(spark, out, md)
        report = integrity(spark, frames, md)
        assert report["ok"], report
        runs.append({t: sorted(map(tuple, f.collect())) for t, f in frames.items()})
    assert runs[0] == runs[1]
    assert runs[0]["orders"] != runs[2]["orders"]
    props = {r["key"]: r["value"] for r in spark.sql("SHOW TBLPROPERTIES hf_shop.orders").collect()}
    assert props[prov.KEY_SYNTHETIC] == "true" and json.loads(props[prov.KEY_PROVENANCE])["seed"] == 8
    first = runs[0]
    assert len(first["products"]) == 24  # a lookup root is written once, not once per partition
    assert all(re.fullmatch(r"P-\d{4}", code) for code, _ in first["products"])
    customers = [c for c, _ in first["customers"]]
    assert len(set(customers)) == len(customers) == 80  # template keys unique across partitions
    assert all(re.fullmatch(r"[a-z]{8}(_p\d+)?", c) for c in customers)


def test_partition_generation_is_deterministic(berka_model):
    from hiveframe_spark.sampling import model_files

    synth = Synthesizer.load(berka_model)
    plan = make_plan(synth, scale=1.0, rows={}, seed=3, partitions=4)
    model = {"id": "m", "files": model_files(berka_model)}
    a, b = generate_partition(model, plan, 1), generate_partition(model, plan, 1)
    other = generate_partition(model, plan, 2)
    assert all(a[t].equals(b[t]) for t in a)
    assert not a["account"].equals(other["account"])
    assert sum(plan.rows_of("district", p) for p in range(4)) == 8


def test_bad_requests(spark, berka_model, tmp_path):
    with pytest.raises(PersistenceError, match="not a hiveframe model"):
        sample_to(tmp_path, tmp_path / "x", spark=spark)
    with pytest.raises(ConfigError, match="root tables"):
        sample_to(berka_model, tmp_path / "y", rows={"order": 10}, spark=spark)
    (tmp_path / "taken" / "district").mkdir(parents=True)
    with pytest.raises(SourceError, match="already exist"):
        sample_to(berka_model, tmp_path / "taken", spark=spark, partitions=2)
    (tmp_path / "taken" / "district" / "real.csv").write_text("id\n1\n")
    with pytest.raises(SourceError, match="not written by hiveframe"):  # overwrite: only hiveframe output
        sample_to(berka_model, tmp_path / "taken", spark=spark, partitions=2, mode="overwrite")
    assert (tmp_path / "taken" / "district" / "real.csv").read_text() == "id\n1\n"


def test_cli_sample_with_spark_engine(spark, berka_model, tmp_path, capsys):
    from hiveframe.cli import main

    out = tmp_path / "cli-out"
    code = main(["sample", str(berka_model), "-o", str(out), "--engine", "spark", "--partitions", "2",
                 "--seed", "3"])
    assert code == 0, capsys.readouterr().err
    md = Synthesizer.load(berka_model).metadata
    report = integrity(spark, read_output(spark, out, md), md)
    assert report["ok"] and report["integrity"] == 1.0, report
    assert "on Spark" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_spark_output_reads_back_with_hiveframe_read_and_report(spark, berka_model, berka_small, tmp_path, capsys,
                                                                fmt):
    """No Spark is needed to read: the folder reader takes each table's folder of part files as one table,
    with the column types a local sample has."""
    import pyarrow.parquet as pq

    import hiveframe
    from hiveframe.cli import main

    out = tmp_path / "spark-out"
    code = main(["sample", str(berka_model), "-o", str(out), "--engine", "spark", "--partitions", "2",
                 "--seed", "4", "--format", fmt, "-q"])
    assert code == 0, capsys.readouterr().err
    assert any(p.name.startswith("part-") for p in (out / "order").iterdir())  # Spark's layout, not ours
    synth = Synthesizer.load(berka_model)
    local = synth.sample(seed=4)
    written = json.loads((out / prov.FILE_NAME).read_text())["rows"]  # what the executors wrote
    back = hiveframe.read(out)
    assert back.names == sorted(local.names)
    for name in local.names:
        assert back[name].schema == local[name].schema, (fmt, name, back[name].schema, local[name].schema)
        assert back[name].num_rows == written[name] > 0, (fmt, name)
    district_ids = set(back["district"]["district_id"].to_pylist())
    assert set(back["account"]["district_id"].to_pylist()) <= district_ids  # keys hold across part files

    pytest.importorskip("hiveframe_validate.report")
    real = tmp_path / "real"
    real.mkdir()
    for name, table in berka_small.items():
        pq.write_table(table, real / f"{name}.parquet")
    code = main(["report", str(real), str(out), "-o", str(tmp_path / "report"), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "report written to" in captured.out and any((tmp_path / "report").iterdir())


def test_cli_spark_engine_refuses_sqlite(berka_model, tmp_path, capsys):
    from hiveframe.cli import main

    code = main(["sample", str(berka_model), "-o", str(tmp_path / "x.sqlite"), "--engine", "spark"])
    assert code == 2
    assert "--engine spark writes folders" in capsys.readouterr().err
