"""The base every component (reader, generator, validator...) derives from.

A component is an ``attrs`` class: its parameters are declared fields, so they can be listed,
validated, saved to JSON and restored without pickle. Public methods (``fit``, ``sample``...) check
their input and call a private one (``_fit``, ``_sample``); anything unexpected raised inside is
wrapped in a :class:`~hiveframe.errors.PluginError` naming the plugin and component, so a user never
meets a bare traceback from deep inside numpy or torch.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import attrs
import numpy as np

from hiveframe.errors import ConfigError, HiveframeError, MissingDependencyError, PluginError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class ComponentState:
    """A fitted component's learned state: JSON-able values plus named numpy arrays.

    This is the only thing persisted for a component (besides its parameters): no pickle, no code.
    """

    values: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def child(self, prefix: str) -> ComponentState:
        """The part of this state stored under ``prefix/`` (for nested components)."""
        values = self.values.get(prefix, {})
        cut = len(prefix) + 1
        arrays = {k[cut:]: v for k, v in self.arrays.items() if k.startswith(prefix + "/")}
        return ComponentState(values=values, arrays=arrays)

    def put_child(self, prefix: str, state: ComponentState) -> None:
        self.values[prefix] = state.values
        for key, value in state.arrays.items():
            self.arrays[f"{prefix}/{key}"] = value


@attrs.define(kw_only=True, eq=False)
class Component:
    """Base of every component. Subclasses set ``name`` and ``kind`` and declare attrs fields."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    #: importable module names this component needs (checked before use).
    requires: ClassVar[tuple[str, ...]] = ()
    #: the pip extra that installs ``requires``.
    extra: ClassVar[str | None] = None
    #: set by the host when the component is created: the plugin that registered it.
    plugin: ClassVar[str | None] = None
    #: False for components made by the pipeline itself (privacy wrappers' generators, saved and loaded
    #: by name) that a user never picks: they are left out of did-you-mean hints.
    user_facing: ClassVar[bool] = True
    #: save nested components in folders of their own (``components/<key>/<param>/<name>/model.json``)
    #: instead of beside the component's file: for components that hold several fitted models.
    nested_folders: ClassVar[bool] = False

    # -- declared parameters ---------------------------------------------------------------------
    @classmethod
    def parameter_names(cls) -> list[str]:
        return [f.name for f in attrs.fields(cls) if not f.name.startswith("_")]

    def get_params(self) -> dict[str, Any]:
        """The component's parameters as JSON-able values."""
        return {name: _jsonable(getattr(self, name)) for name in self.parameter_names()}

    @classmethod
    def from_params(cls: type[T], params: Mapping[str, Any]) -> T:
        """Build from parameters, rejecting unknown names with a clear message."""
        known = set(cls.parameter_names())  # type: ignore[attr-defined]
        unknown = sorted(set(params) - known)
        label = f"{cls.kind} {cls.name!r}"  # type: ignore[attr-defined]
        if unknown:
            from hiveframe.errors import did_you_mean

            hints = [did_you_mean(u, known) for u in unknown]
            raise ConfigError(
                f"{label} has no parameter(s) {', '.join(map(repr, unknown))}",
                hint="; ".join(h for h in hints if h) or f"parameters: {', '.join(sorted(known))}",
            )
        try:
            return cls(**params)
        except HiveframeError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{label}: bad parameter: {exc}") from None

    # -- optional dependencies -------------------------------------------------------------------
    @classmethod
    def missing_requirements(cls) -> list[str]:
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def check_available(cls) -> None:
        missing = cls.missing_requirements()
        if missing:
            extra = f"pip install 'hiveframe[{cls.extra}]'" if cls.extra else f"pip install {' '.join(missing)}"
            raise MissingDependencyError(
                f"needs {', '.join(missing)}, which is not installed",
                plugin=cls.plugin,
                component=cls.name,
                hint=extra,
            )

    # -- state -----------------------------------------------------------------------------------
    def get_state(self) -> ComponentState:
        """Learned state, to persist. Stateful components override ``_get_state``."""
        return self._get_state()

    def set_state(self, state: ComponentState) -> None:
        """Restore learned state produced by :meth:`get_state`."""
        self._call("load state", self._set_state, state)

    def _get_state(self) -> ComponentState:
        return ComponentState()

    def _set_state(self, state: ComponentState) -> None:
        return None

    # -- error wrapping --------------------------------------------------------------------------
    def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn``; let hiveframe errors through, wrap anything else with plugin and component."""
        try:
            return fn(*args, **kwargs)
        except HiveframeError:
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - the point is to wrap anything
            log.debug("%s %s failed", self.kind, self.name, exc_info=True)
            raise PluginError(
                f"{action} failed: {type(exc).__name__}: {exc}",
                plugin=type(self).plugin,
                component=self.name,
                hint="run with --debug (or logging at DEBUG) for the full traceback",
            ) from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
