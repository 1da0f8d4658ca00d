"""AirBnB (users -> sessions): the autoregressive generator with sessions as sequences, against today's default.

    python -m benchmarks.bench_sequences --threads 1 --epochs 30
    python -m benchmarks.bench_sequences --configs default autoregressive autoregressive_flat
    python -m benchmarks.bench_sequences --configs autoregressive --seeds 0 1 --out sequences_seeds
    python -m benchmarks.bench_sequences --configs autoregressive --params offsets=false

Configurations (one run each, same seed):

- ``default``: ``Synthesizer(md)`` (Gaussian copula per table, conditional count model);
- ``autoregressive``: ``generator="autoregressive"`` for every table; the engine's rule makes sessions
  sequences given their user (users stay flat rows);
- ``autoregressive_flat``: the same, with ``sequential=False`` for sessions (count model + rows drawn
  one by one), to separate the sequence model's share.

Figures (the measures of ``bench_relational``): detection accuracy of users alone (own columns), of
sessions, and of users with their sessions' aggregates (child count and child-column means; 0.5 means
indistinguishable); children-per-user similarity (1 - KS); referential integrity; fit and sample
time; and the AirBnB date and null rules (users who book before their account exists; a null
``date_first_booking`` without ``country_destination = NDF``), real against synthetic.
Writes ``benchmarks/results/sequences.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from typing import Any

from benchmarks.common import environment, param_argument, shared_data, write_json

CONFIGS = ("default", "autoregressive", "autoregressive_flat")


def booking_rules(users: Any) -> dict[str, int]:
    """Rows breaking the real data's rules: booking before the account exists; no booking date
    although the destination is not NDF."""
    import pyarrow as pa
    import pyarrow.compute as pc

    created = users.column("date_account_created").cast(pa.timestamp("us"))
    booked = users.column("date_first_booking").cast(pa.timestamp("us"))
    before = pc.fill_null(pc.less(booked, created), False)
    no_date = pc.and_(pc.is_null(booked), pc.fill_null(pc.not_equal(users.column("country_destination"), "NDF"),
                                                        True))
    return {"booking_before_account": int(pc.sum(before).as_py() or 0),
            "null_booking_not_ndf": int(pc.sum(no_date).as_py() or 0)}


def synthesizer(config: str, md: Any, args: argparse.Namespace) -> Any:
    from hiveframe.pipeline import Synthesizer

    if config == "default":
        return Synthesizer(md, seed=args.seed)
    params = {"epochs": args.epochs, "threads": args.threads, **dict(args.params)}
    table_params = {"sessions": {**params, "sequential": False}} if config == "autoregressive_flat" else None
    return Synthesizer(md, generator="autoregressive", generator_params=params, table_params=table_params,
                       seed=args.seed)


def evaluate(md: Any, real: Any, synthetic: Any, seed: int) -> dict[str, Any]:
    from benchmarks.bench_relational import detection_accuracy
    from hiveframe.components import Database
    from hiveframe.pipeline.checks import cardinality_similarity, integrity_problems
    from hiveframe.testing import load_dataset

    _, users_md = load_dataset(shared_data(), "airbnb", tables=["users"])
    return {
        "rows": {t: synthetic[t].num_rows for t in synthetic.names},
        "detection_users": detection_accuracy(users_md, Database({"users": real["users"]}),
                                              Database({"users": synthetic["users"]}), "users", seed),
        "detection_sessions": detection_accuracy(md, real, synthetic, "sessions", seed),
        "detection_users_with_aggregates": detection_accuracy(md, real, synthetic, "users", seed),
        "children_per_user": float(next(iter(cardinality_similarity(md, real, synthetic).values()))),
        "integrity_problems": len(integrity_problems(md, synthetic)),
        "rules": booking_rules(synthetic["users"]),
    }


def run_one(config: str, db: Any, md: Any, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    synth = synthesizer(config, md, args).fit(db)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = synth.sample(seed=args.seed + 1)
    sample_s = time.perf_counter() - started
    out = {"fit_seconds": round(fit_s, 2), "sample_seconds": round(sample_s, 2),
           "sessions_as_sequences": synth.describe()["sessions"].get("sequence") is not None,
           "engine": synth.describe()}
    out.update(evaluate(md, db, synthetic, args.seed))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="autoregressive: maximum epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="*", default=None,
                        help="run every configuration once per seed (overrides --seed; figures per seed)")
    parser.add_argument("--configs", nargs="*", default=["default", "autoregressive"], choices=CONFIGS)
    parser.add_argument("--params", nargs="*", default=[], type=param_argument, metavar="NAME=VALUE",
                        help="more autoregressive parameters for both tables (JSON values: offsets=false)")
    parser.add_argument("--out", default="sequences", help="results file name under benchmarks/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    from hiveframe.testing import load_dataset

    db, md = load_dataset(shared_data(), "airbnb")
    results: dict[str, Any] = {
        "command": "python -m benchmarks.bench_sequences " + " ".join(argv if argv is not None else sys.argv[1:]),
        "args": vars(args), "environment": environment(), "load_average_before": list(os.getloadavg()),
        "real": {"rules": booking_rules(db["users"]), "rows": {t: db[t].num_rows for t in db.names}},
        "configs": {},
    }
    seeds = args.seeds if args.seeds else [args.seed]
    for seed in seeds:
        one = argparse.Namespace(**{**vars(args), "seed": seed})
        for config in args.configs:
            name = config if len(seeds) == 1 else f"{config} (seed {seed})"
            results["configs"][name] = run_one(config, db, md, one)
            print(f"done: {name}", flush=True)
    results["load_average_after"] = list(os.getloadavg())
    path = write_json(args.out, results)
    print(summarize(results))
    print(f"\nwritten: {path}")
    return results


ROWS = [("sessions generated as sequences", "sessions_as_sequences"), ("fit (s)", "fit_seconds"),
        ("sample (s)", "sample_seconds"), ("users detection", "detection_users"),
        ("sessions detection", "detection_sessions"),
        ("users + their sessions' aggregates detection", "detection_users_with_aggregates"),
        ("children per user (1 - KS)", "children_per_user"), ("integrity problems", "integrity_problems")]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return "-" if value is None else str(value)


def summarize(results: dict[str, Any]) -> str:
    configs = results["configs"]
    names = list(configs)
    seeds = results["args"].get("seeds") or [results["args"]["seed"]]
    lines = [f"AirBnB users -> sessions, seed(s) {', '.join(map(str, seeds))}, {results['args']['threads']} torch "
             f"thread(s): `{results['command']}`", "",
             "| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, key in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(configs[n].get(key)) for n in names) + " |")
    real = results["real"]["rules"]
    for rule, label in (("booking_before_account", "users booking before their account exists"),
                        ("null_booking_not_ndf", "null date_first_booking without NDF")):
        lines.append(f"| {label} (real {real[rule]}) | "
                     + " | ".join(str(configs[n].get("rules", {}).get(rule, "-")) for n in names) + " |")
    lines += ["", "Load average before/after: " + ", ".join(f"{x:.2f}" for x in results["load_average_before"])
              + " / " + ", ".join(f"{x:.2f}" for x in results["load_average_after"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
