"""Missingness kept as the real data has it (issue 21, item 4): per column, jointly, and its MCAR/MAR mechanism, on loans.

    python -m benchmarks.bench_missingness                    # ctgan and autoregressive 10 epochs
    python -m benchmarks.bench_missingness --epochs 1 --skip autoregressive     # smoke run

``../shared/data/loans`` (10,000 rows x 55 columns, 10 of them with nulls: the three joint-income
columns null exactly when ``application_type`` is individual, ``emp_title`` and ``emp_length`` null
together, ``months_since_90d_late`` null whenever ``months_since_last_delinq`` is ...), metadata
detected without rules (what the generators keep on their own; declared rules are
``bench_rules``' subject). Each generator is fitted on all rows and samples as many:
``gaussian_copula`` with ``keep_null_patterns=False`` (the copula's own null indicators: before) and
with its default (null patterns drawn from the observed table where a column determines them:
after), ``ctgan`` and ``autoregressive`` (``--epochs`` each, torch at ``--threads`` threads).

Measured against the real rows, on the columns with nulls: the mean and largest absolute error of the
per-column null rate; the total variation distance between the distributions of null patterns (which
columns are null together in a row; 0 is identical); the share of rows keeping the joint-income rule
(null exactly when individual); and from the ``missingness`` validator: the share of columns whose
nulls keep their mechanism (MCAR, or MAR on a driver column) and the largest change in how strongly
nulls depend on their real driver (Cramér's V). Writes ``benchmarks/results/missingness.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

from benchmarks.common import environment, finish, markdown_table, shared_data

JOINT = ("annual_income_joint", "verification_income_joint", "debt_to_income_joint")
MODELS: dict[str, tuple[str, dict[str, Any]]] = {  # label -> (generator, fixed parameters)
    "gaussian_copula, own indicators (before)": ("gaussian_copula", {"keep_null_patterns": False}),
    "gaussian_copula (after)": ("gaussian_copula", {}),
    "ctgan": ("ctgan", {}),
    "autoregressive": ("autoregressive", {}),
}


def null_matrix(table: Any, columns: list[str]) -> np.ndarray:
    return np.column_stack([np.asarray(table.column(c).is_null().to_numpy(zero_copy_only=False), dtype=bool)
                            for c in columns])


def joint_rule_kept(table: Any) -> float:
    individual = np.asarray(table.column("application_type").to_pylist(), dtype=object) == "individual"
    null = null_matrix(table, list(JOINT))
    return float(np.mean(np.where(individual, null.all(axis=1), ~null.any(axis=1))))


def measure(real: Any, synthetic: Any, metadata: Any, columns: list[str]) -> dict[str, Any]:
    from hiveframe_validate.missingness import Missingness, pattern_tvd

    r, s = null_matrix(real, columns), null_matrix(synthetic, columns)
    errors = np.abs(r.mean(axis=0) - s.mean(axis=0))
    validated = Missingness().validate({"loans": real}, {"loans": synthetic}, metadata)
    details = validated.details["tables"]["loans"]
    return {
        "null_rates": {c: {"real": float(r[:, i].mean()), "synthetic": float(s[:, i].mean())}
                       for i, c in enumerate(columns)},
        "null_rate_mae": float(errors.mean()), "null_rate_max_error": float(errors.max()),
        "pattern_tvd": float(pattern_tvd(r, s)), "joint_rule_kept": joint_rule_kept(synthetic),
        "mechanism_agreement": details.get("mechanism_agreement"),
        "max_driver_v_diff": details.get("max_driver_v_diff"),
        "validator_pattern_tvd": details.get("pattern_tvd"),
        "mechanisms": {c: {k: v[k] for k in ("pattern_real", "driver_real", "pattern_synthetic", "v_real",
                                             "v_synthetic_on_real_driver")}
                       for c, v in details.get("columns", {}).items()},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hiveframe.metadata import detect
    from hiveframe.pipeline.io import as_database
    from hiveframe.pipeline.synthesizer import Synthesizer
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    real = as_database(shared_data() / "loans", host=host)["loans"]
    metadata = detect({"loans": real}, host=host)
    columns = [c for c in real.column_names if real.column(c).null_count]
    out: dict[str, Any] = {"rows": real.num_rows, "columns_with_nulls": columns,
                           "real": {"joint_rule_kept": joint_rule_kept(real)}, "models": {}}
    for label, (name, fixed) in MODELS.items():
        if name in args.skip:
            continue
        params = dict(fixed) if name == "gaussian_copula" else {"epochs": args.epochs, "threads": args.threads}
        synth = Synthesizer(metadata, generator=name, generator_params=params or None, seed=args.seed)
        start = time.perf_counter()
        synth.fit({"loans": real})
        fit_seconds = time.perf_counter() - start
        synthetic = synth.sample(seed=args.seed + 1)["loans"]
        out["models"][label] = {"fit_seconds": fit_seconds, "params": params,
                                **measure(real, synthetic, metadata, columns)}
        logging.getLogger(__name__).info("%s: %s", label, out["models"][label])
    return out


def summarize(results: dict[str, Any]) -> str:
    models = results["models"]
    labels = list(models)
    args = results["args"]

    def f(v: Any, pct: bool = False) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "n/a"
        return f"{v:.2%}" if pct else f"{v:.3f}"
    rows = [["per-column null rate, mean abs error"] + [f(models[x]["null_rate_mae"]) for x in labels],
            ["per-column null rate, largest error"] + [f(models[x]["null_rate_max_error"]) for x in labels],
            ["null pattern TVD (0 best)"] + [f(models[x]["pattern_tvd"]) for x in labels],
            [f"joint-income rule kept (real {results['real']['joint_rule_kept']:.0%})"]
            + [f(models[x]["joint_rule_kept"], pct=True) for x in labels],
            ["columns keeping their MCAR/MAR mechanism"] + [f(models[x]["mechanism_agreement"], pct=True)
                                                           for x in labels],
            ["largest driver Cramér's V change"] + [f(models[x]["max_driver_v_diff"]) for x in labels],
            ["fit (s)"] + [f"{models[x]['fit_seconds']:.1f}" for x in labels]]
    cols = results["columns_with_nulls"]
    per = [[c, f"{next(iter(models.values()))['null_rates'][c]['real']:.2%}"]
           + [f"{models[x]['null_rates'][c]['synthetic']:.2%}" for x in labels] for c in cols]
    return "\n".join([
        f"`benchmarks/results/missingness.json`; command: `{results['command']}`", "",
        f"loans ({results['rows']:,} rows, {len(cols)} columns with nulls), metadata detected without rules, "
        f"as many rows sampled, ctgan/autoregressive {args['epochs']} epochs at {args['threads']} torch "
        f"thread(s), seed {args['seed']}.", "",
        markdown_table(["figure"] + labels, rows), "", "Null rate per column:", "",
        markdown_table(["column", "real"] + labels, per), "",
        f"Load average before/after: {', '.join(f'{x:.2f}' for x in results['load_average_before'])} / "
        f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])} (shared 2-core machine)."])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="ctgan and autoregressive epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=("gaussian_copula", "ctgan", "autoregressive"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "benchmark": "missingness",
        "command": ("python -m benchmarks.bench_missingness " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "environment": environment(), "load_average_before": list(os.getloadavg()), "args": vars(args)}
    results.update(run(args))
    finish(results, "missingness" if args.epochs >= 10 else "missingness_smoke", summarize)
    return results


if __name__ == "__main__":
    main()
