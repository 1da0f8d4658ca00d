"""CTGAN seconds per census epoch by torch thread count, on a quiet machine and beside one busy process.

Why: torch's default (one thread per core) spin-waits on cores another process is using; on a shared
2-core machine that turned 1.7 s epochs into 69 s (issue 17). Each setting runs in a fresh process (torch
fixes its thread pool at first use), trains ``--epochs`` epochs and reports the median epoch time after
the first; the load average is recorded with each figure.

    python -m benchmarks.bench_threads [--epochs 3] [--settings 1,2,auto,default]

``auto`` is torch's own choice (one per core: what ``threads=None`` did before); ``default`` is
whatever the generator's default now is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time, statistics
from benchmarks.common import load_census
from hiveframe_ctgan.generators import CTGANGenerator
setting, epochs = sys.argv[1], int(sys.argv[2])
split = load_census()
params = {"epochs": epochs, "patience": None}
if setting == "auto":
    params["threads"] = None
elif setting != "default":
    params["threads"] = int(setting)
gen = CTGANGenerator(**params)
seconds = []
gen.fit(split.train, split.table, seed=0, callback=lambda e: seconds.append(e.get("epoch_seconds")))
seconds = [s for s in seconds if s is not None]
print(json.dumps({"threads": setting, "resolved": gen.threads, "epoch_seconds": seconds,
                  "median_after_first": statistics.median(seconds[1:] or seconds)}))
"""


def run(setting: str, epochs: int, busy: bool) -> dict:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(1.0 if busy else 0.0)
        load = os.getloadavg()
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, setting, str(epochs)], capture_output=True, text=True,
                             check=True, timeout=900)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    result.update({"busy_process": busy, "load_average_before": [round(x, 2) for x in load],
                   "load_average_after": [round(x, 2) for x in os.getloadavg()],
                   "wall_seconds": round(time.perf_counter() - started, 1)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--settings", default="1,2,auto,default")
    parser.add_argument("--busy", choices=("no", "yes", "both"), default="both")
    args = parser.parse_args()
    busy = {"no": [False], "yes": [True], "both": [False, True]}[args.busy]
    for b in busy:
        for setting in args.settings.split(","):
            print(json.dumps(run(setting, args.epochs, b)), flush=True)


if __name__ == "__main__":
    main()
