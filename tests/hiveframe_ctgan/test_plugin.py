"""The plugin registers through the entry point and stays light to import."""

from __future__ import annotations

import subprocess
import sys

from hiveframe.plugins import PluginHost


def test_registered_through_the_entry_point():
    host = PluginHost()
    info = host.infos["ctgan"]
    assert info.source == "entry point" and info.status == "ok"
    assert info.components == {"transformer": ["vgm"], "table_generator": ["ctgan", "tvae"]}
    for name in ("ctgan", "tvae"):
        cls = host.component_class("table_generator", name)
        assert cls.requires == ("torch",) and cls.extra == "ctgan"
    gen = host.create("table_generator", "ctgan", {"epochs": 3, "generator_dim": [64, 64]})
    assert gen.epochs == 3 and gen.generator_dim == (64, 64)


def test_entry_module_and_components_do_not_import_torch():
    code = (
        "import sys\n"
        "import hiveframe_ctgan.plugin as p\n"
        "assert set(sys.modules) >= {'hiveframe_ctgan.plugin'}\n"
        "assert 'hiveframe_ctgan.generators' not in sys.modules\n"
        "from hiveframe.plugins import PluginHost\n"
        "host = PluginHost()\n"
        "host.create('table_generator', 'ctgan', {})\n"
        "host.create('transformer', 'vgm', {})\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
