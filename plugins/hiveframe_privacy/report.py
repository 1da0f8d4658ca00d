"""The privacy section of a report: the guarantee (epsilon spent per table, from the model manifest)
next to the evidence (exact matches, distance to closest record, membership inference, from the
``privacy`` validator of hiveframe_validate).

``privacy_section(manifest, report_doc)`` takes a model's ``manifest.json`` (or the folder holding
it) and, optionally, a ``report.json`` document; it returns plain JSON that a report can show as is,
and :func:`to_markdown` renders it as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _manifest(source: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if path.is_dir():
        path = path / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))


def privacy_section(manifest: Mapping[str, Any] | str | Path,
                    report: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Per table: DP budget and spend (when the model was trained with ``dp``), PII strategies, and
    the privacy validator's measurements (when ``report`` is given)."""
    m = _manifest(manifest)
    privacy = m.get("privacy") or {}
    dp = privacy.get("dp") or {}
    pii = privacy.get("pii") or {}
    tables: dict[str, dict[str, Any]] = {}
    for name, entry in (dp.get("tables") or {}).items():
        tables[name] = {
            "differential_privacy": bool(entry.get("private", False)),
            "epsilon_budget": entry.get("epsilon"), "epsilon_spent": entry.get("epsilon_spent"),
            "delta": entry.get("delta_spent", entry.get("delta")),
            "preprocessing_epsilon": (entry.get("split") or {}).get("preprocessing_epsilon"),
            "mechanism": (entry.get("training") or {}).get("mechanism"),
            "steps": (entry.get("training") or {}).get("steps"),
            "noise_multiplier": (entry.get("training") or {}).get("noise_multiplier"),
            "warning": entry.get("warning"),
        }
    if report is not None:
        for result in report.get("results", []):
            if result.get("validator") != "privacy":
                continue
            for name, t in (result.get("details", {}).get("tables") or {}).items():
                row = tables.setdefault(name, {"differential_privacy": False})
                row["exact_match_rate"] = t.get("exact_match_rate")
                row["baseline_exact_match_rate"] = t.get("baseline_exact_match_rate")
                row["dcr_median_ratio"] = (t.get("dcr") or {}).get("median_ratio")
                mia = t.get("membership_inference")
                row["membership_inference_auc"] = mia.get("auc") if mia else None
    return {
        "guarantee": dp.get("guarantee") or ("no differential privacy" if not dp else None),
        "non_private_tables": dp.get("non_private_tables", []),
        "pii": pii, "tables": tables,
    }


def to_markdown(section: Mapping[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    lines = [f"Guarantee: {section.get('guarantee') or '-'}", "",
             "| table | DP | epsilon spent / budget | delta | exact matches | DCR ratio | MIA AUC |",
             "|---|---|---|---|---|---|---|"]
    for name, t in section.get("tables", {}).items():
        eps = (f"{fmt(t.get('epsilon_spent'))} / {fmt(t.get('epsilon_budget'))}"
               if t.get("differential_privacy") else "none")
        lines.append(f"| {name} | {'yes' if t.get('differential_privacy') else 'no'} | {eps} | {fmt(t.get('delta'))} | "
                     f"{fmt(t.get('exact_match_rate'))} | {fmt(t.get('dcr_median_ratio'))} | "
                     f"{fmt(t.get('membership_inference_auc'))} |")
    return "\n".join(lines)
