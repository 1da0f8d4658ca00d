"""Sequence generators: all children of one parent generated together.

A table generator may also implement this protocol. The relational engine then models the table's
driver relationship as sequences instead of a count model (children per parent) plus a row model
(each child drawn alone given its parent's context): the generator learns, per parent, how many
children it has, in which order, and what each looks like given the parent's context and the siblings
before it; when sampling, it is given one context row per generated parent and returns every child,
each with the index of its parent.

The engine decides per table (see :func:`hiveframe.pipeline.engine.RelationalEngine` and
``docs/autoregressive.md``): a generator's ``sequential`` parameter set to ``True`` or ``False``
forces the choice; ``None`` lets the engine's documented rule decide.

Example (the shape of an implementation)::

    class MySequences(TableGenerator):
        name = "my_sequences"
        sequential: bool | None = None

        def fit_sequences(self, data, table, *, parent_index, parents, order_by=None, seed=None,
                          callback=None, workdir=None):
            ...  # data: child rows, grouped by parent (parent_index ascending), in order
            return self

        def sample_sequences(self, parents, *, seed=None):
            ...
            return rows, parent_index
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from hiveframe.components.generators import TrainingCallback
    from hiveframe.metadata import Table


@runtime_checkable
class SequenceGenerator(Protocol):
    """A generator that learns and draws the children of each parent as one sequence."""

    #: True: always model the table as sequences; False: never; None: the engine's rule decides
    sequential: bool | None

    def fit_sequences(self, data: pa.Table, table: Table, *, parent_index: np.ndarray, parents: pa.Table,
                      order_by: str | None = None, seed: int | None = None,
                      callback: TrainingCallback | None = None, workdir: Path | None = None) -> SequenceGenerator:
        """Learn the child rows ``data`` (described by ``table``) as sequences.

        ``parents`` has one row per parent (its context columns; possibly no column), ``parent_index``
        one entry per row of ``data``: the row of ``parents`` it belongs to. Rows of one parent come
        together and in their real order (by ``order_by`` where given, a column of ``data`` that the
        samples must keep ascending within each parent). Parents without children count: they are
        sequences of length 0.
        """
        ...

    def sample_sequences(self, parents: pa.Table, *, seed: int | None = None) -> tuple[pa.Table, np.ndarray]:
        """Children for each row of ``parents``: the rows (the table's modelled columns, in metadata
        order) and, per row, the index of its parent, ascending, rows of one parent in sequence order."""
        ...


def supports_sequences(generator: object) -> bool:
    """Whether ``generator`` implements :class:`SequenceGenerator`."""
    return isinstance(generator, SequenceGenerator)


def learns_sequences_privately(generator: object) -> bool:
    """Whether ``generator`` (a privacy wrapper around a sequence generator) trains sequences under DP
    with one parent's whole sequence as the privacy unit: it says so with a true ``private_sequences``.
    The engine models a table as sequences under DP only then, and only when the table asks for it."""
    return bool(getattr(generator, "private_sequences", False))
