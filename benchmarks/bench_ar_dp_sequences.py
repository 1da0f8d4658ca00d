"""The autoregressive generator's sequences under DP: one parent's whole sequence is the privacy unit.

Users with a plan (pro: 6-11 sessions, free: 0-2) and their sessions (a device each user keeps, time
order, the last session without a duration): what the lengths and the siblings keep at several epsilons,
against the same fit without DP. Figures only, no timings (a quality check)::

    python -m benchmarks.bench_ar_dp_sequences --users 2000 --epochs 10 --epsilons 1 10
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pyarrow as pa

from hiveframe.metadata import Column, ColumnKind, Table


def _data(users: int, seed: int = 0) -> tuple[pa.Table, Table, np.ndarray, pa.Table]:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro"], size=users, p=[0.6, 0.4])
    counts = np.where(plan == "pro", rng.integers(6, 12, size=users), rng.integers(0, 3, size=users))
    device = rng.choice(["phone", "desktop"], size=users)
    owner = np.repeat(np.arange(users), counts)
    secs = np.round(rng.exponential(300, size=len(owner)), 0)
    data = pa.table({"device": pa.array(device[owner].tolist()), "secs": pa.array(secs)})
    table = Table(
        "sessions",
        (
            Column("device", ColumnKind.CATEGORICAL, categories=("phone", "desktop"), nullable=False),
            Column("secs", ColumnKind.NUMERICAL, "double", low=0.0, high=3000.0, nullable=False),
            Column("plan", ColumnKind.CATEGORICAL, categories=("free", "pro"), nullable=False),
        ),
    )
    return data, table, owner, pa.table({"plan": pa.array(plan.tolist())})


def _measure(gen: Any, parents: pa.Table) -> dict[str, float]:
    rows, index = gen.sample_sequences(parents, seed=1)
    counts = np.bincount(index, minlength=parents.num_rows)
    plan = np.asarray(parents.column("plan").to_pylist())
    dev = np.asarray(rows.column("device").to_pylist(), dtype=object)
    agree = [np.mean(dev[index == u] == dev[index == u][0]) for u in np.unique(index) if counts[u] > 1]
    return {
        "pro_len": float(counts[plan == "pro"].mean()),
        "free_len": float(counts[plan == "free"].mean()),
        "device_agree": float(np.mean(agree)) if agree else float("nan"),
        "max_len": int(counts.max()),
    }


def main() -> None:
    from hiveframe_autoregressive.generators import AutoregressiveGenerator

    from hiveframe.plugins import PluginHost

    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--max-children", type=int, default=12)
    args = ap.parse_args()
    data, table, owner, parents = _data(args.users)
    params = {
        "epochs": args.epochs,
        "batch_size": 256,
        "embedding_dim": 8,
        "hidden": 32,
        "learning_rate": 1e-2,
        "validation_fraction": 0.0,
        "patience": None,
        "sequential": True,
    }
    real = np.bincount(owner, minlength=args.users)
    plan = np.asarray(parents.column("plan").to_pylist())
    print(
        f"real: pro_len {real[plan == 'pro'].mean():.2f} free_len {real[plan == 'free'].mean():.2f} "
        f"device_agree 1.00 max_len {real.max()}"
    )
    gen = AutoregressiveGenerator(**params).fit_sequences(
        data, table, parent_index=owner, parents=parents, seed=0
    )
    print("no DP:", _measure(gen, parents))
    for eps in args.epsilons:
        wrapper = PluginHost().create(
            "privacy_wrapper", "dp", {"epsilon": eps, "max_children": args.max_children}
        )
        dp = wrapper.wrap(AutoregressiveGenerator(**params))
        dp.fit_sequences(data, table, parent_index=owner, parents=parents, seed=0)
        report = wrapper.report()["tables"]["sessions"]
        print(f"epsilon {eps}: spent {report['epsilon_spent']:.3f}", _measure(dp, parents))


if __name__ == "__main__":
    main()
