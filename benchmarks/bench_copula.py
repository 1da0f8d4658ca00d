"""hiveframe's Gaussian copula against SDV's GaussianCopulaSynthesizer on census_adult.

Same data (the fixed 80/20 split of :func:`benchmarks.common.load_census`: 39,074 train rows), same
machine, one run::

    python -m benchmarks.bench_copula --repeats 3

Measured for each: fit time and time to sample as many rows as the train split (median of
``--repeats``), SDMetrics QualityReport score of that sample against the train split, and TSTR AUC
for ``income`` (a HistGradientBoostingClassifier trained on the synthetic rows, tested on the real
20%), next to the same classifier trained on the real 80%. Each library gets its native input
(Arrow for hiveframe, pandas for SDV); conversions for scoring are not timed. The goal set by the
issue: at least 3x faster than SDV's copula with a quality score at least as high.

Prints a markdown table and writes every figure to ``benchmarks/results/copula.json``.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any

from benchmarks.common import (
    environment,
    load_census,
    markdown_table,
    median_time,
    quality_report,
    tstr_auc,
    write_json,
)

GOAL_SPEEDUP = 3.0


def run_hiveframe(split: Any, repeats: int, seed: int) -> dict[str, Any]:
    from hiveframe.baseline import GaussianCopula

    n = split.train.num_rows

    def fit() -> GaussianCopula:
        return GaussianCopula().fit(split.train, split.table, seed=seed)

    fit_time, model = median_time(fit, repeats)
    sample_time, sample = median_time(lambda: model.sample(n, seed=seed + 1), repeats)
    return {"fit": fit_time, "sample": sample_time, "synthetic": sample.to_pandas()}


def run_sdv(split: Any, repeats: int, seed: int) -> dict[str, Any]:
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    real = split.train.to_pandas()
    metadata = Metadata.load_from_dict({"tables": {split.name: split.sdv_metadata()}})
    n = len(real)

    def fit() -> Any:
        synthesizer = GaussianCopulaSynthesizer(metadata)
        synthesizer.fit({split.name: real})
        return synthesizer

    def sample(synthesizer: Any) -> Any:
        out = synthesizer.sample(n)
        return out[split.name] if isinstance(out, dict) else out

    fit_time, model = median_time(fit, repeats)
    sample_time, synthetic = median_time(lambda: sample(model), repeats)
    return {"fit": fit_time, "sample": sample_time, "synthetic": synthetic}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-sdv", action="store_true", help="measure hiveframe only")
    parser.add_argument("--output", default="copula", help="results file name under benchmarks/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")

    split = load_census()
    real_train, real_test = split.train.to_pandas(), split.test.to_pandas()
    metadata = split.sdv_metadata()
    results: dict[str, Any] = {
        "benchmark": "copula", "dataset": "census_adult", "train_rows": split.train.num_rows,
        "test_rows": split.test.num_rows, "sample_rows": split.train.num_rows, "repeats": args.repeats,
        "seed": args.seed, "environment": environment(), "models": {},
    }
    results["real_tstr_auc"] = tstr_auc(real_train, real_test, target=split.target, positive=split.positive,
                                        seed=args.seed)
    runners = {"hiveframe gaussian_copula": run_hiveframe}
    if not args.skip_sdv:
        runners["sdv GaussianCopulaSynthesizer"] = run_sdv
    for label, runner in runners.items():
        out = runner(split, args.repeats, args.seed)
        synthetic = out.pop("synthetic")
        quality = quality_report(real_train, synthetic, metadata)
        results["models"][label] = {
            "fit_seconds": out["fit"].median, "fit_times": out["fit"].times,
            "sample_seconds": out["sample"].median, "sample_times": out["sample"].times,
            "quality_score": quality["score"], "quality_properties": quality["properties"],
            "tstr_auc": tstr_auc(synthetic, real_test, target=split.target, positive=split.positive,
                                 seed=args.seed),
        }
    hf = results["models"]["hiveframe gaussian_copula"]
    sdv = results["models"].get("sdv GaussianCopulaSynthesizer")
    if sdv is not None:
        fit_speedup = sdv["fit_seconds"] / hf["fit_seconds"]
        total_speedup = (sdv["fit_seconds"] + sdv["sample_seconds"]) / (hf["fit_seconds"] + hf["sample_seconds"])
        results["comparison"] = {
            "fit_speedup": fit_speedup,
            "sample_speedup": sdv["sample_seconds"] / hf["sample_seconds"],
            "fit_plus_sample_speedup": total_speedup,
            "quality_difference": hf["quality_score"] - sdv["quality_score"],
            "goal_met": bool(total_speedup >= GOAL_SPEEDUP and hf["quality_score"] >= sdv["quality_score"]),
        }

    rows = []
    for label, m in results["models"].items():
        props = m["quality_properties"]
        rows.append([label, m["fit_seconds"], m["sample_seconds"], m["quality_score"],
                     props.get("Column Shapes", float("nan")), props.get("Column Pair Trends", float("nan")),
                     m["tstr_auc"]])
    rows.append(["real data (train 80%)", "-", "-", "-", "-", "-", results["real_tstr_auc"]])
    print(f"census_adult: {split.train.num_rows} train rows, {split.test.num_rows} test rows, "
          f"sampling {split.train.num_rows} rows, median of {args.repeats}\n")
    print(markdown_table(["model", "fit s", "sample s", "quality", "column shapes", "pair trends",
                          "TSTR AUC (income)"], rows))
    if "comparison" in results:
        c = results["comparison"]
        print(f"\nspeed-up vs SDV: fit {c['fit_speedup']:.1f}x, sample {c['sample_speedup']:.1f}x, "
              f"fit+sample {c['fit_plus_sample_speedup']:.1f}x; quality difference "
              f"{c['quality_difference']:+.3f}; goal (>= {GOAL_SPEEDUP:.0f}x and quality >= SDV) "
              f"{'met' if c['goal_met'] else 'NOT met'}")
    path = write_json(args.output, results)
    print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
