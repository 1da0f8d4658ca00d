"""The kernel's way to a quality report: through the ``hiveframe_write_report`` hook, never an import.

A report plugin (first party: ``hiveframe_validate``) answers the hook; without one the callers get
one clear error naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import MissingDependencyError

if TYPE_CHECKING:
    from hiveframe.components import Database
    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost


def write_report(host: PluginHost, real: Database, synthetic: Database, metadata: Metadata,
                 out_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Write the report into ``out_dir``; returns its summary (``path``, ``overall``...).

    ``options``: ``target``, ``holdout``, ``privacy``, ``model_seed``, ``title``, ``sample_size``.
    """
    result = host.hooks.write_report(real=real, synthetic=synthetic, metadata=metadata, out_dir=Path(out_dir),
                                     options={k: v for k, v in options.items() if v is not None})
    if result is None:
        raise MissingDependencyError("a quality report needs the validators plugin (hiveframe_validate), which is "
                                     "not installed (no plugin answers hiveframe_write_report)",
                                     plugin="validate", hint="pip install 'hiveframe[validate]'")
    return result


def verdict_line(summary: Mapping[str, Any]) -> str:
    """``quality report: CHECK (80 good, 12 to check, 3 poor; ...)``: the verdict in one line."""
    overall = summary.get("overall") or {}
    words = {"pass": "GOOD", "warn": "CHECK", "fail": "POOR", "info": "INFO"}
    counts = overall.get("counts") or {}
    reasons = "; ".join(overall.get("reasons") or [])
    return (f"quality report: {words.get(overall.get('status'), '?')} ({counts.get('pass', 0)} good, "
            f"{counts.get('warn', 0)} to check, {counts.get('fail', 0)} poor{'; ' + reasons if reasons else ''})")
