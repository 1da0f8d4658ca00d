"""The error tree: collected problems, hints, did-you-mean, and failures wrapped with plugin and component."""

from __future__ import annotations

import types
from typing import ClassVar

import attrs
import pytest

from hiveframe.errors import (
    ConfigError,
    DataError,
    HiveframeError,
    MetadataError,
    MissingDependencyError,
    PluginError,
    Problem,
    ProblemsError,
    UnknownComponentError,
    did_you_mean,
)
from hiveframe.hookspecs import hookimpl
from hiveframe.testing.conformance import sample_metadata, sample_table
from hiveframe.testing.reference import ResampleGenerator


@attrs.define(kw_only=True, eq=False)
class FailingGenerator(ResampleGenerator):
    name: ClassVar[str] = "failing_gen"
    fail_in: str = "fit"

    def _fit(self, data, table, **kwargs):
        if self.fail_in == "fit":
            raise ValueError("cannot invert a singular matrix")
        super()._fit(data, table, **kwargs)

    def _sample(self, num_rows, **kwargs):
        if self.fail_in == "sample":
            raise ZeroDivisionError("division by zero")
        if self.fail_in == "hiveframe":
            raise ConfigError("a deliberate configuration error")
        return super()._sample(num_rows, **kwargs)


@pytest.fixture
def host(hiveframe_host_factory):
    plugin = types.SimpleNamespace(hiveframe_register_table_generators=hookimpl(lambda: [FailingGenerator]))
    return hiveframe_host_factory(plugins={"flaky-plugin": plugin})


def test_error_tree():
    for cls in (ConfigError, DataError, MetadataError, PluginError, MissingDependencyError, UnknownComponentError):
        assert issubclass(cls, HiveframeError)
    assert issubclass(UnknownComponentError, ConfigError)
    assert issubclass(MissingDependencyError, PluginError)
    assert issubclass(DataError, ProblemsError) and issubclass(MetadataError, ProblemsError)


def test_value_error_inside_fit_surfaces_as_plugin_error_naming_plugin_and_component(host):
    gen = host.create("table_generator", "failing_gen")
    data = sample_table(20)
    with pytest.raises(PluginError) as err:
        gen.fit(data, sample_metadata(data))
    exc = err.value
    assert exc.plugin == "flaky-plugin" and exc.component == "failing_gen"
    text = str(exc)
    assert text.startswith("plugin 'flaky-plugin', component 'failing_gen': fit failed: ValueError:")
    assert "cannot invert a singular matrix" in text
    assert "--debug" in text  # the hint says where the traceback is
    assert isinstance(exc.__cause__, ValueError)  # kept for --debug
    assert not gen.is_fitted


def test_errors_inside_sample_are_wrapped_too(host):
    gen = host.create("table_generator", "failing_gen", {"fail_in": "sample"})
    data = sample_table(20)
    gen.fit(data, sample_metadata(data))
    with pytest.raises(PluginError, match="sample failed: ZeroDivisionError"):
        gen.sample(5)


def test_hiveframe_errors_pass_through_unwrapped(host):
    gen = host.create("table_generator", "failing_gen", {"fail_in": "hiveframe"})
    data = sample_table(20)
    gen.fit(data, sample_metadata(data))
    with pytest.raises(ConfigError, match="a deliberate configuration error") as err:
        gen.sample(5)
    assert not isinstance(err.value, PluginError)


def test_fit_through_the_hook_wraps_the_same_way(host):
    data = sample_table(20)
    with pytest.raises(PluginError) as err:
        host.hooks.fit_table(table_name="people", generator=host.create("table_generator", "failing_gen"),
                             data=data, table=sample_metadata(data), context_columns=(), seed=0)
    assert err.value.plugin == "flaky-plugin"


def test_problems_are_collected_and_raised_once():
    problems = [
        Problem("duplicate primary key values (3)", table="Track", column="TrackId", hint="deduplicate"),
        Problem("all values are null", table="Album", column="Notes"),
        Problem("orphan foreign key values (12)", table="InvoiceLine", column="TrackId", row=7, plugin="p"),
    ]
    with pytest.raises(DataError) as err:
        DataError.raise_if_any(iter(problems))
    assert err.value.problems == tuple(problems)
    text = str(err.value)
    assert text.splitlines()[0] == "invalid data (3):"
    assert "  - table 'Track', column 'TrackId': duplicate primary key values (3)" in text
    assert "    hint: deduplicate" in text
    assert "table 'InvoiceLine', column 'TrackId', row 7: orphan foreign key values (12) [from plugin p]" in text
    DataError.raise_if_any([])  # nothing to raise


def test_problem_without_location_and_titles():
    assert Problem("something").render() == "something"
    err = MetadataError([Problem("x")], title="metadata of census")
    assert str(err).startswith("metadata of census (1):")


def test_hint_is_part_of_the_message():
    err = HiveframeError("bad thing", hint="do this")
    assert str(err) == "bad thing\n  hint: do this"
    assert err.message == "bad thing"
    assert str(HiveframeError("plain")) == "plain"


def test_plugin_error_prefix():
    assert str(PluginError("x", plugin="p")) == "plugin 'p': x"
    assert str(PluginError("x", component="c")) == "component 'c': x"
    assert str(PluginError("x")) == "x"


def test_did_you_mean():
    assert did_you_mean("gausian_copula", ["gaussian_copula", "ctgan"]).startswith("did you mean 'gaussian_copula'?")
    assert did_you_mean("zzz", ["ctgan"]) == "registered: ctgan"
    assert did_you_mean("zzz", []) is None
