"""Sampling speed of the ``autoregressive`` generator against CTGAN's, on fitted census_adult models.

    python -m benchmarks.bench_ar_sampling --models /tmp/ar_models --threads 1             # fits once, then times
    python -m benchmarks.bench_ar_sampling --models /tmp/ar_models --repeats 5 --label after

Sampling speed does not depend on how long a model trained, so the models are fitted once (the
autoregressive generator with its defaults, ``--epochs`` its maximum, as ``bench_autoregressive``;
CTGAN for ``--ctgan-epochs`` epochs) and saved with :func:`hiveframe.persistence.save_component` in
``--models``; later runs load them. That lets two versions of the plugin be timed on the very same
weights (run the script with each version first on ``PYTHONPATH``). Each repeat samples as many rows
as the train split (39,074) from each model in turn, with ``--threads`` torch threads; the figures are
the median, minimum and maximum rows per second over ``--repeats``, CTGAN's from the same run.
Writes ``benchmarks/results/ar_sampling[_LABEL].json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_ctgan import census_case
from benchmarks.common import environment, markdown_table, write_json

MODELS = ("autoregressive", "ctgan")


def fitted_models(directory: Path, case: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Load each model from ``directory``, fitting and saving the ones it lacks."""
    from hiveframe.errors import PersistenceError
    from hiveframe.persistence import load_component, save_component
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    out = {}
    for name in MODELS:
        try:
            out[name] = load_component(directory, name, host)
            continue
        except PersistenceError:
            pass
        if name == "autoregressive":
            from hiveframe_autoregressive.generators import AutoregressiveGenerator

            gen = AutoregressiveGenerator(epochs=args.epochs, threads=args.threads)
        else:
            from hiveframe_ctgan.generators import CTGANGenerator

            gen = CTGANGenerator(epochs=args.ctgan_epochs, threads=args.threads)
        start = time.perf_counter()
        gen.fit(case.train, case.table, seed=args.seed)
        logging.getLogger(__name__).info("%s fitted in %.1f s", name, time.perf_counter() - start)
        save_component(directory, name, gen)
        out[name] = load_component(directory, name, host)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="folder of the fitted models (made if missing)")
    parser.add_argument("--epochs", type=int, default=30, help="autoregressive: maximum epochs when fitting")
    parser.add_argument("--ctgan-epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="", help="suffix of the result file (e.g. before, after)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import hiveframe_autoregressive
    import torch

    torch.set_num_threads(args.threads)
    case = census_case()
    load_before = list(os.getloadavg())
    models = fitted_models(args.models, case, args)
    n = case.train.num_rows
    for gen in models.values():  # warm-up: first-call imports and allocations are not sampling
        gen.sample(1000, seed=args.seed)
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for r in range(args.repeats):
        for name, gen in models.items():
            start = time.perf_counter()
            out = gen.sample(n, seed=args.seed + 1 + r)
            speeds[name].append(n / (time.perf_counter() - start))
            assert out.num_rows == n
    results = {
        "command": "python -m benchmarks.bench_ar_sampling " + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": environment(), "plugin_path": str(Path(hiveframe_autoregressive.__file__).parent),
        "load_average_before": load_before, "load_average_after": list(os.getloadavg()), "args": vars(args),
        "rows": n, "rows_per_second": speeds,
        "median_rows_per_second": {k: float(np.median(v)) for k, v in speeds.items()},
    }
    path = write_json("ar_sampling" + (f"_{args.label}" if args.label else ""), results)
    print(summarize(results))
    print(f"\nwritten to {path}")
    return results


def summarize(results: dict[str, Any]) -> str:
    rows = [[name, f"{np.median(v):,.0f}", f"{min(v):,.0f}", f"{max(v):,.0f}", len(v)]
            for name, v in results["rows_per_second"].items()]
    speeds = {name: float(np.median(v)) for name, v in results["rows_per_second"].items()}
    goal = ""
    if {"autoregressive", "ctgan"} <= set(speeds):
        ratio = speeds["autoregressive"] / speeds["ctgan"]
        goal = (f" Median autoregressive / CTGAN: {ratio:.2f} (the issue's goal, at least as fast as CTGAN: "
                f"{'met' if ratio >= 1 else 'not met'}).")
    load = " / ".join(", ".join(f"{x:.2f}" for x in results[k]) for k in ("load_average_before", "load_average_after"))
    return "\n".join([
        f"census_adult, sampling {results['rows']:,} rows, {results['args']['threads']} torch thread(s), plugin "
        f"{results['plugin_path']}: `{results['command']}`", "",
        markdown_table(["model", "median rows/s", "min", "max", "repeats"], rows), "",
        f"Load average before/after: {load}.{goal}"])


if __name__ == "__main__":
    main()
