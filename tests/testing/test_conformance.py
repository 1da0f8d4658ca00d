"""The conformance kit passes correct components and names exactly what a broken one gets wrong."""

from __future__ import annotations

import random
from typing import ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import ComponentState, Span
from hiveframe.testing.conformance import (
    ConformanceError,
    check_table_generator,
    check_transformer,
    sample_metadata,
    sample_table,
)
from hiveframe.testing.reference import IdentityTransformer, ResampleGenerator


def failures_of(check, component, **kwargs) -> list[str]:
    with pytest.raises(ConformanceError) as err:
        check(component, **kwargs)
    assert isinstance(err.value, AssertionError)  # pytest reports it as a plain test failure
    return err.value.failures


def failed_rules(failures: list[str]) -> set[str]:
    return {f.split(":", 1)[0] for f in failures}


def test_sample_data_is_mixed_and_described():
    data = sample_table(100, seed=1, context=True)
    table = sample_metadata(data)
    kinds = {c.name: c.kind.value for c in table.columns}
    assert kinds == {"age": "numerical", "income": "numerical", "color": "categorical", "member": "boolean",
                     "joined": "datetime", "parent_segment": "categorical", "parent_size": "numerical"}
    assert data.column("income").null_count > 0 and table.column("income").nullable
    assert not table.column("age").nullable
    assert sample_table(100, seed=1).equals(sample_table(100, seed=1))


def test_generator_overriding_public_sample():
    @attrs.define(kw_only=True, eq=False)
    class Overrides(ResampleGenerator):
        name: ClassVar[str] = "overrides"

        def sample(self, num_rows=None, **kwargs):
            return super().sample(num_rows, **kwargs)

    failures = failures_of(check_table_generator, Overrides)
    assert failed_rules(failures) == {"keeps the public methods of the contract"}
    assert "implement _sample instead" in failures[0]


def test_generator_ignoring_the_seed():
    @attrs.define(kw_only=True, eq=False)
    class Unseeded(ResampleGenerator):
        name: ClassVar[str] = "unseeded"

        def _sample(self, num_rows, *, context, conditions, seed):
            return super()._sample(num_rows, context=context, conditions=conditions, seed=random.randrange(10**9))

    rules = failed_rules(failures_of(check_table_generator, Unseeded))
    assert {"same seed, same sample", "same seed, same fit",
            "state round-trips through save_component/load_component"} <= rules


def test_generator_returning_wrong_dtypes():
    @attrs.define(kw_only=True, eq=False)
    class Floaty(ResampleGenerator):
        name: ClassVar[str] = "floaty"

        def _sample(self, num_rows, **kwargs):
            out = super()._sample(num_rows, **kwargs)
            return out.set_column(0, "age", out.column("age").cast(pa.float64()))

    failures = failures_of(check_table_generator, Floaty)
    assert any("column 'age' has type double, metadata says int64" in f for f in failures)


def test_generator_that_forgets_its_state():
    @attrs.define(kw_only=True, eq=False)
    class Forgetful(ResampleGenerator):
        name: ClassVar[str] = "forgetful"

        def _get_state(self):
            return ComponentState()

        def _set_state(self, state):
            pass

    failures = failures_of(check_table_generator, Forgetful)
    assert failed_rules(failures) == {"state round-trips through save_component/load_component"}


def test_generator_inventing_categories():
    @attrs.define(kw_only=True, eq=False)
    class Inventive(ResampleGenerator):
        name: ClassVar[str] = "inventive"
        conditional: ClassVar[bool] = False

        def _sample(self, num_rows, **kwargs):
            out = super()._sample(num_rows, **kwargs)
            return out.set_column(2, "color", pa.array(["purple"] * num_rows, type=pa.string()))

    failures = failures_of(check_table_generator, Inventive)
    assert any("unseen categories ['purple']" in f for f in failures)
    report = check_table_generator(Inventive, check_domains=False)
    assert report.notes == ["conditional = False: context and conditions not checked",
                            "supports_dp = False: private training not checked"]


def test_generator_with_a_parameter_that_is_not_json():
    @attrs.define(kw_only=True, eq=False)
    class Settish(ResampleGenerator):
        name: ClassVar[str] = "settish"
        tags: object = attrs.field(factory=lambda: {1, 2})

    rules = failed_rules(failures_of(check_table_generator, Settish))
    assert "parameters round-trip as JSON through get_params/from_params" in rules


def test_generator_without_a_name():
    @attrs.define(kw_only=True, eq=False)
    class Nameless(ResampleGenerator):
        name: ClassVar[str] = ""

    assert "declares a name and kind" in failed_rules(failures_of(check_table_generator, Nameless))


def test_not_a_generator_at_all():
    with pytest.raises(ConformanceError, match="does not subclass hiveframe.components.generators.TableGenerator"):
        check_table_generator(IdentityTransformer)


def test_instance_with_parameters_is_checked_as_configured():
    report = check_table_generator(ResampleGenerator(match_context=False), num_rows=20)
    assert "builds from declared parameters" in report.passed


def test_transformer_with_lying_spans():
    @attrs.define(kw_only=True, eq=False)
    class Liar(IdentityTransformer):
        name: ClassVar[str] = "liar"

        def _output_spans(self):
            return [Span(3, "scalar")]

    failures = failures_of(check_transformer, Liar)
    assert any("spans say (300, 3)" in f for f in failures)


def test_transformer_with_lossy_reverse():
    @attrs.define(kw_only=True, eq=False)
    class Rounder(IdentityTransformer):
        name: ClassVar[str] = "rounder"

        def _reverse(self, encoded):
            return super()._reverse(np.column_stack([np.round(encoded[:, 0], -3), encoded[:, 1]]))

    failures = failures_of(check_transformer, Rounder)
    assert failed_rules(failures) == {"reverse returns the column's type and values"}
    assert check_transformer(Rounder, round_trip=False).passed


def test_reference_transformer_conforms():
    assert "state round-trips through save_component/load_component" in check_transformer(IdentityTransformer).passed
