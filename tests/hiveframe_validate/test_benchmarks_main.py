"""benchmarks/__main__.py assembles RESULTS.md from result JSON files (no benchmark is run here)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.__main__")


def test_results_md_has_medians_ratios_machine_and_versions(tmp_path):
    bench = load()
    env = {"python": "3.11", "machine": "x86_64", "cpus": 2, "platform": "Linux-test",
           "versions": {"hiveframe": "0.1.0", "sdv": "2.0.0"}}
    full = {"benchmark": "demo", "repeats": 3, "environment": env,
            "models": {"hiveframe x": {"fit_seconds": 2.0, "quality_score": 0.9},
                       "sdv y": {"fit_seconds": 10.0, "quality_score": 0.8}},
            "comparison": {"fit_speedup": 5.0}}
    (tmp_path / "zzdemo.json").write_text(json.dumps(full))
    (tmp_path / "zzdemo_smoke.json").write_text(json.dumps({"benchmark": "demo", "environment": env}))
    (tmp_path / "zzother_smoke.json").write_text(json.dumps({"a": {"b": 1.5}}))
    text = bench.build_results_md(tmp_path, command="nox -s bench")
    assert "command: `nox -s bench`" in text and "Linux-test" in text and "sdv 2.0.0" in text
    assert "| hiveframe x | 2.000 | 0.900 | 1.000 |" in text
    assert "| sdv y | 10.000 | 0.800 | 5.000 |" in text  # the ratio to the first model
    assert "## zzdemo\n" in text and "zzdemo (smoke run)" not in text  # a full run hides its smoke run
    assert "## zzother (smoke run)" in text and "| a.b | 1.500 |" in text
    assert bench.discover() == sorted(p.stem[6:] for p in (ROOT / "benchmarks").glob("bench_*.py"))
