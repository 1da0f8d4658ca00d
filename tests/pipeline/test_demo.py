"""The relational demo: bundled Chinook in, a synthetic SQLite that passes foreign_key_check out."""

from __future__ import annotations

import json
import sqlite3

import pytest

from hiveframe.errors import SourceError
from hiveframe.pipeline.demo import format_summary, run_demo


def test_run_demo_writes_an_intact_sqlite_database(tmp_path) -> None:
    summary = run_demo(tmp_path / "demo", seed=1)
    out = tmp_path / "demo" / "chinook_synthetic.sqlite"
    assert summary["output"] == str(out) and out.is_file()
    assert summary["foreign_key_violations"] == 0 and summary["declared_foreign_keys"] == 11
    assert summary["integrity_problems"] == []
    con = sqlite3.connect(out)
    try:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        assert {"Track", "PlaylistTrack", "Employee", "InvoiceLine"} <= tables
        assert con.execute("select count(*) from Employee where ReportsTo is null").fetchone()[0] >= 1
    finally:
        con.close()
    assert set(summary["tables"]) <= tables  # (the writer may add its own provenance table)
    assert min(summary["cardinality_similarity"].values()) >= 0.9
    text = format_summary(summary)
    assert "foreign_key_check: ok" in text and "Track" in text
    # the folder is one output: every file listed in its provenance, nothing left beside it
    provenance = json.loads((tmp_path / "demo" / "_provenance.json").read_text())
    files = (p.relative_to(tmp_path / "demo").as_posix() for p in (tmp_path / "demo").rglob("*") if p.is_file())
    written = sorted(rel for rel in files if rel != "_provenance.json")
    assert provenance["kind"] == "demo" and provenance["files"] == written
    assert {"summary.txt", "summary.json", "metadata.json", "model/manifest.json"} <= set(written)
    assert summary["model"] == str(tmp_path / "demo" / "model")
    assert (tmp_path / "demo" / "summary.txt").read_text() == text + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    # a second run replaces its own output
    assert run_demo(tmp_path / "demo", seed=1, save_model=False)["foreign_key_violations"] == 0
    assert not (tmp_path / "demo" / "model").exists()


def test_run_demo_never_replaces_a_users_files(tmp_path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "chinook_synthetic.sqlite").write_text("my own database")
    (out / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(SourceError, match="chinook_synthetic.sqlite, notes.txt") as err:
            run_demo(out, overwrite=overwrite)
        assert err.value.hint
    assert sorted(p.name for p in out.iterdir()) == ["chinook_synthetic.sqlite", "notes.txt"]
    assert (out / "chinook_synthetic.sqlite").read_text() == "my own database"
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
