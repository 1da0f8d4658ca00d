"""Column-cluster batch training (the ``batches`` generator) against one model, on wide tables.

    python -m benchmarks.bench_batches                                  # loans and caravan, copula and CTGAN
    python -m benchmarks.bench_batches --tables caravan --generators gaussian_copula   # one case
    python -m benchmarks.bench_batches --ctgan-epochs 2                 # quicker CTGAN

For each table (``../shared/data/loans``: 55 columns, ``../shared/data/caravan``: 86; a fixed, seeded
80/20 split) and each per-batch generator (the Gaussian copula; CTGAN for ``--ctgan-epochs`` epochs,
one torch thread per process), four fits, each in a fresh process (so that peak memory is its own):

* ``one``: the generator on the whole table;
* ``batches, sequential``: ``batches`` (max width 15, 3 anchors) training its batches one after another;
* ``batches, parallel``: the same, 2 worker processes (the same seeds: the same model, checked);
* ``independent``: parallel batches without anchors (the reference's design: dependence across
  batches is lost);
* ``shared`` (CTGAN only): parallel batches with ``share_epochs``: each batch model trains its share of
  the epochs by width, so that the batches together take about one model's optimizer steps.

``parallel`` is ``workers=2`` (this process and one worker, taking batches from one queue); the default
``workers="auto"`` is also recorded (how many processes it chose). Each fit runs ``--repeats`` times
(default 2), each in a fresh process; fit seconds are the median, with every run's seconds and the load
average before it in the JSON.

Reported: fit seconds, peak resident memory (the fitting process; for parallel fits also the largest
worker), SDMetrics quality against the train rows, detection accuracy (real held-out rows against
synthetic, split-half gradient boosting: 0.5 is indistinguishable), TSTR AUC on the table's target
(from its ``schema.json``), and SDMetrics column-pair trends averaged over the pairs within one batch
and the pairs across batches (the anchored fit's layout, applied to every fit). The issue's goals:
batches at least 2x faster than one model at no more than 0.01 lower quality; across-batch pair
trends with anchors at least halfway from independent batches to one model.

Writes ``benchmarks/results/batches.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    ROOT,
    SPLIT_SEED,
    TEST_FRACTION,
    environment,
    markdown_table,
    sdv_metadata_dict,
    shared_data,
    tstr_auc,
    write_json,
)

TABLES = {"loans": "loans.csv.gz", "caravan": "caravan.csv.gz"}
GENERATORS = ("gaussian_copula", "ctgan")
CTGAN = dict(batch_size=500, generator_dim=(128, 128), discriminator_dim=(128, 128), patience=None,
             checkpoint_every=None, threads=1)
MAX_WIDTH = 15
ANCHORS = 3
SEED = 0
FITS = ("one", "sequential", "parallel", "independent", "shared")


# -- data ------------------------------------------------------------------------------------------------
def load(name: str) -> dict[str, Any]:
    """The table, split 80/20 with a fixed seed, its detected metadata and its target."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from hiveframe import detect

    folder = shared_data() / name
    data = pacsv.read_csv(folder / TABLES[name])
    schema = json.loads((folder / "schema.json").read_text())
    table = detect({name: data}).table(name)
    perm = np.random.default_rng(SPLIT_SEED).permutation(data.num_rows)
    n_test = int(round(data.num_rows * TEST_FRACTION))
    test, train = data.take(pa.array(np.sort(perm[:n_test]))), data.take(pa.array(np.sort(perm[n_test:])))
    return {"train": train, "test": test, "table": table, "target": schema["target"]["column"],
            "positive": schema["target"]["positive"]}


def make_generator(kind: str, fit: str, ctgan_epochs: int) -> Any:
    from hiveframe.plugins import PluginHost

    params = dict(CTGAN, epochs=ctgan_epochs) if kind == "ctgan" else {}
    if fit == "one":
        return PluginHost().create("table_generator", kind, params)
    from hiveframe_batches.generators import BatchesGenerator

    return BatchesGenerator(generator=kind, generator_params=params, max_width=MAX_WIDTH,
                            anchors=0 if fit == "independent" else ANCHORS, workers=1 if fit == "sequential" else 2,
                            share_epochs=fit == "shared")


def fits_for(generator: str) -> tuple[str, ...]:
    return FITS if generator == "ctgan" else FITS[:-1]


# -- one fit, in its own process ----------------------------------------------------------------------------
def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Fit, sample as many rows as the train split, write them; time and peak memory of this process."""
    import resource

    import pyarrow.parquet as pq

    case = load(spec["table"])
    gen = make_generator(spec["generator"], spec["fit"], spec["ctgan_epochs"])
    start = time.perf_counter()
    gen.fit(case["train"], case["table"], seed=SEED)
    fit_seconds = time.perf_counter() - start
    synthetic = gen.sample(case["train"].num_rows, seed=SEED + 1)
    pq.write_table(synthetic, spec["out"])
    layout = [list(b.columns) for b in gen.batches] if spec["fit"] != "one" else None
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"fit_seconds": fit_seconds, "peak_mb": self_kb / 1024,
            "worker_peak_mb": children_kb / 1024 if spec["fit"] in ("parallel", "independent", "shared") else None,
            "processes": gen.fit_info.get("processes") if layout else None,
            "auto_processes": auto_processes(gen) if layout else None,
            "layout": layout, "anchors": [list(b.anchors) for b in gen.batches] if layout else None,
            "batch_seconds": [round(v["seconds"], 2) for _, v in sorted(gen.fit_info["batches"].items(),
                                                                       key=lambda kv: int(kv[0]))]
            if layout else None}


def auto_processes(gen: Any) -> int:
    """How many processes ``workers="auto"`` would have chosen for these batches (nothing trained)."""
    from hiveframe_batches.generators import processes_for

    training = gen._training
    jobs = [gen._job(b, training) for b in gen.batches]
    return processes_for(jobs, "auto")


def fit_in_subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins"),
                                                       os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_batches", "--run", json.dumps(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fit {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- metrics --------------------------------------------------------------------------------------------------
def pair_trends(real, synthetic, meta: dict[str, Any]) -> tuple[float, Any]:
    """SDMetrics quality score and its per-pair column-pair-trend scores."""
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic[list(real.columns)], meta, verbose=False)
    return float(report.get_score()), report.get_details("Column Pair Trends")


def split_pairs(details, layout: list[list[str]]) -> dict[str, float]:
    batch_of = {c: i for i, cols in enumerate(layout) for c in cols}
    within, across = [], []
    for _, row in details.iterrows():
        score = row["Score"]
        if score != score:  # NaN: a pair SDMetrics could not score
            continue
        same = batch_of.get(row["Column 1"]) == batch_of.get(row["Column 2"])
        (within if same else across).append(float(score))
    return {"within": float(np.mean(within)) if within else float("nan"),
            "across": float(np.mean(across)) if across else float("nan"), "pairs_within": len(within),
            "pairs_across": len(across)}


def evaluate(case: dict[str, Any], synthetic_path: str, layout: list[list[str]]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from benchmarks.bench_ctgan import detection_accuracy, numeric_dates
    from hiveframe.metadata import ColumnKind

    # free text (loans' emp_title: thousands of values) is generated but left out of every score, as in
    # bench_rules: the classifiers take at most 255 categories, and its pair trends mean little
    scored = [c.name for c in case["table"].columns if c.kind != ColumnKind.TEXT]
    train, test = case["train"].select(scored).to_pandas(), case["test"].select(scored).to_pandas()
    synthetic = pq.read_table(synthetic_path).select(scored).to_pandas()
    meta = sdv_metadata_dict(case["table"])
    meta["columns"] = {k: v for k, v in meta["columns"].items() if k in scored}
    quality, details = pair_trends(train, synthetic, meta)
    return {"quality": quality, "pairs": split_pairs(details, layout),
            "detection": detection_accuracy(numeric_dates(test), numeric_dates(synthetic)),
            "tstr_auc": tstr_auc(numeric_dates(synthetic), numeric_dates(test), target=case["target"],
                                 positive=case["positive"])}


def run_case(table: str, generator: str, ctgan_epochs: int, work: Path, repeats: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    fits: dict[str, Any] = {}
    for fit in fits_for(generator):
        runs = []
        for run in range(repeats):
            out = work / f"{table}-{generator}-{fit}-{run}.parquet"
            spec = {"table": table, "generator": generator, "fit": fit, "ctgan_epochs": ctgan_epochs, "out": str(out)}
            load_before = os.getloadavg()[0]
            print(f"  {table} / {generator} / {fit} run {run + 1} (load {load_before:.2f}) ...", file=sys.stderr,
                  flush=True)
            runs.append(fit_in_subprocess(spec) | {"out": str(out), "load_before": load_before})
        seconds = [r["fit_seconds"] for r in runs]
        fits[fit] = dict(runs[0], fit_seconds=float(np.median(seconds)), run_seconds=seconds,
                         run_load=[r["load_before"] for r in runs], peak_mb=max(r["peak_mb"] for r in runs),
                         same_every_run=all(pq.read_table(r["out"]).equals(pq.read_table(runs[0]["out"]))
                                            for r in runs[1:]))
        fits[fit].pop("load_before")
    same = pq.read_table(fits["sequential"]["out"]).equals(pq.read_table(fits["parallel"]["out"]))
    layout = fits["parallel"]["layout"]
    case = load(table)
    for fit in [f for f in ("one", "parallel", "independent", "shared") if f in fits]:
        print(f"  {table} / {generator} / {fit}: metrics ...", file=sys.stderr, flush=True)
        fits[fit].update(evaluate(case, fits[fit]["out"], layout))
    for fit in fits.values():
        fit.pop("out")
    one, par, ind = fits["one"], fits["parallel"], fits["independent"]
    gap = one["pairs"]["across"] - ind["pairs"]["across"]
    return {"table": table, "generator": generator, "columns": len(case["table"].columns),
            "train_rows": case["train"].num_rows, "ctgan_epochs": ctgan_epochs if generator == "ctgan" else None,
            "batches": len(layout), "parallel_equals_sequential": same, "fits": fits,
            "speedup_parallel": one["fit_seconds"] / par["fit_seconds"],
            "speedup_sequential": one["fit_seconds"] / fits["sequential"]["fit_seconds"],
            "parallel_vs_sequential": fits["sequential"]["fit_seconds"] / par["fit_seconds"],
            "quality_drop": one["quality"] - par["quality"],
            "speedup_shared": one["fit_seconds"] / fits["shared"]["fit_seconds"] if "shared" in fits else None,
            "quality_drop_shared": one["quality"] - fits["shared"]["quality"] if "shared" in fits else None,
            "anchor_recovery": (par["pairs"]["across"] - ind["pairs"]["across"]) / gap if gap > 0 else None}


# -- report ---------------------------------------------------------------------------------------------------
def summarize(results: dict[str, Any]) -> str:
    rows = []
    for case in results["cases"]:
        for fit in fits_for(case["generator"]):
            f = case["fits"][fit]
            rows.append([case["table"], case["generator"], fit, round(f["fit_seconds"], 2),
                         " / ".join(f"{v:.2f}" for v in f.get("run_seconds", [])),
                         " / ".join(f"{v:.1f}" for v in f.get("run_load", [])), round(f["peak_mb"]),
                         round(f["worker_peak_mb"]) if f.get("worker_peak_mb") else "",
                         f.get("quality", ""), f.get("detection", ""), f.get("tstr_auc", ""),
                         f["pairs"]["within"] if "pairs" in f else "", f["pairs"]["across"] if "pairs" in f else ""])
    table = markdown_table(["table", "generator", "fit", "fit s (median)", "runs s", "load before", "peak MB",
                            "worker peak MB", "quality",
                            "detection", "TSTR AUC", "pair trends within", "pair trends across"], rows)
    goals = []
    for case in results["cases"]:
        recovery = case["anchor_recovery"]
        goals.append([case["table"], case["generator"], case["batches"], round(case["speedup_parallel"], 2),
                      round(case["speedup_sequential"], 2), round(case["parallel_vs_sequential"], 2),
                      round(case["quality_drop"], 4), "" if recovery is None else round(recovery, 2),
                      case["parallel_equals_sequential"], case["fits"]["parallel"].get("auto_processes"),
                      "" if case.get("speedup_shared") is None else round(case["speedup_shared"], 2),
                      "" if case.get("quality_drop_shared") is None else round(case["quality_drop_shared"], 4)])
    return table + "\n\n" + markdown_table(
        ["table", "generator", "batches", "speedup parallel / one", "speedup sequential / one",
         "parallel / sequential", "quality drop", "anchor recovery", "parallel = sequential",
         "auto processes", "speedup shared / one", "quality drop shared"], goals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="*", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--generators", nargs="*", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--ctgan-epochs", type=int, default=5)
    parser.add_argument("--output", default="batches", help="results file name under benchmarks/results/")
    parser.add_argument("--repeats", type=int, default=2, help="fits per case (fit seconds: the median)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run_one(json.loads(args.run))))
        return 0
    load_before = os.getloadavg()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for table in args.tables:
            for generator in args.generators:
                cases.append(run_case(table, generator, args.ctgan_epochs, Path(tmp), args.repeats))
    results = {"cases": cases, "environment": environment(), "load_average_before": list(load_before),
               "command": "python -m benchmarks.bench_batches " + " ".join(argv if argv is not None else sys.argv[1:])}
    path = write_json(args.output, results)
    print(summarize(results))
    print(f"\nwritten to {path}; load average before {load_before}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
