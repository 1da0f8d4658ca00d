"""Validators: score synthetic data against real data (fidelity, utility, privacy...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs

from hiveframe.components.base import Component

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.io import Database
    from hiveframe.metadata import Metadata

Status = Literal["pass", "warn", "fail", "info"]


@dataclass
class ValidationResult:
    """One validator's verdict: headline scores, a status band and any detail worth showing."""

    validator: str
    scores: dict[str, float] = field(default_factory=dict)
    status: Status = "info"
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"validator": self.validator, "scores": self.scores, "status": self.status,
                "summary": self.summary, "details": self.details}


@attrs.define(kw_only=True, eq=False)
class Validator(Component):
    kind: ClassVar[str] = "validator"

    def validate(self, real: Mapping[str, pa.Table] | Database, synthetic: Mapping[str, pa.Table] | Database,
                 metadata: Metadata) -> ValidationResult:
        """Score ``synthetic`` against ``real`` (each a Database or a mapping of table name -> table)."""
        self.check_available()
        return self._call("validate", self._validate, _tables(real), _tables(synthetic), metadata)

    def _validate(self, real: dict[str, pa.Table], synthetic: dict[str, pa.Table],
                  metadata: Metadata) -> ValidationResult:
        raise NotImplementedError


def _tables(data: Mapping[str, pa.Table] | Database) -> dict[str, pa.Table]:
    """A plain dict of tables from a Database (which is not a Mapping) or any mapping."""
    tables = getattr(data, "tables", None)
    if isinstance(tables, Mapping):
        return dict(tables)
    if isinstance(data, Mapping):
        return dict(data)
    from hiveframe.errors import ConfigError

    kind = "a single table" if hasattr(data, "num_rows") or hasattr(data, "columns") else type(data).__name__
    raise ConfigError(f"validators compare whole databases, got {kind}",
                      hint="pass a hiveframe Database or a mapping {'table name': table}")
