"""Entry module of hiveframe_validate: imports only hiveframe and the standard library."""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl

__version__ = "0.1.0"


@hookimpl
def hiveframe_register_validators():
    """Announce the validators and QA filters; the modules holding them load only numpy, attrs and hiveframe."""
    from hiveframe_validate.qa import QA_FILTERS
    from hiveframe_validate.validators import VALIDATORS

    return [*VALIDATORS, *QA_FILTERS]


@hookimpl
def hiveframe_write_report(real, synthetic, metadata, out_dir, options):
    """The quality report (report.html and report.json) and its verdict, for the kernel's callers."""
    from hiveframe_validate.report import load_report, write_report

    opts = dict(options)
    path = write_report(real, synthetic, metadata, out_dir, target=opts.get("target"),
                        holdout=opts.get("holdout"), privacy=opts.get("privacy"), title=opts.get("title"),
                        model_seed=opts.get("model_seed"), sample_size=opts.get("sample_size"),
                        seed=int(opts.get("seed", 0)))
    doc = load_report(out_dir)
    detection = next((r for r in doc["results"] if r["validator"] == "detection"), None)
    return {"path": str(path), "json": str(path.parent / "report.json"), "overall": doc["overall"],
            "headlines": {r["validator"]: r.get("headline") for r in doc["results"]},
            "detection": dict(detection["scores"]) if detection else None}
