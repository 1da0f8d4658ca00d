"""Model directories: how a fitted model is saved and loaded without pickle.

A model is a directory::

    manifest.json          format, versions (hiveframe and every plugin used), seed, settings,
                           and a SHA-256 of every other file
    metadata.json          the metadata the model was fitted on
    components/<key>.json  one per component: kind, registered name, plugin, parameters, JSON state
    components/<key>.npz   its arrays (loaded with allow_pickle=False)

Loading looks components up by registered name in the host's registry, so a model file can never name
code to import or run. Versions are checked; a file whose digest does not match is refused. Every path
a model names (manifest files, component keys, the relational plan) must resolve inside the model
folder: absolute paths, ``..`` and symbolic links anywhere in the folder are refused.

The digests are unkeyed SHA-256: they catch accidents (a truncated copy, a hand edit, a file added or
lost), not tampering, since whoever can edit a model can recompute them. Trust a model as you trust its
source (see docs/api.md, "Model folders").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.components.base import Component, ComponentState
from hiveframe.errors import ConfigError, PersistenceError, UnknownComponentError
from hiveframe.state import json_default as _json_default
from hiveframe.state import nested_components

if TYPE_CHECKING:
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

MODEL_FORMAT = "hiveframe-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-/]+$")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside(directory: Path, rel: object, *, what: str = "file") -> Path:
    """``directory / rel``, refused unless it stays inside ``directory`` with no symbolic link on the way."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        raise PersistenceError(f"model {str(directory)!r} names an invalid {what} path {rel!r}",
                               hint="the model folder is damaged or was edited; refit the model")
    parts = rel.split("/")
    if rel.startswith("/") or Path(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise PersistenceError(f"model {str(directory)!r} names a {what} outside the model folder: {rel!r}",
                               hint="a model reads only its own files (no absolute paths, no '..'); refit the model")
    path = directory
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise PersistenceError(f"model {str(directory)!r}: {path.relative_to(directory).as_posix()!r} is a "
                                   "symbolic link; models never follow links",
                                   hint="copy the model with its files (cp -rL), not with links")
    return path


def _component_path(directory: Path, key: str) -> Path:
    if (not isinstance(key, str) or not _SAFE_KEY.match(key) or key.startswith("/")
            or any(p in ("", ".", "..") for p in key.split("/"))):
        raise PersistenceError(f"unsafe component key {key!r} in model directory {str(directory)!r}: a model "
                               "reads only its own files (no absolute paths, no '..')",
                               hint="the model folder is damaged or was edited; refit the model")
    return inside(directory, f"components/{key}", what="component")


def _with(base: Path, suffix: str) -> Path:
    # not Path.with_suffix: nested keys hold dots ("generator.transformers.age") that are not suffixes
    return base.parent / (base.name + suffix)


def component_key(*parts: str) -> str:
    """A filesystem-safe key from table/column names (which may hold any character).

    Each part becomes one file name: characters other than letters, digits, ``_``, ``.`` and ``-``
    become ``_``, and a leading dot gets a ``_`` before it (no hidden names, no ``.`` or ``..``); a
    changed part gets a short hash of the original so that distinct names stay distinct.
    """
    cleaned = []
    for part in parts:
        safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", part)
        if not safe or safe.startswith("."):
            safe = "_" + safe
        if safe != part:
            safe += "-" + hashlib.sha1(part.encode()).hexdigest()[:8]
        cleaned.append(safe)
    return "/".join(cleaned)


# -- components ------------------------------------------------------------------------------------
def save_component(directory: Path, key: str, component: Component) -> None:
    """Write one component (params, nested components, state) under ``components/<key>``."""
    base = _component_path(directory, key)
    base.parent.mkdir(parents=True, exist_ok=True)
    nested: dict[str, Any] = {}
    for name, value in nested_components(component):
        if isinstance(value, Component):
            save_component(directory, f"{key}.{name}", value)
            nested[name] = f"{key}.{name}"
        else:
            nested[name] = {}
            for sub, comp in value.items():
                sub_key = (f"{key}/{name}/{component_key(str(sub))}/model" if type(component).nested_folders
                           else f"{key}.{name}.{component_key(str(sub))}")
                save_component(directory, sub_key, comp)
                nested[name][sub] = sub_key
    state = component.get_state()
    record = {
        "kind": component.kind,
        "name": component.name,
        "plugin": type(component).plugin,
        "params": json.loads(json.dumps(component.get_params() | {k: None for k in nested}, default=_json_default)),
        "nested": nested,
        "state": json.loads(json.dumps(state.values, default=_json_default)),
        "arrays": sorted(state.arrays),
    }
    for k in nested:
        record["params"].pop(k, None)
    _with(base, ".json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    if state.arrays:
        for name, arr in state.arrays.items():
            if np.asarray(arr).dtype == object:
                raise PersistenceError(f"component {component.name!r} state array {name!r} has dtype object",
                                       hint="store strings as JSON values or fixed-width unicode arrays")
        np.savez(_with(base, ".npz"), **{k: np.asarray(v) for k, v in state.arrays.items()})


def load_component(directory: Path, key: str, host: PluginHost) -> Component:
    """Recreate a component saved by :func:`save_component`, by registered name only."""
    base = _component_path(directory, key)
    try:
        record = json.loads(_with(base, ".json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PersistenceError(f"model directory {str(directory)!r} lacks component {key!r}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PersistenceError(f"component file for {key!r} is corrupt: {exc}") from None
    if not (isinstance(record, dict) and isinstance(record.get("kind"), str)
            and isinstance(record.get("name"), str)):
        raise PersistenceError(f"component file for {key!r} does not name a component kind and name")
    params = dict(record.get("params") or {})
    for name, ref in (record.get("nested") or {}).items():
        if isinstance(ref, str):
            params[name] = load_component(directory, ref, host)
        else:
            params[name] = {sub: load_component(directory, sub_key, host) for sub, sub_key in ref.items()}
    try:
        # by registered name only: a model file can never name a class or module to import
        component = host.create(record["kind"], record["name"], params)
    except UnknownComponentError as exc:
        plugin = record.get("plugin")
        raise PersistenceError(
            f"model component {key!r} needs {record['kind'].replace('_', ' ')} {record['name']!r}"
            + (f" from plugin {plugin!r}" if plugin else "") + ", which is not registered here",
            hint=(f"install or unblock plugin {plugin!r}" if plugin else exc.hint),
        ) from None
    except ConfigError as exc:
        raise PersistenceError(
            f"model component {key!r} ({record['name']!r}) cannot be rebuilt from its saved parameters: "
            f"{exc.message}",
            hint="the plugin changed since the model was saved; refit the model or install the version "
            "that saved it",
        ) from None
    arrays: dict[str, np.ndarray] = {}
    if record.get("arrays"):
        try:
            with np.load(_with(base, ".npz"), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise PersistenceError(f"arrays of component {key!r} cannot be read: {exc}") from None
    component.set_state(ComponentState(values=record.get("state", {}), arrays=arrays))
    return component


# -- manifest --------------------------------------------------------------------------------------
def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest.json`` last, with a digest of every other file, atomically."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST and "checkpoints" not in path.relative_to(directory).parts:
            files[path.relative_to(directory).as_posix()] = _sha256(path)
    full = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": files}
    body = json.dumps(full, indent=2, sort_keys=True, default=_json_default)
    full["manifest_digest"] = hashlib.sha256(body.encode()).hexdigest()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".manifest")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(full, indent=2, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, directory / MANIFEST)


def read_manifest(directory: str | Path, *, installed_versions: Mapping[str, str | None]) -> dict[str, Any]:
    """Read and check a manifest: format, versions, digests. Raises PersistenceError with a hint."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise PersistenceError(f"model directory {str(directory)!r} does not exist",
                               hint="create one with `hiveframe fit SOURCE -o MODEL_DIR`")
    links = _symlinks(directory)
    if links:
        raise PersistenceError(f"model {str(directory)!r} holds symbolic links ({', '.join(links[:5])}); "
                               "models never follow links", hint="copy the model with its files (cp -rL), not links")
    if not path.is_file():
        raise PersistenceError(f"{str(directory)!r} is not a hiveframe model (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PersistenceError(f"{MANIFEST} in {str(directory)!r} is corrupt: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise PersistenceError(f"{str(directory)!r} is not a hiveframe model directory (its {MANIFEST} is not "
                               "a hiveframe model manifest)", hint="give the folder `hiveframe fit -o` wrote")
    claimed = manifest.pop("manifest_digest", None)
    body = json.dumps(manifest, indent=2, sort_keys=True)
    if claimed != hashlib.sha256(body.encode()).hexdigest():
        raise PersistenceError(f"{MANIFEST} in {str(directory)!r} was modified after the model was saved",
                               hint="refit the model; hand-edited manifests are refused")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise PersistenceError(
            f"model format version {version} cannot be read by this hiveframe (reads {FORMAT_VERSION})",
            hint="refit the model with this hiveframe version, or install the version that saved it "
            f"(hiveframe {manifest.get('versions', {}).get('builtin', '?')})",
        )
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise PersistenceError(f"{MANIFEST} in {str(directory)!r} has no valid file list", hint="refit the model")
    for rel, digest in files.items():
        file = inside(directory, rel)
        if not file.is_file():
            raise PersistenceError(f"model file {rel!r} is missing from {str(directory)!r}")
        if _sha256(file) != digest:
            raise PersistenceError(f"model file {rel!r} in {str(directory)!r} was modified or is corrupt",
                                   hint="refit the model")
    components = directory / "components"
    if components.is_dir():
        for file in sorted(components.rglob("*")):
            rel = file.relative_to(directory).as_posix()
            if file.is_file() and rel not in files and "checkpoints" not in file.relative_to(directory).parts:
                raise PersistenceError(f"model file {rel!r} in {str(directory)!r} was added after the model "
                                       "was saved", hint="remove it, or refit the model")
    saved = manifest.get("versions", {})
    for plugin, saved_version in saved.items():
        if plugin not in installed_versions:
            raise PersistenceError(
                f"model was saved with plugin {plugin!r} {saved_version}, which is not installed or is blocked",
                hint="install the plugin (e.g. pip install 'hiveframe[all]') or unblock it",
            )
        now = installed_versions[plugin]
        if saved_version and now and _major_minor(saved_version) != _major_minor(now):
            raise PersistenceError(
                f"model was saved with {plugin} {saved_version}; installed is {now}",
                hint=f"install {plugin} {'.'.join(_major_minor(saved_version))}.x or refit the model",
            )
    return manifest


def _symlinks(directory: Path) -> list[str]:
    """Every symbolic link under ``directory`` (not followed), as paths relative to it."""
    found = []
    for root, dirs, names in os.walk(directory, followlinks=False):
        for name in dirs + names:
            path = Path(root) / name
            if path.is_symlink():
                found.append(path.relative_to(directory).as_posix())
    return sorted(found)


def covered_file(directory: Path, manifest: Mapping[str, Any], rel: object, *, what: str) -> Path:
    """A file the manifest lists (so its digest was checked), inside the model folder."""
    path = inside(directory, rel, what=what)
    if rel not in manifest.get("files", {}):
        raise PersistenceError(f"model {str(directory)!r} names {what} {rel!r}, which its manifest does not "
                               "list (no digest covers it)", hint="the model folder was edited; refit the model")
    return path


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])
