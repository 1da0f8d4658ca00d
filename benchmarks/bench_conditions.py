"""Conditional sampling on census (issue 21): speed, rejection rates, and whether every row honours its condition.

    python -m benchmarks.bench_conditions                          # 2,000 rows per draw, 3 epochs for the nets
    python -m benchmarks.bench_conditions --rows 500 --epochs 1    # smoke run
    python -m benchmarks.bench_conditions --skip ctgan autoregressive

census_adult train split (:func:`benchmarks.common.load_census`, 39,074 rows), metadata detected, one
``Synthesizer`` per generator: ``gaussian_copula`` (the default), ``ctgan`` and ``autoregressive``
(``--epochs`` epochs each, torch at ``--threads`` threads). Each is fitted once, then asked for
``--rows`` rows of ``census`` (``Synthesizer.sample(rows=..., conditions=...)``, the median of
``--repeats`` draws):

* unconditioned;
* ``income = ">50K"`` (24% of the real rows) and ``race = "Amer-Indian-Eskimo"`` (0.96%, the value
  closest to 1% among census' categories), each twice: with the generator's own (*native*)
  conditioning, and by *rejection* (the generator's ``conditional`` flag turned off for the draw, so
  the kernel draws unconditioned rows and keeps those that meet the condition: what every generator
  without native conditioning gets);
* ``balance="census.income"`` (equal rows per class).

Per draw: rows per second, the method and acceptance rate that ``Synthesizer.sampling_report``
gives (rejection rate = 1 - acceptance), the share of rows honouring the condition, the share of the
class among the generator's unconditioned rows (what rejection must filter from), and the mean total
variation distance, over the other categorical columns, between the conditioned rows and the real
rows of that class (0 is a perfect conditional distribution). Writes ``benchmarks/results/conditions.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.common import environment, finish, load_census, markdown_table, median_time

MODELS = ("gaussian_copula", "ctgan", "autoregressive")
CONDITIONS: dict[str, tuple[str, str]] = {  # label -> (column, value)
    "income = >50K (24%)": ("income", ">50K"),
    "race = Amer-Indian-Eskimo (1%)": ("race", "Amer-Indian-Eskimo"),
}


def generator_settings(name: str, epochs: int, threads: int) -> dict[str, Any]:
    if name == "gaussian_copula":
        return {}
    return {"epochs": epochs, "threads": threads}


@contextlib.contextmanager
def without_native_conditioning(generator: Any) -> Iterator[None]:
    """The generator's class says it cannot condition: the kernel falls back to rejection."""
    cls = type(generator)
    before = cls.__dict__.get("conditional", None)
    cls.conditional = False
    try:
        yield
    finally:
        if before is None:
            del cls.conditional
        else:
            cls.conditional = before


def share(table: Any, column: str, value: str) -> float:
    values = np.asarray(table.column(column).to_pylist(), dtype=object)
    return float(np.mean(values == value)) if len(values) else float("nan")


def conditional_tvd(synthetic: Any, real: Any, column: str, value: str, columns: list[str]) -> float:
    """Mean TVD over ``columns`` between the synthetic rows and the real rows with ``column == value``."""
    import pandas as pd

    real_rows = real.to_pandas()
    real_rows = real_rows[real_rows[column].astype(str) == value]
    synth = synthetic.to_pandas()
    out = []
    for c in columns:
        p = real_rows[c].astype(str).value_counts(normalize=True)
        q = synth[c].astype(str).value_counts(normalize=True)
        both = pd.concat([p, q], axis=1).fillna(0.0)
        out.append(0.5 * float(np.abs(both.iloc[:, 0] - both.iloc[:, 1]).sum()))
    return float(np.mean(out))


def run_one(name: str, split: Any, metadata: Any, args: argparse.Namespace) -> dict[str, Any]:
    from hiveframe.pipeline.synthesizer import Synthesizer

    params = generator_settings(name, args.epochs, args.threads)
    synth = Synthesizer(metadata, generator=name, generator_params=params or None, seed=args.seed)
    start = time.perf_counter()
    synth.fit({"census": split.train})
    out: dict[str, Any] = {"fit_seconds": time.perf_counter() - start, "params": params, "draws": {}}
    generator = synth.table_generators["census"]
    n = args.rows
    categorical = [c.name for c in metadata.table("census").columns
                   if c.kind.value in ("categorical", "boolean") and c.name not in {"income", "race"}]

    def draw(conditions: dict[str, Any] | None = None, balance: str | None = None) -> tuple[float, Any]:
        timing, db = median_time(lambda: synth.sample(rows={"census": n}, seed=args.seed + 1,
                                                      conditions=conditions, balance=balance), args.repeats)
        return timing.median, db["census"]

    seconds, plain = draw()
    out["draws"]["unconditioned"] = {"rows_per_second": n / seconds}
    for label, (column, value) in CONDITIONS.items():
        for method in ("native", "rejection"):
            ctx = without_native_conditioning(generator) if method == "rejection" else contextlib.nullcontext()
            with ctx:
                seconds, rows = draw({"census": {column: value}})
            report = synth.sampling_report["census"]
            out["draws"][f"{label}, {method}"] = {
                "rows_per_second": n / seconds, "method": report["method"],
                "acceptance_rate": report["acceptance_rate"], "rejection_rate": 1.0 - report["acceptance_rate"],
                "drawn": report["drawn"], "honoured": share(rows, column, value),
                "class_share_unconditioned": share(plain, column, value),
                "conditional_tvd": conditional_tvd(rows, split.train, column, value, categorical),
            }
            logging.getLogger(__name__).info("%s %s %s: %s", name, label, method, out["draws"][f"{label}, {method}"])
    seconds, rows = draw(balance="census.income")
    counts = {str(k): int(v) for k, v in zip(*np.unique(np.asarray(rows.column("income").to_pylist(), dtype=str),
                                                         return_counts=True), strict=True)}
    report = synth.sampling_report["census"]
    out["draws"]["balance census.income"] = {"rows_per_second": n / seconds, "method": report["method"],
                                             "acceptance_rate": report["acceptance_rate"],
                                             "rejection_rate": 1.0 - report["acceptance_rate"], "counts": counts}
    return out


def summarize(results: dict[str, Any]) -> str:
    models = results["models"]
    args = results["args"]
    lines = [f"`benchmarks/results/conditions.json`; command: `{results['command']}`", "",
             f"census_adult train split, {args['rows']:,} rows per draw (median of {args['repeats']}), "
             f"ctgan/autoregressive {args['epochs']} epochs, {args['threads']} torch thread(s), seed {args['seed']}. "
             "rows/s is the whole `Synthesizer.sample` call; rejection rate = 1 - the acceptance rate in "
             "`sampling_report` (the kernel's; CTGAN's own rejection behind its conditional vector is inside "
             "its native rows/s); honoured = share of rows meeting the condition; class share = the class "
             "among unconditioned rows; TVD = mean total variation distance of the other categorical "
             "columns from the real rows of the class.", ""]
    rows = []
    for name, m in models.items():
        plain = m["draws"]["unconditioned"]["rows_per_second"]
        rows.append([name, "unconditioned", f"{plain:,.0f}", "-", "-", "-", "-", "-"])
        for label, d in m["draws"].items():
            if label in ("unconditioned", "balance census.income"):
                continue
            rows.append([name, label, f"{d['rows_per_second']:,.0f}", d["method"], f"{d['rejection_rate']:.1%}",
                         f"{d['honoured']:.1%}", f"{d['class_share_unconditioned']:.2%}", f"{d['conditional_tvd']:.3f}"])
        b = m["draws"]["balance census.income"]
        rows.append([name, "balance census.income", f"{b['rows_per_second']:,.0f}", b["method"],
                     f"{b['rejection_rate']:.1%}", " / ".join(f"{k}: {v:,}" for k, v in b["counts"].items()), "-", "-"])
    lines.append(markdown_table(["generator", "draw", "rows/s", "method", "rejection rate", "honoured",
                                 "class share", "TVD"], rows))
    lines += ["", "Fit seconds: " + ", ".join(f"{k} {v['fit_seconds']:.1f}" for k, v in models.items()) + ".",
              f"Load average before/after: {', '.join(f'{x:.2f}' for x in results['load_average_before'])} / "
              f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])} (shared 2-core machine)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="ctgan and autoregressive epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=MODELS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    import torch

    from hiveframe.metadata import detect
    from hiveframe.plugins import PluginHost

    torch.set_num_threads(args.threads)
    split = load_census(seed=args.seed)
    metadata = detect({"census": split.train}, host=PluginHost())
    results: dict[str, Any] = {
        "benchmark": "conditions",
        "command": ("python -m benchmarks.bench_conditions " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "environment": environment(), "load_average_before": list(os.getloadavg()), "args": vars(args),
        "models": {},
    }
    for name in MODELS:
        if name not in args.skip:
            results["models"][name] = run_one(name, split, metadata, args)
    finish(results, "conditions" if args.rows >= 2000 else "conditions_smoke", summarize)
    return results


if __name__ == "__main__":
    main()
