"""Saving and loading a model directory (see hiveframe.persistence) from plain data: the metadata, the
configuration, the table generators and the engine's state. The Synthesizer builds and reads a
:class:`SavedModel`; this module does not know it."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    from hiveframe.pipeline.plan import DatabasePlan
    from hiveframe.plugins import PluginHost


@dataclass(frozen=True)
class SavedModel:
    """What a model directory holds, as plain data: the store knows no Synthesizer.

    ``config`` is the synthesizer's configuration (JSON values); ``table_generators`` maps a table to
    its fitted generator, or to None for a table without columns; ``manifest`` is, on load, the whole
    manifest (the engine's and the privacy report's entries included).
    """

    metadata: Metadata
    seed: int
    config: Mapping[str, Any]
    table_generators: Mapping[str, Any]
    table_rows: Mapping[str, int]
    source: str | None = None
    manifest: Mapping[str, Any] = field(default_factory=dict)


def save_model(model: SavedModel, path: Path, *, versions: Mapping[str, str | None],
               write_extra: Callable[[Path], dict[str, Any]]) -> Path:
    """Write the model to a fresh folder, then swap it in: an old model survives a failed save.

    ``write_extra(staging)`` writes the engine's files into the staging folder and returns their
    manifest entries; ``versions`` are the installed plugins' versions.
    """
    try:
        recover(path)
        _check_replaceable(path)
        return _save(model, path, versions, write_extra)
    except OSError as exc:
        raise PersistenceError(f"cannot save the model to {str(path)!r}: {exc.strerror or exc}",
                               hint="check that the folder's parent is writable and the disk has room (the "
                               "model is written beside the folder, then swapped in)") from None


def _save(model: SavedModel, path: Path, versions: Mapping[str, str | None],
          write_extra: Callable[[Path], dict[str, Any]]) -> Path:
    from hiveframe._version import __version__
    from hiveframe.pipeline.empty import NoColumnsGenerator

    with staged_folder(path) as staging:
        (staging / "metadata.json").write_text(model.metadata.to_json() + "\n", encoding="utf-8")
        plugins = {"builtin"}
        tables: dict[str, Any] = {}
        for name, generator in model.table_generators.items():
            if generator is None or isinstance(generator, NoColumnsGenerator):
                tables[name] = {"generator": None, "rows": model.table_rows[name]}
                continue
            key = component_key("tables", name, "generator")
            save_component(staging, key, generator)
            inner: Any = generator
            while inner is not None:  # a wrapped generator (pii, dp) needs its inner generator's plugin too
                plugins.add(type(inner).plugin or "builtin")
                inner = getattr(inner, "inner", None)
            tables[name] = {"generator": key, "rows": model.table_rows[name]}
            described = generator.manifest_entry()
            if described:
                tables[name]["generator_info"] = described
        extra = write_extra(staging)
        plugins |= set(extra.pop("__plugins__", ()))
        manifest = {
            "hiveframe_version": __version__,
            "versions": {p: versions.get(p) for p in sorted(plugins)},
            "seed": model.seed,
            "source": model.source,
            "config": dict(model.config),
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


def load_model(path: Path, *, host: PluginHost) -> SavedModel:
    """Read a model directory: its metadata, configuration and table generators (through ``host``'s
    plugins); the engine's entries stay in ``manifest`` for :func:`load_plan`."""
    recover(path)
    manifest = read_manifest(path, installed_versions=host.versions())
    metadata = Metadata.from_json(covered_file(path, manifest, "metadata.json", what="metadata file"))
    generators: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for name, entry in manifest.get("tables", {}).items():
        if entry["generator"] is None:
            generators[name] = _no_columns_generator(name)
        else:
            generators[name] = load_component(path, entry["generator"], host)
        rows[name] = int(entry["rows"])
    source = manifest.get("source")
    return SavedModel(metadata, int(manifest.get("seed", 0)), dict(manifest.get("config", {})), generators, rows,
                      source if isinstance(source, str) else None, manifest)


def _no_columns_generator(name: str) -> Any:
    import pyarrow as pa

    from hiveframe.metadata import Table
    from hiveframe.pipeline.empty import NoColumnsGenerator

    return NoColumnsGenerator().fit(pa.table({}), Table(name=name, columns=()))


# -- the relational engine's state -----------------------------------------------------------------
ENGINE_FILE = "relational.json"
ENGINE_ARRAYS = "relational.npz"


def save_plan(plan: DatabasePlan, directory: Path) -> dict[str, Any]:
    """Write the relational plan (JSON + arrays) and its linkage models; returns the manifest entry."""
    import numpy as np

    values, arrays, components = plan.to_state()
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


def load_plan(directory: Path, manifest: dict[str, Any], host: PluginHost) -> DatabasePlan:
    """The relational plan a model directory holds (every file checked against the manifest)."""
    import numpy as np

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
    components = {name: load_component(directory, key, host) for name, key in keys.items()}
    from hiveframe.pipeline.plan import DatabasePlan

    return DatabasePlan.from_state(values, arrays, components)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
