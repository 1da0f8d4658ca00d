"""Render the report document as one self-contained HTML page (inline CSS, SVG and a little JS).

Nothing is fetched from the network. The charts are drawn here as SVG; the small script only adds
conveniences (a column filter, the JSON download) and marks the page as rendered
(``<html data-rendered="ok">``, title prefixed with the verdict) so a headless browser can check it.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from hiveframe_validate import svg

BADGE = {"pass": "pass", "warn": "warn", "fail": "fail", "info": "info"}
STATUS_TEXT = {"pass": "good", "warn": "check", "fail": "poor", "info": "info"}


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "<span class='na'>n/a</span>"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}f}"


def _pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "<span class='na'>n/a</span>"
    return f"{v:.1%}"


def _badge(status: str) -> str:
    s = BADGE.get(status, "info")
    return f"<span class='badge {s}'>{escape(STATUS_TEXT.get(s, s))}</span>"


def _meter(v: Any) -> str:
    """A score in [0, 1] as a small bar, coloured by band."""
    if v is None or not math.isfinite(v):
        return "<span class='na'>n/a</span>"
    cls = "pass" if v >= 0.9 else "warn" if v >= 0.75 else "fail"
    return (f"<span class='nw'><span class='meter'><span class='fill {cls}' style='width:{max(0, min(v, 1)) * 100:.0f}%'>"
            f"</span></span> {v:.3f}</span>")


def _sample_note(sample: dict[str, Any] | None) -> str:
    if not sample:
        return ""
    used_r = sample.get("used_real", sample.get("used_training"))
    used_s = sample.get("used_synthetic")
    text = (f"{sample.get('rows_real', 0):,} real and {sample.get('rows_synthetic', 0):,} synthetic rows")
    if sample.get("sampled"):
        text += f"; sampled: {used_r:,} real, {used_s:,} synthetic" if used_r is not None and used_s is not None \
            else "; sampled"
    return f"<p class='sample'>{escape(text)}</p>"


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='grid {cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- sections --------------------------------------------------------------------------------------


def _overview(doc: dict[str, Any]) -> str:
    cards = []
    for r in doc["results"]:
        d = r["details"]
        head = r.get("headline") or _headline(r)
        value = _num(head.get("value")) if head.get("value") is not None else STATUS_TEXT.get(head["status"], "")
        others = ""
        if r["status"] in ("warn", "fail") and r["status"] != head["status"]:
            others = (f"<div class='small'>other figures of this section: {_badge(r['status'])}</div>")
        cards.append(
            f"<a class='card' href='#v-{escape(r['validator'])}'><div class='card-top'><span class='card-title'>"
            f"{escape(d.get('title') or r['validator'])}</span>{_badge(head['status'])}</div>"
            f"<div class='big'>{value}</div><div class='small'>{escape(head['label'])}</div>{others}"
            f"<div class='card-sum'>{escape(r['summary'])}</div></a>")
    return (f"<section id='overview'><h2>At a glance</h2><p class='lead'>Every headline is higher-is-better "
            f"(1 is best); its badge is the band of that number.</p><div class='cards'>{''.join(cards)}</div>"
            f"</section>")


def _headline(r: dict[str, Any]) -> dict[str, Any]:
    """The card figure of a report written before headlines were recorded."""
    from hiveframe_validate.verdict import headline

    return headline(r)


def _next_steps(doc: dict[str, Any]) -> str:
    """The verdict's reasons and, per poor figure, what to try (grouped when the advice is the same)."""
    ov = doc["overall"]
    steps = ov.get("next_steps") or []
    groups: dict[tuple[str, bool], list[str]] = {}
    for s in steps:
        where = f"{s.get('table')}: {s.get('label')}" if s.get("table") else str(s.get("label"))
        groups.setdefault((s["step"], bool(s.get("must_hold"))), []).append(where)
    items = "".join(
        f"<li>{'<b>must hold</b> ' if must else ''}{escape(step)}<div class='small'>"
        f"{escape('; '.join(where[:6]))}{escape(f'; and {len(where) - 6} more') if len(where) > 6 else ''}"
        f"</div></li>" for (step, must), where in groups.items())
    body = f"<ol class='steps'>{items}</ol>" if items else "<p>No figure is poor: nothing to fix.</p>"
    return (f"<section id='next'><h2>What to do next</h2><p class='lead'>Verdict rules: "
            f"{escape(str(ov.get('rules', '')))}.</p>{body}</section>")


def _summary(doc: dict[str, Any]) -> str:
    order = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
    items = sorted(doc["summary"], key=lambda b: order.get(b["status"], 4))

    def rows(bands: list[dict[str, Any]]) -> list[list[str]]:
        return [[escape(b["validator"]), escape(b.get("table") or ""), escape(b["label"]), _num(b.get("value")),
                 _badge(b["status"]), f"<span class='rule'>{escape(b['rule'])}</span>"] for b in bands]

    headers = ["validator", "table", "figure", "value", "band", "rule"]
    problems = [b for b in items if b["status"] in ("fail", "warn")]
    rest = [b for b in items if b["status"] not in ("fail", "warn")]
    top = (_table(headers, rows(problems), "summary") if problems
           else "<p>Every scored figure is in its good band.</p>")
    more = (f"<details{' open' if not problems else ''}><summary>{len(rest)} figure(s) in the good band "
            f"or informative</summary>{_table(headers, rows(rest), 'summary')}</details>" if rest else "")
    return (f"<section id='summary'><h2>Score summary</h2><p class='lead'>Every scored figure with its band: "
            f"<b>good</b> (pass), <b>check</b> (between the bands) or <b>poor</b> (fail). Figures to look at "
            f"come first.</p>{top}{more}</section>")


def _legend() -> str:
    return (f"<span class='legend'><i style='background:{svg.REAL}'></i>real "
            f"<i style='background:{svg.SYNTH}'></i>synthetic</span>")


def _column_section(r: dict[str, Any]) -> str:
    parts = []
    for name, t in r["details"].get("tables", {}).items():
        rows, charts = [], []
        for col, c in t["columns"].items():
            stat = (f"KS {_num(c.get('ks'))} <span class='dim'>p={_num(c.get('ks_pvalue'), 3)}</span>"
                    if c["kind"] != "categorical" else
                    f"TVD {_num(c.get('tvd'))} <span class='dim'>&chi;&sup2; p={_num(c.get('chi2_pvalue'), 3)}</span>")
            cover = (f"range {_num(c.get('range_coverage'), 2)}, outside {_pct(c.get('out_of_range_share'))}"
                     if c["kind"] != "categorical" else
                     f"categories {_num(c.get('category_coverage'), 2)} of {c.get('categories_real', 0)}, "
                     f"new {_pct(c.get('new_category_share'))}")
            rows.append([f"<b>{escape(col)}</b>", escape(c["kind"]), _meter(c.get("score")), stat,
                         _num(c.get("kl")), f"{_pct(c.get('null_rate_real'))} / {_pct(c.get('null_rate_synthetic'))}",
                         cover])
            h = c.get("histogram", {})
            if c["kind"] == "categorical":
                chart = svg.category_bars(h.get("labels", []), h.get("real", []), h.get("synthetic", []),
                                          label=f"{col}: category frequencies")
            else:
                chart = svg.histogram_overlay(h.get("edges", []), h.get("real", []), h.get("synthetic", []),
                                              kind="datetime" if c["kind"] == "datetime" else "number",
                                              label=f"{col}: distribution")
            score = c.get("score")
            charts.append(f"<figure class='chart' data-col='{escape(col.lower(), quote=True)}'><figcaption>"
                          f"<b>{escape(col)}</b><span class='dim'>{escape(c['kind'])} &middot; score "
                          f"{_num(score)}</span></figcaption>{chart}</figure>")
        if not t["columns"]:
            parts.append(f"<div class='table-block'><h3>{escape(name)}</h3><p class='dim'>No value columns "
                         f"(keys and identifiers only).</p></div>")
            continue
        parts.append(
            f"<div class='table-block'><h3>{escape(name)}</h3>{_sample_note(t.get('sample'))}"
            f"<p>Mean column score <b>{_num(t.get('score'))}</b>; worst column "
            f"<b>{escape(str(t.get('worst_column') or 'n/a'))}</b>.</p>"
            f"<div class='filter'><input type='search' placeholder='filter columns' data-filter='{escape(name, quote=True)}'>"
            f"{_legend()}</div>"
            f"<div class='charts' data-charts='{escape(name, quote=True)}'>{''.join(charts)}</div>"
            f"<details><summary>all column figures</summary>"
            f"{_table(['column', 'kind', 'score', 'statistic', 'KL', 'nulls real / synth', 'coverage'], rows)}"
            f"</details></div>")
    return "".join(parts)


def _pair_section(r: dict[str, Any]) -> str:
    parts = []
    for name, t in r["details"].get("tables", {}).items():
        m = t["matrix"]
        cols = m["columns"]
        diff = svg.heatmap(cols, m["difference"], color=svg.diff_color, label=f"{name}: association difference",
                           value_label="|difference|")
        real = svg.heatmap(cols, m["real"], color=svg.assoc_color, label=f"{name}: real association",
                           value_label="association", cell=max(8, min(16, 300 // max(len(cols), 1))))
        synth = svg.heatmap(cols, m["synthetic"], color=svg.assoc_color, label=f"{name}: synthetic association",
                            value_label="association", cell=max(8, min(16, 300 // max(len(cols), 1))))
        worst = sorted((p for p in t["pairs"] if p.get("association_diff") is not None),
                       key=lambda p: -p["association_diff"])[:8]
        rows = [[escape(p["a"]), escape(p["b"]), escape(p["kind"]), _num(p.get("association_real")),
                 _num(p.get("association_synthetic")), _num(p.get("association_diff")), _meter(p.get("score"))]
                for p in worst]
        note = f"<p class='sample'>{escape(t['note'])}</p>" if t.get("note") else ""
        parts.append(
            f"<div class='table-block'><h3>{escape(name)}</h3>{_sample_note(t.get('sample'))}{note}"
            f"<p>Pair trend score <b>{_num(t.get('score'))}</b>; mean |Pearson difference| "
            f"<b>{_num(t.get('mean_abs_pearson_diff'))}</b>, mean |Spearman difference| "
            f"<b>{_num(t.get('mean_abs_spearman_diff'))}</b>, mean |association difference| "
            f"<b>{_num(t.get('mean_abs_association_diff'))}</b>.</p>"
            f"<div class='row'><figure class='wide'><figcaption><b>|association difference|</b> "
            f"<span class='dim'>real vs synthetic</span></figcaption>{diff}"
            f"{svg.color_legend(svg.diff_color, 0, 0.5)}</figure>"
            f"<div class='grow'><h4>Largest differences</h4>"
            f"{_table(['column', 'column', 'kind', 'real', 'synthetic', '|diff|', 'pair score'], rows)}</div></div>"
            f"<div class='row'><figure><figcaption><b>real</b> association</figcaption>{real}</figure>"
            f"<figure><figcaption><b>synthetic</b> association</figcaption>{synth}"
            f"{svg.color_legend(svg.assoc_color, -1, 1)}</figure></div></div>")
    return "".join(parts)


def _auc_color(v: float | None) -> str:
    if v is None:
        return "#9ca3af"
    return "#15803d" if v < 0.55 else "#d97706" if v < 0.8 else "#b91c1c"


def _detection_chart(items: list[tuple[str, dict[str, Any]]]) -> str:
    bars = []
    for name, t in items:
        bars.append((f"{name}", t.get("auc"), _auc_color(t.get("auc"))))
        bars.append((f"{name} (real vs real)", t.get("baseline_auc"), "#9ca3af"))
    return svg.score_bars(bars, lo=0.0, hi=1.0, marks=[(0.5, "0.5: indistinguishable"), (0.55, "0.55 band")],
                          label="detection AUC per table")


def _detection_section(r: dict[str, Any]) -> str:
    tables = r["details"].get("tables", {})
    if not tables:
        return "<p>No table with value columns to test.</p>"
    rows = [[escape(n) + (f" <span class='dim'>{escape(t['note'])}</span>" if t.get("note") else ""),
             _num(t.get("auc")), _num(t.get("accuracy")), _num(t.get("baseline_auc")),
             _num(t.get("auc_std")), f"{t.get('rows_per_class', 0):,}", str(t.get("rounds", 0))]
            for n, t in tables.items()]
    return (f"<div class='row'><figure class='wide'><figcaption><b>ROC AUC</b> <span class='dim'>"
            f"coloured bars: real vs synthetic; grey: two halves of the real table</span></figcaption>"
            f"{_detection_chart(list(tables.items()))}</figure></div>"
            f"{_table(['table', 'AUC', 'accuracy', 'baseline AUC', 'AUC spread', 'rows per class', 'rounds'], rows)}")


def _utility_section(r: dict[str, Any]) -> str:
    tables = r["details"].get("tables", {})
    if not tables:
        return "<p>No target column was given (<code>--target table.column</code>), so utility was not measured.</p>"
    out = []
    for name, t in tables.items():
        metric = t["metric"]
        trtr, tstr = t["trtr"].get(metric), t["tstr"].get(metric)
        lo = 0.0 if metric == "r2" else 0.5
        bars = svg.score_bars([("TRTR (real-trained)", trtr, svg.REAL), ("TSTR (synthetic-trained)", tstr, svg.SYNTH)],
                              lo=min(lo, trtr or lo, tstr or lo), hi=1.0, label="TSTR vs TRTR")
        xs = [p["real_share"] for p in t["augmentation"]]
        ys = [p.get(metric) for p in t["augmentation"]]
        curve = svg.line_chart(xs, ys, ref=trtr, ref_label="real only (TRTR)", xlabel="share of real training rows",
                               ylabel=metric.upper(), label="augmentation curve")
        extra = t["trtr"].copy()
        rows = [[escape(k), _num(t["trtr"].get(k)), _num(t["tstr"].get(k))] for k in extra if k != "note"]
        pos = f", positive class <b>{escape(str(t['positive_class']))}</b>" if t.get("positive_class") else ""
        out.append(
            f"<div class='table-block'><h3>{escape(name)}.{escape(t['target'])}</h3>"
            f"<p>{escape(t['task'])}{pos}; {t['rows']['train']:,} training rows per model, "
            f"{t['rows']['test']:,} real test rows, {len(t['rows']['features'])} features. "
            f"Ratio TSTR / TRTR <b>{_num(t.get('ratio'))}</b>.</p><p class='sample'>{escape(t['note'])}</p>"
            f"<div class='row'><figure><figcaption><b>{metric.upper()}</b> on real test rows</figcaption>{bars}"
            f"</figure><figure><figcaption><b>augmentation curve</b> <span class='dim'>same training size, "
            f"real share from 0% to 100%</span></figcaption>{curve}</figure></div>"
            f"{_table(['metric', 'TRTR', 'TSTR'], rows)}</div>")
    return "".join(out)


def _relational_section(r: dict[str, Any]) -> str:
    d = r["details"]
    out = []
    if d.get("keys"):
        rows = [[escape(n), escape(", ".join(k["columns"])), f"{k['synthetic']['rows']:,}",
                 f"{k['synthetic']['duplicate_keys']:,}", f"{k['synthetic']['null_keys']:,}",
                 _num(k["synthetic"]["unique_share"])] for n, k in d["keys"].items()]
        out.append(f"<h3>Primary keys</h3>{_table(['table', 'key', 'synthetic rows', 'duplicates', 'nulls', 'unique share'], rows)}")
    if not d.get("links"):
        out.append("<p>No foreign keys between the validated tables.</p>")
        return "".join(out)
    out.append("<h3>Foreign keys</h3><div class='charts'>")
    for name, link in d["links"].items():
        h = link["histogram"]
        chart = svg.grouped_bars(h["labels"], h["real"], h["synthetic"], xlabel="children per parent row",
                                 label=f"{name}: children per parent")
        s, rl = link["synthetic"], link["real"]
        det = link.get("detection") or {}
        out.append(
            f"<figure class='chart fk'><figcaption><b>{escape(link['child_table'])}."
            f"{escape(','.join(link['child_columns']))} &rarr; {escape(link['parent_table'])}</b></figcaption>"
            f"{chart}<div class='kv'>"
            f"<span>integrity</span><b>{_num(s['integrity'])}</b><span>orphans</span><b>{s['orphans']:,}</b>"
            f"<span>cardinality similarity</span><b>{_num(link.get('cardinality_similarity'))}</b>"
            f"<span>mean children (real / synth)</span><b>{_num(rl['mean_children'], 2)} / {_num(s['mean_children'], 2)}</b>"
            f"<span>childless parents (real / synth)</span><b>{_pct(rl['childless_share'])} / {_pct(s['childless_share'])}</b>"
            f"<span>parent-child detection AUC</span><b>{_num(det.get('auc'))} <span class='dim'>baseline "
            f"{_num(det.get('baseline_auc'))}</span></b></div></figure>")
    out.append(f"</div><p>{_legend()}</p>")
    return "".join(out)


def _quality_section(r: dict[str, Any]) -> str:
    out = []
    for name, t in r["details"].get("tables", {}).items():
        sch = t["schema"]
        issues = []
        if sch["missing_columns"]:
            issues.append("missing columns: " + ", ".join(sch["missing_columns"]))
        if sch["extra_columns"]:
            issues.append("extra columns: " + ", ".join(sch["extra_columns"]))
        for m in sch["type_mismatches"]:
            issues.append(f"{m['column']}: type {m['actual']}, expected {m['expected']}")
        for c, n in sch["nulls_in_non_nullable"].items():
            issues.append(f"{c}: {n} nulls in a non-nullable column")
        schema = ("<p>Schema conforms: every column present with the real type.</p>" if not issues else
                  "<ul class='issues'>" + "".join(f"<li>{escape(i)}</li>" for i in issues) + "</ul>")
        rng_rows = [[escape(c), escape(v["bounds"]), _pct(v["outside_share"])] for c, v in t["ranges"].items()
                    if v.get("outside_share")]
        ranges = (_table(["column", "bounds", "outside"], rng_rows) if rng_rows
                  else "<p>All values inside the real (or declared) ranges and categories.</p>")
        cons_rows = []
        for e in t["constraints"]:
            desc = escape(json.dumps(e["constraint"], default=str))
            if "unsupported" in e:
                cons_rows.append([f"<code>{desc}</code>", "<span class='na'>not checked</span>", escape(e["unsupported"]), ""])
            else:
                cons_rows.append([f"<code>{desc}</code>", f"{e['synthetic']['violations']:,}",
                                  _pct(e["synthetic"]["share"]), _pct(e["real"]["share"])])
        cons = (_table(["constraint", "synthetic violations", "share", "real share"], cons_rows) if cons_rows
                else "<p class='dim'>No constraints declared in the metadata.</p>")
        dup, div = t["duplicates"], t["diversity"]
        out.append(
            f"<div class='table-block'><h3>{escape(name)}</h3>{schema}<h4>Ranges and categories</h4>{ranges}"
            f"<h4>Constraints</h4>{cons}<h4>Duplicates and diversity</h4><div class='kv'>"
            f"<span>duplicate rows (real / synthetic)</span><b>{_pct(dup['real_share'])} / {_pct(dup['synthetic_share'])}</b>"
            f"<span>distinct rows (real / synthetic)</span><b>{_pct(div['distinct_rows_real'])} / "
            f"{_pct(div['distinct_rows_synthetic'])}</b><span>diversity ratio</span><b>{_num(div['ratio'])}</b>"
            f"<span>rows compared</span><b>{dup['rows_compared']:,}</b></div></div>")
    return "".join(out)


def _privacy_section(r: dict[str, Any]) -> str:
    out = []
    if not r["details"].get("holdout"):
        out.append("<p class='note'>No holdout was given: the real table was split in halves for the baseline, and "
                   "the membership-inference attack was skipped. For the full check, keep real rows the generator "
                   "never sees: fit with <code>--holdout 0.2</code> (<code>Synthesizer(holdout=0.2)</code>) and "
                   "report with <code>--model MODEL</code>, or pass them with <code>hiveframe report --holdout "
                   "DATA</code> (<code>write_report(..., holdout=...)</code>).</p>")
    for name, t in r["details"].get("tables", {}).items():
        d = t["dcr"]
        h = d["histogram"]
        chart = svg.histogram_overlay(h["edges"], h["baseline"], h["synthetic"], width=420, height=170,
                                      label=f"{name}: distance to closest record")
        mia = t.get("membership_inference")
        mia_txt = (f"<span>membership inference AUC</span><b>{_num(mia['auc'])}</b><span>attack accuracy</span>"
                   f"<b>{_num(mia['accuracy'])}</b>" if mia else "")
        out.append(
            f"<div class='table-block'><h3>{escape(name)}</h3><p class='sample'>protocol: {escape(t['protocol'])}; "
            f"{t['sample']['used_synthetic']:,} synthetic and {t['sample']['used_unseen']:,} unseen rows against "
            f"{t['sample']['used_training']:,} training rows</p><div class='row'><figure><figcaption><b>distance to "
            f"closest training row</b> <span class='dim'>bars: unseen real rows; line: synthetic</span></figcaption>"
            f"{chart}</figure><div class='kv'>"
            f"<span>exact matches (synthetic / unseen)</span><b>{_pct(t['exact_match_rate'])} / "
            f"{_pct(t['baseline_exact_match_rate'])}</b>"
            f"<span>synthetic rows equal to any real row</span><b>{_pct(t['exact_match_rate_any_real'])}</b>"
            f"<span>median DCR (synthetic / unseen)</span><b>{_num(d['synthetic_median'])} / {_num(d['baseline_median'])}</b>"
            f"<span>too close (5% expected)</span><b>{_pct(d['too_close_share'])}</b>{mia_txt}</div></div></div>")
    return "".join(out)


def _generic_section(r: dict[str, Any]) -> str:
    rows = [[escape(k), _num(v)] for k, v in r.get("scores", {}).items()]
    details = escape(json.dumps({k: v for k, v in r["details"].items() if k not in ("title", "description")},
                                indent=1, default=str)[:20000])
    return (_table(["score", "value"], rows) if rows else "") + \
        f"<details><summary>details</summary><pre>{details}</pre></details>"


def _missingness_section(r: dict[str, Any]) -> str:
    parts = []
    for name, t in r["details"]["tables"].items():
        if not t.get("columns"):
            parts.append(f"<h4>{escape(name)}</h4><p class='dim'>{escape(t.get('note', 'no nulls'))}</p>")
            continue
        rows = [[escape(c), _num(v["null_rate_real"]), _num(v["null_rate_synthetic"]),
                 escape(v["pattern_real"] + (f" on {v['driver_real']}" if v["driver_real"] else "")),
                 escape(v["pattern_synthetic"] + (f" on {v['driver_synthetic']}" if v["driver_synthetic"] else "")),
                 _num(v["v_real"]), _num(v["v_synthetic_on_real_driver"])] for c, v in t["columns"].items()]
        parts.append(f"<h4>{escape(name)}</h4><p>null patterns: total variation distance "
                     f"{_num(t['pattern_tvd'])}; null-indicator correlations differ by "
                     f"{_num(t['mean_null_correlation_diff'])} on average</p>"
                     + _table(["column", "nulls real", "nulls synthetic", "real", "synthetic",
                               "V real", "V synthetic (real driver)"], rows))
    return "".join(parts)


SECTIONS = {
    "missingness": _missingness_section,
    "column_fidelity": _column_section, "pair_fidelity": _pair_section, "detection": _detection_section,
    "utility": _utility_section, "relational": _relational_section, "quality": _quality_section,
    "privacy": _privacy_section,
}


def _validator_section(r: dict[str, Any]) -> str:
    d = r["details"]
    if "error" in d:
        body = f"<p class='error'>{escape(d['error'])}</p>"
    else:
        try:
            body = SECTIONS.get(r["validator"], _generic_section)(r)
        except (KeyError, TypeError, ValueError) as exc:  # a third-party validator reusing a name
            body = f"<p class='error'>cannot draw this section ({escape(str(exc))})</p>" + _generic_section(r)
    title = escape(d.get("title") or r["validator"])
    desc = f"<p class='lead'>{escape(d['description'])}</p>" if d.get("description") else ""
    plugin = f" <span class='dim'>from plugin {escape(str(r.get('plugin')))}</span>" if r.get("plugin") else ""
    return (f"<section id='v-{escape(r['validator'])}' class='validator'><h2>{title} {_badge(r['status'])}</h2>"
            f"<p class='verdict'>{escape(r['summary'])}{plugin} <span class='dim'>({r.get('seconds', 0):.1f} s)</span></p>"
            f"{desc}{body}</section>")


CSS = """
:root{--real:__REAL__;--synth:__SYNTH__;--ink:#1f2937;--dim:#6b7280;--line:#e5e7eb;--bg:#f7f7f8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#111827;color:#f9fafb;padding:22px 32px 18px}
header h1{margin:0 0 4px;font-size:22px;font-weight:650}
header .meta{color:#9ca3af;font-size:13px}
header .verdict-line{margin-top:10px;font-size:15px}
nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;
  display:flex;gap:16px;flex-wrap:wrap;font-size:13px}
nav a{color:#374151;text-decoration:none}nav a:hover{color:#111;text-decoration:underline}
main{max-width:1280px;margin:0 auto;padding:8px 32px 40px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}
h2{font-size:18px;margin:0 0 6px;display:flex;align-items:center;gap:10px}
h3{font-size:15px;margin:18px 0 4px}h4{font-size:13px;margin:14px 0 4px;color:#374151}
.lead{color:var(--dim);margin:2px 0 10px;max-width:980px}
.verdict{margin:0 0 4px}
.badge{display:inline-block;font-size:11px;font-weight:650;letter-spacing:.03em;text-transform:uppercase;
  padding:1px 8px;border-radius:999px;vertical-align:middle}
.badge.pass{background:#dcfce7;color:#166534}.badge.warn{background:#fef3c7;color:#92400e}
.badge.fail{background:#fee2e2;color:#991b1b}.badge.info{background:#e5e7eb;color:#374151}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:12px}
.card{display:block;border:1px solid var(--line);border-radius:10px;padding:12px 14px;color:inherit;text-decoration:none;
  background:#fff;transition:box-shadow .15s}.card:hover{box-shadow:0 2px 10px rgba(0,0,0,.08)}
.card-top{display:flex;justify-content:space-between;align-items:center}
.card-title{font-weight:650}.big{font-size:26px;font-weight:650;margin-top:6px}
.small{font-size:12px;color:var(--dim)}.card-sum{font-size:12px;color:#4b5563;margin-top:6px}
table.grid{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}
table.grid th{text-align:left;font-weight:600;color:#4b5563;border-bottom:2px solid var(--line);padding:5px 8px}
table.grid td{border-bottom:1px solid #f0f0f2;padding:4px 8px;vertical-align:middle}
table.grid tr:hover td{background:#fafafa}
.rule{color:var(--dim);font-size:12px}.dim{color:var(--dim);font-weight:400;font-size:12px;margin-left:6px}
.na{color:#9ca3af}.nw{white-space:nowrap}
.meter{display:inline-block;width:70px;height:8px;background:#eef0f3;border-radius:4px;vertical-align:middle;overflow:hidden}
.meter .fill{display:block;height:100%}.fill.pass{background:#22c55e}.fill.warn{background:#f59e0b}.fill.fail{background:#ef4444}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px;margin-top:8px}
figure{margin:0;border:1px solid #eef0f3;border-radius:8px;padding:8px 10px;background:#fff}
figcaption{font-size:13px;margin-bottom:4px;display:flex;justify-content:space-between;gap:6px;flex-wrap:wrap}
.row{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}.stack{display:flex;flex-direction:column;gap:10px}
figure.wide{overflow-x:auto}
figure svg{max-width:100%;height:auto;display:block}
.grow{flex:1 1 380px;min-width:0}
.filter{display:flex;gap:14px;align-items:center;margin:6px 0}
.filter input{padding:5px 9px;border:1px solid #d1d5db;border-radius:6px;width:220px;font:inherit}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px -1px 10px}
.legend{font-size:12px;color:#4b5563}
.sample{color:var(--dim);font-size:12px;margin:2px 0 6px}
.kv{display:grid;grid-template-columns:max-content max-content;gap:3px 14px;font-size:13px;align-content:start;margin-top:6px}
.kv span{color:#4b5563}
.note{background:#fffbeb;border:1px solid #fde68a;border-radius:8px;padding:8px 12px}
.error{background:#fef2f2;border:1px solid #fecaca;border-radius:8px;padding:8px 12px;white-space:pre-wrap}
details{margin-top:8px}summary{cursor:pointer;color:#374151;font-size:13px}
pre{background:#f9fafb;padding:10px;border-radius:6px;overflow:auto;max-height:400px;font-size:12px}
ul.issues{color:#991b1b}
ol.steps li{margin:4px 0}
footer{color:var(--dim);font-size:12px;max-width:1280px;margin:0 auto;padding:0 32px 30px}
code{background:#f3f4f6;padding:0 4px;border-radius:4px;font-size:12px}
.tables-list{font-size:13px;color:#d1d5db;margin-top:6px}
""".replace("__REAL__", svg.REAL).replace("__SYNTH__", svg.SYNTH)

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  document.querySelectorAll('input[data-filter]').forEach(function (box) {
    var grid = document.querySelector('[data-charts="' + box.getAttribute('data-filter') + '"]');
    box.addEventListener('input', function () {
      var q = box.value.trim().toLowerCase();
      grid.querySelectorAll('figure[data-col]').forEach(function (f) {
        f.style.display = (!q || f.getAttribute('data-col').indexOf(q) >= 0) ? '' : 'none';
      });
    });
  });
  var link = document.getElementById('download-json');
  if (link) {
    var blob = new Blob([JSON.stringify(data, null, 1)], {type: 'application/json'});
    link.href = URL.createObjectURL(blob);
  }
  var verdict = {pass: 'good', warn: 'check', fail: 'poor', info: 'info'}[data.overall.status];
  document.title = '[' + verdict + '] ' + document.title;
  document.documentElement.setAttribute('data-svg-count', String(document.querySelectorAll('svg').length));
  document.documentElement.setAttribute('data-rendered', 'ok');
})();
"""


def _guarantee_section(doc: dict[str, Any]) -> str:
    """What the model promises (from the model, not measured): DP budget per table, PII strategies."""
    privacy = doc.get("privacy_guarantees") or {}
    if not privacy:
        return ""
    out = ["<section id='guarantees'><h2>Privacy guarantees of the model</h2>"]
    dp = privacy.get("dp")
    if dp:
        unit = str(dp.get("privacy_unit", "row"))
        out.append(f"<p class='lead'>epsilon {_num(dp.get('epsilon_spent'))} per {escape(unit)} (budget "
                   f"{_num(dp.get('epsilon'))}), epsilon {_num(dp.get('epsilon_per_row'))} per row: "
                   f"{escape(str(dp.get('guarantee', '')))}.</p>")
        caps = dp.get("max_children") or {}
        if caps:
            out.append("<p>Children kept per parent row (the rest is left out of training): "
                       + ", ".join(f"{escape(k)}: {escape(str(v))}" for k, v in caps.items()) + ".</p>")
        if str(dp.get("metadata", "")).startswith("DETECTED"):
            out.append(f"<p><b>{escape(str(dp['metadata']))}.</b></p>")
        rows = []
        for name, t in (dp.get("tables") or {}).items():
            rows.append([escape(name), escape(str(t.get("generator", ""))), "yes" if t.get("private") else "NO",
                         _num(t.get("unit_rows", 1)), str(len(t.get("releases") or []))])
        out.append(_table(["table", "generator", "private", "rows per entity (at most)",
                           "noisy statistics released"], rows))
    pii = privacy.get("pii")
    if pii:
        strategies = ", ".join(f"{escape(k)}: {escape(str(v))}" for k, v in (pii.get("strategies") or {}).items())
        out.append(f"<p>PII columns are never given to a generator; default strategy "
                   f"<b>{escape(str(pii.get('default_strategy')))}</b>"
                   f"{', consistent pseudonyms' if pii.get('consistent') else ''}"
                   f"{'; per column: ' + strategies if strategies else ''}.</p>")
    out.append("</section>")
    return "".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    return escape(str(value))


def _profile_section(doc: dict[str, Any]) -> str:
    """The real and the synthetic data's profiles (docs/profile.md) side by side, per table and column."""
    profiles = doc.get("profiles") or {}
    real, synthetic = profiles.get("real") or {}, profiles.get("synthetic") or {}
    if not real.get("tables"):
        return ""
    out = ["<section id='profile'><h2>Profile</h2><p class='lead'>The data profile of the real and the synthetic "
           "data (the format of <code>hiveframe profile</code>), real beside synthetic. Real profile digest: "
           f"<code>{escape(str(real.get('digest')))}</code>.</p>"]
    for name, table in real["tables"].items():
        other = (synthetic.get("tables") or {}).get(name) or {}
        rows = []
        for column, stats in table["columns"].items():
            syn = (other.get("columns") or {}).get(column) or {}
            rows.append([escape(column), escape(stats.get("kind", "")),
                         f"{_fmt(stats.get('null_share'))} / {_fmt(syn.get('null_share'))}",
                         f"{_fmt(stats.get('distinct'))} / {_fmt(syn.get('distinct'))}",
                         f"{_fmt(stats.get('mean'))} / {_fmt(syn.get('mean'))}",
                         f"{_fmt((stats.get('quantiles') or {}).get('p50'))} / "
                         f"{_fmt((syn.get('quantiles') or {}).get('p50'))}"])
        out.append(f"<h3>{escape(name)}: {table['rows']:,} real / {other.get('rows', 0):,} synthetic rows</h3>")
        out.append(_table(["column", "kind", "null share (real / synthetic)", "distinct", "mean", "median"], rows,
                          "profile"))
    out.append("</section>")
    return "".join(out)


def render(doc: dict[str, Any]) -> str:
    """The whole page as a string."""
    title = doc.get("title") or "hiveframe quality report"
    counts = doc["overall"]["counts"]
    tables = doc.get("tables", {})
    tlist = ", ".join(f"{escape(n)} ({t['rows_real']:,} real / {t['rows_synthetic']:,} synthetic rows)"
                      for n, t in tables.items())
    settings = doc.get("settings", {})
    sample = settings.get("sample_size")
    nav = "".join(f"<a href='#v-{escape(r['validator'])}'>{escape(r['details'].get('title') or r['validator'])}</a>"
                  for r in doc["results"])
    body = "".join(_validator_section(r) for r in doc["results"])
    versions = ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in doc.get("versions", {}).items() if v)
    payload = json.dumps(doc, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    reasons = "".join(f" &middot; {escape(r)}" for r in doc["overall"].get("reasons", []))
    model_seed = (f" &middot; model seed {escape(str(settings['model_seed']))}"
                  if settings.get("model_seed") is not None else "")
    return f"""<!DOCTYPE html>
<html lang="en" data-rendered="no">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: blob:">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<div class="meta">generated {escape(doc.get('generated_at', ''))}{model_seed} &middot; validator seed {escape(str(settings.get('seed')))}
 &middot; rows per table and validator: {escape(str(sample) if sample else "each validator's default (stated per section)")}
 &middot; holdout: {'yes' if settings.get('holdout') else 'no'}</div>
<div class="verdict-line">Overall {_badge(doc['overall']['status'])} &nbsp; {counts.get('pass', 0)} good,
 {counts.get('warn', 0)} to check, {counts.get('fail', 0)} poor{reasons}</div>
<div class="tables-list">{tlist}</div>
</header>
<nav><a href="#overview">Overview</a><a href="#next">What to do next</a><a href="#summary">Score summary</a><a href="#profile">Profile</a>{nav}
<a id="download-json" download="report.json" href="#">report.json</a></nav>
<main>
{_overview(doc)}
{_next_steps(doc)}
{_summary(doc)}
{_guarantee_section(doc)}
{_profile_section(doc)}
{body}
</main>
<footer>Made by hiveframe_validate. Charts are inline SVG; hover a mark for its exact value. Every figure is also
in report.json beside this file. {versions}</footer>
<script type="application/json" id="report-data">{payload}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
