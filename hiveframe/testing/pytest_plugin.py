"""pytest plugin shipped with hiveframe: fixtures for hiveframe's own tests and for plugin authors.

pytest loads it automatically wherever hiveframe is installed (entry point group ``pytest11``), so it
imports only the standard library and pytest at module level; hiveframe itself loads when a fixture
is used.

Fixtures
--------
``hiveframe_host``
    A fresh :class:`~hiveframe.plugins.PluginHost` for one test: its own plugin manager, the installed
    entry points as they are when the test starts, ``HIVEFRAME_BLOCK_PLUGINS`` cleared, and the
    once-per-process "plugin unavailable" warning re-armed.
``hiveframe_host_factory``
    ``make(**kwargs)`` builds hosts with options (``plugins=``, ``block=``, ``load_entry_points=``);
    use it after ``fake_distribution`` so the new host sees the fake plugin.
``fake_distribution``
    ``fake(name, entry_points, modules=..., version=..., requires=...)`` installs a
    :class:`~hiveframe.testing.FakeDistribution` for the rest of the test and removes it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hiveframe.plugins import PluginHost
    from hiveframe.testing.fakes import FakeDistribution


@pytest.fixture
def hiveframe_host_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., PluginHost]:
    """Build fresh plugin hosts; the block-list environment variable is cleared for the test."""
    from hiveframe import plugins
    from hiveframe.plugins import BLOCK_ENV, PluginHost

    monkeypatch.delenv(BLOCK_ENV, raising=False)
    # each test sees the "plugin unavailable" warning afresh (normally said once per process)
    monkeypatch.setattr(plugins, "_WARNED", set())

    def make(**kwargs: Any) -> PluginHost:
        return PluginHost(**kwargs)

    return make


@pytest.fixture
def hiveframe_host(hiveframe_host_factory: Callable[..., PluginHost]) -> PluginHost:
    """A fresh PluginHost: builtin plugin plus the entry points installed when the test starts."""
    return hiveframe_host_factory()


@pytest.fixture
def fake_distribution() -> Iterator[Callable[..., FakeDistribution]]:
    """Install fake distributions with ``hiveframe`` entry points for the duration of one test."""
    from hiveframe.testing.fakes import FakeDistribution

    installed: list[FakeDistribution] = []

    def fake(name: str, entry_points: dict[str, str], **kwargs: Any) -> FakeDistribution:
        dist = FakeDistribution(name, entry_points, **kwargs).install()
        installed.append(dist)
        return dist

    yield fake
    for dist in reversed(installed):
        dist.uninstall()
