"""Sampling and training Berka through Spark (local mode) against hiveframe in-process.

    python -m benchmarks.bench_spark                  # scales 1, 10, 50; fit comparison
    python -m benchmarks.bench_spark --smoke          # scales 1 and 2 only (results/spark_smoke.json)

Sampling: one model fitted on the 7 Berka tables (Gaussian copula, the default), then for each scale
a fresh Python process samples it either in-process (``Synthesizer.sample`` then the builtin Parquet
writer) or through Spark ``local[2]`` (:func:`hiveframe_spark.sampling.sample_to`: partitions
generated on executors, written straight to Parquet). Each run reports rows per second (sampling and
writing, Spark's session start excluded and reported apart), the driver process's peak resident
memory (``VmHWM`` of that Python process; Spark's JVM, which in local mode also runs the executors, is
reported apart as ``jvm_peak_rss_mb``), and referential integrity of what was written (every foreign
key resolves, every primary key unique; checked in Spark for the Spark output).

Training: the 7 tables fitted sequentially in-process (``Synthesizer.fit``) against
:func:`hiveframe_spark.training.fit_parallel` (each table's generator a Spark task), for each
generator in ``--fit-generators``; both fits produce the same model (checked by sampling both).

Prints markdown tables and writes every figure to ``benchmarks/results/spark.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import environment, markdown_table, shared_data, write_json

SPARK_CONF = {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "4"}


def load_berka() -> Any:
    import pyarrow.csv as pacsv

    from hiveframe.components import Database

    folder = shared_data() / "berka"
    return Database({p.name.split(".")[0]: pacsv.read_csv(p) for p in sorted(folder.glob("*.csv.gz"))})


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not inherit the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def jvm_peak_rss_mb(spark: Any) -> float | None:
    """Peak resident memory of Spark's JVM (driver and, in local mode, the executors too)."""
    try:
        pid = spark.sparkContext._gateway.proc.pid  # noqa: SLF001 - the JVM pyspark launched
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (AttributeError, OSError, ValueError):
        pass
    return None


# -- child processes: one run each, so that peak memory is that run's own ----------------------------
def child_inprocess(model: str, out: str, scale: float, seed: int) -> dict[str, Any]:
    from hiveframe.pipeline import Synthesizer
    from hiveframe.plugins import PluginHost

    host = PluginHost()
    synth = Synthesizer.load(model, host=host)
    start = time.perf_counter()
    db = synth.sample(scale=scale, seed=seed)
    sampled = time.perf_counter() - start
    host.write(db, out, format="parquet", metadata=synth.metadata, provenance={"seed": seed})
    total = time.perf_counter() - start
    rows = {n: db[n].num_rows for n in db.names}
    return {"rows": rows, "sample_seconds": sampled, "seconds": total,
            "integrity": arrow_integrity(db, synth.metadata), "peak_rss_mb": peak_rss_mb()}


def arrow_integrity(db: Any, metadata: Any) -> dict[str, Any]:
    import pyarrow.compute as pc

    refs = bad = dups = 0
    for t in metadata.tables:
        if t.primary_key and len(t.primary_key) == 1:
            col = db[t.name].column(t.primary_key[0])
            dups += len(col) - len(pc.unique(col))
    for fk in metadata.foreign_keys:
        child = db[fk.child_table].column(fk.child_columns[0]).drop_null()
        parent = db[fk.parent_table].column(fk.parent_columns[0])
        refs += len(child)
        bad += len(child) - pc.sum(pc.is_in(child, value_set=parent.combine_chunks())).as_py() if len(child) else 0
    return {"references": refs, "orphans": bad, "duplicate_keys": dups,
            "integrity": 1.0 if refs == 0 else 1.0 - bad / refs}


def child_spark(model: str, out: str, scale: float, seed: int, partitions: int | None) -> dict[str, Any]:
    from hiveframe.pipeline import Synthesizer
    from hiveframe_spark.sampling import integrity, read_output, sample_to
    from hiveframe_spark.session import get_or_create

    start = time.perf_counter()
    spark = get_or_create(local=True, master="local[2]", config=SPARK_CONF)
    session = time.perf_counter() - start
    start = time.perf_counter()
    result = sample_to(model, out, scale=scale, seed=seed, partitions=partitions, spark=spark)
    seconds = time.perf_counter() - start
    # again, with Python workers started and the model loaded on them: the steady state of a long job
    start = time.perf_counter()
    sample_to(model, out + "-warm", scale=scale, seed=seed, partitions=partitions, spark=spark)
    warm = time.perf_counter() - start
    driver_peak = peak_rss_mb()  # before the integrity check, which is not part of sampling
    md = Synthesizer.load(model).metadata
    report = integrity(spark, read_output(spark, out, md), md)
    jvm_peak = jvm_peak_rss_mb(spark)
    spark.stop()
    shutil.rmtree(out + "-warm", ignore_errors=True)
    return {"rows": {t: v["rows"] for t, v in result["tables"].items()}, "seconds": seconds,
            "warm_seconds": warm, "session_seconds": session, "partitions": result["partitions"],
            "integrity": {"references": sum(v["references"] for v in report["foreign_keys"].values()),
                          "orphans": sum(v["orphans"] for v in report["foreign_keys"].values()),
                          "duplicate_keys": sum(v["duplicates"] for v in report["primary_keys"].values()),
                          "integrity": report["integrity"]},
            "peak_rss_mb": driver_peak, "jvm_peak_rss_mb": jvm_peak}


def run_child(kind: str, model: Path, scale: float, seed: int, partitions: int | None, work: Path) -> dict[str, Any]:
    out = work / f"{kind}-x{scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "benchmarks.bench_spark", "--child", kind, "--model", str(model),
           "--out", str(out), "--scale", str(scale), "--seed", str(seed)]
    if partitions:
        cmd += ["--partitions", str(partitions)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run at scale {scale} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    total = sum(result["rows"].values())
    result.update(kind=kind, scale=scale, total_rows=total, rows_per_second=total / result["seconds"])
    if "warm_seconds" in result:
        result["warm_rows_per_second"] = total / result["warm_seconds"]
    return result


# -- training ------------------------------------------------------------------------------------------
def compare_fit(db: Any, generator: str, params: dict[str, Any], seed: int) -> dict[str, Any]:
    from hiveframe.pipeline import Synthesizer
    from hiveframe_spark.session import get_or_create
    from hiveframe_spark.training import fit_parallel

    spark = get_or_create(local=True, master="local[2]", config=SPARK_CONF)
    start = time.perf_counter()
    sequential = Synthesizer(generator=generator, generator_params=params, seed=seed).fit(db)
    seq_time = time.perf_counter() - start
    per_table: dict[str, float] = {}
    start = time.perf_counter()
    parallel = fit_parallel(Synthesizer(generator=generator, generator_params=params, seed=seed), db, spark=spark,
                            callback=lambda e: per_table.__setitem__(e["table"], e["seconds"]))
    par_time = time.perf_counter() - start
    a, b = sequential.sample(seed=seed + 1), parallel.sample(seed=seed + 1)
    same = all(a[n].equals(b[n]) for n in a.names)
    out = {"generator": generator, "params": params, "tables": len(db.names), "sequential_seconds": seq_time,
           "parallel_seconds": par_time, "speedup": seq_time / par_time, "same_model": same,
           "executor_fit_seconds": per_table}
    if generator in ("ctgan", "tvae"):
        out["note"] = ("torch results depend on the thread count: executors fit with one thread per task "
                       "(OMP_NUM_THREADS = spark.task.cpus) and match a one-thread sequential fit exactly; "
                       "the sequential time here uses torch's default threads")
    return out


# -- main ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,50")
    parser.add_argument("--smoke", action="store_true", help="scales 1 and 2, copula fit only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--partitions", type=int, default=None, help="Spark partitions (default: automatic)")
    parser.add_argument("--fit-generators", default="gaussian_copula,ctgan")
    parser.add_argument("--ctgan-epochs", type=int, default=20)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--child", choices=("inprocess", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        fn = child_inprocess if args.child == "inprocess" else child_spark
        extra = {} if args.child == "inprocess" else {"partitions": args.partitions}
        print(json.dumps(fn(args.model, args.out, args.scale, args.seed, **extra)))
        return 0

    scales = [1.0, 2.0] if args.smoke else [float(s) for s in args.scales.split(",")]
    from hiveframe.pipeline import Synthesizer

    db = load_berka()
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        model = work / "model"
        start = time.perf_counter()
        Synthesizer(seed=args.seed).fit(db).save(model)
        print(f"fitted the Berka model in {time.perf_counter() - start:.1f}s", flush=True)
        runs = []
        for scale in scales:
            for kind in ("inprocess", "spark"):
                r = run_child(kind, model, scale, args.seed, args.partitions, work)
                runs.append(r)
                print(f"{kind:9s} x{scale:g}: {r['total_rows']} rows in {r['seconds']:.1f}s "
                      f"({r['rows_per_second']:.0f} rows/s), driver peak {r['peak_rss_mb']:.0f} MB, "
                      f"integrity {r['integrity']['integrity']:.4f}", flush=True)
        fits = []
        if not args.skip_fit:
            generators = ["gaussian_copula"] if args.smoke else [g for g in args.fit_generators.split(",") if g]
            for gen in generators:
                params = {"epochs": args.ctgan_epochs} if gen in ("ctgan", "tvae") else {}
                try:
                    fits.append(compare_fit(db, gen, params, args.seed))
                except Exception as exc:  # noqa: BLE001 - a missing plugin must not lose the sampling figures
                    fits.append({"generator": gen, "error": f"{type(exc).__name__}: {exc}"})
                print(f"fit {gen}: {json.dumps({k: v for k, v in fits[-1].items() if k != 'executor_fit_seconds'})}",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [[r["scale"], r["kind"], r["total_rows"], r["seconds"], r["rows_per_second"],
             r.get("warm_rows_per_second", "-"), r["peak_rss_mb"], r.get("partitions", "-"),
             r["integrity"]["integrity"]] for r in runs]
    print(markdown_table(["scale", "engine", "rows", "seconds", "rows/s", "warm rows/s", "driver peak MB",
                          "partitions", "integrity"], rows))
    if fits:
        print(markdown_table(["generator", "sequential s", "parallel s", "speedup", "same model"],
                             [[f["generator"], f.get("sequential_seconds", "-"), f.get("parallel_seconds", "-"),
                               f.get("speedup", "-"), f.get("same_model", f.get("error"))] for f in fits]))
    spark_peaks = [r["peak_rss_mb"] for r in runs if r["kind"] == "spark"]
    payload = {
        "benchmark": "spark", "dataset": "berka (7 tables)", "master": "local[2]", "spark_conf": SPARK_CONF,
        "sampling": runs, "fit": fits,
        "summary": {
            "integrity_all_100": all(r["integrity"]["integrity"] == 1.0 and r["integrity"]["duplicate_keys"] == 0
                                     for r in runs),
            "spark_driver_peak_mb": spark_peaks,
            "spark_driver_peak_growth": (max(spark_peaks) / min(spark_peaks)) if spark_peaks else None,
        },
        "environment": environment(),
    }
    path = write_json("spark_smoke" if args.smoke else "spark", payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
