"""One local SparkSession for every Spark test (starting Spark costs seconds; tests share it)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark")
    from hiveframe_spark.session import get_or_create

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = get_or_create(local=True, master="local[2]", app_name="hiveframe-tests", config={
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.memory": "1g",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.python.worker.reuse": "true",
    })
    yield session
    session.stop()


@pytest.fixture(scope="session")
def berka_small(shared_data):
    """A related subset of Berka as Arrow tables: 8 districts and everything that hangs off them."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder = shared_data / "berka"
    raw = {p.name.split(".")[0]: pacsv.read_csv(p) for p in sorted(folder.glob("*.csv.gz"))}
    districts = raw["district"].slice(0, 8)
    keep = {"district": districts}
    keep["account"] = raw["account"].filter(pc.is_in(raw["account"]["district_id"], districts["district_id"]))
    keep["client"] = raw["client"].filter(pc.is_in(raw["client"]["district_id"], districts["district_id"]))
    disp = raw["disp"].filter(pc.is_in(raw["disp"]["account_id"], keep["account"]["account_id"]))
    keep["disp"] = disp.filter(pc.is_in(disp["client_id"], keep["client"]["client_id"]))
    keep["card"] = raw["card"].filter(pc.is_in(raw["card"]["disp_id"], keep["disp"]["disp_id"]))
    keep["loan"] = raw["loan"].filter(pc.is_in(raw["loan"]["account_id"], keep["account"]["account_id"]))
    keep["order"] = raw["order"].filter(pc.is_in(raw["order"]["account_id"], keep["account"]["account_id"]))
    return keep


@pytest.fixture(scope="session")
def berka_metadata():
    """Berka's keys, written by hand from schema.json (no detection needed)."""
    from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table

    def t(name, pk, cols):
        return Table(name=name, primary_key=(pk,), columns=tuple(
            Column(c, ColumnKind.ID if c.endswith("_id") else ColumnKind.CATEGORICAL, dtype="int64"
                   if c.endswith("_id") else "string") for c in cols))

    tables = (
        t("district", "district_id", ["district_id"]),
        t("account", "account_id", ["account_id", "district_id"]),
        t("client", "client_id", ["client_id", "district_id"]),
        t("disp", "disp_id", ["disp_id", "client_id", "account_id"]),
        t("card", "card_id", ["card_id", "disp_id"]),
        t("loan", "loan_id", ["loan_id", "account_id"]),
        t("order", "order_id", ["order_id", "account_id"]),
    )
    fks = (
        ForeignKey("account", ("district_id",), "district", ("district_id",)),
        ForeignKey("client", ("district_id",), "district", ("district_id",)),
        ForeignKey("disp", ("account_id",), "account", ("account_id",)),
        ForeignKey("disp", ("client_id",), "client", ("client_id",), one_to_one=True),
        ForeignKey("card", ("disp_id",), "disp", ("disp_id",)),
        ForeignKey("loan", ("account_id",), "account", ("account_id",)),
        ForeignKey("order", ("account_id",), "account", ("account_id",)),
    )
    return Metadata(tables=tables, foreign_keys=fks)
