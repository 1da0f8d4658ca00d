"""The generator of a table that has nothing to model (only keys: link tables such as ``gmember``).

It is not registered: the engine creates it for such tables, so that their fit and sample still go
through the fit/sample hooks (progress displays, timing) like every other table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.components import TableGenerator

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import TrainingCallback
    from hiveframe.metadata import Table


@attrs.define(kw_only=True, eq=False)
class NoColumnsGenerator(TableGenerator):
    name: ClassVar[str] = "no_columns"

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: TrainingCallback | None, workdir: Path | None) -> None:
        return None

    def _sample(self, num_rows: int, *, context: pa.Table | None, conditions: dict[str, Any],
                seed: int | None) -> pa.Table:
        import pyarrow as pa

        return pa.table({"_": pa.nulls(num_rows)}).drop(["_"])  # no columns, num_rows rows
