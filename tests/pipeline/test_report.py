"""The kernel's report seam: any report plugin writes into a staging folder that is swapped in whole,
and a folder holding files hiveframe did not write is refused before the plugin runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hiveframe import detect
from hiveframe.components import Database
from hiveframe.errors import MissingDependencyError, SourceError
from hiveframe.hookspecs import hookimpl
from hiveframe.pipeline.report import write_report
from hiveframe.plugins import PluginHost


class ThirdPartyReport:
    """A report plugin that knows nothing about staging: it writes into the folder it is given."""

    def __init__(self, fail_after: str | None = None) -> None:
        self.fail_after = fail_after
        self.folders: list[Path] = []

    @hookimpl
    def hiveframe_write_report(self, real, synthetic, metadata, out_dir, options):
        self.folders.append(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "index.html").write_text(f"<p>{options.get('title')}</p>")
        if self.fail_after == "index.html":
            raise OSError(28, "No space left on device")
        (out_dir / "data").mkdir()
        (out_dir / "data" / "scores.json").write_text(json.dumps({"title": options.get("title")}))
        return {"path": str(out_dir / "index.html"), "files": [out_dir / "data" / "scores.json"],
                "overall": {"status": "info"}}


def host_with(plugin: Any | None) -> PluginHost:
    host = PluginHost(load_entry_points=False)
    if plugin is not None:
        host.register(plugin, name="third_party_report")
    return host


@pytest.fixture
def data() -> tuple[Database, Any]:
    database = Database({"people": pa.table({"age": [30, 40, 50, 35], "city": ["a", "b", "a", "c"]})})
    return database, detect(database)


def snapshot(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_plugin_writes_into_staging_and_the_summary_names_the_final_folder(tmp_path, data):
    plugin = ThirdPartyReport()
    out = tmp_path / "report"
    summary = write_report(host_with(plugin), data[0], data[0], data[1], out, title="first")
    assert plugin.folders[0].parent == tmp_path and plugin.folders[0].name.startswith(".report.hf-stage-")
    assert summary["path"] == str(out / "index.html") and summary["files"] == [out / "data" / "scores.json"]
    assert sorted(snapshot(out)) == ["_provenance.json", "data/scores.json", "index.html"]
    provenance = json.loads((out / "_provenance.json").read_text())
    assert provenance["kind"] == "report" and provenance["files"] == ["data/scores.json", "index.html"]
    # an earlier report is hiveframe's own: running again replaces it whole
    write_report(host_with(ThirdPartyReport()), data[0], data[0], data[1], out, title="second")
    assert (out / "index.html").read_text() == "<p>second</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_users_file_in_the_folder_is_refused_before_the_plugin_runs(tmp_path, data):
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("my own page")
    plugin = ThirdPartyReport()
    for overwrite in (False, True):
        with pytest.raises(SourceError, match="index.html") as err:
            write_report(host_with(plugin), data[0], data[0], data[1], out, overwrite=overwrite)
        assert err.value.hint
    assert plugin.folders == []  # refused before any work
    assert snapshot(out) == {"index.html": b"my own page"}


def test_a_plugin_that_fails_midway_leaves_the_previous_report_whole(tmp_path, data):
    out = tmp_path / "report"
    write_report(host_with(ThirdPartyReport()), data[0], data[0], data[1], out, title="old")
    before = snapshot(out)
    with pytest.raises(SourceError, match="No space left on device") as err:
        write_report(host_with(ThirdPartyReport(fail_after="index.html")), data[0], data[0], data[1], out,
                     title="new")
    assert "disk is full" in err.value.hint
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging left


def test_without_a_report_plugin_nothing_is_touched(tmp_path, data):
    out = tmp_path / "report"
    with pytest.raises(MissingDependencyError, match="validators plugin"):
        write_report(host_with(None), data[0], data[0], data[1], out)
    assert list(tmp_path.iterdir()) == []
