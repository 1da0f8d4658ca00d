"""One error tree for hiveframe.

Every error a user can meet derives from :class:`HiveframeError`. Problems found while checking
metadata or data are *collected* into :class:`Problem` records and raised once, so a user fixes every
table and column in one pass instead of one traceback at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class HiveframeError(Exception):
    """Root of every error hiveframe raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with metadata or data, located as precisely as we can."""

    message: str
    table: str | None = None
    column: str | None = None
    row: int | None = None
    hint: str | None = None
    plugin: str | None = None

    def location(self) -> str:
        parts = []
        if self.table is not None:
            parts.append(f"table {self.table!r}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts)

    def render(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.plugin:
            text += f" [from plugin {self.plugin}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ProblemsError(HiveframeError):
    """Several problems, raised together. ``problems`` holds every one."""

    title = "problems found"

    def __init__(self, problems: Sequence[Problem], *, title: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        heading = title or self.title
        lines = [f"{heading} ({len(self.problems)}):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))

    @classmethod
    def raise_if_any(cls, problems: Iterable[Problem], *, title: str | None = None) -> None:
        collected = list(problems)
        if collected:
            raise cls(collected, title=title)


class MetadataError(ProblemsError):
    """The metadata is inconsistent (missing tables, bad keys, cycles...)."""

    title = "invalid metadata"


class DataError(ProblemsError):
    """The data does not match its metadata (duplicate keys, orphans, mixed types...)."""

    title = "invalid data"


class ConfigError(HiveframeError):
    """A setting, parameter or argument is wrong."""


class UnknownComponentError(ConfigError):
    """A component name is not registered by any plugin."""


class PluginError(HiveframeError):
    """A plugin failed to load or a component failed while running. Names the plugin."""

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        component: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.component = component
        prefix = []
        if plugin:
            prefix.append(f"plugin {plugin!r}")
        if component:
            prefix.append(f"component {component!r}")
        full = f"{', '.join(prefix)}: {message}" if prefix else message
        super().__init__(full, hint=hint)


class MissingDependencyError(PluginError):
    """A component needs an optional extra that is not installed."""


class SourceError(HiveframeError):
    """A data source cannot be read or written (missing path, corrupt file, unsupported type)."""


class PersistenceError(HiveframeError):
    """A model directory is missing, corrupt, tampered with, or from an incompatible version."""


class NotFittedError(HiveframeError):
    """A component or synthesizer was used before it was fitted."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return a hint naming the closest registered name, if any is close."""
    import difflib

    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}? registered: {', '.join(options)}"
    if options:
        return f"registered: {', '.join(options)}"
    return None


def os_error_hint(exc: OSError) -> str:
    """A hint for an operating-system error met while writing or reading a user's path."""
    import errno

    if exc.errno == errno.ENOSPC:
        return "the disk is full: free some space, or write somewhere else"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "that location is not writable here: choose another path, or fix its permissions"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return "a file stands where a folder is needed (or the other way round): choose another path"
    return "check the path and the disk"


def describe_os_error(action: str, exc: OSError) -> SourceError:
    """``cannot ACTION 'PATH': reason`` as a :class:`SourceError` with a hint."""
    where = f" {str(exc.filename)!r}" if exc.filename else ""
    return SourceError(f"cannot {action}{where}: {exc.strerror or exc}", hint=os_error_hint(exc))
