"""Parallel training: table generators fitted as Spark tasks give the model a sequential fit gives."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("pyspark")

from hiveframe.components import Database  # noqa: E402
from hiveframe.errors import PluginError  # noqa: E402
from hiveframe.pipeline import Synthesizer  # noqa: E402
from hiveframe_spark.training import build_component, component_spec, fit_parallel  # noqa: E402

pytestmark = pytest.mark.spark


def test_parallel_fit_equals_sequential(spark, berka_small, tmp_path):
    db = Database(dict(berka_small))
    sequential = Synthesizer(seed=4).fit(db)
    events = []
    parallel = fit_parallel(Synthesizer(seed=4), db, spark=spark, callback=events.append)
    fitted_remotely = {e["table"] for e in events}
    assert {"account", "order", "loan", "district"} <= fitted_remotely
    assert all(e["spark"] and e["seconds"] >= 0 for e in events)
    a, b = sequential.sample(seed=9), parallel.sample(seed=9)
    for name in a.names:
        assert a[name].equals(b[name]), name
    parallel.save(tmp_path / "model")  # the assembled model saves and loads like any other
    again = Synthesizer.load(tmp_path / "model").sample(seed=9)
    assert all(again[n].equals(a[n]) for n in a.names)


def test_component_specs_round_trip_without_pickle():
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    gen = host.create("table_generator", "gaussian_copula", {})
    spec = component_spec(gen)
    assert spec["name"] == "gaussian_copula" and spec["kind"] == "table_generator"
    rebuilt = build_component(host, spec)
    assert type(rebuilt) is type(gen) and rebuilt.get_params() == gen.get_params()
    with pytest.raises(PluginError, match="install the plugin"):
        build_component(host, {**spec, "name": "no_such_generator"})


def test_batches_of_a_wide_table_are_spark_tasks_of_their_own(spark):
    """A batches generator's column batches are fitted as separate tasks and joined: the model a
    sequential fit makes."""
    pytest.importorskip("hiveframe_batches")
    import numpy as np
    import pyarrow as pa
    from hiveframe_batches.generators import BatchesGenerator

    from hiveframe import detect

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    data = pa.table({"a1": a, "a2": 2 * a + rng.normal(size=300) * 0.1, "b1": rng.normal(size=300),
                     "b2": rng.normal(size=300), "c1": -a + rng.normal(size=300) * 0.3})
    md = detect({"wide": data})

    def synth():
        return Synthesizer(md, generators={"wide": BatchesGenerator(max_width=2, anchors=1)}, seed=2)

    sequential = synth().fit(Database({"wide": data}))
    events = []
    parallel = fit_parallel(synth(), Database({"wide": data}), spark=spark, callback=events.append)
    layout = parallel.table_generators["wide"].batch_layout()
    assert len(layout) >= 3 and sorted(e["part"] for e in events) == [b["key"] for b in layout]
    assert all(e["table"] == "wide" and e["spark"] for e in events)
    assert parallel.sample(seed=9)["wide"].equals(sequential.sample(seed=9)["wide"])
