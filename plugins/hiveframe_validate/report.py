"""The quality report: run every validator, write ``report.html`` (self-contained) and ``report.json``.

``write_report`` answers the ``hiveframe_write_report`` hook, which ``hiveframe report``, ``fit --report``,
``Synthesizer.fit(validate=True)`` and the demo call through the kernel; ``validate_synthesizer`` samples
a fitted synthesizer first. Both write into the folder they are given, as they are given it: the kernel
(:func:`hiveframe.pipeline.report.write_report`) hands the hook a fresh staging folder and swaps it in
whole, refusing a folder that holds files hiveframe did not write. Call that one to write a report
into a folder safely from Python.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import ConfigError, DataError

if TYPE_CHECKING:
    from hiveframe.components import Database, Validator
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

PLUGIN_NAME = "validate"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
FORMAT_VERSION = 1


def _host(host: PluginHost | None) -> PluginHost:
    """A host that knows this plugin's validators (registered here when its entry point is absent)."""
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    from hiveframe_validate.validators import VALIDATORS

    known = set(host.names("validator"))
    if not any(cls.name in known for cls in VALIDATORS) and PLUGIN_NAME not in host.infos:
        import hiveframe_validate.plugin as plugin

        host.register(plugin, name=PLUGIN_NAME)
    return host


def _metadata(metadata: Metadata | None, real: Mapping[str, Any]) -> Metadata:
    if metadata is not None:
        return metadata
    try:
        from hiveframe import detect

        return detect(real)
    except Exception as exc:  # noqa: BLE001 - detection is a convenience; fall back to plain types
        log.info("metadata detection unavailable (%s); inferring column kinds from types", exc)
        from hiveframe_validate._frame import infer_metadata

        return infer_metadata(real)


def _as_declared(metadata: Metadata, tables: dict[str, Any], side: str) -> dict[str, Any]:
    """Tables cast to the metadata's dtypes with hiveframe's own data check; unchanged if it objects."""
    from hiveframe.errors import HiveframeError

    try:
        from hiveframe import validate_data

        cleaned = validate_data(metadata, tables).tables
    except HiveframeError as exc:
        log.info("the %s data does not pass validate_data (%s); comparing it as given", side,
                 str(exc).splitlines()[0])
        return tables
    except (ImportError, AttributeError, NotImplementedError):
        return tables
    # keep tables the metadata does not list, as given
    return {name: cleaned.get(name, table) for name, table in tables.items()}


def _chosen(host: PluginHost, validators: Sequence[str | Validator | type[Validator]] | None) -> list[Validator]:
    """The validators asked for (default: every available one, this plugin's in report order first)."""
    from hiveframe.pipeline.validation import make_validators
    from hiveframe_validate.validators import VALIDATORS

    if validators is None:  # QA filters repeat the quality and privacy checks: run on request only
        from hiveframe.components import QAFilter

        names = [n for n in host.names("validator", available_only=True)
                 if not issubclass(host.component_class("validator", n), QAFilter)]
        order = {cls.name: i for i, cls in enumerate(VALIDATORS)}
        validators = sorted(names, key=lambda n: (order.get(n, len(order)), n))
    return make_validators(host, validators)


def run_validators(
    real: Database | Mapping[str, Any],
    synthetic: Database | Mapping[str, Any],
    metadata: Metadata | None = None,
    *,
    target: str | None = None,
    host: PluginHost | None = None,
    validators: Sequence[str | Validator | type[Validator]] | None = None,
    sample_size: int | None = None,
    holdout: Database | Mapping[str, Any] | None = None,
    seed: int = 0,
    model_seed: int | None = None,
) -> dict[str, Any]:
    """Run the validators and return the report document (what ``report.json`` holds).

    Missing tables or columns, type clashes and empty tables are raised once, before any validator
    runs; a validator that crashes is recorded as failed and the others still run. ``seed`` drives the
    validators' own sampling; ``model_seed`` (the seed of the model that made ``synthetic``) is only shown.
    """
    from hiveframe_validate._frame import analysed_columns, as_tables, check_inputs

    real_t = as_tables(real, "real")
    synth_t = as_tables(synthetic, "synthetic")
    hold_t = as_tables(holdout, "holdout") if holdout is not None else None
    metadata = _metadata(metadata, real_t)
    # the real rows as the pipeline trains on them (declared dtypes, '?' markers read as null)
    real_t = _as_declared(metadata, real_t, "real")
    hold_t = _as_declared(metadata, hold_t, "holdout") if hold_t is not None else None

    def needed(table):
        keys = list(table.primary_key) + [c for fk in metadata.parents_of(table.name) for c in fk.child_columns]
        return list(dict.fromkeys(keys + [c.name for c in analysed_columns(metadata, table)]))

    check_inputs("report", real_t, synth_t, metadata, metadata.table_names, needed)
    if target is not None:
        from hiveframe_validate.utility import resolve_target

        resolve_target(metadata, target)
    host = _host(host)
    from hiveframe.components import ValidationContext
    from hiveframe.pipeline.validation import run_validators as run_each

    chosen = _chosen(host, validators)
    if not chosen:
        raise ConfigError("no validators to run", hint="install hiveframe[validate] or pass validators=[...]")
    context = ValidationContext(target=target, holdout=hold_t, sample_size=sample_size, seed=int(seed))
    results = run_each(chosen, real_t, synth_t, metadata, context)
    summary = [dict(b, validator=r["validator"]) for r in results for b in r["details"].get("bands", [])]
    for r in results:
        if not r["details"].get("bands") and r["status"] != "info":
            summary.append({"validator": r["validator"], "metric": "status", "label": r["summary"], "table": None,
                            "value": None, "status": r["status"], "rule": "set by the validator"})
    from hiveframe_validate.verdict import headline, overall

    for r in results:
        r["headline"] = headline(r)
    return clean({
        "format_version": FORMAT_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "versions": _versions(host),
        "settings": {"target": target, "sample_size": sample_size, "seed": seed, "model_seed": model_seed,
                     "holdout": hold_t is not None, "validators": [v.name for v in chosen]},
        "tables": {
            name: {"rows_real": real_t[name].num_rows, "rows_synthetic": synth_t[name].num_rows,
                   "columns": len(metadata.table(name).columns),
                   "analysed_columns": [c.name for c in analysed_columns(metadata, metadata.table(name))],
                   "primary_key": list(metadata.table(name).primary_key)}
            for name in metadata.table_names
        },
        "foreign_keys": [fk.to_dict() for fk in metadata.foreign_keys],
        "overall": overall(summary),
        "summary": summary,
        "results": results,
    })


def _profiles(real: Any, synthetic: Any, metadata: Metadata | None, host: PluginHost | None) -> dict[str, Any]:
    """The real and synthetic data's profiles (hiveframe.pipeline.profile), to show side by side."""
    from hiveframe.components import Database
    from hiveframe.pipeline.io import as_database
    from hiveframe.pipeline.profile import profile
    from hiveframe.plugins import PluginHost

    out: dict[str, Any] = {}
    for key, data in (("real", real), ("synthetic", synthetic)):
        database = data if isinstance(data, Database) else as_database(data, host=host or PluginHost())
        try:
            out[key] = profile(database, metadata, host=host)
        except DataError as exc:  # an empty side: the report says so instead of failing
            out[key] = {"error": str(exc)}
    return out


def write_report(
    real: Database | Mapping[str, Any],
    synthetic: Database | Mapping[str, Any],
    metadata: Metadata | None,
    out_dir: str | Path,
    *,
    target: str | None = None,
    host: PluginHost | None = None,
    validators: Sequence[str | Validator | type[Validator]] | None = None,
    sample_size: int | None = None,
    holdout: Database | Mapping[str, Any] | None = None,
    seed: int = 0,
    title: str | None = None,
    privacy: Mapping[str, Any] | None = None,
    model_seed: int | None = None,
) -> Path:
    """Validate ``synthetic`` against ``real`` and write ``report.html`` and ``report.json`` in ``out_dir``.

    ``sample_size`` caps the rows each validator uses per table (``None``: each validator's own
    default); ``holdout`` (real rows the generator never saw) makes utility and privacy unbiased.
    ``privacy`` is the model's own privacy report (``Synthesizer.privacy_report()``: DP budget spent per
    table, PII strategies), shown beside the measured privacy figures. Returns the path of the HTML file.
    """
    from hiveframe_validate.html_report import render

    doc = run_validators(real, synthetic, metadata, target=target, host=host, validators=validators,
                         sample_size=sample_size, holdout=holdout, seed=seed, model_seed=model_seed)
    doc["title"] = title or "hiveframe quality report"
    doc["profiles"] = _profiles(real, synthetic, metadata, host)
    if privacy:
        doc["privacy_guarantees"] = json.loads(json.dumps(privacy, default=str))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, allow_nan=False)
    (out / REPORT_JSON).write_text(text + "\n", encoding="utf-8")
    html_path = out / REPORT_HTML
    html_path.write_text(render(doc), encoding="utf-8")
    log.info("wrote %s and %s (overall: %s)", html_path, out / REPORT_JSON, doc["overall"]["status"])
    return html_path


def validate_synthesizer(
    synthesizer: Any,
    real: Database | Mapping[str, Any],
    out_dir: str | Path,
    *,
    target: str | None = None,
    holdout: Database | Mapping[str, Any] | None = None,
    sample_size: int | None = None,
    scale: float = 1.0,
    seed: int | None = None,
    validators: Sequence[str | Validator | type[Validator]] | None = None,
) -> Path:
    """Sample a fitted synthesizer and write its report against ``real`` (for ``fit(validate=True)``)."""
    synthetic = synthesizer.sample(scale=scale, seed=seed)
    return write_report(real, synthetic, synthesizer.metadata, out_dir, target=target,
                        host=getattr(synthesizer, "host", None), validators=validators, sample_size=sample_size,
                        holdout=holdout, seed=0 if seed is None else int(seed),
                        title="hiveframe quality report (after fit)", model_seed=getattr(synthesizer, "seed", None),
                        privacy=synthesizer.privacy_report() if hasattr(synthesizer, "privacy_report") else None)


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a ``report.json`` (or the folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_JSON
    return json.loads(p.read_text(encoding="utf-8"))


def _versions(host: PluginHost) -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("hiveframe", "numpy", "pyarrow", "scipy", "scikit-learn"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    import hiveframe_validate

    out["hiveframe_validate"] = hiveframe_validate.__version__
    return out


def clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
