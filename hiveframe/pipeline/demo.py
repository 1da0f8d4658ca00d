"""The relational demo: fit the bundled Chinook database, write a synthetic SQLite copy, check it.

``hiveframe demo`` calls :func:`run_demo`; the summary it returns is what the command prints.

The demo's folder is one output (:mod:`hiveframe._atomic`): everything is written into a staging folder
beside it, listed in its ``_provenance.json`` and swapped in at the end, so a killed demo leaves the
previous demo or nothing, and a folder holding anything hiveframe did not write is refused up front.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._atomic import relocated, staged_output
from hiveframe.errors import SourceError, os_error_hint

if TYPE_CHECKING:
    from hiveframe.components import TrainingCallback
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

SYNTHETIC_NAME = "chinook_synthetic.sqlite"


def demo_source() -> Path:
    """The bundled Chinook SQLite file (MIT, see demo_data/CHINOOK_LICENSE.md)."""
    from importlib.resources import as_file, files

    resource = files("hiveframe") / "demo_data" / "chinook.sqlite"
    with as_file(resource) as path:
        if not Path(path).is_file():
            raise SourceError("the bundled demo database is missing from this installation",
                              hint="reinstall hiveframe")
        return Path(path)


def foreign_key_check(path: Path) -> tuple[int, int]:
    """(rows failing ``PRAGMA foreign_key_check``, foreign keys declared) of a SQLite file."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        violations = len(con.execute("PRAGMA foreign_key_check").fetchall())
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        declared = sum(len(con.execute(f'PRAGMA foreign_key_list("{t}")').fetchall()) for t in tables)
    finally:
        con.close()
    return violations, declared


def run_demo(out_dir: str | Path, *, seed: int = 0, scale: float = 1.0, host: PluginHost | None = None,
             generator: str | None = None, callback: TrainingCallback | None = None,
             save_model: bool = True, with_report: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Fit bundled Chinook, sample it, write ``OUT/chinook_synthetic.sqlite``; return a summary.

    The summary holds the paths written, rows per table (real and synthetic), the foreign key check
    of the written file, the children-per-parent similarity of every relationship, the engine's
    choices (drivers, context columns, key formats) and the time each step took. With ``with_report``
    it also writes the quality report to ``OUT/report`` (when a report plugin is installed) and keeps its
    verdict under ``report``: integrity alone does not say the data is believable. ``summary.txt`` (what
    the command prints) and ``summary.json`` go to ``OUT`` too.

    ``OUT`` appears whole or not at all. It is replaced only when it is new, empty or an earlier demo;
    ``overwrite`` also replaces other hiveframe output whole, files added to it included. A folder
    without hiveframe's ``_provenance.json`` is never replaced.
    """
    out = Path(out_dir)
    try:
        with staged_output(out, kind="demo", overwrite=overwrite,
                           fields={"provenance": {"generator": "hiveframe demo", "seed": seed}}) as staging:
            summary = relocated(_run(staging, seed=seed, scale=scale, host=host, generator=generator,
                                     callback=callback, save_model=save_model, with_report=with_report),
                                staging, out)
            (staging / "summary.txt").write_text(format_summary(summary) + "\n", encoding="utf-8")
            (staging / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                                  encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"cannot write the demo to {str(out)!r}: {exc.strerror or exc}",
                          hint=os_error_hint(exc) + " (the demo is written beside the folder, then swapped in)"
                          ) from None
    log.info("demo: %d tables written to %s in %.1fs, %d foreign key violation(s)", len(summary["tables"]),
             summary["output"], summary["seconds"]["total"], summary["foreign_key_violations"])
    return summary


def _run(out: Path, *, seed: int, scale: float, host: PluginHost | None, generator: str | None,
         callback: TrainingCallback | None, save_model: bool, with_report: bool) -> dict[str, Any]:
    """The demo's steps, writing into the (staging) folder ``out``."""
    from hiveframe.metadata import detect
    from hiveframe.pipeline.catalog import CATALOG_FILE, catalog_entry
    from hiveframe.pipeline.catalog import to_json as catalog_json
    from hiveframe.pipeline.checks import cardinality_similarity, integrity_problems
    from hiveframe.pipeline.synthesizer import DEFAULT_GENERATOR, Synthesizer
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    source = demo_source()
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    real = host.read(source)
    metadata = detect(real, host=host)
    metadata.to_json(out / "metadata.json")
    seconds["read"] = time.perf_counter() - start

    t = time.perf_counter()
    synth = Synthesizer(metadata, generator=generator or DEFAULT_GENERATOR, seed=seed, host=host)
    synth.fit(real, callback=callback)
    seconds["fit"] = time.perf_counter() - t
    model = None
    if save_model:
        model = synth.save(out / "model")

    t = time.perf_counter()
    synthetic = synth.sample(scale=scale, seed=seed)
    seconds["sample"] = time.perf_counter() - t

    t = time.perf_counter()  # the report first: its scores go into the output's catalog entry
    report = _quality_report(host, real, synthetic, metadata, out / "report", synth) if with_report else None
    seconds["report"] = time.perf_counter() - t

    t = time.perf_counter()
    target = out / SYNTHETIC_NAME
    catalog = catalog_entry(synth, synthetic, seed=seed, scale=scale, report=report,
                            model="model" if model is not None else None)  # beside the catalog file
    host.write(synthetic, target, format="sqlite", metadata=metadata,
               provenance={"generator": "hiveframe demo", "seed": seed, "catalog": catalog})
    (out / CATALOG_FILE).write_text(catalog_json(catalog), encoding="utf-8")
    seconds["write"] = time.perf_counter() - t
    violations, declared = foreign_key_check(target)
    seconds["total"] = time.perf_counter() - start
    return {
        "source": str(source),
        "output": str(target),
        "model": str(model) if model is not None else None,
        "metadata": str(out / "metadata.json"),
        "generator": generator or DEFAULT_GENERATOR,
        "seed": seed,
        "scale": scale,
        "tables": {name: {"real_rows": real[name].num_rows, "synthetic_rows": synthetic[name].num_rows}
                   for name in metadata.table_names},
        "foreign_keys": len(metadata.foreign_keys),
        "declared_foreign_keys": declared,
        "foreign_key_violations": violations,
        "integrity_problems": [p.render() for p in integrity_problems(metadata, synthetic)],
        "cardinality_similarity": cardinality_similarity(metadata, real, synthetic),
        "engine": synth.describe(),
        "report": report,
        "catalog": str(out / CATALOG_FILE),
        "dataset_id": catalog["dataset_id"],
        "seconds": seconds,
    }


def _quality_report(host: PluginHost, real: Any, synthetic: Any, metadata: Any, out: Path,
                    synth: Any) -> dict[str, Any] | None:
    """The report's summary through the report hook, or None (logged) without a report plugin."""
    from hiveframe.errors import MissingDependencyError
    from hiveframe.pipeline.report import write_report

    try:
        return write_report(host, real, synthetic, metadata, out, model_seed=synth.seed,
                            privacy=synth.privacy_report() or None, title="hiveframe demo: quality report")
    except MissingDependencyError as exc:
        log.warning("no quality report: %s", exc)
        return None


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as the few lines ``hiveframe demo`` prints."""
    lines = [f"hiveframe demo: Chinook ({len(summary['tables'])} tables, {summary['foreign_keys']} foreign keys), "
             f"fit {summary['seconds']['fit']:.1f}s, sample {summary['seconds']['sample']:.1f}s "
             f"with {summary['generator']}"]
    width = max(len(t) for t in summary["tables"])
    lines.append(f"  {'table':<{width}}  {'real':>6}  {'synthetic':>9}")
    for name, rows in summary["tables"].items():
        lines.append(f"  {name:<{width}}  {rows['real_rows']:>6}  {rows['synthetic_rows']:>9}")
    sims = summary["cardinality_similarity"]
    if sims:
        worst = min(sims, key=sims.get)
        lines.append(f"children per parent (1 - KS): mean {sum(sims.values()) / len(sims):.3f}, "
                     f"lowest {sims[worst]:.3f} ({worst})")
    ok = summary["foreign_key_violations"] == 0
    lines.append(f"PRAGMA foreign_key_check: {'ok, ' if ok else ''}{summary['foreign_key_violations']} "
                 f"violation(s) over {summary['declared_foreign_keys']} declared foreign key(s)")
    report = summary.get("report")
    if report:
        from hiveframe.pipeline.report import verdict_line

        lines.append(verdict_line(report))
        detection = report.get("detection") or {}
        if detection.get("max_auc") is not None:
            lines.append(f"  detection: a classifier tells real from synthetic rows with AUC up to "
                         f"{detection['max_auc']:.2f} (0.5: it cannot), mean accuracy {detection['mean_accuracy']:.2f}")
        for step in (report.get("overall") or {}).get("next_steps", [])[:3]:
            lines.append(f"  next: {step['table'] or ''} {step['label']}: {step['step']}")
        lines.append(f"  report: {report['path']}")
    elif "report" in summary:
        lines.append("quality report: not written (pip install 'hiveframe[validate]')")
    lines.append(f"synthetic database: {summary['output']}")
    if summary.get("model"):
        lines.append(f"model: {summary['model']}  metadata: {summary['metadata']}")
    return "\n".join(lines)
