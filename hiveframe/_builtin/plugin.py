"""The kernel's own plugin: baseline components, default resolution and the execution hooks.

It is registered through the same hooks a third-party plugin uses; it only answers resolution hooks
last, so any other plugin can claim a source first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.hookspecs import hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import TableGenerator, TrainingCallback
    from hiveframe.errors import Problem
    from hiveframe.metadata import Metadata, Table
    from hiveframe.plugins import PluginHost


class BuiltinPlugin:
    """Bound to its host so that default resolution can ask every registered reader/writer."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    # -- discovery -------------------------------------------------------------------------------
    @hookimpl
    def hiveframe_register_readers(self):
        from hiveframe._builtin.io import READERS

        return READERS

    @hookimpl
    def hiveframe_register_writers(self):
        from hiveframe._builtin.io import WRITERS

        return WRITERS

    @hookimpl
    def hiveframe_register_transformers(self):
        from hiveframe._builtin.transformers import TRANSFORMERS

        return TRANSFORMERS

    @hookimpl
    def hiveframe_register_linkage_models(self):
        from hiveframe._builtin.linkage import LINKAGE_MODELS

        return LINKAGE_MODELS

    @hookimpl
    def hiveframe_register_table_generators(self):
        from hiveframe._builtin.copula import GENERATORS

        return GENERATORS

    # -- resolution: ask each registered component whether it claims the source ------------------
    @hookimpl(trylast=True)
    def hiveframe_resolve_reader(self, source: object) -> str | None:
        for reg in self._host.registry.get("reader", {}).values():
            if reg.available and reg.cls.claims(source):
                return reg.name
        return None

    @hookimpl(trylast=True)
    def hiveframe_resolve_writer(self, target: object, format: str | None) -> str | None:
        for reg in self._host.registry.get("writer", {}).values():
            if reg.available and reg.cls.claims(target, format):
                return reg.name
        return None

    # -- metadata --------------------------------------------------------------------------------
    @hookimpl
    def hiveframe_validate_metadata(self, metadata: Metadata) -> Sequence[Problem]:
        from hiveframe.metadata.consistency import metadata_problems

        return metadata_problems(metadata)

    # -- execution -------------------------------------------------------------------------------
    @hookimpl(trylast=True)
    def hiveframe_fit_table(self, table_name: str, generator: TableGenerator, data: pa.Table, table: Table,
                            context_columns: Sequence[str], seed: int | None,
                            callback: TrainingCallback | None, workdir: Path | None) -> TableGenerator:
        return generator.fit(data, table, context_columns=context_columns, seed=seed, callback=callback,
                             workdir=workdir)

    @hookimpl(trylast=True)
    def hiveframe_sample_table(self, table_name: str, generator: TableGenerator, num_rows: int,
                               context: pa.Table | None, conditions: Mapping[str, Any] | None,
                               seed: int | None) -> pa.Table:
        return generator.sample(num_rows, context=context, conditions=conditions, seed=seed)
