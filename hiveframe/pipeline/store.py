"""Saving and loading a fitted Synthesizer as a model directory (see hiveframe.persistence)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._atomic import crash_point, recover, staged_folder
from hiveframe.errors import PersistenceError
from hiveframe.metadata import Metadata
from hiveframe.persistence import (
    MANIFEST,
    component_key,
    covered_file,
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
    metadata = synth._require_fitted()
    try:
        recover(path)
        _check_replaceable(path)
        return _save(synth, metadata, path)
    except OSError as exc:
        raise PersistenceError(f"cannot save the model to {str(path)!r}: {exc.strerror or exc}",
                               hint="check that the folder's parent is writable and the disk has room (the "
                               "model is written beside the folder, then swapped in)") from None


def _save(synth: Synthesizer, metadata: Metadata, path: Path) -> Path:
    import hiveframe

    with staged_folder(path) as staging:
        (staging / "metadata.json").write_text(metadata.to_json() + "\n", encoding="utf-8")
        plugins = {"builtin"}
        tables: dict[str, Any] = {}
        from hiveframe.pipeline.empty import NoColumnsGenerator

        for name, generator in synth.table_generators.items():
            if isinstance(generator, NoColumnsGenerator):
                tables[name] = {"generator": None, "rows": synth.table_rows[name]}
                continue
            key = component_key("tables", name, "generator")
            save_component(staging, key, generator)
            inner: Any = generator
            while inner is not None:  # a wrapped generator (pii, dp) needs its inner generator's plugin too
                plugins.add(type(inner).plugin or "builtin")
                inner = getattr(inner, "inner", None)
            tables[name] = {"generator": key, "rows": synth.table_rows[name]}
            described = generator.manifest_entry()
            if described:
                tables[name]["generator_info"] = described
        extra = synth._save_extra(staging) if hasattr(synth, "_save_extra") else {}
        plugins |= set(extra.pop("__plugins__", ()))
        versions = synth.host.versions()
        manifest = {
            "hiveframe_version": hiveframe.__version__,
            "versions": {p: versions.get(p) for p in sorted(plugins)},
            "seed": synth.seed,
            "source": getattr(synth, "source", None),
            "config": {
                "generator": _spec_name(synth.generator),
                "generators": {t: _spec_name(g) for t, g in synth.generators.items()},
                "generator_params": synth.generator_params,
                "table_params": synth.table_params,
                "linkage": synth.linkage,
                "linkage_params": synth.linkage_params,
                "max_context_columns": synth.max_context_columns,
                "null_handling": getattr(synth, "null_handling", {"*": "model"}),
                "pii": synth.pii_wrapper.get_params() if getattr(synth, "pii_wrapper", None) else None,
                "dp": synth.dp_wrapper.get_params() if getattr(synth, "dp_wrapper", None) else None,
                "max_summary_columns": synth.max_summary_columns,
                "drop_orphans": synth.drop_orphans,
                "orphans": getattr(synth, "orphans", None),
            },
            "tables": tables,
            **extra,
        }
        write_manifest(staging, json.loads(json.dumps(manifest, default=str)))
        crash_point("model:staged")
    return path


def _check_replaceable(path: Path) -> None:
    """An existing folder is replaced only when it is a hiveframe model and holds nothing else."""
    if not path.exists():
        return
    if not path.is_dir() or (any(path.iterdir()) and not (path / MANIFEST).is_file()):
        raise PersistenceError(f"{str(path)!r} exists and is not a hiveframe model directory",
                               hint="choose a new folder; hiveframe only replaces its own models")
    try:
        listed = set(json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("files", {}))
    except (OSError, ValueError, AttributeError):
        listed = set()
    foreign = []
    for root, dirs, names in os.walk(path, followlinks=False):
        rel_root = Path(root).relative_to(path)
        if "checkpoints" in rel_root.parts:
            continue
        for name in names + [d for d in dirs if (Path(root) / d).is_symlink()]:
            rel = (rel_root / name).as_posix()
            if rel != MANIFEST and rel not in listed:
                foreign.append(rel)
    if foreign:
        shown = ", ".join(sorted(foreign)[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise PersistenceError(f"model folder {str(path)!r} holds files the model does not list: {shown}; "
                               "not replacing it", hint="move those files away, or save the model to a new folder")


def load_synthesizer(path: Path, *, host: PluginHost | None = None) -> Synthesizer:
    from hiveframe.pipeline.synthesizer import Synthesizer
    from hiveframe.plugins import PluginHost

    host = host or PluginHost()
    recover(path)
    manifest = read_manifest(path, installed_versions=host.versions())
    metadata = Metadata.from_json(covered_file(path, manifest, "metadata.json", what="metadata file"))
    config = manifest.get("config", {})
    synth = Synthesizer(
        metadata,
        generator=config.get("generator") or "gaussian_copula",
        generator_params=config.get("generator_params") or {},
        table_params=config.get("table_params") or {},
        linkage=config.get("linkage") or "conditional",
        linkage_params=config.get("linkage_params") or {},
        max_context_columns=int(config.get("max_context_columns", 5)),
        max_summary_columns=int(config.get("max_summary_columns", 2)),
        drop_orphans=bool(config.get("drop_orphans", False)) and config.get("orphans") in (None, "drop"),
        orphans=config.get("orphans"),
        null_handling=config.get("null_handling") or "model",
        seed=int(manifest.get("seed", 0)),
        host=host,
    )
    for name, entry in manifest.get("tables", {}).items():
        if entry["generator"] is None:
            synth.table_generators[name] = _no_columns_generator(name)
        else:
            synth.table_generators[name] = load_component(path, entry["generator"], host)
        synth.table_rows[name] = int(entry["rows"])
    if hasattr(synth, "_load_extra"):
        synth._load_extra(path, manifest)
    return synth


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or type(spec).__name__


def _no_columns_generator(name: str) -> Any:
    import pyarrow as pa

    from hiveframe.metadata import Table
    from hiveframe.pipeline.empty import NoColumnsGenerator

    return NoColumnsGenerator().fit(pa.table({}), Table(name=name, columns=()))


# -- the relational engine's state -----------------------------------------------------------------
ENGINE_FILE = "relational.json"
ENGINE_ARRAYS = "relational.npz"


def save_engine(engine: Any, directory: Path) -> dict[str, Any]:
    """Write the engine's plan (JSON + arrays) and its linkage models; returns the manifest entry."""
    import numpy as np

    values, arrays, components = engine.to_state()
    keys = {}
    plugins = set()
    for name, component in components.items():
        key = component_key("linkage", name)
        save_component(directory, key, component)
        keys[name] = key
        plugins.add(type(component).plugin or "builtin")
    values["components"] = keys
    (directory / ENGINE_FILE).write_text(json.dumps(values, indent=1, default=_json_default), encoding="utf-8")
    np.savez(directory / ENGINE_ARRAYS, **arrays)
    return {"relational": {"plan": ENGINE_FILE, "arrays": ENGINE_ARRAYS}, "__plugins__": sorted(plugins)}


def load_engine(synth: Any, directory: Path, manifest: dict[str, Any]) -> Any:
    import numpy as np

    from hiveframe.pipeline.engine import RelationalEngine

    entry = manifest.get("relational")
    if not entry:
        raise PersistenceError(f"model {str(directory)!r} has no relational plan", hint="refit the model")
    if not isinstance(entry, dict):
        raise PersistenceError(f"model {str(directory)!r} has an invalid relational entry", hint="refit the model")
    plan = covered_file(directory, manifest, entry.get("plan"), what="relational plan")
    arrays_file = covered_file(directory, manifest, entry.get("arrays"), what="relational arrays")
    try:
        values = json.loads(plan.read_text(encoding="utf-8"))
        with np.load(arrays_file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise PersistenceError(f"the relational plan of {str(directory)!r} cannot be read: {exc}") from None
    keys = values.get("components") if isinstance(values, dict) else None
    if not isinstance(keys, dict):
        raise PersistenceError(f"the relational plan of {str(directory)!r} lists no components", hint="refit the model")
    components = {name: load_component(directory, key, synth.host) for name, key in keys.items()}
    engine = RelationalEngine(synth.metadata, synth.host, linkage=values["linkage"],
                              linkage_params=values["linkage_params"],
                              max_context_columns=int(values["max_context_columns"]),
                              max_summary_columns=int(values["max_summary_columns"]))
    engine.set_state(values, arrays, components)
    return engine


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
