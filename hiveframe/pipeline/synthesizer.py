"""Synthesizer: the pipeline a user composes, fits, samples, saves and loads.

read -> metadata (detect/validate) -> relational checks -> per table, parents first: linkage models,
context, generator fit (through the fit hook) -> save -> sample in topological order (counts ->
conditional rows -> secondary keys -> keys) -> write. The relational work is done by
:class:`hiveframe.pipeline.engine.RelationalEngine`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from hiveframe.components import Database, PrivacyWrapper, TableGenerator, Transformer
from hiveframe.errors import ConfigError, DataError, MetadataError, NotFittedError, Problem
from hiveframe.metadata import ColumnKind, Metadata, Table
from hiveframe.pipeline.engine import (
    DEFAULT_LINKAGE,
    NULL_HANDLING,
    RelationalEngine,
    modelled_columns,
    pii_columns,
)

if TYPE_CHECKING:
    from hiveframe.components import TrainingCallback
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

DEFAULT_GENERATOR = "gaussian_copula"

__all__ = ["DEFAULT_GENERATOR", "Synthesizer", "modelled_columns"]


class Synthesizer:
    """Learns a database and generates synthetic copies of it.

    ``generator`` is the default for every table (a registered name or a class); ``generators`` picks
    one per table (a name, a class or a configured instance); ``generator_params`` sets parameters of
    the default, ``table_params`` per table. ``transformers`` overrides column encodings, keyed by
    ``"table.column"`` or by column kind (``"numerical"``...), with a registered name or an instance.

    Relational settings: ``linkage`` names the linkage model of every relationship (``"conditional"``,
    the default, or ``"empirical"``; ``linkage_params`` its parameters); ``max_context_columns`` bounds
    how many parent columns condition each child table; ``max_summary_columns`` how many summaries of
    the children it drives (mean or most common value of the child columns whose siblings agree) a
    parent table learns per relationship (0: none); ``drop_orphans`` drops rows whose foreign key has
    no parent instead of refusing the data.

    Privacy (the ``privacy`` plugin): PII columns (``ColumnKind.PII``) never reach a generator; every
    table that has some gets its generator wrapped by one ``pii`` wrapper shared by all tables
    (``pii``: its parameters, e.g. ``{"strategies": {"Customer.Email": "hash"}, "consistent": True}``,
    or a configured wrapper; ``False``: PII columns come out empty). ``dp`` turns on differential
    privacy for the whole database, per root entity (the ``dp`` wrapper's parameters, e.g.
    ``{"epsilon": 3, "max_children": 20}``, or a configured wrapper); what was spent is in
    :meth:`privacy_report` and in the saved model's manifest. Under DP the metadata must be declared:
    ``metadata_detected=True`` (set by ``fit`` itself when it detects the metadata) is refused unless
    the ``dp`` options say ``detect_metadata: True`` (then reported as outside the guarantee).
    ``null_handling`` is ``"model"`` (nulls are learnt, the default), ``"mean"`` (replaced by the
    column mean, or most common value) or ``"drop"`` (incomplete rows are left out of training), for
    every table or per table (``{"table": "drop", "*": "model"}``).
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
        linkage: str = DEFAULT_LINKAGE,
        linkage_params: Mapping[str, Any] | None = None,
        max_context_columns: int = 5,
        max_summary_columns: int = 2,
        drop_orphans: bool = False,
        seed: int = 0,
        host: PluginHost | None = None,
        pii: Mapping[str, Any] | PrivacyWrapper | bool | None = None,
        dp: Mapping[str, Any] | PrivacyWrapper | None = None,
        null_handling: str | Mapping[str, str] = "model",
        metadata_detected: bool = False,
    ) -> None:
        from hiveframe.plugins import PluginHost

        if isinstance(generator, TableGenerator):
            raise ConfigError("`generator` (the default for every table) takes a name or a class",
                              hint="pass a configured instance per table with generators={'table': instance}")
        if int(max_context_columns) < 0:
            raise ConfigError(f"max_context_columns must be >= 0, got {max_context_columns}")
        self.host = host or PluginHost()
        self.metadata = metadata
        #: the metadata was detected from the data (by the caller, or by fit() when none was given)
        self.metadata_detected = bool(metadata_detected)
        self.generator = generator
        self.generators = dict(generators or {})
        self.generator_params = dict(generator_params or {})
        self.table_params = {k: dict(v) for k, v in (table_params or {}).items()}
        self.transformers = dict(transformers or {})
        self.linkage = linkage
        self.linkage_params = dict(linkage_params or {})
        self.max_context_columns = int(max_context_columns)
        self.max_summary_columns = int(max_summary_columns)
        self.drop_orphans = bool(drop_orphans)
        self.seed = int(seed)
        self.table_generators: dict[str, TableGenerator] = {}
        self.table_rows: dict[str, int] = {}
        self.engine: RelationalEngine | None = None
        #: rows dropped as orphans in the last fit, per table.
        self.dropped_orphans: dict[str, int] = {}
        self.report_path: Path | None = None
        self.host.registration("linkage_model", linkage)  # unknown names fail now, with a hint
        self.null_handling = _null_handling(null_handling)
        self.pii_wrapper: PrivacyWrapper | None = self._wrapper("pii", pii) if pii not in (None, False) else None
        self._pii_auto = pii is None
        self.dp_wrapper: PrivacyWrapper | None = self._wrapper("dp", dp) if dp is not None else None
        #: what the privacy wrappers spent and did (from the fit, or the loaded manifest)
        self._privacy_report: dict[str, Any] | None = None

    def _wrapper(self, name: str, spec: Any) -> PrivacyWrapper:
        if isinstance(spec, PrivacyWrapper):
            return spec
        if spec is True:
            spec = {}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"`{name}` takes the {name!r} wrapper's parameters (a mapping) or a wrapper, "
                              f"got {type(spec).__name__}")
        try:
            self.host.registration("privacy_wrapper", name)
        except ConfigError:
            raise ConfigError(f"`{name}` needs the privacy plugin", hint="pip install 'hiveframe[privacy]'") from None
        return self.host.create("privacy_wrapper", name, dict(spec))

    def privacy_report(self) -> dict[str, Any]:
        """What the privacy wrappers did: PII strategies, and per table the epsilon spent under DP."""
        if self._privacy_report is not None:
            return dict(self._privacy_report)
        out: dict[str, Any] = {}
        if self.pii_wrapper is not None:
            out["pii"] = self.pii_wrapper.report()
        if self.dp_wrapper is not None:
            out["dp"] = self.dp_wrapper.report()
        return out

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
        if self.dp_wrapper is not None:
            gen = self.dp_wrapper.wrap(gen)
        if self.pii_wrapper is not None and self.metadata is not None and pii_columns(self.metadata, table):
            gen = self.pii_wrapper.wrap(gen)
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
            callback: TrainingCallback | None = None, workdir: str | Path | None = None,
            drop_orphans: bool | None = None, validate: bool = False,
            report_dir: str | Path = "hiveframe-report", target: str | None = None) -> Synthesizer:
        """Learn every table of ``data`` (a Database, a mapping of tables, or any readable source).

        ``validate=True`` then samples the fitted model once and writes the quality report (HTML and
        JSON, from the validators plugin) to ``report_dir``; ``target`` ("table.column") adds the
        train-on-synthetic utility figures. The report's path is kept in ``report_path``.
        """
        from hiveframe.pipeline.io import as_database

        database = as_database(data, host=self.host)
        if self.metadata is None:
            from hiveframe.metadata import detect

            self.metadata = detect(database)
            self.metadata_detected = True
        database = self._check(self.metadata, database,
                               self.drop_orphans if drop_orphans is None else bool(drop_orphans))
        unknown = [g for g in self.generators if not self.metadata.has_table(g)]
        unknown += [t for t in self.null_handling if t != "*" and not self.metadata.has_table(t)]
        if unknown:
            raise ConfigError(f"generators or null handling given for unknown table(s) {unknown}",
                              hint=f"tables: {self.metadata.table_names}")
        if self._pii_auto and self.pii_wrapper is None and any(pii_columns(self.metadata, t)
                                                               for t in self.metadata.tables):
            self.pii_wrapper = self._default_pii()
        engine = RelationalEngine(self.metadata, self.host, linkage=self.linkage,
                                  linkage_params=self.linkage_params,
                                  max_context_columns=self.max_context_columns,
                                  max_summary_columns=self.max_summary_columns,
                                  pii=self.pii_wrapper, dp=self.dp_wrapper, null_handling=self.null_handling,
                                  metadata_detected=self.metadata_detected)
        self._privacy_report = None
        self.table_generators = engine.fit(
            database, make_generator=self._generator_for, seed=self.seed, callback=callback,
            workdir=Path(workdir) if workdir is not None else None)
        # the real row counts, or under DP the noisy ones the engine released
        self.table_rows = {name: engine.plans[name].real_rows for name in self.table_generators}
        self.engine = engine
        if validate:
            self.report_path = self._write_report(database, Path(report_dir), target)
        return self

    def _default_pii(self) -> PrivacyWrapper | None:
        """The default PII wrapper (fake values), when the privacy plugin can make one."""
        try:
            registration = self.host.registration("privacy_wrapper", "pii")
        except ConfigError:
            registration = None
        if registration is None or not registration.available:
            log.warning("the metadata marks PII columns but the privacy plugin is not available: they will be "
                        "generated empty (pip install 'hiveframe[privacy]' for fake values)")
            return None
        return self.host.create("privacy_wrapper", "pii", {})

    def _write_report(self, database: Database, report_dir: Path, target: str | None) -> Path:
        try:
            from hiveframe_validate.report import validate_synthesizer
        except ImportError:
            raise ConfigError("fit(validate=True) needs the validators plugin",
                              hint="pip install 'hiveframe[validate]'") from None
        return validate_synthesizer(self, database, report_dir, target=target)

    def _check(self, metadata: Metadata, database: Database, drop_orphans: bool) -> Database:
        """The metadata and data checks (hiveframe.metadata.validate), then the engine's own.

        The validator lists every problem at once (and drops orphans when asked); the engine's
        relational checks then catch what only matters for generation (keys the engine relies on).
        """
        from hiveframe.pipeline.checks import relational_problems

        _validate_metadata(metadata, self.host)
        metadata.topological_order()  # a cycle through several tables is named here
        missing = [t for t in metadata.table_names if t not in database]
        if missing:
            raise DataError([Problem("table described in the metadata is missing from the data", table=t,
                                     hint=f"tables in the data: {', '.join(database.names)}")
                             for t in missing])
        before = {t: database[t].num_rows for t in metadata.table_names}
        database = _validate_data(metadata, database, drop_orphans)
        self.dropped_orphans = {t: before[t] - database[t].num_rows for t in metadata.table_names
                                if t in database and database[t].num_rows < before[t]}
        DataError.raise_if_any(relational_problems(metadata, database))
        return database

    # -- sample ----------------------------------------------------------------------------------
    def sample(self, *, scale: float = 1.0, rows: Mapping[str, int] | None = None,
               seed: int | None = None) -> Database:
        """Generate a synthetic database: ``scale`` times the real size, ``rows`` per root table."""
        metadata = self._require_fitted()
        assert self.engine is not None
        if not scale or scale <= 0:
            raise ConfigError(f"scale must be positive, got {scale}")
        rows = dict(rows or {})
        unknown = [t for t in rows if not metadata.has_table(t)]
        if unknown:
            raise ConfigError(f"--rows names unknown table(s) {unknown}", hint=f"tables: {metadata.table_names}")
        bad = {t: n for t, n in rows.items() if not isinstance(n, int) or n < 0}
        if bad:
            raise ConfigError(f"rows must be non-negative integers, got {bad}")
        seed = self.seed if seed is None else int(seed)
        tables = self.engine.sample(self.table_generators, scale=float(scale), rows=rows, seed=seed)
        return Database({name: tables[name] for name in metadata.table_names if name in tables},
                        {t.name: tuple(t.primary_key) for t in metadata.tables if t.primary_key},
                        list(metadata.foreign_keys))

    def describe(self) -> dict[str, Any]:
        """Per table: the driver relationship, secondary keys, context columns, key formats."""
        self._require_fitted()
        assert self.engine is not None
        return self.engine.describe()

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from hiveframe.pipeline.store import save_synthesizer

        return save_synthesizer(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, host: PluginHost | None = None) -> Synthesizer:
        from hiveframe.pipeline.store import load_synthesizer

        return load_synthesizer(Path(path), host=host)

    def _save_extra(self, directory: Path) -> dict[str, Any]:
        from hiveframe.pipeline.store import save_engine

        assert self.engine is not None
        extra = save_engine(self.engine, directory)
        privacy = self.privacy_report()
        if privacy:
            extra["privacy"] = privacy
        return extra

    def _load_extra(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        from hiveframe.pipeline.store import load_engine

        assert self.metadata is not None
        self.engine = load_engine(self, directory, manifest)
        self._privacy_report = dict(manifest.get("privacy") or {})

    def _require_fitted(self) -> Metadata:
        if self.metadata is None or self.engine is None or not self.table_generators:
            raise NotFittedError("the synthesizer is not fitted", hint="call fit() or load a model directory")
        return self.metadata


def _null_handling(spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"mean"`` or ``{"table": "drop", "*": "model"}`` as a mapping (``"*"``: every other table)."""
    modes = {"*": spec} if isinstance(spec, str) else dict(spec)
    bad = {t: m for t, m in modes.items() if m not in NULL_HANDLING}
    if bad:
        raise ConfigError(f"unknown null handling {bad}",
                          hint="'model' (learn nulls, the default), 'mean' (replace by the column mean) or "
                          "'drop' (leave incomplete rows out of training)")
    return modes


def _validate_metadata(metadata: Metadata, host: PluginHost) -> None:
    """The metadata checks of every plugin (hiveframe.metadata.validate_metadata when available)."""
    try:
        from hiveframe.metadata import validate_metadata
    except (ImportError, AttributeError):
        MetadataError.raise_if_any(host.hooks.validate_metadata(metadata=metadata))
        return
    validate_metadata(metadata, host=host)


def _validate_data(metadata: Metadata, database: Database, drop_orphans: bool) -> Database:
    """Data checks of hiveframe.metadata.validate (types, keys, orphans: dropped on request)."""
    try:
        from hiveframe.metadata import validate_data
    except (ImportError, AttributeError):  # the validator is optional for the engine
        validate_data = None
    if validate_data is None:
        if drop_orphans:
            from hiveframe.pipeline.checks import drop_orphans as drop

            database, dropped = drop(metadata, database)
            for table, count in dropped.items():
                log.warning("dropped %d orphan row(s) from table %s", count, table)
        return database
    checked = validate_data(metadata, database, drop_orphans=drop_orphans)
    return checked if isinstance(checked, Database) else database
