"""hiveframe's ``autoregressive`` generator against its Gaussian copula and its CTGAN, on census_adult.

    python -m benchmarks.bench_autoregressive --threads 1                   # autoregressive up to 30 epochs
    python -m benchmarks.bench_autoregressive --epochs 3 --ctgan-epochs 1   # smoke run
    python -m benchmarks.bench_autoregressive --skip ctgan                  # without the slow GAN
    nox -s peer && python -m benchmarks.bench_autoregressive --peer-results benchmarks/results/peer_mostlyai.json

Same data and split as every census benchmark (:func:`benchmarks.common.load_census`: 39,074 train,
9,768 held-out rows), same machine, one run, one process. For each generator: fit seconds, sampling
rows per second (as many rows as the train split), SDMetrics quality against the train rows,
detection accuracy (split-half gradient boosting, real held-out rows against synthetic ones: 0.5 is
indistinguishable; :func:`benchmarks.bench_ctgan.detection_accuracy`), TSTR AUC for ``income`` and
the count of rows that pair ``sex = Female`` with ``relationship = Husband`` or ``Male`` with
``Wife`` (rows that give synthetic data away), and the privacy validator's copy rate (synthetic rows
equal to a training row, beside the same rate for held-out real rows) and distance to closest record
(Gower, to the training rows; median beside the held-out rows' median, and the share closer than 95%
of held-out rows are). ``autoregressive`` trains with its defaults
(early stopping on held-out loss, ``--epochs`` the maximum); CTGAN for ``--ctgan-epochs`` epochs with
its defaults. The issue's goals for autoregressive: detection <= 0.55, quality >= 0.98, TSTR AUC >=
0.925, fit <= 120 s on 2 cores.

``--peer-results`` adds mostlyai-engine (run first in its own virtualenv by ``nox -s peer``, see
:mod:`benchmarks.peer_mostlyai`) as one more column, its rows scored here with exactly the same
metrics. The run then uses the split the peer was fitted on, the issue's
(:func:`benchmarks.census_split.issue_split`: ``?`` read as null, ``df.sample(frac=0.2,
random_state=0)``), checked by digest, and the same torch threads; the goals gain "detection no
worse than mostlyai-engine's" and "fit <= 1/3 of mostlyai-engine's".

Writes ``benchmarks/results/autoregressive.json`` (``autoregressive_smoke.json`` below 10 epochs;
``autoregressive_peer[_smoke].json`` with ``--peer-results``) and
prints a markdown table; ``summarize`` renders it for ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_ctgan import Case, census_case, detection_accuracy, evaluate, numeric_dates
from benchmarks.common import environment, markdown_table, tstr_auc, write_json

SMOKE_BELOW_EPOCHS = 10
GOALS = {"detection": 0.55, "quality": 0.98, "tstr_auc": 0.925, "fit_seconds": 120.0}
MODELS = ("autoregressive", "gaussian_copula", "ctgan")
PEER = "mostlyai-engine"
PRIVACY_SAMPLE = 5_000  # synthetic and held-out rows the privacy validator compares (each against all train rows)


def contradictions(df: Any) -> int:
    """Rows pairing Female with Husband or Male with Wife (census has 4 in 48,842 real rows)."""
    sex = df["sex"].astype(str).str.strip()
    rel = df["relationship"].astype(str).str.strip()
    return int((((sex == "Female") & (rel == "Husband")) | ((sex == "Male") & (rel == "Wife"))).sum())


def make(name: str, epochs: int, ctgan_epochs: int, threads: int, verbose: bool):
    if name == "autoregressive":
        from hiveframe_autoregressive.generators import AutoregressiveGenerator

        return AutoregressiveGenerator(epochs=epochs, threads=threads, verbose=verbose)
    if name == "ctgan":
        from hiveframe_ctgan.generators import CTGANGenerator

        return CTGANGenerator(epochs=ctgan_epochs, threads=threads, verbose=verbose)
    from hiveframe.baseline import GaussianCopula

    return GaussianCopula()


def run_one(name: str, case: Any, args: argparse.Namespace) -> dict[str, Any]:
    gen = make(name, args.epochs, args.ctgan_epochs, args.threads, args.verbose)
    start = time.perf_counter()
    gen.fit(case.train, case.table, seed=args.seed)
    fit_seconds = time.perf_counter() - start
    n = case.train.num_rows
    start = time.perf_counter()
    synthetic = gen.sample(n, seed=args.seed + 1)
    sample_seconds = time.perf_counter() - start
    out = {"fit_seconds": fit_seconds, "sample_rows_per_second": n / sample_seconds}
    info = getattr(gen, "fit_info", None) or {}
    if "epochs_trained" in info:
        out.update(epochs=info["epochs_trained"], best_epoch=info.get("best_epoch"))
    out.update(score(case, synthetic))
    logging.getLogger(__name__).info("%s: %s", name, {k: v for k, v in out.items() if k != "quality_properties"})
    return out


def score(case: Case, synthetic: Any) -> dict[str, Any]:
    """Every figure computed from the synthetic rows (an Arrow table with the train split's schema):
    the same for hiveframe's generators and for the peer."""
    synthetic_pd = synthetic.to_pandas()
    out: dict[str, Any] = {"contradictions": contradictions(synthetic_pd)}
    out.update(evaluate(case, synthetic_pd, case.train.to_pandas(), case.test.to_pandas()))
    out.update(privacy(case, synthetic))
    return out


def privacy(case: Case, synthetic: Any) -> dict[str, Any]:
    """Copy rate and distance to closest record against the holdout, by the project's ``privacy``
    validator (Gower distance; held-out real rows are the baseline a fresh sample should match)."""
    from hiveframe.components import ValidationContext
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

    validator = PluginHost().create("validator", "privacy",
                                    {"sample_size": PRIVACY_SAMPLE, "reference_size": None})
    name = case.table.name
    result = validator.validate({name: case.train}, {name: synthetic}, Metadata(tables=(case.table,)),
                                ValidationContext(holdout={name: case.test}))
    table = result.details["tables"][name]
    dcr = table["dcr"]
    return {"copy_rate": table["exact_match_rate"], "copy_rate_holdout": table["baseline_exact_match_rate"],
            "dcr_median": dcr["synthetic_median"], "dcr_median_holdout": dcr["baseline_median"],
            "dcr_too_close": dcr["too_close_share"]}


def load_peer(path: Path) -> dict[str, Any]:
    """The peer's result JSON (written by ``nox -s peer``), with its synthetic rows beside it."""
    if not path.is_file():
        raise SystemExit(f"--peer-results: {path} not found; run `nox -s peer` first (it writes "
                         "benchmarks/results/peer_mostlyai.json)")
    peer = json.loads(path.read_text(encoding="utf-8"))
    missing = {"split", "rows", "fit_seconds", "sample_rows_per_second", "threads"} - set(peer)
    if missing:
        raise SystemExit(f"--peer-results: {path} lacks {sorted(missing)}; it was not written by "
                         "benchmarks/peer_mostlyai.py")
    rows = path.parent / peer["rows"]
    if not rows.is_file():
        raise SystemExit(f"--peer-results: the synthetic rows {rows} named by {path} are missing")
    peer["rows_path"] = str(rows)
    return peer


def issue_case(digest: str) -> Case:
    """census_adult cut as the peer was (:func:`benchmarks.census_split.issue_split`), as Arrow tables."""
    import pyarrow as pa

    from benchmarks.census_split import issue_split
    from benchmarks.common import arrow_table_metadata

    train_pd, test_pd, ours = issue_split()
    if ours != digest:
        raise SystemExit(f"--peer-results: the peer was fitted on another split (digest {digest[:12]}..., "
                         f"this checkout cuts {ours[:12]}...); rerun `nox -s peer`")
    train = pa.Table.from_pandas(train_pd, preserve_index=False)
    test = pa.Table.from_pandas(test_pd, preserve_index=False).cast(train.schema)
    table = arrow_table_metadata("census", pa.concat_tables([train, test]))
    return Case("census", train, test, table, "income", ">50K")


def score_peer(peer: dict[str, Any], case: Case) -> dict[str, Any]:
    """The peer's timings as it measured them, and its rows scored here like ours."""
    import pyarrow.parquet as pq

    synthetic = pq.read_table(peer["rows_path"])
    names = case.train.schema.names
    if sorted(synthetic.schema.names) != sorted(names):
        raise SystemExit(f"--peer-results: the peer's columns {synthetic.schema.names} are not the census "
                         f"columns {names}")
    synthetic = synthetic.select(names).cast(case.train.schema)
    out = {"fit_seconds": peer["fit_seconds"], "sample_rows_per_second": peer["sample_rows_per_second"],
           "epochs": peer.get("epochs"), "best_epoch": peer.get("best_epoch"),
           "version": peer.get("environment", {}).get("versions", {}).get("mostlyai-engine")}
    out.update(score(case, synthetic))
    logging.getLogger(__name__).info("%s: %s", PEER, {k: v for k, v in out.items() if k != "quality_properties"})
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="autoregressive: maximum epochs")
    parser.add_argument("--ctgan-epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=MODELS)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--peer-results", type=Path, default=None,
                        help="mostlyai-engine's result JSON from `nox -s peer`: scored as one more column")
    args = parser.parse_args(argv)
    peer = load_peer(args.peer_results) if args.peer_results else None
    if peer and peer["threads"] != args.threads:
        raise SystemExit(f"--peer-results: the peer ran with {peer['threads']} torch thread(s), this run with "
                         f"{args.threads}: pass --threads {peer['threads']} (or rerun the peer)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(args.threads)
    case = issue_case(peer["split"]["digest"]) if peer else census_case()
    real_train, real_test = case.train.to_pandas(), case.test.to_pandas()
    results: dict[str, Any] = {
        "command": "python -m benchmarks.bench_autoregressive " + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": environment(), "load_average_before": list(os.getloadavg()),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "models": {},
        "split": "issue (census_split.issue_split)" if peer else "project (common.load_census)",
        "real": {"contradictions_train": contradictions(real_train),
                 "detection_real_vs_real": detection_accuracy(numeric_dates(real_test), numeric_dates(real_train)),
                 "tstr_auc_real": tstr_auc(numeric_dates(real_train), numeric_dates(real_test), target="income",
                                           positive=">50K")},
    }
    for name in MODELS:
        if name not in args.skip:
            results["models"][name] = run_one(name, case, args)
    if peer:
        results["models"][PEER] = score_peer(peer, case)
        results["peer"] = {k: peer.get(k) for k in ("command", "params", "threads", "split", "rows",
                                                    "load_average_before", "load_average_after", "environment")}
    results["load_average_after"] = list(os.getloadavg())
    smoke = args.epochs < SMOKE_BELOW_EPOCHS
    stem = "autoregressive_peer" if peer else "autoregressive"
    path = write_json(stem + "_smoke" if smoke else stem, results)
    print(summarize(results))
    print(f"\nwritten to {path}")
    return results


ROWS = [("total fit (s)", "fit_seconds"), ("epochs trained (best)", "epochs"),
        ("sampling (rows/s)", "sample_rows_per_second"), ("SDMetrics quality", "quality"),
        ("detection accuracy", "detection"), ("TSTR AUC (income)", "tstr_auc"),
        ("Female+Husband / Male+Wife rows", "contradictions"),
        ("copy rate (held-out rows' rate)", "copy_rate"), ("DCR median (held-out rows')", "dcr_median"),
        ("DCR closer than 95% of held-out rows", "dcr_too_close")]


def _cell(model: dict[str, Any], key: str) -> str:
    value = model.get(key)
    if key == "epochs" and value is not None:
        return f"{value} ({model.get('best_epoch')})"
    if key in ("copy_rate", "dcr_median") and value is not None:
        return f"{value:.4f} ({model.get(key + '_holdout', float('nan')):.4f})"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def summarize(results: dict[str, Any]) -> str:
    models = results["models"]
    names = list(models)
    rows = [[label] + [_cell(models[n], key) for n in names] for label, key in ROWS]
    split = results.get("split", "project (common.load_census)").split(" ")[0]
    lines = [f"census_adult, {split} split, {results['args']['threads']} torch thread(s), seed "
             f"{results['args']['seed']}: `{results['command']}`", "", markdown_table(["figure"] + names, rows), ""]
    real = results["real"]
    lines.append(f"Real rows: {real['contradictions_train']} contradictions in the train split, detection real vs "
                 f"real {real['detection_real_vs_real']:.3f}, TSTR AUC trained on real rows "
                 f"{real['tstr_auc_real']:.3f}. Load average before/after: "
                 f"{', '.join(f'{x:.2f}' for x in results['load_average_before'])} / "
                 f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])}.")
    ar = models.get("autoregressive")
    if ar:
        met = [f"{k} {'<=' if k in ('detection', 'fit_seconds') else '>='} {v}: "
               f"{'met' if (ar.get(k, 1e9) <= v if k in ('detection', 'fit_seconds') else ar.get(k, -1) >= v) else 'not met'}"
               for k, v in GOALS.items()]
        peer = models.get(PEER)
        if peer:
            met.append(f"detection no worse than {PEER}'s ({peer['detection']:.3f}): "
                       f"{'met' if ar['detection'] <= peer['detection'] else 'not met'}")
            met.append(f"fit <= 1/3 of {PEER}'s ({peer['fit_seconds'] / 3:.0f} s): "
                       f"{'met' if ar['fit_seconds'] <= peer['fit_seconds'] / 3 else 'not met'}")
        lines.append("Goals for autoregressive: " + "; ".join(met) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
