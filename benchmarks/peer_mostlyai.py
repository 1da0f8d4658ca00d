"""mostlyai-engine's TabularARGN on census_adult: the peer side of ``bench_autoregressive``.

    nox -s peer                                   # own virtualenv, then this script with its defaults
    nox -s peer -- --threads 1 --max-epochs 2     # a smoke run (writes peer_mostlyai_smoke.*)

Runs only in the peer's own virtualenv (mostlyai-engine 2.7.3 with CPU torch; never imported by
hiveframe). Same split as the scoring side (:func:`benchmarks.census_split.issue_split`), same torch
intra-op threads. TabularARGN is fitted with its defaults (early stopping on its own validation
loss) on the train rows, then samples as many rows as the train split, like every generator in
``bench_autoregressive``. Writes the synthetic rows (``benchmarks/results/peer_mostlyai.parquet``)
and the figures measured here (fit seconds, sampling rows per second, split digest, versions, load
average) to ``peer_mostlyai.json``; ``python -m benchmarks.bench_autoregressive --peer-results
benchmarks/results/peer_mostlyai.json`` scores the rows with hiveframe's metrics.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.census_split import issue_split

RESULTS = Path(__file__).resolve().parent / "results"
VERSIONS = ("mostlyai-engine", "torch", "pandas", "numpy", "pyarrow", "opacus", "transformers")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _write_whole(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder and rename: the output appears whole or not at all."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results are read by everyone
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _epochs(workspace: Path) -> dict[str, Any]:
    """Epochs trained and the epoch of the last checkpoint kept, from the progress log the engine
    writes to its workspace (empty if it wrote none)."""
    import pandas as pd

    log = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    if not log.is_file():
        return {}
    progress = pd.read_csv(log)
    kept = progress[progress["is_checkpoint"] == 1]
    return {"epochs": float(progress["epoch"].max()),
            "best_epoch": float(kept["epoch"].iloc[-1]) if len(kept) else None}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (same as the scoring side)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=float, default=None, help="cap on epochs (default: the engine's own)")
    parser.add_argument("--out", default=None, help="result name (default peer_mostlyai, or peer_mostlyai_smoke)")
    args = parser.parse_args(argv)

    import torch
    from mostlyai.engine import TabularARGN

    torch.set_num_threads(args.threads)
    train, test, digest = issue_split()
    load_before = list(os.getloadavg())
    params: dict[str, Any] = {"random_state": args.seed, "verbose": 0}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    with tempfile.TemporaryDirectory(prefix="peer-mostlyai-") as workspace:
        model = TabularARGN(workspace_dir=workspace, **params)
        start = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - start
        n = len(train)
        start = time.perf_counter()
        synthetic = model.sample(n_samples=n)
        sample_seconds = time.perf_counter() - start
        epochs = _epochs(Path(workspace))
    name = args.out or ("peer_mostlyai_smoke" if args.max_epochs is not None else "peer_mostlyai")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows_path = RESULTS / f"{name}.parquet"
    _write_whole(rows_path, lambda p: synthetic.to_parquet(p, index=False))
    result = {
        "peer": "mostlyai-engine TabularARGN", "command": "nox -s peer -- " + " ".join(sys.argv[1:]),
        "params": params, "threads": args.threads, "torch_threads": torch.get_num_threads(),
        "split": {"name": "issue", "digest": digest, "train_rows": len(train), "test_rows": len(test)},
        "rows": rows_path.name, "rows_sampled": len(synthetic),
        "fit_seconds": fit_seconds, "sample_rows_per_second": len(synthetic) / sample_seconds, **epochs,
        "load_average_before": load_before, "load_average_after": list(os.getloadavg()),
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "versions": {d: _version(d) for d in VERSIONS}},
    }
    json_path = RESULTS / f"{name}.json"
    _write_whole(json_path, lambda p: Path(p).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8"))
    print(json.dumps({k: v for k, v in result.items() if k != "environment"}, indent=2))
    print(f"written to {json_path} and {rows_path}")
    return result


if __name__ == "__main__":
    main()
