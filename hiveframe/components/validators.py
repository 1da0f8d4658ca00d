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
    """One validator's verdict, what a report shows of it and what ``report.json`` stores.

    - ``validator``: the validator's registered name.
    - ``scores``: headline figures by name, finite floats (``{"mean_similarity": 0.93}``); a report may
      compare them across runs, so keep their names stable.
    - ``status``: ``"pass"``, ``"warn"`` or ``"fail"`` for a verdict against the validator's own
      thresholds, ``"info"`` for figures without one (the default).
    - ``summary``: one plain-language line for people.
    - ``details``: anything JSON-able worth showing (per-table figures; the first-party validators put
      their per-metric ``bands`` here, each with a ``status`` and the ``rule`` that set it).
    """

    validator: str
    scores: dict[str, float] = field(default_factory=dict)
    status: Status = "info"
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"validator": self.validator, "scores": self.scores, "status": self.status,
                "summary": self.summary, "details": self.details}


@dataclass(frozen=True)
class ValidationContext:
    """The settings of one validation run, handed to every validator's ``_validate``.

    None of it is a validator parameter: the holdout is data (never saved), and the others are the
    run's choices, which a validator applies over its own defaults.

    - ``target``: ``"table.column"`` (or ``"column"`` when one table has it) for train-on-synthetic,
      test-on-real utility figures; ``None``: no target.
    - ``holdout``: real tables the generator never saw (``fit --holdout``), for unbiased utility and
      privacy figures; ``None``: none kept.
    - ``sample_size``: at most this many rows per table and side; ``None``: each validator's own cap.
    - ``seed``: the validators' own sampling and models; ``None``: each validator's own seed.
    """

    target: str | None = None
    holdout: Mapping[str, pa.Table] | None = None
    sample_size: int | None = None
    seed: int | None = None


@attrs.define(kw_only=True, eq=False)
class Validator(Component):
    """Scores synthetic data against real data. Implement ``_validate(real, synthetic, metadata, context)``."""

    kind: ClassVar[str] = "validator"

    def validate(self, real: Mapping[str, pa.Table] | Database, synthetic: Mapping[str, pa.Table] | Database,
                 metadata: Metadata, context: ValidationContext | None = None) -> ValidationResult:
        """Score ``synthetic`` against ``real`` (each a Database or a mapping of table name -> table)."""
        self.check_available()
        return self._call("validate", self._validate, _tables(real), _tables(synthetic), metadata,
                          context or ValidationContext())

    def _validate(self, real: dict[str, pa.Table], synthetic: dict[str, pa.Table],
                  metadata: Metadata, context: ValidationContext) -> ValidationResult:
        raise NotImplementedError


@dataclass
class FilterOutcome:
    """A QA filter's verdict on the synthetic data, and per table the rows it removes (a boolean mask)."""

    result: ValidationResult
    remove: dict[str, Any] = field(default_factory=dict)


@attrs.define(kw_only=True, eq=False)
class QAFilter(Validator):
    """A validator that can also filter: it marks the synthetic rows that fail it.

    As a validator (``validate(real, synthetic, metadata)``) it reports what it would remove. As a
    filter, ``filter(synthetic, metadata, real=..., domains=..., holdout=...)`` returns the rows to
    remove; ``domains`` (what the model recorded at fit, see
    :func:`hiveframe.pipeline.conditions.fit_domains`) stand in for the real data where a filter can
    work from them, and ``needs_real`` filters (memorization) refuse to run without real rows.
    :func:`hiveframe.pipeline.qa.apply_filters` removes the rows, and the children of removed rows.
    """

    #: whether the filter needs real rows (it cannot work from the model's domains alone)
    needs_real: ClassVar[bool] = False

    def filter(self, synthetic: Mapping[str, pa.Table] | Database, metadata: Metadata, *,
               real: Mapping[str, pa.Table] | Database | None = None, domains: Mapping[str, Any] | None = None,
               holdout: Mapping[str, pa.Table] | None = None) -> FilterOutcome:
        self.check_available()
        from hiveframe.errors import ConfigError

        if real is None and (self.needs_real or not domains):
            raise ConfigError(f"QA filter {self.name!r} compares with the real data: pass the real rows",
                              hint="hiveframe sample ... --qa --real SOURCE (the model holds no real rows)")
        return self._call("filter", self._filter, _tables(synthetic), metadata,
                          _tables(real) if real is not None else None, domains, holdout)

    def _validate(self, real: dict[str, pa.Table], synthetic: dict[str, pa.Table],
                  metadata: Metadata, context: ValidationContext) -> ValidationResult:
        holdout = _tables(context.holdout) if context.holdout is not None else None
        return self._filter(synthetic, metadata, real, None, holdout).result

    def _filter(self, synthetic: dict[str, pa.Table], metadata: Metadata, real: dict[str, pa.Table] | None,
                domains: Mapping[str, Any] | None, holdout: Mapping[str, pa.Table] | None) -> FilterOutcome:
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
