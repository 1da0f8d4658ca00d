"""A third-party table generator, installed as a (fake) distribution with a ``hiveframe`` entry point:
discovered, selected by name in code and on the command line, fitted, sampled, saved and loaded."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from hiveframe.errors import PersistenceError
from hiveframe.testing.conformance import check_table_generator


@pytest.fixture(scope="module")
def census_small(census_folder) -> Path:
    """The first 1,500 census rows as a one-table Parquet folder."""
    return census_folder(1500)


def test_discovered_through_the_entry_point(my_gen, hiveframe_host_factory):
    host = hiveframe_host_factory()
    info = host.infos["mygen"]
    assert (info.status, info.version, info.source, info.distribution) == (
        "ok", "1.4.2", "entry point", "hiveframe-mygen")
    assert info.components == {"table_generator": ["my_gen"]}
    reg = host.registration("table_generator", "my_gen")
    assert reg.plugin == "mygen" and reg.cls.__module__ == "hiveframe_mygen.plugin"


def test_passes_the_conformance_kit(my_gen, hiveframe_host_factory):
    host = hiveframe_host_factory()
    report = check_table_generator(host.component_class("table_generator", "my_gen"), host=host)
    assert "state round-trips through save_component/load_component" in report.passed
    assert report.notes == ["conditional = False: context and conditions not checked",
                            "supports_dp = False: private training not checked"]


def test_selected_by_name_in_code(my_gen, hiveframe_host_factory, census_small, tmp_path):
    from hiveframe.pipeline import Synthesizer

    host = hiveframe_host_factory()
    synth = Synthesizer(generator="my_gen", generator_params={"spread": 0.5}, seed=3, host=host)
    synth.fit(census_small)
    gen = synth.table_generators["census"]
    assert gen.name == "my_gen" and type(gen).plugin == "mygen" and gen.spread == 0.5

    out = synth.sample(scale=0.1, seed=4)["census"]
    real = pq.read_table(census_small / "census.parquet")
    assert out.num_rows == 150
    assert out.schema.names == real.schema.names
    assert set(out.column("income").drop_null().to_pylist()) <= set(real.column("income").to_pylist())

    path = synth.save(tmp_path / "model")
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["versions"]["mygen"] == "1.4.2"
    loaded = Synthesizer.load(path, host=hiveframe_host_factory())
    assert loaded.table_generators["census"].name == "my_gen"
    assert loaded.sample(scale=0.1, seed=4)["census"].equals(out)


def test_a_model_needs_its_plugin_installed(my_gen, hiveframe_host_factory, census_small, tmp_path):
    from hiveframe.pipeline import Synthesizer

    synth = Synthesizer(generator="my_gen", host=hiveframe_host_factory()).fit(census_small)
    path = synth.save(tmp_path / "model")
    my_gen.uninstall()
    with pytest.raises(PersistenceError) as err:
        Synthesizer.load(path, host=hiveframe_host_factory())
    assert "plugin 'mygen' 1.4.2, which is not installed" in str(err.value)


def test_selected_by_name_on_the_command_line(my_gen, census_small, tmp_path, capsys):
    from hiveframe.cli import main

    model, out = tmp_path / "model", tmp_path / "synthetic"
    assert main(["fit", str(census_small), "-o", str(model), "--generator", "my_gen",
                 "--param", "spread=0.8", "--seed", "2"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"^\[1/1\] fitting census \(1500 rows, \d+ columns, my_gen\)$", captured.err, re.M)
    assert main(["sample", str(model), "-o", str(out), "--rows", "census=40", "--format", "csv"]) == 0
    written = list(out.iterdir())
    assert [p.name for p in written if p.name.startswith("census")]
    table = pacsv.read_csv(next(p for p in written if p.name.startswith("census")))
    assert table.num_rows == 40 and table.num_columns == 15

    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert "mygen 1.4.2 (entry point): ok" in listing
    assert "    table generator: my_gen" in listing
