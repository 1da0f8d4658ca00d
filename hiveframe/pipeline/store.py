"""Saving and loading a fitted Synthesizer as a model directory (see hiveframe.persistence)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import PersistenceError
from hiveframe.metadata import Metadata
from hiveframe.persistence import (
    MANIFEST,
    component_key,
    load_component,
    read_manifest,
    save_component,
    write_manifest,
)

if TYPE_CHECKING:
    from hiveframe.pipeline.synthesizer import Synthesizer
    from hiveframe.plugins import PluginHost


def save_synthesizer(synth: Synthesizer, path: Path) -> Path:
    """Write the model to a fresh folder, then swap it in: an old model survives a failed save."""
    import hiveframe

    metadata = synth._require_fitted()
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / MANIFEST).exists())):
        raise PersistenceError(f"{str(path)!r} exists and is not a hiveframe model directory",
                               hint="choose a new folder; hiveframe only overwrites its own models")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        (staging / "metadata.json").write_text(metadata.to_json() + "\n", encoding="utf-8")
        plugins = {"builtin"}
        tables: dict[str, Any] = {}
        for name, generator in synth.table_generators.items():
            key = component_key("tables", name, "generator")
            save_component(staging, key, generator)
            plugins.add(type(generator).plugin or "builtin")
            tables[name] = {"generator": key, "rows": synth.table_rows[name]}
        extra = synth._save_extra(staging) if hasattr(synth, "_save_extra") else {}
        plugins |= set(extra.pop("__plugins__", ()))
        versions = synth.host.versions()
        manifest = {
            "hiveframe_version": hiveframe.__version__,
            "versions": {p: versions.get(p) for p in sorted(plugins)},
            "seed": synth.seed,
            "config": {
                "generator": _spec_name(synth.generator),
                "generators": {t: _spec_name(g) for t, g in synth.generators.items()},
                "generator_params": synth.generator_params,
                "table_params": synth.table_params,
            },
            "tables": tables,
            **extra,
        }
        write_manifest(staging, json.loads(json.dumps(manifest, default=str)))
        if path.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            path.rename(backup / "model")
            staging.rename(path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staging.rename(path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return path


def load_synthesizer(path: Path, *, host: PluginHost | None = None) -> Synthesizer:
    from hiveframe.pipeline.synthesizer import Synthesizer
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    manifest = read_manifest(path, installed_versions=host.versions())
    metadata = Metadata.from_json(path / "metadata.json")
    config = manifest.get("config", {})
    synth = Synthesizer(
        metadata,
        generator=config.get("generator") or "gaussian_copula",
        generator_params=config.get("generator_params") or {},
        table_params=config.get("table_params") or {},
        seed=int(manifest.get("seed", 0)),
        host=host,
    )
    for name, entry in manifest.get("tables", {}).items():
        synth.table_generators[name] = load_component(path, entry["generator"], host)
        synth.table_rows[name] = int(entry["rows"])
    if hasattr(synth, "_load_extra"):
        synth._load_extra(path, manifest)
    return synth


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or type(spec).__name__
