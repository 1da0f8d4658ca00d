"""The report: one self-contained HTML file and a report.json holding every figure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hiveframe_validate.report import load_report, run_validators, validate_synthesizer, write_report
from hiveframe_validate.validators import VALIDATORS

from hiveframe.components import Database
from hiveframe.errors import DataError
from hiveframe.plugins import PluginHost

SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture(scope="module")
def berka_report(berka, tmp_path_factory, planted):
    tables, meta = berka
    synth = {n: planted.independent_columns(t, seed=2) if n in ("loan", "order") else t for n, t in tables.items()}
    out = tmp_path_factory.mktemp("berka_report")
    fast = {"max_iter": 30, "repeats": 1, "sample_size": 500}
    chosen = [cls(**fast) if cls.name in ("detection", "relational") else cls for cls in VALIDATORS]
    path = write_report(Database(tables), Database(synth), meta, out, target="loan.status", sample_size=500,
                        validators=chosen)
    return path, load_report(out)


def test_report_files_and_json(berka_report):
    path, doc = berka_report
    assert path.name == "report.html" and (path.parent / "report.json").is_file()
    assert [r["validator"] for r in doc["results"]] == [cls.name for cls in VALIDATORS]
    text = (path.parent / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON a browser can parse
    assert doc["settings"]["sample_size"] == 500 and doc["tables"]["order"]["rows_real"] == 6471
    # every figure behind the plots is in the JSON
    cols = next(r for r in doc["results"] if r["validator"] == "column_fidelity")["details"]["tables"]
    assert set(cols["loan"]["columns"]["amount"]["histogram"]) >= {"edges", "real", "synthetic"}
    assert cols["order"]["sample"] == {"rows_real": 6471, "rows_synthetic": 6471, "used_real": 500,
                                       "used_synthetic": 500, "sampled": True}
    pairs = next(r for r in doc["results"] if r["validator"] == "pair_fidelity")["details"]["tables"]
    assert pairs["loan"]["matrix"]["difference"]
    rel = next(r for r in doc["results"] if r["validator"] == "relational")["details"]
    assert rel["links"]["order.account_id->account"]["histogram"]["labels"][0] == "0"
    util = next(r for r in doc["results"] if r["validator"] == "utility")
    assert util["details"]["tables"]["loan"]["task"] == "classification"
    # the summary holds every band; the verdict follows the stated rules over them
    from hiveframe_validate.verdict import overall

    assert doc["overall"] == overall(doc["summary"])
    assert all(r["headline"]["higher_is_better"] for r in doc["results"])
    assert all(r["seconds"] >= 0 for r in doc["results"])


def test_the_report_shows_the_real_and_synthetic_profiles_side_by_side(berka_report, berka):
    from hiveframe.pipeline.profile import profile

    path, doc = berka_report
    tables, meta = berka
    real = doc["profiles"]["real"]
    assert real["digest"] == profile(Database(tables), meta)["digest"]
    synthetic = doc["profiles"]["synthetic"]
    assert synthetic["tables"]["loan"]["rows"] == real["tables"]["loan"]["rows"]
    # loan and order were made with independent columns: the profiles show it in the correlations
    assert synthetic["digest"] != real["digest"]
    html = path.read_text()
    assert "<section id='profile'>" in html and real["digest"] in html


def test_html_is_self_contained(berka_report):
    path, doc = berka_report
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<link|<img|<iframe|\bsrc\s*=|@import|\burl\(", html)  # CSS url(), not URL.
    assert set(re.findall(r"https?://[^\s'\"<>]+", html)) <= {SVG_NS}
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count("<svg") > 20
    # the embedded data parses back to the JSON document
    payload = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(payload.replace("<\\/", "</"))["summary"] == doc["summary"]
    for title in ("Column fidelity", "Pair fidelity", "Detection", "Utility (TSTR)", "Relational", "Privacy"):
        assert title in html


def test_report_on_adult_with_holdout(census, census_meta, tmp_path, planted):
    synth = planted.shuffle_column(census["fresh"], "income")
    path = write_report({"census": census["real"]}, {"census": synth}, census_meta, tmp_path, target="income",
                        sample_size=400, holdout={"census": census["holdout"]},
                        validators=["column_fidelity", "utility", "privacy"])
    doc = load_report(tmp_path)
    assert [r["validator"] for r in doc["results"]] == ["column_fidelity", "utility", "privacy"]
    util = doc["results"][1]
    assert util["status"] == "fail" and util["scores"]["ratio"] < 0.8
    assert doc["results"][2]["details"]["holdout"] is True
    assert "membership inference AUC" in path.read_text()


def test_report_checks_input_before_running(census, census_meta, tmp_path):
    with pytest.raises(DataError, match="column is missing from the synthetic table"):
        write_report({"census": census["real"]}, {"census": census["fresh"].drop_columns(["age"])}, census_meta,
                     tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_without_metadata_and_with_third_party_validator(census):
    from typing import ClassVar

    import attrs

    from hiveframe.components import ValidationResult, Validator
    from hiveframe.hookspecs import hookimpl

    @attrs.define(kw_only=True, eq=False)
    class RowCount(Validator):
        name: ClassVar[str] = "row_count"

        def _validate(self, real, synthetic, metadata, context):
            n = {t: synthetic[t].num_rows / real[t].num_rows for t in real}
            return ValidationResult("row_count", scores={"ratio": min(n.values())}, status="pass", summary="ok")

    class ThirdParty:
        @hookimpl
        def hiveframe_register_validators(self):
            return [RowCount]

    host = PluginHost(plugins={"third": ThirdParty()}, load_entry_points=False)
    doc = run_validators({"census": census["real"]}, {"census": census["fresh"]}, None, host=host,
                         validators=["column_fidelity", "row_count"], sample_size=300)
    assert [r["validator"] for r in doc["results"]] == ["column_fidelity", "row_count"]
    assert doc["results"][1]["scores"] == {"ratio": 1.0} and doc["results"][1]["plugin"] == "third"
    assert "age" in doc["tables"]["census"]["analysed_columns"]  # kinds found without metadata


def test_validate_synthesizer_samples_and_reports(census, census_meta, tmp_path):
    class Fitted:  # what Synthesizer offers: metadata, host, sample(scale=, seed=)
        metadata = census_meta
        host = None

        def sample(self, *, scale=1.0, seed=None):
            return Database({"census": census["fresh"].slice(0, int(1000 * scale))})

    path = validate_synthesizer(Fitted(), Database({"census": census["real"]}), tmp_path, sample_size=300,
                                validators=["column_fidelity", "quality"])
    doc = load_report(path.parent)
    assert doc["tables"]["census"]["rows_synthetic"] == 1000 and "after fit" in doc["title"]


def test_plugin_registers_validators_and_imports_light():
    import hiveframe_validate.plugin as plugin

    host = PluginHost(plugins={"validate": plugin}, load_entry_points=False)
    assert set(host.names("validator")) >= {cls.name for cls in VALIDATORS}
    code = ("import sys, hiveframe_validate.plugin as p; p.hiveframe_register_validators(); "
            "heavy = [m for m in ('sklearn', 'scipy', 'pandas', 'pyarrow', 'torch') if m in sys.modules]; "
            "print(heavy)")
    plugins_dir = Path(plugin.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins_dir), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
