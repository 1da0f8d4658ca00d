"""Rules kept on loans (issue 21): the share of synthetic rows keeping each rule, and fidelity, with and without.

    python -m benchmarks.bench_rules

``../shared/data/loans`` (10,000 rows x 55 columns) read by hiveframe's folder reader, split 80/20
(seeded); metadata detected on the train split *without* rules, then the same metadata with the four
rules of the issue's table declared (the joint-income nulls both ways, ``paid_total`` as a sum,
``installment`` as an amortized payment, ``grade`` as the first letter of ``sub_grade``). The default
generator (gaussian_copula) is fitted on the train split with each metadata and samples as many
rows. Measured: per rule, the share of real and synthetic rows keeping it; the share of rows drawn
again to keep the rules (rejection rate); fit and sample seconds; SDMetrics quality against the train
split; detection accuracy (a classifier telling real held-out rows from synthetic ones: 0.5 is
indistinguishable); TSTR AUC for ``loan_status == 'Current'`` (the target in loans' schema.json),
trained on synthetic rows and tested on the real 20%, next to the same classifier trained on real rows.
Free-text columns (``emp_title``) are left out of the three scores.
Writes ``benchmarks/results/rules.json``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from typing import Any

import numpy as np

from benchmarks.common import (
    environment,
    markdown_table,
    quality_report,
    sdv_metadata_dict,
    shared_data,
    tstr_auc,
)
from benchmarks.common import write_json as _write_json

TARGET, POSITIVE = "loan_status", "Current"
JOINT = ("annual_income_joint", "verification_income_joint", "debt_to_income_joint")
AMORTIZED = "loan_amount * (interest_rate / 1200) / (1 - (1 + interest_rate / 1200) ** (-term))"


def issue_rules() -> dict[str, list[dict[str, Any]]]:
    """The issue's four rules, as declared rules (the first needs two: null when individual, present
    otherwise)."""
    from hiveframe.metadata import rules as R

    return {
        "joint-income columns null exactly when application_type is individual": [
            R.if_then("application_type == 'individual'", " and ".join(f"isnull({c})" for c in JOINT)),
            R.if_then("application_type != 'individual'", "notnull(annual_income_joint) and "
                      "notnull(debt_to_income_joint)"),
        ],
        "paid_total = paid_principal + paid_interest + paid_late_fees": [
            R.formula("paid_total", "paid_principal + paid_interest + paid_late_fees", tolerance=0.005)],
        "installment = the amortized payment of loan_amount over term at interest_rate": [
            R.formula("installment", AMORTIZED, tolerance=0.01)],
        "grade is the first letter of sub_grade": [R.formula("grade", "sub_grade[0]")],
    }


def kept(rules: list[dict[str, Any]], table: Any) -> float:
    from hiveframe.metadata import rules as R

    ok = np.ones(table.num_rows, dtype=bool)
    for rule in rules:
        ok &= R.holds(rule, table)
    return float(ok.mean())


def detection_accuracy(real: Any, synthetic: Any, seed: int = 0) -> float:
    from benchmarks.bench_ctgan import detection_accuracy as accuracy
    from benchmarks.bench_ctgan import numeric_dates

    return accuracy(numeric_dates(real), numeric_dates(synthetic), seed=seed)


def run(seed: int) -> dict[str, Any]:
    import pyarrow as pa

    from hiveframe.metadata import ColumnKind, detect
    from hiveframe.pipeline.io import as_database
    from hiveframe.pipeline.synthesizer import Synthesizer
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    data = as_database(shared_data() / "loans", host=host)["loans"]
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(data.num_rows, dtype=bool)
    test_mask[rng.permutation(data.num_rows)[: data.num_rows // 5]] = True
    train, test = data.filter(pa.array(~test_mask)), data.filter(pa.array(test_mask))
    plain = detect({"loans": train}, host=host)
    declared = plain
    rules = issue_rules()
    for group in rules.values():
        for rule in group:
            declared = declared.with_rule("loans", rule)
    # free text (emp_title: thousands of values) is left out of the scores: the classifiers take <= 255 categories
    scored = [c.name for c in plain.table("loans").columns if c.kind != ColumnKind.TEXT]
    real_train, real_test = train.select(scored).to_pandas(), test.select(scored).to_pandas()
    sdv_meta = {"columns": {k: v for k, v in sdv_metadata_dict(plain.table("loans"))["columns"].items()
                            if k in scored}}
    out: dict[str, Any] = {"rows": {"train": train.num_rows, "test": test.num_rows}, "runs": {}}
    out["real"] = {"kept": {name: kept(group, train) for name, group in rules.items()},
                   "tstr_auc": tstr_auc(real_train, real_test, target=TARGET, positive=POSITIVE, seed=seed),
                   "detection": detection_accuracy(real_test, real_train.sample(len(real_test), random_state=seed))}
    for label, metadata, force in (("without rules", plain, False), ("with rules", declared, True)):
        start = time.perf_counter()
        synth = Synthesizer(metadata, seed=seed, force_rules=force).fit({"loans": train})
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = synth.sample(seed=seed + 1)["loans"]
        sample_s = time.perf_counter() - start
        frame = synthetic.select(scored).to_pandas()
        report = synth.engine.rule_reports.get("loans", {})
        out["runs"][label] = {
            "fit_seconds": fit_s, "sample_seconds": sample_s,
            "kept": {name: kept(group, synthetic) for name, group in rules.items()},
            "rejection_rate": report.get("rejection_rate", 0.0), "redrawn": report.get("redrawn", {}),
            "quality": quality_report(real_train, frame, sdv_meta)["score"],
            "detection": detection_accuracy(real_test, frame),
            "tstr_auc": tstr_auc(frame, real_test, target=TARGET, positive=POSITIVE, seed=seed),
        }
        logging.info("%s: %s", label, out["runs"][label])
    return out


def summarize(results: dict[str, Any]) -> str:
    runs = results["runs"]
    labels = list(runs)
    rows = [[name, f"{results['real']['kept'][name]:.2%}"] + [f"{runs[lb]['kept'][name]:.2%}" for lb in labels]
            for name in results["real"]["kept"]]
    lines = [f"`benchmarks/results/rules.json`; command: `{results['command']}`", "",
             f"loans, default generator (gaussian_copula), train {results['rows']['train']:,} rows, "
             f"sample as many, seed {results['seed']}. Share of rows keeping each rule of the issue's table:", "",
             markdown_table(["rule", "real (train)"] + [f"synthetic, {lb}" for lb in labels], rows), ""]
    fig = [["SDMetrics quality", "-"] + [runs[lb]["quality"] for lb in labels],
           ["detection accuracy (0.5 best)", results["real"]["detection"]] + [runs[lb]["detection"] for lb in labels],
           [f"TSTR AUC ({TARGET} = {POSITIVE})", results["real"]["tstr_auc"]] + [runs[lb]["tstr_auc"]
                                                                             for lb in labels],
           ["rows redrawn to keep the rules", "-"] + [f"{runs[lb]['rejection_rate']:.2%}" for lb in labels],
           ["fit (s)", "-"] + [runs[lb]["fit_seconds"] for lb in labels],
           ["sample (s)", "-"] + [runs[lb]["sample_seconds"] for lb in labels]]
    lines += [markdown_table(["figure", "real rows"] + labels, fig), ""]
    env = results["environment"]
    lines.append(f"Load average before/after: {', '.join(f'{x:.2f}' for x in env['load_average'])} / "
                 f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])} (shared 2-core machine).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    env = environment()
    results = run(args.seed)
    results.update({"benchmark": "rules", "seed": args.seed, "environment": env,
                    "command": "python -m benchmarks.bench_rules" + (f" --seed {args.seed}" if args.seed else ""),
                    "load_average_after": list(__import__("os").getloadavg())})
    path = _write_json("rules", results)
    print(summarize(results))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
