"""The kernel's way to a quality report: through the ``hiveframe_write_report`` hook, never an import.

A report plugin (first party: ``hiveframe_validate``) answers the hook; without one the callers get
one clear error naming the extra to install.

The kernel, not the plugin, makes the report folder safe, so every report plugin gets it for free: the
hook writes into a fresh staging folder beside the target, the kernel lists what it wrote in
``_provenance.json`` and swaps the folder in (:mod:`hiveframe._atomic`). A kill leaves the old report or
the new one, never half of each; a folder holding anything hiveframe did not write (a user's own
``report.html``) is refused before the report is computed, naming the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._atomic import check_replaceable, relocated, staged_output
from hiveframe.errors import MissingDependencyError, SourceError, os_error_hint

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost


def write_report(host: PluginHost, real: Database, synthetic: Database, metadata: Metadata,
                 out_dir: str | Path, *, overwrite: bool = False, **options: Any) -> dict[str, Any]:
    """Write the report into the folder ``out_dir``, whole or not at all; returns its summary (``path``,
    ``overall``...), its paths pointing into ``out_dir``.

    ``out_dir`` is replaced only when it is new, empty or an earlier hiveframe report; ``overwrite``
    also replaces other hiveframe output (see :func:`check_report_dir`).
    ``options``: ``target``, ``holdout``, ``privacy``, ``model_seed``, ``title``, ``sample_size``.
    """
    out = Path(out_dir)
    check_report_plugin(host)
    options = {k: v for k, v in options.items() if v is not None}
    fields = {"provenance": {k: options[k] for k in ("title", "target", "model_seed") if k in options}}
    try:
        with staged_output(out, kind="report", overwrite=overwrite, fields=fields) as staging:
            result = host.hooks.write_report(real=real, synthetic=synthetic, metadata=metadata, out_dir=staging,
                                             options=options)
            if result is None:
                raise _no_report_plugin()
    except OSError as exc:
        raise SourceError(f"cannot write the report to {str(out)!r}: {exc.strerror or exc}",
                          hint=os_error_hint(exc) + " (the report is written beside the folder, then swapped "
                          "in)") from None
    return relocated(result, staging, out)


def check_report_dir(out_dir: str | Path, *, overwrite: bool = False) -> None:
    """Refuse a report folder that holds anything hiveframe did not write, before any work starts.

    A new or empty folder, or an earlier report, may be replaced; ``overwrite`` (``--overwrite``) also
    replaces another hiveframe output (a sample, a demo) whole, files added to it included; a folder
    without hiveframe's ``_provenance.json`` is never replaced.
    """
    check_replaceable(Path(out_dir), kind="report", overwrite=overwrite)


def check_report_plugin(host: PluginHost) -> None:
    """Fail before any work when no plugin writes reports."""
    if not host.hooks.writes_reports():
        raise _no_report_plugin()


def _no_report_plugin() -> MissingDependencyError:
    return MissingDependencyError("a quality report needs the validators plugin (hiveframe_validate), which is "
                                  "not installed (no plugin answers hiveframe_write_report)",
                                  plugin="validate", hint="pip install 'hiveframe[validate]'")


def verdict_line(summary: Mapping[str, Any]) -> str:
    """``quality report: CHECK (80 good, 12 to check, 3 poor; ...)``: the verdict in one line."""
    overall = summary.get("overall") or {}
    words = {"pass": "GOOD", "warn": "CHECK", "fail": "POOR", "info": "INFO"}
    counts = overall.get("counts") or {}
    reasons = "; ".join(overall.get("reasons") or [])
    return (f"quality report: {words.get(overall.get('status'), '?')} ({counts.get('pass', 0)} good, "
            f"{counts.get('warn', 0)} to check, {counts.get('fail', 0)} poor{'; ' + reasons if reasons else ''})")
