"""The Component base: declared parameters, optional dependencies, state containers, error wrapping."""

from __future__ import annotations

import json
from typing import ClassVar

import attrs
import numpy as np
import pytest

from hiveframe.components import Component, ComponentState
from hiveframe.errors import ConfigError, MissingDependencyError, NotFittedError, PluginError


@attrs.define(kw_only=True, eq=False)
class Knobs(Component):
    name: ClassVar[str] = "knobs"
    kind: ClassVar[str] = "table_generator"
    epochs: int = attrs.field(default=3, validator=attrs.validators.instance_of(int))
    sizes: tuple = (8, 8)
    scale: float = 1.0
    _secret: int = attrs.field(default=0, init=False)


@attrs.define(kw_only=True, eq=False)
class NeedsExtra(Component):
    name: ClassVar[str] = "needs_extra"
    requires: ClassVar[tuple[str, ...]] = ("json", "not_a_real_module")
    extra: ClassVar[str | None] = "fancy"


@attrs.define(kw_only=True, eq=False)
class NeedsModule(Component):
    name: ClassVar[str] = "needs_module"
    requires: ClassVar[tuple[str, ...]] = ("not_a_real_module",)


def test_parameters_are_the_public_attrs_fields():
    assert Knobs.parameter_names() == ["epochs", "sizes", "scale"]


def test_get_params_is_json_ready():
    params = Knobs(sizes=(np.int64(4), 5), scale=np.float32(0.5)).get_params()
    assert params == {"epochs": 3, "sizes": [4, 5], "scale": 0.5}
    assert json.loads(json.dumps(params)) == params


def test_from_params_round_trip_and_unknown_names():
    again = Knobs.from_params(Knobs(epochs=7).get_params())
    assert again.epochs == 7
    with pytest.raises(ConfigError) as err:
        Knobs.from_params({"epoch": 5})
    assert "table_generator 'knobs' has no parameter(s) 'epoch'" in str(err.value)
    assert "did you mean 'epochs'" in str(err.value)


def test_from_params_bad_value_is_a_config_error():
    with pytest.raises(ConfigError, match="bad parameter"):
        Knobs.from_params({"epochs": "five"})


def test_missing_requirement_names_the_extra():
    assert NeedsExtra.missing_requirements() == ["not_a_real_module"]
    with pytest.raises(MissingDependencyError) as err:
        NeedsExtra.check_available()
    assert err.value.component == "needs_extra"
    assert "pip install 'hiveframe[fancy]'" in str(err.value)
    with pytest.raises(MissingDependencyError, match="pip install not_a_real_module"):
        NeedsModule.check_available()
    Knobs.check_available()


def test_state_children_nest_values_and_arrays():
    outer = ComponentState(values={"a": 1}, arrays={"w": np.zeros(2)})
    inner = ComponentState(values={"b": 2}, arrays={"m": np.ones(3), "deep/x": np.arange(2)})
    outer.put_child("t0", inner)
    assert set(outer.arrays) == {"w", "t0/m", "t0/deep/x"}
    back = outer.child("t0")
    assert back.values == {"b": 2}
    assert set(back.arrays) == {"m", "deep/x"}
    assert np.array_equal(back.arrays["deep/x"], np.arange(2))
    assert outer.child("missing").values == {} and outer.child("missing").arrays == {}


def test_call_wraps_foreign_errors_and_passes_ours():
    comp = Knobs()

    def boom():
        raise KeyError("column")

    with pytest.raises(PluginError, match="frobnicate failed: KeyError") as err:
        comp._call("frobnicate", boom)
    assert err.value.component == "knobs"

    def ours():
        raise NotFittedError("not yet")

    with pytest.raises(NotFittedError):
        comp._call("x", ours)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        comp._call("x", interrupted)


def test_set_state_wraps_errors():
    @attrs.define(kw_only=True, eq=False)
    class Fragile(Knobs):
        def _set_state(self, state):
            raise IndexError("bad state")

    with pytest.raises(PluginError, match="load state failed: IndexError"):
        Fragile().set_state(ComponentState())
