"""Light import: heavy libraries load only when a component needs them (checked in fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "pyspark", "polars", "pandas", "sklearn", "opacus", "faker")


def loaded_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_hiveframe_loads_no_heavy_library():
    loaded = loaded_after("import hiveframe")
    assert not loaded & set(HEAVY), f"import hiveframe loaded {sorted(loaded & set(HEAVY))}"
    assert "pyarrow" not in loaded


def test_creating_a_plugin_host_loads_no_torch_spark_or_polars():
    loaded = loaded_after("from hiveframe.plugins import PluginHost\nhost = PluginHost()\n"
                          "assert host.names('table_generator')")
    bad = loaded & {"torch", "pyspark", "polars", "opacus"}
    assert not bad, f"PluginHost() loaded {sorted(bad)}"


@pytest.mark.parametrize("module", ["hiveframe.cli", "hiveframe.testing", "hiveframe.testing.pytest_plugin",
                                    "hiveframe.hookspecs", "hiveframe.persistence", "hiveframe.errors"])
def test_kernel_modules_import_light(module):
    loaded = loaded_after(f"import {module}")
    bad = loaded & {"torch", "pyspark", "polars", "pandas", "pyarrow"}
    assert not bad, f"import {module} loaded {sorted(bad)}"


def test_hiveframe_plugins_command_loads_no_torch_spark_or_polars():
    loaded = loaded_after("import contextlib, io\nfrom hiveframe.cli import main\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['plugins']) == 0")
    bad = loaded & {"torch", "pyspark", "polars"}
    assert not bad, f"hiveframe plugins loaded {sorted(bad)}"


def test_public_names_resolve_lazily():
    import hiveframe

    for name in hiveframe.__all__:
        assert getattr(hiveframe, name) is not None
    with pytest.raises(AttributeError):
        hiveframe.no_such_name  # noqa: B018
