"""The helpers every benchmark shares."""

from __future__ import annotations

import json

from benchmarks import common


def test_finish_writes_then_summarizes_with_the_load_after(tmp_path, monkeypatch, capsys):
    """A summary quotes the load average after the run: ``finish`` must record it before it summarizes
    (a run of bench_missingness once died there, after its fits, without writing its figures)."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    results = {"figure": 1}
    path = common.finish(results, "example", lambda r: f"load after {len(r['load_average_after'])} figures")
    assert json.loads(path.read_text())["figure"] == 1 and len(results["load_average_after"]) == 3
    assert "load after 3 figures" in capsys.readouterr().out
