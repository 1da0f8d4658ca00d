"""The sampling service under load on loopback: throughput and latency of 1,000-row requests.

    python -m benchmarks.bench_serve                      # 1, 4 and 16 concurrent clients, 15 s each
    python -m benchmarks.bench_serve --seconds 3          # smoke run

Fits the default generator (gaussian_copula) on the census train split (:func:`benchmarks.common.load_census`),
saves it, starts ``hiveframe serve`` in its own process (uvicorn, default settings) on a free loopback
port, then for each client count runs that many client threads (one ``httpx.Client`` each) that post
``{"table": "census", "rows": 1000, "format": F}`` with a fresh seed back to back for ``--seconds``.
Latency is from sending the request to the last byte of the body; rows/s counts rows received. The
server and the clients share the machine: on a 2-core machine the clients take CPU from the server.

Writes ``benchmarks/results/serve.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment, load_census, markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = (1, 4, 16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
    code = ("import sys, hiveframe_serve.plugin as p; from hiveframe.cli import main; "
            "sys.exit(main(sys.argv[1:], plugins=[p]))")
    process = subprocess.Popen([sys.executable, "-c", code, "serve", str(model), "--port", str(port)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def load(url: str, clients: int, seconds: float, rows: int, fmt: str) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    received = [0]
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        seed = index * 1_000_000
        with httpx.Client(timeout=120) as http:
            while time.perf_counter() < stop:
                seed += 1
                start = time.perf_counter()
                response = http.post(url + "/sample", json={"table": "census", "rows": rows, "seed": seed,
                                                            "format": fmt})
                body = response.content
                elapsed = time.perf_counter() - start
                with lock:
                    if response.status_code != 200:
                        errors[0] += 1
                        continue
                    latencies.append(elapsed)
                    received[0] += int(response.headers["x-hiveframe-rows"])
                    assert body

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    lat = np.array(latencies)
    return {"clients": clients, "requests": len(latencies), "errors": errors[0], "seconds": wall,
            "rows_per_s": received[0] / wall, "requests_per_s": len(latencies) / wall,
            "p50_ms": float(np.percentile(lat, 50) * 1000), "p99_ms": float(np.percentile(lat, 99) * 1000)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="load per client count")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--format", default="csv", choices=("csv", "jsonl", "arrow"))
    args = parser.parse_args(argv)

    from hiveframe.components import Database
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    split = load_census()
    t0 = time.perf_counter()
    synthesizer = Synthesizer(Metadata(tables=(split.table,)), seed=0)
    synthesizer.fit(Database({"census": split.train}))
    fit_seconds = time.perf_counter() - t0
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = synthesizer.save(Path(tmp) / "model")
        port = free_port()
        server = start_server(model, port)
        try:
            load_before = os.getloadavg()
            for clients in CLIENTS:
                results.append(load(f"http://127.0.0.1:{port}", clients, args.seconds, args.rows, args.format))
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=30)
    payload = {"benchmark": "serve", "command": "python -m benchmarks.bench_serve " + " ".join(argv or sys.argv[1:]),
               "rows_per_request": args.rows, "format": args.format, "fit_seconds": fit_seconds,
               "load_average_before": load_before, "load_average_after": load_after,
               "environment": environment(), "levels": results}
    write_json("serve", payload)
    print(summarize(payload))
    return 0


def summarize(results: dict[str, Any]) -> str:
    rows = [[r["clients"], r["requests"], r["errors"], round(r["rows_per_s"]), r["requests_per_s"], r["p50_ms"],
             r["p99_ms"]] for r in results["levels"]]
    table = markdown_table(["clients", "requests", "errors", "rows/s", "requests/s", "p50 ms", "p99 ms"], rows)
    before = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    after = ", ".join(f"{x:.2f}" for x in results["load_average_after"])
    return (f"`{results['command']}`: {results['rows_per_request']:,}-row {results['format']} requests for census "
            f"(gaussian_copula), server and clients on one machine ({results['environment'].get('cpus')} CPUs), "
            f"load average {before} before, {after} after.\n\n{table}\n")


if __name__ == "__main__":
    sys.exit(main())
