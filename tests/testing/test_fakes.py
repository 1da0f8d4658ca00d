"""fake_distribution: a distribution importlib.metadata believes is installed, and nothing left after."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from hiveframe.testing import FakeDistribution, fake_distribution


def hiveframe_entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group="hiveframe")}


def test_context_manager_installs_and_removes_everything():
    before_path = list(sys.path)
    with fake_distribution("hf-ctx", {"ctx_plugin": "hf_ctx_pkg.sub.plugin"}, version="2.5",
                           modules={"hf_ctx_pkg.sub.plugin": "VALUE = 42\n"},
                           requires=['numpy>=1', 'torch>=2; extra == "gpu"']) as dist:
        assert hiveframe_entry_points()["ctx_plugin"] == "hf_ctx_pkg.sub.plugin"
        meta = importlib.metadata.distribution("hf-ctx")
        assert meta.version == "2.5"
        assert meta.requires == ['numpy>=1', 'torch>=2; extra == "gpu"']
        assert meta.metadata.get_all("Provides-Extra") == ["gpu"]
        assert dist.distribution.version == "2.5"
        ep = next(e for e in importlib.metadata.entry_points(group="hiveframe") if e.name == "ctx_plugin")
        assert ep.load().VALUE == 42 and ep.dist.name == "hf-ctx"
        root = dist.root
        assert root is not None and str(root) in sys.path
    assert "ctx_plugin" not in hiveframe_entry_points()
    assert not any(m == "hf_ctx_pkg" or m.startswith("hf_ctx_pkg.") for m in sys.modules)
    assert sys.path == before_path
    assert not root.exists()
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("hf-ctx")


def test_entry_point_to_an_existing_module_and_other_groups():
    with fake_distribution("hf-other", {"thing": "json:dumps"}, group="some.other.group"):
        eps = importlib.metadata.entry_points(group="some.other.group")
        assert [e.load() for e in eps if e.name == "thing"] == [__import__("json").dumps]
        assert "thing" not in hiveframe_entry_points()
    assert "json" in sys.modules  # an existing module is not unloaded


def test_fixture_cleans_up_after_the_test(fake_distribution):
    dist = fake_distribution("hf-fixture", {"fx": "hf_fixture_mod"}, modules={"hf_fixture_mod": "X = 1"})
    assert "fx" in hiveframe_entry_points()
    assert isinstance(dist, FakeDistribution)


def test_previous_test_left_nothing_behind():
    assert "fx" not in hiveframe_entry_points()
    assert "hf_fixture_mod" not in sys.modules


@pytest.fixture
def block_env(monkeypatch):
    monkeypatch.setenv("HIVEFRAME_BLOCK_PLUGINS", "ctgan")


def test_hiveframe_host_fixture_is_fresh_and_ignores_the_block_env(block_env, hiveframe_host,
                                                                   hiveframe_host_factory):
    other = hiveframe_host_factory()
    assert other is not hiveframe_host and other.pm is not hiveframe_host.pm
    assert all(info.status != "blocked" for info in hiveframe_host.infos.values())
    assert "ctgan" in hiveframe_host.infos


def test_bad_names_and_double_install():
    with pytest.raises(ValueError, match="not a valid distribution name"):
        FakeDistribution("bad name!", {})
    with pytest.raises(ValueError, match="not a valid module name"):
        FakeDistribution("ok", {}, modules={"not-valid.mod": ""}).install()
    dist = FakeDistribution("hf-twice", {}).install()
    try:
        with pytest.raises(RuntimeError, match="already installed"):
            dist.install()
    finally:
        dist.uninstall()
    dist.uninstall()  # idempotent
    with pytest.raises(RuntimeError, match="not installed"):
        dist.distribution  # noqa: B018
