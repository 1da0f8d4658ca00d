"""Differential privacy on census_adult: utility and membership inference at epsilon 1, 3, 10 and without DP.

    python -m benchmarks.bench_privacy                                  # the issue's setting
    python -m benchmarks.bench_privacy --epochs 2 --rows 4000 --out privacy_smoke   # smoke run

For each generator (``gaussian_copula``: the DP copula under DP; ``ctgan``, ``tvae`` and ``autoregressive``
(hidden 32): DP-SGD) and
each epsilon (and once without the ``dp`` wrapper), on the fixed 80/20 census split:

* utility: train-on-synthetic-test-on-real ROC AUC of a gradient-boosted classifier for ``income``, and
  its ratio to the same classifier trained on the real training rows; SDMetrics' QualityReport score;
* detection: accuracy of a gradient-boosted classifier telling synthetic rows from held-out real ones
  (split half; 0.5 = indistinguishable), the same measure as ``bench_ctgan``;
* privacy: the membership-inference AUC of hiveframe_validate's ``privacy`` validator (an attacker
  calls a real row a training member when a synthetic row lies close to it; members are training
  rows, non-members the held-out 20%), its exact-match rate and DCR, and the epsilon actually spent;
* cost: fit seconds with and without DP at the same number of epochs.

Published reference point (the issue's goal): marginal-based DP generators (e.g. MST, AIM) reach a
gradient-boosting AUROC of about 0.90 on a *categorical* (binned) Adult at epsilon 2. Results go to
``benchmarks/results/<out>.json`` and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

import numpy as np

from benchmarks.bench_ctgan import detection_accuracy
from benchmarks.common import environment, load_census, markdown_table, quality_report, tstr_auc, write_json

EPSILONS = ("1", "3", "10", "none")
GENERATORS = ("gaussian_copula", "ctgan", "tvae", "autoregressive")
NEURAL = {"ctgan": dict(batch_size=500, pac=10), "tvae": dict(batch_size=500),
          "autoregressive": dict(batch_size=512, hidden=32)}


def _fit_sample(split, generator: str, epsilon: float | None, *, epochs: int, seed: int, rows: int,
                dp_params: dict[str, Any], batch_size: int | None = None) -> dict[str, Any]:
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    params: dict[str, Any] = {}
    if generator in NEURAL:
        params = {**NEURAL[generator], "epochs": epochs, "patience": None, "checkpoint_every": None}
        if batch_size:
            params["batch_size"] = batch_size
    gen = host.create("table_generator", generator, params)
    wrapper = None
    if epsilon is not None:
        wrapper = host.create("privacy_wrapper", "dp", {"epsilon": epsilon, **dp_params})
        gen = wrapper.wrap(gen)
    epochs_seen: list[dict[str, Any]] = []
    started = time.perf_counter()
    gen.fit(split.train, split.table, seed=seed, callback=epochs_seen.append)
    fit_seconds = time.perf_counter() - started
    synthetic = gen.sample(rows, seed=seed + 1)
    out: dict[str, Any] = {"fit_seconds": round(fit_seconds, 2), "synthetic": synthetic,
                           "epsilon_per_epoch": [e.get("epsilon") for e in epochs_seen if "epsilon" in e]}
    if wrapper is not None:
        report = wrapper.report()["tables"][split.table.name]
        out["privacy"] = {k: report.get(k) for k in ("epsilon", "delta", "epsilon_spent", "delta_spent", "split",
                                                      "training", "preprocessing_noise_multiplier")}
    inner = getattr(gen, "inner", gen)
    info = getattr(inner, "fit_info", None)
    if info:
        out["epochs_trained"] = info.get("epochs_trained")
    return out


def _privacy_scores(split, synthetic) -> dict[str, Any]:
    from hiveframe.components import ValidationContext
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    validator = host.create("validator", "privacy", {"sample_size": 2000})
    metadata = Metadata(tables=(split.table,))
    context = ValidationContext(holdout={split.table.name: split.test})
    res = validator.validate({split.table.name: split.train}, {split.table.name: synthetic}, metadata, context)
    table = res.details["tables"][split.table.name]
    return {"mia_auc": table["membership_inference"]["auc"], "mia_accuracy": table["membership_inference"]["accuracy"],
            "exact_match_rate": table["exact_match_rate"], "dcr_median_ratio": table["dcr"]["median_ratio"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--epsilons", default=",".join(EPSILONS), help="comma-separated; 'none' = without DP")
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs of the neural generators (same with and without DP)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size of the neural generators")
    parser.add_argument("--rows", type=int, default=None, help="use only this many training rows (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pac", type=int, default=1, help="CTGAN pac group size under DP")
    parser.add_argument("--out", default="privacy")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    split = load_census()
    if args.rows:
        keep = np.sort(np.random.default_rng(args.seed).permutation(split.train.num_rows)[: args.rows])
        split.train = split.train.take(keep)
    train_pd, test_pd = split.train.to_pandas(), split.test.to_pandas()
    baseline = tstr_auc(train_pd, test_pd, target="income", positive=">50K", seed=args.seed)
    print(f"census: {split.train.num_rows} training rows, {split.test.num_rows} held out; real-data AUC {baseline:.3f}")
    results: list[dict[str, Any]] = []
    for generator in [g.strip() for g in args.generators.split(",") if g.strip()]:
        times: dict[str, float] = {}
        for eps_text in [e.strip() for e in args.epsilons.split(",") if e.strip()]:
            epsilon = None if eps_text.lower() == "none" else float(eps_text)
            print(f"{generator} epsilon={eps_text} ...", flush=True)
            run = _fit_sample(split, generator, epsilon, epochs=args.epochs, seed=args.seed,
                              rows=split.train.num_rows, dp_params={"pac": args.pac}, batch_size=args.batch_size)
            synthetic = run.pop("synthetic")
            synth_pd = synthetic.to_pandas()
            auc = tstr_auc(synth_pd, test_pd, target="income", positive=">50K", seed=args.seed)
            quality = quality_report(train_pd, synth_pd, split.sdv_metadata())
            detection = detection_accuracy(test_pd, synth_pd, seed=args.seed)
            row = {"generator": generator, "epsilon": epsilon, "tstr_auc": auc, "tstr_auc_ratio": auc / baseline,
                   "quality": quality["score"], "quality_properties": quality["properties"], "detection": detection,
                   **_privacy_scores(split, synthetic), **run}
            times[eps_text] = run["fit_seconds"]
            results.append(row)
            write_json(args.out, _payload(args, argv, split, baseline, results, complete=False))
            print(f"  AUC {auc:.3f} (ratio {auc / baseline:.3f}), quality {quality['score']:.3f}, "
                  f"detection {detection:.3f}, "
                  f"MIA AUC {row['mia_auc']:.3f}, fit {run['fit_seconds']:.1f}s", flush=True)
        if "none" in times:
            for row in results:
                if row["generator"] == generator and row["epsilon"] is not None:
                    row["fit_seconds_vs_non_dp"] = round(row["fit_seconds"] / max(times["none"], 1e-9), 2)
    print(_runs_table(results))
    payload = _payload(args, argv, split, baseline, results, complete=True)
    path = write_json(args.out, payload)
    print(f"wrote {path}")
    return payload



def _payload(args: argparse.Namespace, argv: list[str] | None, split, baseline: float,
             results: list[dict[str, Any]], *, complete: bool) -> dict[str, Any]:
    """The JSON written after every run (``complete`` false until the last), so a long run that is
    stopped keeps the epsilons it finished."""
    return {"benchmark": "privacy", "command": "python -m benchmarks.bench_privacy " + " ".join(argv or sys.argv[1:]),
            "complete": complete, "dataset": "census_adult", "train_rows": split.train.num_rows,
            "test_rows": split.test.num_rows, "epochs": args.epochs, "pac_under_dp": args.pac,
            "real_data_auc": baseline, "results": results, "environment": environment(),
            "reference": "marginal-based DP generators: ~0.90 gradient-boosting AUROC on a categorical Adult "
                         "at epsilon 2 (published)"}


def _runs_table(results: list[dict[str, Any]]) -> str:
    headers = ["generator", "epsilon", "spent", "TSTR AUC", "ratio", "quality", "detection", "MIA AUC", "exact", "fit s",
               "x non-DP"]
    table = [[r["generator"], "none" if r["epsilon"] is None else r["epsilon"],
              (r.get("privacy") or {}).get("epsilon_spent", "-"), r["tstr_auc"], r["tstr_auc_ratio"], r["quality"],
              r.get("detection", "-"), r["mia_auc"], r["exact_match_rate"], r["fit_seconds"], r.get("fit_seconds_vs_non_dp", "-")]
             for r in results]
    return markdown_table(headers, table)


def summarize(results: dict[str, Any]) -> str:
    """The markdown RESULTS.md shows for one privacy run."""
    return (f"census_adult, {results['train_rows']:,} training rows, {results['test_rows']:,} real test rows, "
            f"{results['epochs']} epochs for ctgan/tvae (same with and without DP), pac {results['pac_under_dp']} "
            f"under DP. TSTR AUC for `income` trained on real rows: {results['real_data_auc']:.3f}. MIA: "
            f"nearest-neighbour membership inference (0.5 = no leak). Reference: {results['reference']}.\n\n"
            + _runs_table(results["results"]))


if __name__ == "__main__":
    main()
