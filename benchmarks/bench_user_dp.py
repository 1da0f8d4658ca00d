"""User-level differential privacy on AirBnB (users and their sessions): one budget per user.

For epsilon 1 and 3 (and without DP), with the DP Gaussian copula and a children cap of 10 and 20
sessions per user: the epsilon per user and per row the model reports, the sessions the cap left out,
detection AUC per table (real vs synthetic rows, gradient-boosted trees), and the children-per-user
similarity (1 - KS between the sessions-per-user distributions, zeros included) of the relational
validator. DP noise is secret (OS entropy), so every DP fit is a different draw: each setting is fitted
``--repeats`` times. A synthetic table can come out empty (the noisy children-per-parent histogram kept
only its zero bin); it is recorded as such and left out of detection. Results go to
``benchmarks/results/<out>.json``.

    python -m benchmarks.bench_user_dp [--caps 10,20] [--epsilons 1,3,none] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import sys
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
    # Under DP the noisy children-per-parent histogram can keep only the zero bin: no sessions at all.
    # That is a result (recorded as an empty table), not a reason to stop the benchmark.
    empty = [n for n in out.names if out[n].num_rows == 0]
    compared = [n for n in out.names if n not in empty]
    detection = host.create("validator", "detection", {"tables": compared}).validate(db, out, md)
    # the relational validator refuses an empty table too: no similarity is recorded then
    relational = None if empty else host.create("validator", "relational", {"detect": False}).validate(db, out, md)
    row: dict[str, Any] = {
        "epsilon": epsilon, "max_children": cap if epsilon is not None else None, "fit_seconds": round(fit_seconds, 2),
        "detection_auc": {t: round(v["auc"], 3) for t, v in detection.details["tables"].items()},
        "empty_synthetic_tables": empty,
        "sessions_per_user_similarity": (None if relational is None
                                         else round(relational.scores["cardinality_similarity"], 3)),
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
    parser.add_argument("--repeats", type=int, default=3,
                        help="fits per setting: DP noise is secret, so each DP fit is a fresh random draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="user_dp")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    db, md = load_dataset(shared_data(), "airbnb")
    rows = []
    for eps_text in args.epsilons.split(","):
        epsilon = None if eps_text.strip() == "none" else float(eps_text)
        for cap in ([int(c) for c in args.caps.split(",")] if epsilon is not None else [0]):
            for repeat in range(max(1, args.repeats) if epsilon is not None else 1):
                rows.append({**_run(db, md, epsilon, cap, args.seed), "repeat": repeat})
                print(rows[-1], flush=True)
    results = {"environment": environment(), "dataset": "airbnb (users 10,000, sessions 47,217)",
               "command": "python -m benchmarks.bench_user_dp " + " ".join(argv or sys.argv[1:]),
               "generator": "gaussian_copula", "seed": args.seed, "repeats": args.repeats, "rows": rows}
    write_json(args.out, results)
    print(summarize(results))
    return 0


def summarize(results: dict[str, Any]) -> str:
    """The RESULTS.md section: one row per fit (epsilon, cap, repeat)."""
    headers = ["epsilon", "cap", "run", "eps/user", "eps/row", "sessions left out", "synthetic sessions",
               "det. users", "det. sessions", "sessions/user sim.", "fit s"]
    rows = results["rows"]
    table = markdown_table(headers, [[r["epsilon"] or "none", r["max_children"] or "-", r.get("repeat", 0) + 1,
                                      r.get("epsilon_per_user", "-"),
                                      r.get("epsilon_per_row", "-"), (r.get("rows_left_out") or {}).get("sessions", 0),
                                      r["synthetic_rows"].get("sessions"), r["detection_auc"].get("users"),
                                      r["detection_auc"].get("sessions", "- (empty)"),
                                      ("- (empty)" if r["sessions_per_user_similarity"] is None
                                       else r["sessions_per_user_similarity"]), r["fit_seconds"]] for r in rows])
    return ("AirBnB, DP Gaussian copula, privacy unit a user with all their sessions "
            "(`python -m benchmarks.bench_user_dp`; detection: ROC AUC of real vs synthetic rows, 0.5 is best).\n\n"
            + table)


if __name__ == "__main__":
    raise SystemExit(main())
