"""Table generators: learn one table's joint distribution and sample from it.

A generator is fitted on a table's modelled columns (keys, ids and PII are handled by the engine, not
by generators) joined with a bounded set of *context* columns taken from parent rows. When sampling,
``context`` gives one row of context per row to generate, and ``conditions`` fixes some columns to
given values (for example every row with ``income = ">50K"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.components.base import Component, ComponentState
from hiveframe.errors import ConfigError, DataError, NotFittedError, Problem

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.privacy import PrivateTraining
    from hiveframe.components.transformers import Transformer
    from hiveframe.metadata import Table

#: A training callback receives one mapping per epoch/step: table, epoch, losses, elapsed seconds...
TrainingCallback = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class FitPart:
    """One independent piece of a generator's fit (e.g. one column batch of a wide table).

    A parallel trainer (the Spark plugin's) fits ``generator`` on ``data`` like any table generator,
    wherever it likes, and hands the fitted pieces back through :meth:`TableGenerator.join_parts`.
    """

    key: str
    generator: TableGenerator
    data: pa.Table
    table: Table
    context_columns: tuple[str, ...] = ()
    seed: int | None = None


@attrs.define(kw_only=True, eq=False)
class TableGenerator(Component):
    """Base of every table generator.

    ``transformers`` overrides the encoding of columns, keyed by column name or by column kind
    (``"numerical"``, ``"datetime"``...). Generators that do not encode columns ignore it.
    """

    kind: ClassVar[str] = "table_generator"
    #: whether ``sample`` honours ``context`` and ``conditions``.
    conditional: ClassVar[bool] = True
    #: whether ``fit_private`` is implemented (a differentially private wrapper refuses the others).
    supports_dp: ClassVar[bool] = False
    #: whether it learns by gradient descent on minibatches (needs hundreds of rows to learn anything):
    #: a pipeline gives tables of a few dozen rows a statistical generator instead, unless told otherwise.
    neural: ClassVar[bool] = False

    transformers: dict[str, Transformer] = attrs.field(factory=dict)
    _table: Table | None = attrs.field(default=None, init=False)
    _context_columns: tuple[str, ...] = attrs.field(default=(), init=False)

    # -- public API ------------------------------------------------------------------------------
    def fit(
        self,
        data: pa.Table,
        table: Table,
        *,
        context_columns: Sequence[str] = (),
        seed: int | None = None,
        callback: TrainingCallback | None = None,
        workdir: Path | None = None,
    ) -> TableGenerator:
        """Learn ``data`` (described by ``table``; ``context_columns`` are conditioning inputs)."""
        self.check_available()
        _check_fit_input(data, table, context_columns)
        self._call("fit", self._fit, data, table, context_columns=tuple(context_columns), seed=seed,
                   callback=callback, workdir=workdir)
        self._table = table
        self._context_columns = tuple(context_columns)
        return self

    def fit_private(
        self,
        data: pa.Table,
        table: Table,
        *,
        private: PrivateTraining,
        context_columns: Sequence[str] = (),
        seed: int | None = None,
        callback: TrainingCallback | None = None,
        workdir: Path | None = None,
    ) -> TableGenerator:
        """Learn ``data`` with differential privacy, through ``private`` only (see :class:`PrivateTraining`).

        Called by a differentially private wrapper, never by users. ``data`` are the real rows cleaned
        into the released domains; a generator may touch them only through ``private.plan(...)`` or
        ``private.release(...)``, and fits everything else on ``private.surrogate``.
        """
        self.check_available()
        if not type(self).supports_dp:
            raise ConfigError(f"generator {self.name!r} cannot train with differential privacy",
                              hint="use a generator whose class sets supports_dp = True")
        _check_fit_input(data, table, context_columns)
        self._call("fit", self._fit_private, data, table, context_columns=tuple(context_columns), seed=seed,
                   callback=callback, workdir=workdir, private=private)
        self._table = table
        self._context_columns = tuple(context_columns)
        return self

    def fit_parts(self, data: pa.Table, table: Table, *, context_columns: Sequence[str] = (),
                  seed: int | None = None) -> list[FitPart] | None:
        """The independent pieces this fit splits into, for a trainer that fits them elsewhere; ``None``
        (the default): the fit is one piece, call :meth:`fit`. A generator that returns parts also
        implements :meth:`join_parts`, which makes it fitted from the fitted parts."""
        return None

    def join_parts(self, fitted: Mapping[str, TableGenerator]) -> None:
        """Become fitted from the parts of :meth:`fit_parts`, fitted, by key."""
        raise NotImplementedError(f"generator {self.name!r} does not split its fit into parts")

    def sample(
        self,
        num_rows: int | None = None,
        *,
        context: pa.Table | None = None,
        conditions: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> pa.Table:
        """Sample rows: ``num_rows`` of them, or one per row of ``context``.

        Returns the table's non-context columns, in metadata order, with their metadata types.
        """
        table = self.fitted_table
        if context is None and self._context_columns:
            raise ConfigError(
                f"generator for table {table.name!r} was fitted with context columns "
                f"{list(self._context_columns)} and needs a context table to sample",
            )
        if context is not None:
            missing = [c for c in self._context_columns if c not in context.column_names]
            if missing:
                raise ConfigError(f"context for table {table.name!r} lacks column(s) {missing}")
            if num_rows is not None and num_rows != context.num_rows:
                raise ConfigError(f"num_rows={num_rows} but context has {context.num_rows} rows")
            num_rows = context.num_rows
        if num_rows is None or num_rows < 0:
            raise ConfigError(f"num_rows must be a non-negative integer, got {num_rows!r}")
        conditions = dict(conditions or {})
        unknown = [c for c in conditions if not table.has_column(c) or c in self._context_columns]
        if unknown:
            raise ConfigError(f"conditions name column(s) {unknown} that table {table.name!r} does not model")
        if conditions and not self.conditional:
            raise ConfigError(f"generator {self.name!r} cannot sample with conditions")
        return self._call("sample", self._sample, int(num_rows), context=context, conditions=conditions,
                          seed=seed)

    @property
    def is_fitted(self) -> bool:
        return self._table is not None

    @property
    def fitted_table(self) -> Table:
        if self._table is None:
            raise NotFittedError(f"generator {self.name!r} used before fit()")
        return self._table

    @property
    def context_columns(self) -> tuple[str, ...]:
        return self._context_columns

    def manifest_entry(self) -> dict[str, Any]:
        """What a saved model's manifest records about this fitted generator (e.g. a layout); {} for nothing.

        The manifest is what a reader of a model folder looks at first; the state itself stays in the
        component files.
        """
        return {}

    # -- state -----------------------------------------------------------------------------------
    def get_state(self) -> ComponentState:
        state = self._get_state()
        state.values["__table__"] = self.fitted_table.to_dict()
        state.values["__table_name__"] = self.fitted_table.name
        state.values["__context_columns__"] = list(self._context_columns)
        return state

    def set_state(self, state: ComponentState) -> None:
        from hiveframe.metadata.model import Table

        self._table = Table.from_dict(state.values["__table_name__"], state.values["__table__"])
        self._context_columns = tuple(state.values["__context_columns__"])
        super().set_state(state)

    # -- to implement ----------------------------------------------------------------------------
    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        raise NotImplementedError

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        raise NotImplementedError

    def _fit_private(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
                     callback: TrainingCallback | None, workdir: Path | None, private: PrivateTraining) -> None:
        raise NotImplementedError


def _check_fit_input(data: pa.Table, table: Table, context_columns: Sequence[str]) -> None:
    problems = []
    for name in table.column_names:
        if name not in data.column_names:
            problems.append(Problem("column described in metadata is missing from the data",
                                    table=table.name, column=name))
    for name in context_columns:
        if not table.has_column(name):
            problems.append(Problem("context column is not described in the table metadata",
                                    table=table.name, column=name))
    DataError.raise_if_any(problems)
