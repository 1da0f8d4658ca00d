"""Synthesizer: the pipeline a user composes, fits, samples, saves and loads.

read -> metadata (detect/validate) -> per table: generator fit (through the fit hook) -> save ->
sample in topological order -> write. The relational engine (linkage, parent context, keys) lives in
this package too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from hiveframe.components import Database, TableGenerator, Transformer
from hiveframe.errors import ConfigError, NotFittedError
from hiveframe.metadata import ColumnKind, Metadata, Table

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import TrainingCallback
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

DEFAULT_GENERATOR = "gaussian_copula"


def modelled_columns(metadata: Metadata, table: Table) -> list[str]:
    """Columns a table generator learns: everything but keys, ids and PII."""
    skip = set(table.primary_key) | metadata.foreign_key_columns(table.name)
    return [
        c.name for c in table.columns
        if c.name not in skip and c.kind not in (ColumnKind.ID, ColumnKind.PII)
    ]


class Synthesizer:
    """Learns a database and generates synthetic copies of it.

    ``generator`` is the default for every table (a registered name or a class); ``generators`` picks
    one per table (a name, a class or a configured instance); ``generator_params`` sets parameters of
    the default, ``table_params`` per table. ``transformers`` overrides column encodings, keyed by
    ``"table.column"`` or by column kind (``"numerical"``...), with a registered name or an instance.
    """

    def __init__(
        self,
        metadata: Metadata | None = None,
        *,
        generator: str | type[TableGenerator] = DEFAULT_GENERATOR,
        generators: Mapping[str, str | TableGenerator | type[TableGenerator]] | None = None,
        generator_params: Mapping[str, Any] | None = None,
        table_params: Mapping[str, Mapping[str, Any]] | None = None,
        transformers: Mapping[str, str | Transformer] | None = None,
        seed: int = 0,
        host: PluginHost | None = None,
    ) -> None:
        from hiveframe.plugins import PluginHost

        if isinstance(generator, TableGenerator):
            raise ConfigError("`generator` (the default for every table) takes a name or a class",
                              hint="pass a configured instance per table with generators={'table': instance}")
        self.host = host or PluginHost()
        self.metadata = metadata
        self.generator = generator
        self.generators = dict(generators or {})
        self.generator_params = dict(generator_params or {})
        self.table_params = {k: dict(v) for k, v in (table_params or {}).items()}
        self.transformers = dict(transformers or {})
        self.seed = int(seed)
        self.table_generators: dict[str, TableGenerator] = {}
        self.table_rows: dict[str, int] = {}

    # -- building components ---------------------------------------------------------------------
    def _generator_for(self, table: Table) -> TableGenerator:
        spec = self.generators.get(table.name, self.generator)
        if isinstance(spec, TableGenerator):
            if self.table_params.get(table.name):
                raise ConfigError(f"table_params for {table.name!r} given with a generator instance",
                                  hint="configure the instance itself")
            gen = spec
        else:
            params = {} if table.name in self.generators else dict(self.generator_params)
            params.update(self.table_params.get(table.name, {}))
            gen = self.host.create("table_generator", spec, params)
        overrides = self._transformer_overrides(table)
        if overrides:
            gen.transformers = {**overrides, **gen.transformers}
        return gen

    def _transformer_overrides(self, table: Table) -> dict[str, Transformer]:
        out: dict[str, Transformer] = {}
        kinds = {k.value for k in ColumnKind}
        for key, spec in self.transformers.items():
            if key in kinds:
                target = key
            elif "." in key and key.split(".", 1)[0] == table.name:
                target = key.split(".", 1)[1]
            else:
                continue
            if isinstance(spec, Transformer):
                # an instance is fitted per table: give each table its own copy
                spec = attrs.evolve(spec)
            out[target] = self.host.create("transformer", spec)
        return out

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, data: Database | Mapping[str, Any] | object, *,
            callback: TrainingCallback | None = None, workdir: str | Path | None = None) -> Synthesizer:
        """Learn every table of ``data`` (a Database, a mapping of tables, or any readable source)."""
        from hiveframe.metadata import detect, validate_data, validate_metadata
        from hiveframe.pipeline.io import as_database

        database = as_database(data, host=self.host)
        if self.metadata is None:
            self.metadata = detect(database)
        validate_metadata(self.metadata, host=self.host)
        database = validate_data(self.metadata, database)
        self.table_generators = {}
        self.table_rows = {}
        for index, name in enumerate(self.metadata.topological_order()):
            table = self.metadata.table(name)
            arrow = database[name]
            self.table_rows[name] = arrow.num_rows
            cols = modelled_columns(self.metadata, table)
            model_table = Table(name=name, columns=tuple(table.column(c) for c in cols))
            generator = self._generator_for(table)
            log.info("fitting table %s (%d rows, %d columns) with %s", name, arrow.num_rows, len(cols),
                     generator.name)
            table_workdir = Path(workdir) / name if workdir is not None else None
            self.host.hooks.fit_table(
                table_name=name, generator=generator, data=arrow.select(cols), table=model_table,
                context_columns=(), seed=self.seed + 1000 * index, callback=callback, workdir=table_workdir,
            )
            self.table_generators[name] = generator
        return self

    # -- sample ----------------------------------------------------------------------------------
    def sample(self, *, scale: float = 1.0, rows: Mapping[str, int] | None = None,
               seed: int | None = None) -> Database:
        """Generate a synthetic database: ``scale`` times the real size, ``rows`` per root table."""
        from hiveframe.pipeline.keys import fill_keys

        metadata = self._require_fitted()
        if scale <= 0:
            raise ConfigError(f"scale must be positive, got {scale}")
        rows = dict(rows or {})
        unknown = [t for t in rows if not metadata.has_table(t)]
        if unknown:
            raise ConfigError(f"--rows names unknown table(s) {unknown}", hint=f"tables: {metadata.table_names}")
        seed = self.seed if seed is None else int(seed)
        out: dict[str, pa.Table] = {}
        for index, name in enumerate(metadata.topological_order()):
            table = metadata.table(name)
            n = rows.get(name, max(1, round(self.table_rows[name] * scale)))
            generated = self.host.hooks.sample_table(
                table_name=name, generator=self.table_generators[name], num_rows=n, seed=seed + 1000 * index,
            )
            out[name] = fill_keys(metadata, table, generated, out, seed=seed + 1000 * index + 7)
        return Database(out)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from hiveframe.pipeline.store import save_synthesizer

        return save_synthesizer(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, host: PluginHost | None = None) -> Synthesizer:
        from hiveframe.pipeline.store import load_synthesizer

        return load_synthesizer(Path(path), host=host)

    def _require_fitted(self) -> Metadata:
        if self.metadata is None or not self.table_generators:
            raise NotFittedError("the synthesizer is not fitted", hint="call fit() or load a model directory")
        return self.metadata
