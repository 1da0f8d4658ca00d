"""Readers, writers, linkage models, validators and privacy wrappers: the checks their bases make."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import (
    Database,
    PrivacyWrapper,
    Reader,
    TableGenerator,
    ValidationResult,
    Validator,
    Writer,
)
from hiveframe.errors import ConfigError, NotFittedError, PluginError, SourceError
from hiveframe.testing.conformance import (
    BootstrapGenerator,
    check_linkage_model,
    check_privacy_wrapper,
    check_validator,
)
from hiveframe.testing.reference import EmpiricalLinkage


@attrs.define(kw_only=True, eq=False)
class DictReader(Reader):
    name: ClassVar[str] = "dict_reader"

    @classmethod
    def claims(cls, source):
        return isinstance(source, dict)

    def _read(self, source, *, tables):
        if "explode" in source:
            raise OSError("disk on fire")
        return Database({k: v for k, v in source.items() if tables is None or k in tables})


@attrs.define(kw_only=True, eq=False)
class ListWriter(Writer):
    name: ClassVar[str] = "list_writer"
    formats: ClassVar[tuple[str, ...]] = ("list",)

    def _write(self, tables, target, *, metadata, provenance):
        target.append((sorted(tables), provenance))
        return len(target)


def test_database_lookup_names_the_missing_table():
    db = Database({"Track": pa.table({"a": [1]})})
    assert "Track" in db and len(db) == 1 and list(db) == ["Track"] and db.names == ["Track"]
    with pytest.raises(SourceError) as err:
        db["Tracks"]
    assert "no table 'Tracks'" in str(err.value) and "did you mean 'Track'" in str(err.value)


def test_reader_checks_requested_tables_and_wraps_errors():
    src = {"a": pa.table({"x": [1]}), "b": pa.table({"y": [2]})}
    assert DictReader().read(src, tables=["a"]).names == ["a"]
    with pytest.raises(SourceError, match="has no table"):
        DictReader().read(src, tables=["a", "zzz"])
    with pytest.raises(PluginError, match="read failed: OSError: disk on fire"):
        DictReader().read({"explode": 1})


def test_writer_accepts_database_or_mapping():
    target: list = []
    ListWriter().write(Database({"t": pa.table({"x": [1]})}), target, provenance={"seed": 1})
    ListWriter().write({"u": pa.table({"x": [1]})}, target)
    assert target == [(["t"], {"seed": 1}), (["u"], None)]


def test_linkage_model_checks():
    parents = pa.table({"x": [1.0, 2.0, 3.0]})
    model = EmpiricalLinkage()
    with pytest.raises(NotFittedError):
        model.sample(parents)
    with pytest.raises(ConfigError, match="one count per parent row"):
        model.fit(parents, np.array([1, 2]))
    with pytest.raises(ConfigError, match="non-negative"):
        model.fit(parents, np.array([1, -1, 0]))
    model.fit(parents, np.array([0, 1, 5]), seed=0)
    assert set(model.sample(parents, seed=1).tolist()) <= {0, 1, 5}

    @attrs.define(kw_only=True, eq=False)
    class Short(EmpiricalLinkage):
        name: ClassVar[str] = "short"

        def _sample(self, parents, *, seed):
            return np.zeros(parents.num_rows + 1)

    short = Short().fit(parents, np.array([1, 1, 1]))
    with pytest.raises(ConfigError, match=r"returned \(4,\), expected \(3,\)"):
        short.sample(parents)


def test_reference_linkage_conforms():
    assert "fits and samples parents without feature columns" in check_linkage_model(EmpiricalLinkage).passed


@attrs.define(kw_only=True, eq=False)
class RowCount(Validator):
    name: ClassVar[str] = "row_count"

    def _validate(self, real, synthetic, metadata, context):
        ratio = sum(t.num_rows for t in synthetic.values()) / max(1, sum(t.num_rows for t in real.values()))
        return ValidationResult(self.name, scores={"row_ratio": ratio},
                                status="pass" if 0.9 <= ratio <= 1.1 else "warn", summary=f"{ratio:.2f}")


def test_validator_result_and_conformance():
    result = RowCount().validate({"t": pa.table({"x": [1, 2]})}, {"t": pa.table({"x": [3]})}, metadata=None)
    assert result.to_dict() == {"validator": "row_count", "scores": {"row_ratio": 0.5}, "status": "warn",
                                "summary": "0.50", "details": {}}
    assert "returns a well-formed ValidationResult" in check_validator(RowCount).passed


@attrs.define(kw_only=True, eq=False)
class Tagging(PrivacyWrapper):
    """Toy wrapper: returns the generator unchanged and records that it saw it."""

    name: ClassVar[str] = "tagging"
    _wrapped: list = attrs.field(factory=list, init=False)

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        if not isinstance(generator, BootstrapGenerator):
            raise TypeError("only bootstrap generators")
        self._wrapped.append(generator.name)
        return generator

    def report(self):
        return {"wrapped": self._wrapped, "epsilon": None}


def test_privacy_wrapper_wraps_errors_and_conforms():
    with pytest.raises(PluginError, match="wrap failed: TypeError: only bootstrap"):
        Tagging().wrap(EmpiricalLinkage())  # type: ignore[arg-type]
    assert "report() is a JSON-able dict" in check_privacy_wrapper(Tagging).passed
