"""User-level differential privacy on AirBnB (users and their sessions): one budget per user.

For epsilon 1 and 3 (and without DP), with the DP Gaussian copula and a children cap of 10 and 20
sessions per user: the epsilon per user and per row the model reports, the sessions the cap left out,
detection AUC per table (real vs synthetic rows, gradient-boosted trees), and the children-per-user
similarity (1 - KS between the sessions-per-user distributions, zeros included) of the relational
validator. Results go to ``benchmarks/results/user_dp.json``.

    python -m benchmarks.bench_user_dp [--caps 10,20] [--epsilons 1,3,none]
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from benchmarks.common import environment, markdown_table, shared_data, write_json


def _run(db: Any, md: Any, epsilon: float | None, cap: int, seed: int) -> dict[str, Any]:
    from hiveframe.pipeline import Synthesizer
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    dp = None if epsilon is None else {"epsilon": epsilon, "max_children": cap}
    start = time.perf_counter()
    synth = Synthesizer(md, generator="gaussian_copula", dp=dp, seed=seed, host=host).fit(db)
    fit_seconds = time.perf_counter() - start
    out = synth.sample(seed=seed)
    detection = host.create("validator", "detection", {}).validate(db, out, md)
    relational = host.create("validator", "relational", {"detect": False}).validate(db, out, md)
    row: dict[str, Any] = {
        "epsilon": epsilon, "max_children": cap if epsilon is not None else None, "fit_seconds": round(fit_seconds, 2),
        "detection_auc": {t: round(v["auc"], 3) for t, v in detection.details["tables"].items()},
        "sessions_per_user_similarity": round(relational.scores["cardinality_similarity"], 3),
        "synthetic_rows": {n: out[n].num_rows for n in out.names},
    }
    report = synth.privacy_report().get("dp")
    if report:
        row.update({"privacy_unit": report["privacy_unit"], "epsilon_per_user": round(report["epsilon_per_entity"], 4),
                    "epsilon_per_row": round(report["epsilon_per_row"], 4),
                    "rows_left_out": synth.dp_wrapper.rows_left_out()})
    return row


def main(argv: list[str] | None = None) -> int:
    from hiveframe.testing import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,3,none")
    parser.add_argument("--caps", default="10,20")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    db, md = load_dataset(shared_data(), "airbnb")
    rows = []
    for eps_text in args.epsilons.split(","):
        epsilon = None if eps_text.strip() == "none" else float(eps_text)
        for cap in ([int(c) for c in args.caps.split(",")] if epsilon is not None else [0]):
            rows.append(_run(db, md, epsilon, cap, args.seed))
            print(rows[-1], flush=True)
    results = {"environment": environment(), "dataset": "airbnb (users 10,000, sessions 47,217)",
               "generator": "gaussian_copula", "seed": args.seed, "rows": rows}
    write_json("user_dp", results)
    print(summarize(results))
    return 0


def summarize(results: dict[str, Any]) -> str:
    """The RESULTS.md section: one row per (epsilon, cap)."""
    headers = ["epsilon", "cap", "eps/user", "eps/row", "sessions left out", "det. users", "det. sessions",
               "sessions/user sim.", "fit s"]
    rows = results["rows"]
    table = markdown_table(headers, [[r["epsilon"] or "none", r["max_children"] or "-", r.get("epsilon_per_user", "-"),
                                      r.get("epsilon_per_row", "-"), (r.get("rows_left_out") or {}).get("sessions", 0),
                                      r["detection_auc"].get("users"), r["detection_auc"].get("sessions"),
                                      r["sessions_per_user_similarity"], r["fit_seconds"]] for r in rows])
    return ("AirBnB, DP Gaussian copula, privacy unit a user with all their sessions "
            "(`python -m benchmarks.bench_user_dp`; detection: ROC AUC of real vs synthetic rows, 0.5 is best).\n\n"
            + table)


if __name__ == "__main__":
    raise SystemExit(main())
