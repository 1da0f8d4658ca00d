"""The plugin host: one pluggy manager per host object, entry points, registry, typed hook facade.

There is no global registry. Each :class:`PluginHost` loads the builtin plugin, then the entry points
in the group ``hiveframe`` one at a time (a broken or blocked one is listed, never fatal), then any
plugin objects passed in. Components are looked up by ``(kind, name)``.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from hiveframe import hookspecs
from hiveframe.errors import (
    ConfigError,
    HiveframeError,
    PluginError,
    Problem,
    UnknownComponentError,
    did_you_mean,
)

if TYPE_CHECKING:
    import argparse

    import pyarrow as pa

    from hiveframe.components import Component, Database, TableGenerator, TrainingCallback
    from hiveframe.engines import SampleEngine
    from hiveframe.metadata import Column, Metadata, Table

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hiveframe"
BLOCK_ENV = "HIVEFRAME_BLOCK_PLUGINS"
BUILTIN = "builtin"

#: (plugin, message) pairs already warned about in this process: the warning is said once, not per host.
_WARNED: set[tuple[str, str | None]] = set()


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    cls: type[Component]
    plugin: str

    @property
    def missing(self) -> list[str]:
        return self.cls.missing_requirements()

    @property
    def available(self) -> bool:
        return not self.missing


@dataclass
class PluginInfo:
    """What ``hiveframe plugins`` shows for one plugin."""

    name: str
    version: str | None
    source: str  # "builtin", "entry point" or "registered"
    status: str = "ok"  # "ok", "unavailable", "blocked", "error"
    message: str | None = None
    components: dict[str, list[str]] = field(default_factory=dict)
    #: the installed distribution that provides the plugin (``hiveframe`` for first-party ones).
    distribution: str | None = None


class _PluginManager(pluggy.PluginManager):
    """A pluggy manager that also treats undecorated ``hiveframe_*`` functions as hook implementations.

    Without this, a misspelled, undecorated ``hiveframe_register_generators`` would be silently
    ignored; with it, ``check_pending`` rejects it with a did-you-mean (pytest does the same for
    ``pytest_*``).
    """

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(hookspecs.PROJECT + "_"):
            method = getattr(plugin, name, None)
            if inspect.isroutine(method):
                return {}
        return opts


def _blocked_from_env() -> set[str]:
    raw = os.environ.get(BLOCK_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginHost:
    """Owns a plugin manager and the registry of components its plugins provide."""

    def __init__(
        self,
        *,
        plugins: Mapping[str, object] | Sequence[object] = (),
        load_entry_points: bool = True,
        block: Iterable[str] = (),
    ) -> None:
        from hiveframe._builtin.plugin import BuiltinPlugin

        self.pm = _PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.blocked: set[str] = set(block) | _blocked_from_env()
        self.infos: dict[str, PluginInfo] = {}
        self.registry: dict[str, dict[str, Registration]] = {}
        self.hooks = Hooks(self)

        from hiveframe._version import __version__

        self._add(BUILTIN, BuiltinPlugin(self), version=__version__, source=BUILTIN, strict=True,
                  distribution="hiveframe")
        if load_entry_points:
            self._load_entry_points()
        items = plugins.items() if isinstance(plugins, Mapping) else ((None, p) for p in plugins)
        for name, plugin in items:
            self.register(plugin, name=name)
        self._warn_unavailable()

    def _warn_unavailable(self) -> None:
        """One warning line for every unavailable plugin, once per process (hosts are cheap and many)."""
        unavailable = [i for i in self.infos.values() if i.status == "unavailable"]
        fresh = [i for i in unavailable if (i.name, i.message) not in _WARNED]
        if fresh:
            _WARNED.update((i.name, i.message) for i in fresh)
            log.warning("hiveframe: %s",
                        "; ".join(f"plugin {i.name!r} unavailable ({i.message})" for i in fresh))
        elif unavailable:
            log.debug("hiveframe: unavailable plugins: %s", ", ".join(i.name for i in unavailable))

    # -- loading ---------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        seen: dict[str, str | None] = {}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            if ep.name in seen:  # the same distribution found twice on sys.path, or a name clash
                if seen[ep.name] != dist:
                    log.warning("hiveframe: plugin name %r is provided by %s and %s; using the first",
                                ep.name, seen[ep.name], dist)
                continue
            seen[ep.name] = dist
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.blocked:
                self.infos[ep.name] = PluginInfo(ep.name, version, "entry point", "blocked",
                                                 f"blocked (argument or {BLOCK_ENV})", distribution=dist)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - one bad plugin must not stop the others
                log.debug("loading plugin %s failed", ep.name, exc_info=True)
                if isinstance(exc, ImportError):
                    status, message = "unavailable", _install_hint(exc, ep.dist)
                else:
                    status, message = "error", f"import failed: {type(exc).__name__}: {exc}"
                self.infos[ep.name] = PluginInfo(ep.name, version, "entry point", status, message,
                                                 distribution=dist)
                continue
            self._add(ep.name, module, version=version, source="entry point", strict=False,
                      distribution=dist)

    def register(self, plugin: object, *, name: str | None = None) -> str:
        """Register a plugin object (module, class instance) in this host. Returns its name."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.blocked:
            self.infos[name] = PluginInfo(name, None, "registered", "blocked", "blocked")
            return name
        version = getattr(plugin, "__version__", None)
        self._add(name, plugin, version=version, source="registered", strict=True)
        return name

    def _add(self, name: str, plugin: object, *, version: str | None, source: str, strict: bool,
             distribution: str | None = None) -> None:
        if name in self.infos and self.infos[name].status != "blocked":
            raise PluginError("a plugin with this name is already registered", plugin=name)
        info = PluginInfo(name, version, source, distribution=distribution)
        self.infos[name] = info
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self._unregister(plugin)
            message = _explain_validation(exc)
            info.status, info.message = "error", message
            if strict:
                raise PluginError(message, plugin=name, hint="hook names: " + ", ".join(
                    sorted(h for h in dir(hookspecs) if h.startswith("hiveframe_")))) from None
            log.warning("hiveframe: plugin %r rejected: %s", name, message)
            return
        try:
            self._collect_components(name, plugin, info)
        except HiveframeError as exc:
            self._unregister(plugin)
            info.status, info.message = "error", str(exc)
            if strict:
                raise
            log.warning("hiveframe: plugin %r rejected: %s", name, exc)

    def _unregister(self, plugin: object) -> None:
        if self.pm.is_registered(plugin):
            self.pm.unregister(plugin)

    def _collect_components(self, name: str, plugin: object, info: PluginInfo) -> None:
        from hiveframe.components import BASES, FAMILIES

        found: list[Registration] = []
        for hook_name, kind in FAMILIES.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    classes = list(impl.function() or ())
                except Exception as exc:  # noqa: BLE001
                    raise PluginError(f"{hook_name} failed: {type(exc).__name__}: {exc}",
                                      plugin=name) from exc
                for cls in classes:
                    base = BASES[kind]
                    if not (isinstance(cls, type) and issubclass(cls, base)):
                        raise PluginError(f"{hook_name} returned {cls!r}, which is not a {base.__name__} subclass",
                                          plugin=name)
                    if not cls.name:
                        raise PluginError(f"{cls.__name__} has no `name`", plugin=name)
                    existing = self.registry.get(kind, {}).get(cls.name)
                    if existing is not None and existing.cls is not cls:
                        raise PluginError(
                            f"{kind.replace('_', ' ')} {cls.name!r} is already registered by plugin "
                            f"{existing.plugin!r}",
                            plugin=name, hint="give the component another name",
                        )
                    twin = next((r for r in found if r.kind == kind and r.name == cls.name), None)
                    if twin is not None:
                        if twin.cls is cls:
                            continue
                        raise PluginError(
                            f"two {kind.replace('_', ' ')} classes are both named {cls.name!r} "
                            f"({twin.cls.__name__} and {cls.__name__})",
                            plugin=name, hint="give the components distinct names",
                        )
                    found.append(Registration(kind, cls.name, cls, name))
        missing: set[str] = set()
        for reg in found:
            reg.cls.plugin = name
            self.registry.setdefault(reg.kind, {})[reg.name] = reg
            info.components.setdefault(reg.kind, []).append(reg.name)
            if not reg.available:
                if reg.cls.extra:
                    missing.add(f"{info.distribution or 'hiveframe'}[{reg.cls.extra}]")
                else:
                    missing.update(reg.missing)
        if missing:
            info.status = "unavailable"
            info.message = "install " + " or ".join(sorted(missing))

    # -- lookup ----------------------------------------------------------------------------------
    def names(self, kind: str, *, available_only: bool = False) -> list[str]:
        regs = self.registry.get(kind, {}).values()
        return [r.name for r in regs if r.available or not available_only]

    def registration(self, kind: str, name: str) -> Registration:
        try:
            return self.registry[kind][name]
        except KeyError:
            raise UnknownComponentError(
                f"no {kind.replace('_', ' ')} named {name!r}",
                hint=did_you_mean(name, [n for n, r in self.registry.get(kind, {}).items()
                                         if getattr(r.cls, "user_facing", True)]),
            ) from None

    def component_class(self, kind: str, name: str) -> type[Component]:
        return self.registration(kind, name).cls

    def create(self, kind: str, spec: str | Component | type[Component], params: Mapping[str, Any] | None = None):
        """A component from a registered name, a class, or an instance (returned as is)."""
        from hiveframe.components import BASES, Component

        base = BASES.get(kind)
        if base is None:
            raise ConfigError(f"unknown component kind {kind!r}", hint=did_you_mean(kind, BASES))
        if isinstance(spec, Component):
            if not isinstance(spec, base):
                raise ConfigError(f"{spec!r} is not a {base.__name__}")
            if params:
                raise ConfigError(f"parameters {sorted(params)} given with an instance of {spec.name!r}",
                                  hint="set them on the instance instead")
            return spec
        if isinstance(spec, type):
            if not issubclass(spec, base):
                raise ConfigError(f"{spec.__name__} is not a {base.__name__}")
            cls = spec
        else:
            cls = self.component_class(kind, str(spec))
        cls.check_available()
        return cls.from_params(dict(params or {}))

    def versions(self) -> dict[str, str | None]:
        return {name: info.version for name, info in self.infos.items() if info.status != "blocked"}

    # -- conveniences built on the hooks ---------------------------------------------------------
    def read(self, source: object, *, reader: str | Component | None = None,
             tables: Sequence[str] | None = None):
        """Read ``source`` into a :class:`~hiveframe.components.Database`."""
        from hiveframe.errors import SourceError

        if reader is None:
            reader = self.hooks.resolve_reader(source=source)
            if reader is None:
                raise SourceError(
                    f"no reader knows how to read {_describe(source)}",
                    hint="pass a folder of .parquet/.csv/.csv.gz/.jsonl files, a SQLite file, "
                    "or pyarrow/pandas/polars tables; readers: " + ", ".join(self.names("reader")),
                )
        return self.create("reader", reader).read(source, tables=tables)

    def write(self, database: Any, target: object, *, format: str | None = None,
              writer: str | Component | None = None, metadata: Metadata | None = None,
              provenance: Mapping[str, Any] | None = None, overwrite: bool = False) -> Any:
        from hiveframe.errors import SourceError

        if writer is None:
            writer = self.hooks.resolve_writer(target=target, format=format)
            if writer is None:
                raise SourceError(
                    f"no writer for {_describe(target)} (format {format!r})",
                    hint="write to a folder (--format parquet|csv|jsonl) or a file ending in .sqlite; "
                    "writers: " + ", ".join(self.names("writer")),
                )
        return self.create("writer", writer).write(database, target, metadata=metadata, provenance=provenance,
                                                   overwrite=overwrite)


class Hooks:
    """Typed, keyword-only facade over the hook calls of one host."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    @property
    def _hook(self) -> Any:
        return self._host.pm.hook

    def resolve_reader(self, *, source: object) -> str | None:
        return self._hook.hiveframe_resolve_reader(source=source)

    def resolve_writer(self, *, target: object, format: str | None) -> str | None:
        return self._hook.hiveframe_resolve_writer(target=target, format=format)

    def validate_metadata(self, *, metadata: Metadata) -> list[Problem]:
        """Every plugin's problems with ``metadata``, each marked with the plugin that saw it."""
        problems: list[Problem] = []
        for impl in reversed(self._hook.hiveframe_validate_metadata.get_hookimpls()):
            try:
                found = impl.function(metadata=metadata) or ()
            except Exception as exc:  # noqa: BLE001
                raise PluginError(f"metadata validation failed: {type(exc).__name__}: {exc}",
                                  plugin=impl.plugin_name) from exc
            for p in found:
                problems.append(p if p.plugin or impl.plugin_name == BUILTIN else
                                Problem(p.message, p.table, p.column, p.row, p.hint, impl.plugin_name))
        return problems

    def detect_columns(self, *, table_name: str, data: pa.Table, columns: Sequence[Column]) -> dict[str, Column]:
        """Column replacements proposed by plugins for one table (later plugins win on conflicts)."""
        out: dict[str, Column] = {}
        for answer in reversed(self._hook.hiveframe_detect_columns(table_name=table_name, data=data,
                                                                   columns=list(columns))):
            out.update(answer or {})
        return out

    def fit_table(self, *, table_name: str, generator: TableGenerator, data: pa.Table, table: Table,
                  context_columns: Sequence[str], seed: int | None,
                  callback: TrainingCallback | None = None, workdir: Path | None = None) -> TableGenerator:
        return self._hook.hiveframe_fit_table(
            table_name=table_name, generator=generator, data=data, table=table,
            context_columns=tuple(context_columns), seed=seed, callback=callback, workdir=workdir,
        )

    def writes_reports(self) -> bool:
        """Whether a plugin answers ``hiveframe_write_report``."""
        return bool(self._hook.hiveframe_write_report.get_hookimpls())

    def write_report(self, *, real: Database, synthetic: Database, metadata: Metadata, out_dir: Path,
                     options: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The report plugin's summary (``path``, ``overall``...), or None when no plugin writes reports.

        The plugin writes straight into ``out_dir``: callers go through
        :func:`hiveframe.pipeline.report.write_report`, which gives it a staging folder.
        """
        result = self._hook.hiveframe_write_report(real=real, synthetic=synthetic, metadata=metadata,
                                                   out_dir=Path(out_dir), options=dict(options or {}))
        return dict(result) if result is not None else None

    def engines(self) -> dict[str, SampleEngine]:
        """The sampling engines plugins register (``sample --engine NAME``), one instance each, by name."""
        from hiveframe.engines import LOCAL, SampleEngine

        out: dict[str, SampleEngine] = {}
        for impl in reversed(self._hook.hiveframe_register_engines.get_hookimpls()):
            try:
                classes = list(impl.function() or ())
            except Exception as exc:  # noqa: BLE001
                raise PluginError(f"hiveframe_register_engines failed: {type(exc).__name__}: {exc}",
                                  plugin=impl.plugin_name) from exc
            for cls in classes:
                if not (isinstance(cls, type) and issubclass(cls, SampleEngine)) or not getattr(cls, "name", ""):
                    raise PluginError(f"hiveframe_register_engines returned {cls!r}, not a named SampleEngine "
                                      "subclass", plugin=impl.plugin_name)
                if cls.name == LOCAL or cls.name in out:
                    raise PluginError(f"sampling engine {cls.name!r} is already registered",
                                      plugin=impl.plugin_name, hint="give the engine another name")
                out[cls.name] = cls()
        return out

    def register_commands(self, *, subparsers: argparse._SubParsersAction,
                          common: argparse.ArgumentParser) -> None:
        """Let every plugin add its CLI subcommands; a plugin that fails is named, the others still run."""
        for impl in reversed(self._hook.hiveframe_register_commands.get_hookimpls()):
            try:
                impl.function(subparsers=subparsers, common=common)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the whole CLI down
                log.warning("plugin %r: its commands were not added (%s: %s); `--block-plugin %s` silences this",
                            impl.plugin_name, type(exc).__name__, exc, impl.plugin_name)

    def sample_table(self, *, table_name: str, generator: TableGenerator, num_rows: int,
                     context: pa.Table | None = None, conditions: Mapping[str, Any] | None = None,
                     seed: int | None = None) -> pa.Table:
        return self._hook.hiveframe_sample_table(
            table_name=table_name, generator=generator, num_rows=num_rows, context=context,
            conditions=conditions, seed=seed,
        )


def _explain_validation(exc: pluggy.PluginValidationError) -> str:
    """One readable line: an unknown hook with a did-you-mean, or pluggy's own reason."""
    import difflib

    text = str(exc)
    unknown = re.match(r"unknown hook '([^']+)'", text)
    if unknown:
        word = unknown.group(1)
        known = sorted(h for h in dir(hookspecs) if h.startswith(hookspecs.PROJECT + "_"))
        close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
        if close:
            return f"unknown hook {word!r} (did you mean {close[0]!r}?)"
        return f"unknown hook {word!r}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _install_hint(exc: ImportError, dist: importlib.metadata.Distribution | None) -> str:
    """'install hiveframe[x]' when the missing module is a requirement of one of the dist's extras."""
    module = getattr(exc, "name", None)
    if not module:
        return f"import failed: {type(exc).__name__}: {exc}"
    top = module.split(".")[0]
    wanted = top.lower().replace("_", "-")
    for requirement in (dist.requires or []) if dist is not None else []:
        head, _, marker = requirement.partition(";")
        req_name = re.split(r"[\s\[<>=!~;]", head.strip(), maxsplit=1)[0].lower().replace("_", "-")
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", marker)
        if req_name == wanted and extra:
            return f"install {dist.name}[{extra.group(1)}]"
    return f"install the package that provides {top!r} ({type(exc).__name__}: {exc})"


def _describe(obj: object) -> str:
    if isinstance(obj, (str, Path)):
        return repr(str(obj))
    return f"an object of type {type(obj).__name__}"
