"""The kernel installed alone works: a fresh virtual environment (no system site packages) gets the
distribution without extras, so no torch, scikit-learn, pyspark or polars, and runs detect -> fit ->
sample -> write on the bundled demo database with the builtin Gaussian copula.

It installs ``--no-deps .`` plus exactly the hard dependencies pyproject declares, from the package
registry (pip's cache makes later runs quicker): a plugin import left in the kernel fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "tests", "benchmarks", "docs", "build", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".ruff_cache", ".nox", "dist")

PIPELINE = """
import importlib.util, json, sys
import hiveframe
from hiveframe.pipeline.demo import demo_source

database = hiveframe.read(demo_source())
metadata = hiveframe.detect(database)
synth = hiveframe.Synthesizer(metadata).fit(database, progress=True)
synthetic = synth.sample(seed=1)
hiveframe.write(synthetic, sys.argv[1], format="parquet")
heavy = [m for m in ("torch", "sklearn", "pyspark", "polars") if importlib.util.find_spec(m) is not None]
print(json.dumps({"tables": {name: synthetic[name].num_rows for name in synthetic.names}, "file": hiveframe.__file__,
                  "generators": sorted({g.name for g in synth.table_generators.values()}), "heavy": heavy}))
"""


def run(*argv: str | Path, cwd: Path) -> str:
    """Run with nothing of this interpreter's paths: no PYTHONPATH, no user site packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_kernel_alone_detects_fits_samples_and_writes(tmp_path):
    started = time.perf_counter()
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    run(python, "-m", "pip", "install", "-q", "--no-deps", source, cwd=tmp_path)
    run(python, "-m", "pip", "install", "-q", *deps, cwd=tmp_path)
    installed = run(python, "-m", "pip", "list", "--format", "json", cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(installed)}
    assert not names & {"torch", "scikit-learn", "pyspark", "polars", "faker"}, names

    out = tmp_path / "synthetic"
    result = json.loads(run(python, "-c", PIPELINE, out, cwd=tmp_path).splitlines()[-1])
    assert result["heavy"] == [] and Path(result["file"]).is_relative_to(venv), result  # the installed copy
    assert "gaussian_copula" in result["generators"], result
    assert len(result["tables"]) == 11 and all(n > 0 for n in result["tables"].values()), result
    written = sorted(p.stem for p in out.glob("*.parquet"))
    assert written == sorted(result["tables"]), written

    # the CLI the same way, and the plugins of the distribution listed as unavailable, not crashing
    cli = venv / "bin" / "hiveframe"
    run(cli, "detect", source / "hiveframe" / "demo_data" / "chinook.sqlite", "-o", tmp_path / "md.json", cwd=tmp_path)
    run(cli, "fit", source / "hiveframe" / "demo_data" / "chinook.sqlite", "--metadata", tmp_path / "md.json",
        "-o", tmp_path / "model", "-q", cwd=tmp_path)
    sampled = run(cli, "sample", tmp_path / "model", "-o", tmp_path / "out.sqlite", "-q", cwd=tmp_path)
    assert "sampled 11 table(s)" in sampled and (tmp_path / "out.sqlite").is_file()
    listing = run(cli, "plugins", cwd=tmp_path)
    assert "builtin" in listing and "ctgan" in listing and "unavailable: install hiveframe[ctgan]" in listing
    print(f"kernel-only install and pipeline: {time.perf_counter() - started:.1f}s")
