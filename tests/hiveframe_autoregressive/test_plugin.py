"""The plugin is declared for installation, registers like a third party's, passes the conformance kit
and runs end to end through the Synthesizer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hiveframe.testing.conformance import check_table_generator

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[2]


def test_installed_through_the_entry_point_and_package_discovery():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is 3.11+; the project supports 3.10)
    entry_points = text.split("[project.entry-points.hiveframe]")[1].split("\n[")[0]
    assert 'autoregressive = "hiveframe_autoregressive.plugin"' in entry_points
    found = text.split("[tool.setuptools.packages.find]")[1].split("\n[")[0]
    assert '"plugins"' in found and '"hiveframe_autoregressive*"' in found
    assert (ROOT / "plugins" / "hiveframe_autoregressive" / "plugin.py").is_file()


def test_registers_the_table_generator(autoregressive_host):
    info = autoregressive_host.infos["autoregressive"]
    assert info.status == "ok" and info.components == {"table_generator": ["autoregressive"]}
    gen = autoregressive_host.create("table_generator", "autoregressive", {"epochs": 2, "hidden": 8})
    assert (gen.epochs, gen.hidden, gen.threads) == (2, 8, 1)


def test_entry_module_and_component_do_not_import_torch():
    code = ("import sys\n"
            "import hiveframe_autoregressive.plugin as p\n"
            "from hiveframe.plugins import PluginHost\n"
            "host = PluginHost(plugins={'autoregressive': p}) if 'autoregressive' not in PluginHost().infos "
            "else PluginHost()\n"
            "host.create('table_generator', 'autoregressive', {})\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_passes_the_conformance_kit(autoregressive_host):
    cls = autoregressive_host.component_class("table_generator", "autoregressive")
    report = check_table_generator(cls, params=TINY, host=autoregressive_host)
    assert "honours conditions on columns" in report.passed
    assert "state round-trips through save_component/load_component" in report.passed
    assert "trains under the 'dp' wrapper within its epsilon" in report.passed


def test_end_to_end_through_the_synthesizer(autoregressive_host, shared_data, tmp_path):
    from hiveframe.pipeline import Synthesizer

    real = pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz").slice(0, 600)
    folder = tmp_path / "census"
    folder.mkdir()
    pq.write_table(real, folder / "census.parquet")
    synth = Synthesizer(generator="autoregressive", generator_params=TINY, seed=3, host=autoregressive_host)
    synth.fit(folder)
    out = synth.sample(scale=0.5, seed=4)["census"]
    assert out.num_rows == 300 and out.schema.names == real.schema.names
    assert set(out.column("workclass").drop_null().to_pylist()) <= set(real.column("workclass").to_pylist())
    path = synth.save(tmp_path / "model")
    loaded = Synthesizer.load(path, host=autoregressive_host)
    assert loaded.sample(scale=0.5, seed=4)["census"].equals(out)
