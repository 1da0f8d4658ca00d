"""Run every benchmark, then write benchmarks/RESULTS.md from benchmarks/results/*.json.

    python -m benchmarks                       # every bench_*.py, then RESULTS.md  (what `nox -s bench` runs)
    python -m benchmarks --only copula ctgan   # some of them
    python -m benchmarks --args copula="--repeats 5" --args ctgan="--epochs 50"
    python -m benchmarks --report-only         # rebuild RESULTS.md from the JSON already there

Each ``benchmarks/bench_NAME.py`` exposes ``main(argv)`` and writes ``benchmarks/results/NAME*.json``.
A benchmark may also expose ``summarize(results: dict) -> str`` returning its own markdown for
RESULTS.md; otherwise a generic summary is written (a table per ``models`` mapping, medians and
ratios to the first model, then the remaining figures). One failing benchmark is recorded and the
others still run; the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import math
import os
import platform
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
RUNS = RESULTS / "_runs.json"
TIME_KEYS = ("seconds", "_s", "time")


def discover() -> list[str]:
    """Benchmark names (``bench_NAME.py`` -> ``NAME``), sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def run_all(names: list[str], extra: dict[str, list[str]]) -> list[dict[str, Any]]:
    runs = []
    for name in names:
        argv = extra.get(name, [])
        command = " ".join(["python", "-m", f"benchmarks.bench_{name}", *map(shlex.quote, argv)])
        print(f"\n=== {command}", flush=True)
        started = time.perf_counter()
        entry: dict[str, Any] = {"benchmark": name, "command": command,
                                 "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            status = module.main(argv)
            entry["status"] = "ok" if status in (None, 0) or isinstance(status, dict) else f"exit {status}"
        except SystemExit as exc:  # argparse or an explicit exit
            entry["status"] = "ok" if exc.code in (None, 0) else f"exit {exc.code}"
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not stop the others
            traceback.print_exc()
            entry["status"] = f"error: {type(exc).__name__}: {exc}"
        entry["wall_seconds"] = round(time.perf_counter() - started, 1)
        runs.append(entry)
    return runs


# -- RESULTS.md ------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:.3f}" if abs(v) < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "n/a"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _scalars(d: Any, prefix: str = "", limit: int = 80) -> list[tuple[str, Any]]:
    """Scalar leaves of a nested mapping as dotted keys (lists of numbers shown whole if short)."""
    out: list[tuple[str, Any]] = []

    def walk(value: Any, key: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list):
            if len(value) <= 6 and all(isinstance(x, (int, float)) for x in value):
                out.append((key, ", ".join(_fmt(x) for x in value)))
        else:
            out.append((key, value))

    walk(d, prefix)
    return out


def _is_time(key: str) -> bool:
    k = key.lower()
    return any(k.endswith(t) for t in TIME_KEYS) and not k.endswith("_times")


def models_table(models: dict[str, dict[str, Any]]) -> str:
    """One row per model: its scalar figures; timings also as a ratio to the first model's."""
    columns: list[str] = []
    for m in models.values():
        for k, v in m.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in columns:
                columns.append(k)
    first = next(iter(models.values()))
    timing = [c for c in columns if _is_time(c)]
    headers = ["model"] + columns + [f"{c} / first" for c in timing]
    rows = []
    for name, m in models.items():
        row = [name] + [m.get(c) for c in columns]
        for c in timing:
            a, b = m.get(c), first.get(c)
            row.append(a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None)
        rows.append(row)
    return _table(headers, rows)


def generic_summary(results: dict[str, Any]) -> str:
    parts = []
    rest = dict(results)
    rest.pop("environment", None)
    models = rest.pop("models", None)
    if isinstance(models, dict) and models and all(isinstance(v, dict) for v in models.values()):
        parts.append(models_table(models))
    for key in ("comparison", "summary"):
        value = rest.pop(key, None)
        if isinstance(value, dict):
            parts.append(f"**{key}**\n\n" + _table(["figure", "value"], _scalars(value)))
    scalars = _scalars(rest)
    if scalars:
        parts.append(_table(["figure", "value"], scalars))
    return "\n\n".join(parts)


def _environment(results: list[dict[str, Any]]) -> dict[str, Any]:
    for r in results:
        env = r.get("environment")
        if isinstance(env, dict):
            return env
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


def build_results_md(results_dir: Path = RESULTS, command: str = "nox -s bench") -> str:
    files = sorted(p for p in results_dir.glob("*.json") if not p.name.startswith("_"))
    full = {p.stem for p in files if not p.stem.endswith("_smoke")}
    chosen = [p for p in files if not (p.stem.endswith("_smoke") and p.stem[: -len("_smoke")] in full)]
    loaded = []
    for p in chosen:
        try:
            loaded.append((p, json.loads(p.read_text(encoding="utf-8"))))
        except (OSError, json.JSONDecodeError) as exc:
            loaded.append((p, {"error": f"unreadable: {exc}"}))
    runs = {}
    if (results_dir / RUNS.name).is_file():
        runs = {r["benchmark"]: r for r in json.loads((results_dir / RUNS.name).read_text(encoding="utf-8"))}
    env = _environment([d for _, d in loaded])
    lines = [
        "# Benchmark results",
        "",
        "hiveframe against its peers on the same data, machine and settings, in one run. Timings are medians "
        "of the repeats each benchmark states; ratios compare with the first model listed (hiveframe).",
        "",
        f"- generated: {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {env.get('platform', '?')}, {env.get('machine', '?')}, {env.get('cpus', '?')} CPU(s)"
        + (f", load average at start {', '.join(f'{x:.1f}' for x in env['load_average'])}"
           if env.get("load_average") else ""),
        f"- python {env.get('python', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v),
        "",
    ]
    if runs:
        lines += ["## Runs", "", _table(["benchmark", "command", "status", "wall s"],
                                        [[r["benchmark"], f"`{r['command']}`", r["status"], r["wall_seconds"]]
                                         for r in runs.values()]), ""]
    for path, data in loaded:
        name = path.stem
        bench = name[: -len("_smoke")] if name.endswith("_smoke") else name
        title = f"{bench} (smoke run)" if name.endswith("_smoke") else bench
        # a results file under another name (``privacy_copula.json``) names its benchmark inside
        module_name = bench
        declared = data.get("benchmark") if isinstance(data, dict) else None
        if not (HERE / f"bench_{bench}.py").is_file() and isinstance(declared, str):
            module_name = declared
        command = (data.get("command") if isinstance(data, dict) else None) or (
            runs[bench]["command"] if bench in runs else f"python -m benchmarks.bench_{module_name}")
        lines += [f"## {title}", "", f"`benchmarks/results/{path.name}`; command: `{command}`", ""]
        text = None
        if (HERE / f"bench_{module_name}.py").is_file():
            try:
                module = importlib.import_module(f"benchmarks.bench_{module_name}")
                if hasattr(module, "summarize"):
                    text = module.summarize(data)
            except Exception as exc:  # noqa: BLE001 - fall back to the generic summary
                text = None
                lines += [f"(summarize failed: {type(exc).__name__}: {exc}; generic summary below)", ""]
        lines += [text or generic_summary(data), ""]
    if not loaded:
        lines += ["No results yet: run `nox -s bench`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="benchmark names (default: every bench_*.py)")
    parser.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                        help="extra arguments for one benchmark, e.g. copula=\"--repeats 5\"")
    parser.add_argument("--report-only", action="store_true", help="only rebuild RESULTS.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    known = discover()
    names = args.only or known
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {known}")
    extra = {}
    for item in args.args:
        name, _, rest = item.partition("=")
        extra[name] = shlex.split(rest)
    failed = False
    command = "python -m benchmarks " + " ".join(map(shlex.quote, argv if argv is not None else sys.argv[1:]))
    if not args.report_only:
        runs = run_all(names, extra)
        RESULTS.mkdir(parents=True, exist_ok=True)
        RUNS.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
        failed = any(r["status"] != "ok" for r in runs)
        command = "nox -s bench" if os.environ.get("NOX_CURRENT_SESSION") else command.strip()
    RESULTS_MD.write_text(build_results_md(RESULTS, command.strip()) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS_MD}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
