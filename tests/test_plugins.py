"""The plugin host: builtin through hooks, entry points one at a time, unavailable/blocked/broken
plugins, misspelled hooks, duplicate names, unknown names, the typed facade and wrapper hooks."""

from __future__ import annotations

import logging
import types
from typing import ClassVar

import attrs
import pytest

from hiveframe.components import TableGenerator
from hiveframe.errors import ConfigError, PluginError, UnknownComponentError
from hiveframe.hookspecs import hookimpl
from hiveframe.plugins import BLOCK_ENV, PluginHost
from hiveframe.testing.reference import ResampleGenerator

GEN_PLUGIN = '''
from typing import ClassVar
import attrs
from hiveframe.hookspecs import hookimpl
from hiveframe.testing.reference import ResampleGenerator

__version__ = "3.1.4"

@attrs.define(kw_only=True, eq=False)
class {cls}(ResampleGenerator):
    name: ClassVar[str] = "{name}"
    requires: ClassVar[tuple] = {requires!r}
    extra: ClassVar = {extra!r}

@hookimpl
def hiveframe_register_table_generators():
    return [{cls}]
'''


def gen_source(name: str, *, cls: str = "Gen", requires: tuple = (), extra: str | None = None) -> str:
    return GEN_PLUGIN.format(name=name, cls=cls, requires=requires, extra=extra)


def plugin_with(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def generator_class(gen_name: str) -> type[TableGenerator]:
    @attrs.define(kw_only=True, eq=False)
    class Gen(ResampleGenerator):
        name: ClassVar[str] = gen_name

    return Gen


# -- builtin and discovery ------------------------------------------------------------------------
def test_builtin_plugin_registers_its_components_through_the_hooks(hiveframe_host):
    info = hiveframe_host.infos["builtin"]
    assert info.status == "ok" and info.source == "builtin" and info.distribution == "hiveframe"
    # the registry holds exactly what the builtin's registration hooks returned
    from hiveframe.components import FAMILIES

    for hook_name, kind in FAMILIES.items():
        impls = [i for i in getattr(hiveframe_host.pm.hook, hook_name).get_hookimpls() if i.plugin_name == "builtin"]
        returned = [c.name for i in impls for c in i.function()]
        assert returned == info.components.get(kind, [])
    assert "gaussian_copula" in hiveframe_host.names("table_generator")
    assert hiveframe_host.registration("table_generator", "gaussian_copula").plugin == "builtin"


def test_entry_point_plugin_is_discovered_through_importlib_metadata(fake_distribution, hiveframe_host_factory):
    fake_distribution("acme-gen", {"acme": "acme_gen_plugin"}, version="3.1.4",
                      modules={"acme_gen_plugin": gen_source("acme_gen")})
    host = hiveframe_host_factory()
    info = host.infos["acme"]
    assert (info.status, info.source, info.version, info.distribution) == ("ok", "entry point", "3.1.4", "acme-gen")
    assert info.components == {"table_generator": ["acme_gen"]}
    assert host.component_class("table_generator", "acme_gen").plugin == "acme"
    assert host.versions()["acme"] == "3.1.4"


def test_fresh_host_does_not_see_an_uninstalled_fake_distribution(fake_distribution, hiveframe_host_factory):
    dist = fake_distribution("gone-gen", {"gone": "gone_gen_plugin"},
                             modules={"gone_gen_plugin": gen_source("gone_gen")})
    assert "gone" in hiveframe_host_factory().infos
    dist.uninstall()
    assert "gone" not in hiveframe_host_factory().infos


def test_broken_entry_points_are_loaded_one_at_a_time(fake_distribution, hiveframe_host_factory, caplog):
    fake_distribution("good-one", {"good": "good_plugin"}, modules={"good_plugin": gen_source("good_gen")})
    fake_distribution("crashy", {"crashy": "crashy_plugin"},
                      modules={"crashy_plugin": "raise RuntimeError('boom at import')"})
    fake_distribution("bad-hook", {"badhook": "badhook_plugin"}, modules={"badhook_plugin": '''
from hiveframe.hookspecs import hookimpl
@hookimpl
def hiveframe_register_table_generators():
    raise ValueError("cannot list")
'''})
    with caplog.at_level(logging.WARNING, logger="hiveframe"):
        host = hiveframe_host_factory()
    assert host.infos["good"].status == "ok"
    assert host.infos["crashy"].status == "error"
    assert "boom at import" in host.infos["crashy"].message
    assert host.infos["badhook"].status == "error"
    assert "cannot list" in host.infos["badhook"].message
    assert "good_gen" in host.names("table_generator")


# -- unavailable plugins --------------------------------------------------------------------------
def test_plugin_with_missing_requirement_is_listed_unavailable_with_one_warning(
        fake_distribution, hiveframe_host_factory, caplog):
    fake_distribution("hf-fancy", {"fancy": "fancy_plugin"}, modules={
        "fancy_plugin": gen_source("fancy_gen", requires=("not_a_real_module",), extra="fancy")})
    with caplog.at_level(logging.WARNING, logger="hiveframe"):
        host = hiveframe_host_factory()
    info = host.infos["fancy"]
    assert info.status == "unavailable"
    assert info.message == "install hf-fancy[fancy]"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "fancy" in r.getMessage()]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()
    # listed, but not usable: a clear error names the extra to install
    assert host.names("table_generator", available_only=True).count("fancy_gen") == 0
    assert "fancy_gen" in host.names("table_generator")
    with pytest.raises(PluginError) as err:
        host.create("table_generator", "fancy_gen")
    assert "not_a_real_module" in str(err.value) and "hiveframe[fancy]" in str(err.value)
    assert err.value.plugin == "fancy" and err.value.component == "fancy_gen"


def test_requirement_without_extra_names_the_module(fake_distribution, hiveframe_host_factory):
    fake_distribution("hf-plain", {"plain": "plain_plugin"}, modules={
        "plain_plugin": gen_source("plain_gen", requires=("not_a_real_module",))})
    info = hiveframe_host_factory().infos["plain"]
    assert (info.status, info.message) == ("unavailable", "install not_a_real_module")


def test_entry_point_whose_import_fails_maps_to_the_extra_to_install(fake_distribution, hiveframe_host_factory):
    fake_distribution("hf-heavy", {"heavy": "heavy_plugin"},
                      modules={"heavy_plugin": "import not_a_real_module_either\n"},
                      requires=['not-a-real-module-either>=1; extra == "gpu"', "numpy"])
    info = hiveframe_host_factory().infos["heavy"]
    assert info.status == "unavailable"
    assert info.message == "install hf-heavy[gpu]"


# -- block list -----------------------------------------------------------------------------------
def test_blocked_by_argument(fake_distribution, hiveframe_host_factory):
    fake_distribution("acme-gen", {"acme": "acme_block_plugin"},
                      modules={"acme_block_plugin": gen_source("acme_block_gen")})
    host = hiveframe_host_factory(block=["acme"])
    assert host.infos["acme"].status == "blocked"
    assert "acme_block_gen" not in host.names("table_generator")
    assert "acme" not in host.versions()
    assert "acme_block_plugin" not in __import__("sys").modules  # never imported


def test_blocked_by_environment_variable(fake_distribution, hiveframe_host_factory, monkeypatch):
    fake_distribution("acme-gen", {"acme": "acme_env_plugin"}, modules={"acme_env_plugin": gen_source("acme_env")})
    fake_distribution("other-gen", {"other": "other_env_plugin"}, modules={"other_env_plugin": gen_source("other_env")})
    monkeypatch.setenv(BLOCK_ENV, " acme , other")
    host = PluginHost()
    assert host.infos["acme"].status == host.infos["other"].status == "blocked"
    with pytest.raises(UnknownComponentError):
        host.create("table_generator", "acme_env")


def test_blocking_a_registered_plugin_object(hiveframe_host_factory):
    plugin = plugin_with(hiveframe_register_table_generators=lambda: [generator_class("blocked_obj")])
    host = hiveframe_host_factory(plugins={"mine": plugin}, block=["mine"])
    assert host.infos["mine"].status == "blocked"
    assert "blocked_obj" not in host.names("table_generator")


# -- misspelled hooks -----------------------------------------------------------------------------
def test_misspelled_hook_is_rejected_with_did_you_mean(hiveframe_host_factory):
    plugin = plugin_with(hiveframe_register_generators=lambda: [generator_class("typo_gen")])
    with pytest.raises(PluginError) as err:
        hiveframe_host_factory(plugins={"typo": plugin})
    text = str(err.value)
    assert "unknown hook 'hiveframe_register_generators'" in text
    assert "did you mean 'hiveframe_register_table_generators'" in text
    assert err.value.plugin == "typo"


def test_misspelled_undecorated_hook_is_rejected_too(hiveframe_host_factory):
    def hiveframe_register_generators():
        return []

    plugin = types.SimpleNamespace(hiveframe_register_generators=hiveframe_register_generators)
    with pytest.raises(PluginError, match="did you mean 'hiveframe_register_table_generators'"):
        hiveframe_host_factory(plugins={"typo": plugin})


def test_misspelled_hook_in_entry_point_plugin_is_listed_not_fatal(fake_distribution, hiveframe_host_factory):
    fake_distribution("typo-dist", {"typo": "typo_ep_plugin"}, modules={"typo_ep_plugin": '''
from hiveframe.hookspecs import hookimpl
@hookimpl
def hiveframe_register_generators():
    return []
'''})
    host = hiveframe_host_factory()
    assert host.infos["typo"].status == "error"
    assert "did you mean 'hiveframe_register_table_generators'" in host.infos["typo"].message
    assert host.infos["builtin"].status == "ok"


def test_hook_with_an_argument_the_spec_lacks_is_rejected(hiveframe_host_factory):
    plugin = plugin_with(hiveframe_resolve_reader=lambda source, options: None)
    with pytest.raises(PluginError, match="options"):
        hiveframe_host_factory(plugins={"badargs": plugin})


# -- names ----------------------------------------------------------------------------------------
def test_duplicate_component_name_across_plugins_is_rejected(hiveframe_host_factory):
    clash = plugin_with(hiveframe_register_table_generators=lambda: [generator_class("gaussian_copula")])
    with pytest.raises(PluginError) as err:
        hiveframe_host_factory(plugins={"clash": clash})
    assert "already registered by plugin 'builtin'" in str(err.value)
    assert err.value.plugin == "clash"


def test_duplicate_entry_point_component_keeps_the_first(fake_distribution, hiveframe_host_factory):
    fake_distribution("dup-a", {"dupa": "dupa_plugin"}, modules={"dupa_plugin": gen_source("dup_gen")})
    fake_distribution("dup-b", {"dupb": "dupb_plugin"}, modules={"dupb_plugin": gen_source("dup_gen")})
    host = hiveframe_host_factory()
    statuses = sorted([host.infos["dupa"].status, host.infos["dupb"].status])
    assert statuses == ["error", "ok"]
    loser = host.infos["dupa"] if host.infos["dupa"].status == "error" else host.infos["dupb"]
    assert "already registered" in loser.message
    assert host.registration("table_generator", "dup_gen").plugin in ("dupa", "dupb")


def test_two_classes_with_one_name_in_one_plugin_are_rejected(hiveframe_host_factory):
    a, b = generator_class("twin"), generator_class("twin")
    with pytest.raises(PluginError, match="both named 'twin'"):
        hiveframe_host_factory(plugins={"twins": plugin_with(hiveframe_register_table_generators=lambda: [a, b])})


def test_registering_something_that_is_not_a_component_is_rejected(hiveframe_host_factory):
    with pytest.raises(PluginError, match="not a TableGenerator subclass"):
        hiveframe_host_factory(plugins={"odd": plugin_with(hiveframe_register_table_generators=lambda: [dict])})


def test_two_plugins_with_the_same_name(hiveframe_host_factory):
    host = hiveframe_host_factory()
    host.register(plugin_with(hiveframe_register_table_generators=lambda: []), name="same")
    with pytest.raises(PluginError, match="already registered"):
        host.register(plugin_with(hiveframe_register_table_generators=lambda: []), name="same")


def test_unknown_generator_name_has_a_did_you_mean(hiveframe_host):
    with pytest.raises(UnknownComponentError) as err:
        hiveframe_host.create("table_generator", "gausian_copula")
    assert isinstance(err.value, ConfigError)
    assert "no table generator named 'gausian_copula'" in str(err.value)
    assert "did you mean 'gaussian_copula'" in str(err.value)


def test_unknown_kind_and_bad_parameters(hiveframe_host):
    with pytest.raises(ConfigError, match="unknown component kind"):
        hiveframe_host.create("table_generators", "gaussian_copula")
    with pytest.raises(ConfigError, match="no parameter"):
        hiveframe_host.create("table_generator", "gaussian_copula", {"no_such_parameter": 1})


def test_create_from_class_and_instance(hiveframe_host):
    inst = ResampleGenerator()
    assert hiveframe_host.create("table_generator", inst) is inst
    assert isinstance(hiveframe_host.create("table_generator", ResampleGenerator, {"match_context": False}),
                      ResampleGenerator)
    with pytest.raises(ConfigError, match="given with an instance"):
        hiveframe_host.create("table_generator", inst, {"match_context": False})
    with pytest.raises(ConfigError, match="is not a Reader"):
        hiveframe_host.create("reader", inst)


def test_hosts_do_not_share_registries(hiveframe_host_factory):
    one = hiveframe_host_factory(plugins={"p": plugin_with(
        hiveframe_register_table_generators=lambda: [generator_class("only_in_one")])})
    two = hiveframe_host_factory()
    assert "only_in_one" in one.names("table_generator")
    assert "only_in_one" not in two.names("table_generator")


# -- the facade and execution hooks ---------------------------------------------------------------
def test_resolve_reader_asks_other_plugins_before_the_builtin(hiveframe_host_factory, tmp_path):
    seen = []

    def resolve(source):
        seen.append(source)
        return "memory" if source == "magic" else None

    host = hiveframe_host_factory(plugins={"resolver": plugin_with(hiveframe_resolve_reader=resolve)})
    assert host.hooks.resolve_reader(source="magic") == "memory"
    assert host.hooks.resolve_reader(source=str(tmp_path)) == "folder"  # our plugin passed; builtin answered
    assert seen == ["magic", str(tmp_path)]


def test_validate_metadata_marks_problems_with_the_plugin(hiveframe_host_factory):
    from hiveframe.errors import Problem
    from hiveframe.metadata import Column, ColumnKind, Metadata, Table

    plugin = plugin_with(hiveframe_validate_metadata=lambda metadata: [
        Problem("too few tables for my taste", table=metadata.table_names[0])])
    host = hiveframe_host_factory(plugins={"picky": plugin})
    meta = Metadata(tables=(Table(name="t", columns=(Column(name="x", kind=ColumnKind.NUMERICAL, dtype="double"),)),))
    problems = host.hooks.validate_metadata(metadata=meta)
    mine = [p for p in problems if p.plugin == "picky"]
    assert len(mine) == 1 and mine[0].table == "t"
    assert "[from plugin picky]" in mine[0].render()


def test_wrapper_hooks_wrap_fit_and_sample(hiveframe_host_factory):
    from hiveframe.testing.conformance import sample_metadata, sample_table

    calls = []

    class Timing:
        @hookimpl(wrapper=True)
        def hiveframe_fit_table(self, table_name):
            calls.append(("fit-before", table_name))
            result = yield
            calls.append(("fit-after", table_name, result.is_fitted))
            return result

        @hookimpl(wrapper=True)
        def hiveframe_sample_table(self, table_name, num_rows):
            result = yield
            calls.append(("sample", table_name, num_rows, result.num_rows))
            return result

    host = hiveframe_host_factory(plugins={"timing": Timing()})
    data = sample_table(30)
    gen = host.hooks.fit_table(table_name="people", generator=ResampleGenerator(), data=data,
                               table=sample_metadata(data), context_columns=(), seed=1)
    out = host.hooks.sample_table(table_name="people", generator=gen, num_rows=7, seed=2)
    assert out.num_rows == 7
    assert calls == [("fit-before", "people"), ("fit-after", "people", True), ("sample", "people", 7, 7)]


def test_unavailable_warning_is_said_once_per_process(fake_distribution, hiveframe_host_factory, caplog):
    fake_distribution("hf-once", {"once": "once_plugin"}, modules={
        "once_plugin": gen_source("once_gen", requires=("not_a_real_module",), extra="x")})
    with caplog.at_level(logging.DEBUG, logger="hiveframe"):
        for _ in range(3):
            hiveframe_host_factory()
    said = [r for r in caplog.records if "once" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
