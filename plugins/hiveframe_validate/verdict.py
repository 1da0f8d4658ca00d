"""The report's reading of its figures: one headline per validator, the overall verdict, next steps.

Why a module of its own: the validators score; deciding what the scores mean for a user (is this
data usable, what to change) is one set of stated rules, kept in one place and shown in the report.

Headlines all point the same way: **higher is better**, 1.0 is the best value, and each carries the
band of its own number (the badge beside a number always agrees with it). The overall verdict:

- **poor** when a must-hold figure is poor (schema, declared bounds and constraints, key uniqueness,
  referential integrity, 1:1 links; copied rows and membership inference on tables of two or more
  columns), or when more than a quarter of the scored figures are poor;
- **good** when no figure is poor and at most a tenth are to check;
- **check** otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: figures that must hold whatever the statistics: one poor makes the whole report poor.
MUST_HOLD = frozenset({"schema", "outside_declared", "constraint", "key_uniqueness", "referential_integrity",
                       "one_to_one", "exact_match_excess", "mia_auc"})
#: share of poor figures above which the data is poor overall.
POOR_SHARE = 0.25
#: share of figures to check up to which the data is still good overall.
CHECK_SHARE = 0.10

RULES = (f"poor: a must-hold figure is poor ({', '.join(sorted(MUST_HOLD))}; copied rows and membership "
         f"inference only on tables of two or more columns), or more than {POOR_SHARE:.0%} of scored figures "
         f"are poor; good: no figure poor and at most {CHECK_SHARE:.0%} to check; check: otherwise")

#: what to try when a figure is poor, by metric.
NEXT_STEPS: dict[str, str] = {
    "column_shape": "train longer (more epochs) or try another generator for this table; check the column's "
                    "detected kind (a number read as a category, or the reverse) in the metadata",
    "worst_column": "look at this column's chart: declare its kind, bounds or categories in the metadata, or "
                    "give it a transformer (Synthesizer(transformers={'table.column': ...}))",
    "pattern_tvd": "nulls fall together differently than in the real rows: declare the rule that ties them "
                   "(if_then ... isnull(...), docs/rules.md) so it is computed",
    "mechanism_agreement": "nulls lost what they depend on: declare an if_then rule on their driver, or give the "
                           "generator that column as context",
    "driver_v_diff": "nulls depend on their driver more or less than in the real rows: declare an if_then rule on "
                     "the driver (docs/rules.md)",
    "null_rate_diff": "missing values come out at another rate: check that the real nulls are true missing "
                      "values (not text such as '' or 'n/a') and keep null_handling='model' (the default)",
    "pair_trends": "the generator misses how columns move together: try a stronger generator (ctgan) or more "
                   "epochs; a copula keeps linear links only",
    "max_association_diff": "the pair named here is linked in the real data: a conditional generator (ctgan) "
                            "or a declared constraint can keep it",
    "mean_abs_correlation_diff": "numeric columns drift apart: more epochs, or a generator that keeps "
                                 "correlations (gaussian_copula keeps linear ones by construction)",
    "detection_auc": "a classifier tells the rows apart: open the column and pair sections of this table for "
                     "the columns that give it away, then fix those (kinds, bounds, more epochs)",
    "detection_below_baseline": "synthetic rows look more like the training rows than fresh real rows do: "
                                "the generator may copy; check the privacy section",
    "tstr_ratio": "models trained on synthetic rows predict the target worse: fit with a stronger generator, "
                  "more epochs, or pass the target's table a larger model",
    "key_uniqueness": "a primary key repeats: declare the key in the metadata (hiveframe detect, then edit) so "
                      "the engine generates it",
    "referential_integrity": "foreign keys point nowhere: declare the relationship in the metadata so the "
                             "engine keeps it",
    "cardinality_similarity": "children per parent differ: use the conditional linkage (the default) and give "
                              "the parent table the columns that decide its number of children",
    "one_to_one": "a 1:1 link got several children: declare the child key unique (a one_to_one foreign key)",
    "schema": "columns are missing or of another type: fit with the metadata of this data "
              "(hiveframe detect -o metadata.json, then --metadata)",
    "outside_declared": "values leave the declared bounds: declare them as constraints so the generator "
                        "keeps them, or widen them if the real data breaks them too",
    "outside_range": "values leave the real range: declare low/high on the column in the metadata",
    "constraint": "the generator breaks a declared rule: declare it in the table's constraints so sampling "
                  "enforces it",
    "duplicate_excess": "rows repeat more than in the real data: the table may be too small for its "
                        "generator; tables under the small-table threshold get gaussian_copula",
    "diversity": "fewer distinct rows than the real data: train longer or use a generator with more capacity",
    "exact_match_excess": "synthetic rows copy training rows: fit with differential privacy (--dp epsilon=3), "
                          "fewer epochs, or mark identifying columns as PII",
    "dcr_too_close": "synthetic rows sit closer to training rows than fresh real rows do: fit with "
                     "differential privacy or fewer epochs; pass --holdout for an unbiased check",
    "mia_auc": "an attacker can tell training members from other rows: fit with differential privacy",
}


def next_step(band: Mapping[str, Any]) -> str:
    """The advice for one poor (or to-check) figure."""
    return NEXT_STEPS.get(str(band.get("metric")), "look at this figure's section of the report")


def must_hold(band: Mapping[str, Any]) -> bool:
    """Whether a poor value of this figure makes the whole report poor (a band may say so itself)."""
    if "must_hold" in band:
        return bool(band["must_hold"])
    return band.get("metric") in MUST_HOLD


def overall(summary: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The verdict (``pass``/``warn``/``fail``: shown as good/check/poor), its counts, reasons and next steps."""
    counts = {s: sum(1 for b in summary if b["status"] == s) for s in ("pass", "warn", "fail", "info")}
    scored = counts["pass"] + counts["warn"] + counts["fail"]
    poor = [b for b in summary if b["status"] == "fail"]
    broken = [b for b in poor if must_hold(b)]
    reasons = []
    if broken:
        reasons.append(f"{len(broken)} must-hold figure(s) poor")
    if scored and counts["fail"] / scored > POOR_SHARE:
        reasons.append(f"{counts['fail']} of {scored} figures poor (more than {POOR_SHARE:.0%})")
    if reasons:
        status = "fail"
    elif not scored:
        status = "info"
    elif counts["fail"] == 0 and counts["warn"] / scored <= CHECK_SHARE:
        status = "pass"
        reasons.append(f"no figure poor, {counts['warn']} of {scored} to check")
    else:
        status = "warn"
        reasons.append(f"{counts['fail']} of {scored} figures poor, {counts['warn']} to check")
    steps = [{"validator": b.get("validator"), "table": b.get("table"), "label": b.get("label"),
              "metric": b.get("metric"), "must_hold": must_hold(b), "step": next_step(b)}
             for b in sorted(poor, key=lambda b: not must_hold(b))]
    return {"status": status, "counts": counts, "reasons": reasons, "rules": RULES, "next_steps": steps}


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def _detection(scores: Mapping[str, Any]) -> float | None:
    auc = scores.get("max_auc")
    return None if auc is None else _clip01(1.0 - 2.0 * max(0.0, float(auc) - 0.5))


def _too_close(scores: Mapping[str, Any]) -> float | None:
    share = scores.get("max_dcr_too_close_share")
    return None if share is None else _clip01(1.0 - float(share))


#: validator -> (label, value from scores, good, poor): every value higher-is-better.
HEADLINES: dict[str, tuple[str, Callable[[Mapping[str, Any]], float | None], float, float]] = {
    "column_fidelity": ("column shape (1 = identical distributions)", lambda s: s.get("column_shape"), 0.9, 0.75),
    "pair_fidelity": ("pair trends (1 = identical correlations)", lambda s: s.get("pair_trends"), 0.9, 0.75),
    "missingness": ("null patterns (1 = nulls fall together as in the real data; 1 - TVD)",
                    lambda s: s.get("pattern_similarity"), 0.95, 0.8),
    "detection": ("indistinguishability, worst table (1 = a classifier cannot tell; 1 - 2 (AUC - 0.5))",
                  _detection, 0.9, 0.4),
    "utility": ("TSTR / TRTR (1 = synthetic trains as well as real)", lambda s: s.get("ratio"), 0.95, 0.7),
    "relational": ("referential integrity (1 = every foreign key resolves)",
                   lambda s: s.get("referential_integrity"), 1.0, 0.99),
    "quality": ("diversity (1 = as many distinct rows as the real data)", lambda s: s.get("min_diversity"), 0.9, 0.7),
    "privacy": ("rows not too close to a training row, worst table (0.95 expected)", _too_close, 0.9, 0.8),
}


def headline(result: Mapping[str, Any]) -> dict[str, Any]:
    """One higher-is-better figure for a validator's card, with the band of that number."""
    name = result["validator"]
    scores = result.get("scores") or {}
    if name in HEADLINES:
        label, pick, good, poor = HEADLINES[name]
        value = pick(scores)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            status = "info"
            value = None
        else:
            value = float(value)
            status = "pass" if value >= good else "fail" if value < poor else "warn"
        return {"label": label, "value": value, "status": status, "higher_is_better": True,
                "rule": f"good \u2265 {good:g}, poor < {poor:g}"}
    # a third-party validator: its status, no number we could orient
    return {"label": "status", "value": None, "status": result.get("status", "info"), "higher_is_better": True,
            "rule": "set by the validator"}
