"""The report's reading of its figures: headlines one way up, badges that agree, a verdict from rules."""

from __future__ import annotations

import pyarrow as pa
from hiveframe_validate.html_report import render
from hiveframe_validate.report import load_report, run_validators, validate_synthesizer
from hiveframe_validate.verdict import MUST_HOLD, headline, next_step, overall

from hiveframe import detect
from hiveframe.components import Database


def _band(metric: str, status: str, **extra) -> dict:
    return {"metric": metric, "status": status, "label": metric, "table": "t", "value": 0.0, "rule": "", **extra}


def test_one_poor_figure_of_fifteen_is_check_not_poor():
    summary = [_band("column_shape", "pass")] * 14 + [_band("detection_auc", "fail")]
    verdict = overall(summary)
    assert verdict["status"] == "warn"
    assert verdict["next_steps"][0]["metric"] == "detection_auc" and "classifier" in verdict["next_steps"][0]["step"]


def test_a_poor_must_hold_figure_makes_the_report_poor():
    verdict = overall([_band("column_shape", "pass")] * 30 + [_band("referential_integrity", "fail")])
    assert verdict["status"] == "fail" and "must-hold" in verdict["reasons"][0]
    assert verdict["next_steps"][0]["must_hold"]


def test_a_band_can_say_it_is_not_must_hold():
    assert "exact_match_excess" in MUST_HOLD
    verdict = overall([_band("column_shape", "pass")] * 30 + [_band("exact_match_excess", "fail", must_hold=False)])
    assert verdict["status"] == "warn"


def test_many_poor_figures_make_the_report_poor_and_few_checks_keep_it_good():
    assert overall([_band("column_shape", "pass")] * 7 + [_band("column_shape", "fail")] * 3)["status"] == "fail"
    assert overall([_band("column_shape", "pass")] * 10 + [_band("column_shape", "warn")])["status"] == "pass"
    assert overall([_band("column_shape", "pass")] * 5 + [_band("column_shape", "warn")] * 2)["status"] == "warn"


def test_every_metric_a_validator_bands_has_a_next_step():
    import re
    from pathlib import Path

    import hiveframe_validate

    folder = Path(hiveframe_validate.__file__).parent
    metrics = set()
    for file in folder.glob("*.py"):
        metrics |= set(re.findall(r'band\("([a-z_]+)"', file.read_text()))
    assert metrics
    generic = next_step({"metric": "unknown"})
    assert all(next_step({"metric": m}) != generic for m in metrics), metrics


def test_headlines_are_higher_is_better_and_carry_their_own_band():
    good = headline({"validator": "detection", "scores": {"max_auc": 0.52}})
    bad = headline({"validator": "detection", "scores": {"max_auc": 0.89}})
    assert good["value"] > bad["value"] and good["status"] == "pass" and bad["status"] == "fail"
    close = headline({"validator": "privacy", "scores": {"max_dcr_too_close_share": 1.0}})
    far = headline({"validator": "privacy", "scores": {"max_dcr_too_close_share": 0.04}})
    assert far["value"] > close["value"] and close["status"] == "fail" and far["status"] == "pass"
    # a perfect integrity reads good even when another relational figure is to check
    rel = headline({"validator": "relational", "status": "warn", "scores": {"referential_integrity": 1.0}})
    assert rel["status"] == "pass"


def _lookup_db(values: list[float], other: list[float] | None = None) -> Database:
    cols = {"id": list(range(len(values))), "price": values}
    if other is not None:
        cols["weight"] = other
    return Database({"lookup": pa.table(cols)}, {"lookup": ("id",)})


def test_privacy_copied_rows_must_hold_only_for_tables_of_two_columns_or_more():
    values = [1.5 + i * 0.37 for i in range(80)]
    one = _lookup_db(values)
    doc = run_validators(one, one, detect(one), validators=["privacy"])
    bands = [b for b in doc["summary"] if b["metric"] == "exact_match_excess"]
    assert bands and bands[0]["status"] == "fail" and bands[0]["must_hold"] is False
    two = _lookup_db(values, [9.1 + (i * 7 % 80) * 0.11 for i in range(80)])
    doc = run_validators(two, two, detect(two), validators=["privacy"])
    band = next(b for b in doc["summary"] if b["metric"] == "exact_match_excess")
    assert band["status"] == "fail" and band["must_hold"] is True and doc["overall"]["status"] == "fail"
    # the card names each table against its own baseline
    result = next(r for r in doc["results"] if r["validator"] == "privacy")
    assert "(lookup: 0.4" in result["summary"] and "vs 0.000)" in result["summary"]


def test_html_cards_and_header(tmp_path):
    db = _lookup_db([1.5 + i * 0.37 for i in range(120)], [float(i % 7) for i in range(120)])

    class Fitted:  # what Synthesizer offers the report
        metadata = detect(db)
        host = None
        seed = 7

        def sample(self, *, scale=1.0, seed=None):
            return db

    path = validate_synthesizer(Fitted(), db, tmp_path, validators=["column_fidelity", "privacy"])
    doc = load_report(path.parent)
    assert doc["settings"]["model_seed"] == 7
    html = path.read_text()
    assert "model seed 7" in html and "validator seed 0" in html
    assert "What to do next" in html and "Verdict rules" in html
    for r in doc["results"]:  # each card's badge is its headline's band
        head = r["headline"]
        text = {"pass": "good", "warn": "check", "fail": "poor", "info": "info"}[head["status"]]
        card = html.split(f"class='card' href='#v-{r['validator']}'")[1].split("</a>")[0]
        assert f"badge {head['status']}'>{text}<" in card
    assert render(doc) == html  # the page is a pure function of report.json
