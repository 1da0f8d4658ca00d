"""fit(validate=True) writes the quality report of the fitted model."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database
from hiveframe.errors import SourceError
from hiveframe.pipeline import Synthesizer


def test_fit_validate_writes_the_report(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    age = rng.integers(18, 80, n)
    table = pa.table({"age": age, "income": np.where(age + rng.normal(0, 10, n) > 50, "high", "low"),
                      "score": rng.normal(0, 1, n)})
    synth = Synthesizer(seed=1).fit(Database({"people": table}), validate=True, report_dir=tmp_path / "r",
                                    target="people.income")
    assert synth.report_path is not None and synth.report_path.exists()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert "people" in json.dumps(report)
    assert (tmp_path / "r" / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_report_shows_the_dp_budget_spent(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    table = pa.table({"age": rng.integers(18, 80, n), "city": rng.choice(["a", "b", "c"], n)})
    Synthesizer(seed=1, dp={"epsilon": 2.0, "detect_metadata": True}).fit(
        Database({"people": table}), validate=True, report_dir=tmp_path / "r")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    spent = report["privacy_guarantees"]["dp"]["tables"]["people"]["epsilon_spent"]
    assert 0 < spent <= 2.0
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Privacy guarantees of the model" in html and "per people entity" in html
    assert "outside the guarantee" in html


def test_fit_validate_never_replaces_a_users_files_and_reruns_into_its_own_report(tmp_path):
    rng = np.random.default_rng(0)
    data = Database({"people": pa.table({"age": rng.integers(18, 80, 200), "city": rng.choice(["a", "b"], 200)})})
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("my own report")
    synth = Synthesizer(seed=1)
    with pytest.raises(SourceError, match="did not write: report.html") as err:
        synth.fit(data, validate=True, report_dir=mine)
    assert err.value.hint and not synth.table_generators  # refused before training
    assert [p.name for p in mine.iterdir()] == ["report.html"] and (mine / "report.html").read_text() == "my own report"

    out = tmp_path / "r"
    for seed in (1, 2):  # the second fit replaces the first one's report
        synth = Synthesizer(seed=seed).fit(data, validate=True, report_dir=out)
        assert synth.report_path == out / "report.html"
        assert json.loads((out / "report.json").read_text())["settings"]["model_seed"] == seed
    assert sorted(p.name for p in out.iterdir()) == ["_provenance.json", "report.html", "report.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "r"]  # no staging left beside them
