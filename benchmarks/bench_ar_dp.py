"""The ``autoregressive`` generator under differential privacy (DP-SGD, the ``dp`` wrapper) on census_adult.

    python -m benchmarks.bench_ar_dp                                  # epsilon 1 and 3, and without DP
    python -m benchmarks.bench_ar_dp --epsilons 1 --rows 4000 --out ar_dp_smoke   # smoke run

The issue's split (:func:`benchmarks.census_split.issue_split`: ``?`` read as null, ``df.sample(frac=0.2,
random_state=0)``; 39,074 train and 9,768 held-out rows), hidden 32, ``--epochs`` fixed epochs (no early
stopping: under DP it would read the real rows' loss), one torch thread. Per epsilon (and once without
DP, the same network and epochs): the epsilon spent, TSTR AUC for ``income``, SDMetrics quality,
detection accuracy (split-half gradient boosting against held-out rows; 0.5 is indistinguishable),
the sex/relationship contradictions, the privacy validator's copy rate and distance to closest record
beside the held-out rows' (:func:`benchmarks.bench_autoregressive.score`), and its nearest-neighbour
membership-inference AUC (members: training rows; non-members: held-out rows; 0.5 is no leak).
Writes ``benchmarks/results/<out>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import numpy as np

from benchmarks.bench_autoregressive import contradictions, privacy
from benchmarks.bench_ctgan import Case, detection_accuracy, numeric_dates, sdv_metadata
from benchmarks.common import environment, markdown_table, quality_report, tstr_auc, write_json


def issue_census(rows: int | None, seed: int) -> Case:
    import pyarrow as pa

    from benchmarks.census_split import issue_split
    from benchmarks.common import arrow_table_metadata

    train_pd, test_pd, _ = issue_split()
    train = pa.Table.from_pandas(train_pd, preserve_index=False)
    test = pa.Table.from_pandas(test_pd, preserve_index=False).cast(train.schema)
    if rows:
        train = train.take(np.sort(np.random.default_rng(seed).permutation(train.num_rows)[:rows]))
    table = arrow_table_metadata("census", pa.concat_tables([train, test]))
    return Case("census", train, test, table, "income", ">50K")


def score(case: Case, synthetic: Any) -> dict[str, Any]:
    """:func:`benchmarks.bench_autoregressive.score`'s figures; SDMetrics quality only where sdmetrics is
    installed (it pins pandas below 3)."""
    syn, train, test = synthetic.to_pandas(), case.train.to_pandas(), case.test.to_pandas()
    out: dict[str, Any] = {"contradictions": contradictions(syn), "quality": None}
    try:
        out["quality"] = quality_report(train, syn, sdv_metadata(case.table))["score"]
    except ModuleNotFoundError:
        logging.getLogger(__name__).warning("sdmetrics is not installed: no quality score")
    out["detection"] = detection_accuracy(numeric_dates(test), numeric_dates(syn))
    out["tstr_auc"] = tstr_auc(numeric_dates(syn), numeric_dates(test), target="income", positive=">50K")
    out.update(privacy(case, synthetic))
    return out


def membership_auc(case: Case, synthetic: Any) -> float:
    from hiveframe.components import ValidationContext
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

    validator = PluginHost().create("validator", "privacy", {"sample_size": 2000})
    name = case.table.name
    res = validator.validate({name: case.train}, {name: synthetic}, Metadata(tables=(case.table,)),
                             ValidationContext(holdout={name: case.test}))
    return float(res.details["tables"][name]["membership_inference"]["auc"])


def run_one(case: Case, epsilon: float | None, args: argparse.Namespace) -> dict[str, Any]:
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    gen = host.create("table_generator", "autoregressive", {
        "epochs": args.epochs, "hidden": args.hidden, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "patience": None,
        "checkpoint_every": None, "threads": args.threads})
    wrapper = None
    if epsilon is not None:
        wrapper = host.create("privacy_wrapper", "dp", {"epsilon": epsilon, "micro_batch_size": args.micro_batch})
        gen = wrapper.wrap(gen)
    start = time.perf_counter()
    gen.fit(case.train, case.table, seed=args.seed)
    fit_seconds = time.perf_counter() - start
    synthetic = gen.sample(case.train.num_rows, seed=args.seed + 1)
    out: dict[str, Any] = {"epsilon": epsilon, "fit_seconds": round(fit_seconds, 1)}
    if wrapper is not None:
        report = wrapper.report()["tables"][case.table.name]
        out["epsilon_spent"] = report["epsilon_spent"]
        out["training"] = report.get("training")
    out.update(score(case, synthetic))
    out["mia_auc"] = membership_auc(case, synthetic)
    logging.getLogger(__name__).info("epsilon %s: %s", epsilon,
                                     {k: v for k, v in out.items() if k not in ("quality_properties", "training")})
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,3,none", help="comma-separated; 'none' = without DP")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--micro-batch", type=int, default=128, help="rows per vmap(grad) chunk under DP")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=None, help="use only this many training rows (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ar_dp")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(args.threads)
    case = issue_census(args.rows, args.seed)
    results: dict[str, Any] = {
        "command": "python -m benchmarks.bench_ar_dp " + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": environment(), "load_average_before": list(os.getloadavg()),
        "args": vars(args), "train_rows": case.train.num_rows, "test_rows": case.test.num_rows, "runs": []}
    for text in [e.strip() for e in args.epsilons.split(",") if e.strip()]:
        epsilon = None if text.lower() == "none" else float(text)
        results["runs"].append(run_one(case, epsilon, args))
        results["load_average_after"] = list(os.getloadavg())
        write_json(args.out, results)
    print(summarize(results))
    return results


def summarize(results: dict[str, Any]) -> str:
    headers = ["epsilon (spent)", "TSTR AUC", "quality", "detection", "MIA AUC", "copy rate (holdout)",
               "DCR median (holdout)", "contradictions", "fit s"]
    rows = []
    for r in results["runs"]:
        eps = "none" if r["epsilon"] is None else f"{r['epsilon']:g} ({r['epsilon_spent']:.3f})"
        rows.append([eps, f"{r['tstr_auc']:.3f}", "-" if r["quality"] is None else f"{r['quality']:.3f}", f"{r['detection']:.3f}",
                     f"{r['mia_auc']:.3f}", f"{r['copy_rate']:.4f} ({r['copy_rate_holdout']:.4f})",
                     f"{r['dcr_median']:.4f} ({r['dcr_median_holdout']:.4f})", str(r["contradictions"]),
                     f"{r['fit_seconds']:.0f}"])
    a = results["args"]
    return (f"census_adult, issue split, {results['train_rows']:,} training rows, hidden {a['hidden']}, "
            f"{a['epochs']} epochs, batch {a['batch_size']}, learning rate {a.get('learning_rate', 2e-3):g}, {a['threads']} torch thread(s): `{results['command']}`. "
            f"Load average before/after: {', '.join(f'{x:.2f}' for x in results['load_average_before'])} / "
            f"{', '.join(f'{x:.2f}' for x in results.get('load_average_after', []))}.\n\n"
            + markdown_table(headers, rows))


if __name__ == "__main__":
    main()
