"""The relational demo: bundled Chinook in, a synthetic SQLite that passes foreign_key_check out."""

from __future__ import annotations

import sqlite3

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
    # a second run replaces its own output
    assert run_demo(tmp_path / "demo", seed=1, save_model=False)["foreign_key_violations"] == 0
