"""What every hiveframe_validate validator shares: parameters, input checks, score bands."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ValidationContext, ValidationResult, Validator
from hiveframe_validate._frame import analysed_columns, as_tables, check_inputs, select_tables

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Metadata, Table

STATUS_ORDER = {"fail": 3, "warn": 2, "pass": 1, "info": 0}


def _tables_tuple(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def band(metric: str, value: float, *, good: float, poor: float, higher_is_better: bool = True,
         table: str | None = None, label: str | None = None) -> dict[str, Any]:
    """Put ``value`` in a pass/warn/fail band: pass at ``good`` or better, fail beyond ``poor``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        status = "info"
    elif higher_is_better:
        status = "pass" if value >= good else ("fail" if value < poor else "warn")
    else:
        status = "pass" if value <= good else ("fail" if value > poor else "warn")
    if higher_is_better:
        rule = f"pass \u2265 {good:g}, fail < {poor:g}"
    else:
        rule = f"pass \u2264 {good:g}, fail > {poor:g}"
    return {"metric": metric, "label": label or metric, "table": table,
            "value": None if status == "info" else float(value), "status": status, "rule": rule}


def worst(statuses: Iterable[str]) -> str:
    found = list(statuses)
    return max(found, key=lambda s: STATUS_ORDER.get(s, 0)) if found else "info"


def nanmean(values: Iterable[float]) -> float:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else math.nan


def nanmin(values: Iterable[float]) -> float:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.min()) if len(arr) else math.nan


def nanmax(values: Iterable[float]) -> float:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.max()) if len(arr) else math.nan


@attrs.define(kw_only=True, eq=False)
class BaseValidator(Validator):
    """A validator over some or all tables of a database, sampling large tables.

    ``tables`` limits the tables looked at (default: all in the metadata); ``sample_size`` caps the
    rows used per table and side (``None``: all rows), and the rows used are stated in the result;
    ``seed`` makes sampling and models repeatable.
    """

    extra: ClassVar[str | None] = "validate"
    #: one-line description for the report.
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""

    tables: tuple[str, ...] | None = attrs.field(default=None, converter=_tables_tuple)
    sample_size: int | None = 20_000
    seed: int = 0

    def _validate(self, real: dict[str, pa.Table], synthetic: dict[str, pa.Table], metadata: Metadata,
                  context: ValidationContext) -> ValidationResult:
        """The run's ``sample_size`` and ``seed`` (when given) over this validator's own, then :meth:`_evaluate`."""
        changes = {name: value for name, value in (("sample_size", context.sample_size), ("seed", context.seed))
                   if value is not None}
        configured = attrs.evolve(self, **changes) if changes else self
        return configured._evaluate(real, synthetic, metadata, context)

    def _evaluate(self, real: dict[str, pa.Table], synthetic: dict[str, pa.Table], metadata: Metadata,
               context: ValidationContext) -> ValidationResult:
        raise NotImplementedError

    def _inputs(self, real: Mapping[str, Any], synthetic: Mapping[str, Any], metadata: Metadata,
                columns_of: Callable[[Table], Iterable[str]] | None = None
                ) -> tuple[dict[str, pa.Table], dict[str, pa.Table], list[str]]:
        """Arrow tables on both sides and the table names to look at, after the shared checks."""
        real_t = as_tables(real, "real")
        synth_t = as_tables(synthetic, "synthetic")
        names = select_tables(metadata, self.tables)
        if columns_of is None:
            def columns_of(table: Table) -> list[str]:
                return [c.name for c in analysed_columns(metadata, table)]
        check_inputs(self.name, real_t, synth_t, metadata, names, columns_of)
        return real_t, synth_t, names

    def _rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), salt])

    def _result(self, scores: dict[str, float], bands: list[dict[str, Any]], details: dict[str, Any],
                summary: str) -> ValidationResult:
        details = {"title": self.title, "description": self.description, "bands": bands,
                   "parameters": self.get_params(), **details}
        return ValidationResult(validator=self.name, scores=scores, status=worst(b["status"] for b in bands),
                                summary=summary, details=details)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"
