"""``hiveframe fit --engine spark``: the generator fits (and a batches table's column batches) run as Spark
tasks through the parallel trainer; the saved model is the one a local fit makes."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

pytestmark = pytest.mark.spark


def test_fit_engine_spark_trains_batches_as_tasks_and_saves_the_local_model(spark, tmp_path, capsys):
    pytest.importorskip("hiveframe_batches")
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hiveframe.cli import main
    from hiveframe.pipeline import Synthesizer

    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    (tmp_path / "db").mkdir()
    pq.write_table(
        pa.table(
            {
                "a1": a,
                "a2": 2 * a + rng.normal(size=200) * 0.1,
                "b1": rng.normal(size=200),
                "b2": rng.normal(size=200),
                "c1": -a + rng.normal(size=200) * 0.3,
            }
        ),
        tmp_path / "db" / "wide.parquet",
    )
    common = [
        str(tmp_path / "db"),
        "--batches",
        "wide=2",
        "--table-param",
        "wide.anchors=1",
        "--seed",
        "3",
        "-q",
    ]
    assert main(["fit", *common, "-o", str(tmp_path / "local")]) == 0
    assert (
        main(["fit", *common, "-o", str(tmp_path / "spark"), "--engine", "spark", "--master", "local[2]"])
        == 0
    )
    local, remote = Synthesizer.load(tmp_path / "local"), Synthesizer.load(tmp_path / "spark")
    layout = remote.table_generators["wide"].batch_layout()
    assert len(layout) >= 3 and layout == local.table_generators["wide"].batch_layout()
    assert all(v.get("elsewhere") for v in remote.table_generators["wide"].fit_info["batches"].values())
    assert remote.sample(seed=9)["wide"].equals(local.sample(seed=9)["wide"])
