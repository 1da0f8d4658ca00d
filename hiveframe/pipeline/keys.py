"""Keys of generated tables: primary keys in the real key's format, foreign keys that resolve.

(first version: unique primary keys and foreign keys drawn from the generated parent keys; the
relational engine replaces the foreign-key part with linkage models)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Metadata, Table


def fill_keys(metadata: Metadata, table: Table, generated: pa.Table, done: dict[str, pa.Table], *,
              seed: int) -> pa.Table:
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n = generated.num_rows
    columns: dict[str, pa.Array] = {}
    for col in table.primary_key:
        columns[col] = pa.array(np.arange(1, n + 1), type=pa.int64())
    for fk in metadata.parents_of(table.name):
        parent = done.get(fk.parent_table)
        for child_col, parent_col in zip(fk.child_columns, fk.parent_columns):
            if parent is None:  # self-reference: no parent yet
                columns[child_col] = pa.nulls(n, type=pa.int64())
                continue
            keys = parent.column(parent_col)
            idx = rng.integers(0, len(keys), size=n)
            columns[child_col] = keys.take(pa.array(idx))
    out = []
    for c in table.columns:
        if c.name in columns:
            out.append(columns[c.name])
        elif c.name in generated.column_names:
            out.append(generated.column(c.name))
        else:
            out.append(pa.nulls(n))
    return pa.table(out, names=table.column_names)
