"""Synthesizer: the pipeline a user composes, fits, samples, saves and loads.

read -> metadata (detect/validate) -> relational checks -> per table, parents first: linkage models,
context, generator fit (through the fit hook) -> save -> sample in topological order (counts ->
conditional rows -> secondary keys -> keys) -> write. The relational work is done by
:class:`hiveframe.pipeline.engine.RelationalEngine`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from hiveframe.components import Database, PrivacyWrapper, TableGenerator, Transformer
from hiveframe.errors import (
    ConfigError,
    DataError,
    MetadataError,
    NotFittedError,
    PersistenceError,
    Problem,
    did_you_mean,
    os_error_hint,
)
from hiveframe.metadata import ColumnKind, Metadata, Table
from hiveframe.metadata.model import ORPHAN_POLICIES
from hiveframe.pipeline.engine import DEFAULT_LINKAGE, NULL_HANDLING, RelationalEngine
from hiveframe.pipeline.holdout import SMALL_TABLE_ROWS
from hiveframe.pipeline.plan import modelled_columns, pii_columns
from hiveframe.pipeline.rules import check_before_fit as check_rules_before_fit

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
    parent table learns per relationship (0: none). ``orphans`` says what to do with child rows whose
    foreign key has no parent: ``"drop"`` them (and, in cascade, their own children), set their key to
    ``"null"``, or ``"keep"`` them (the engine then generates parent-less rows at the real rate, with
    keys that no generated parent has, while every other key stays intact); ``None`` refuses such data
    with an error that counts them. A policy declared on a foreign key (``ForeignKey.orphans``) wins.
    ``drop_orphans=True`` is ``orphans="drop"``. What was done is logged and kept in
    :attr:`orphan_report`.

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

    Tables of at most ``small_table_rows`` rows (default 100; lookup tables such as genres or media
    types) whose generator would be a neural one (``TableGenerator.neural``: ctgan, tvae) get
    ``gaussian_copula`` instead: a network learns nothing from a few dozen rows and takes seconds per
    table doing it. Naming a generator (or ``table_params``) for the table insists on it;
    ``small_table_rows=0`` turns the rule off. Not applied under ``dp`` (it would use an exact count).

    ``holdout`` (a fraction, e.g. 0.2) keeps that share of the entities out of training (rows of root
    tables larger than a lookup table, with every row below them; see :mod:`hiveframe.pipeline.holdout`),
    so the quality report can compare with real rows the generator never saw. The model records the
    rule, not the rows: :meth:`split_holdout` recomputes the split from the same real data.
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
        orphans: str | None = None,
        seed: int = 0,
        host: PluginHost | None = None,
        pii: Mapping[str, Any] | PrivacyWrapper | bool | None = None,
        dp: Mapping[str, Any] | PrivacyWrapper | None = None,
        null_handling: str | Mapping[str, str] = "model",
        metadata_detected: bool = False,
        holdout: float = 0.0,
        small_table_rows: int = SMALL_TABLE_ROWS,
        force_rules: bool = False,
    ) -> None:
        from hiveframe.plugins import PluginHost

        if isinstance(generator, TableGenerator):
            raise ConfigError("`generator` (the default for every table) takes a name or a class",
                              hint="pass a configured instance per table with generators={'table': instance}")
        for option, value in (("max_context_columns", max_context_columns),
                              ("max_summary_columns", max_summary_columns)):
            if not _is_int(value) or value < 0:
                raise ConfigError(f"{option} must be an integer >= 0, got {value!r}")
        self.host = host or PluginHost()
        if isinstance(generator, str):
            self.host.registration("table_generator", generator)  # a misspelled name fails now, with a hint
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
        if orphans is not None and orphans not in ORPHAN_POLICIES:
            raise ConfigError(f"unknown orphan policy {orphans!r}",
                              hint="'drop' (leave the rows out), 'null' (set their key to null) or 'keep' "
                              "(generate parent-less rows at the real rate)")
        if drop_orphans and orphans not in (None, "drop"):
            raise ConfigError(f"drop_orphans=True contradicts orphans={orphans!r}", hint="give one of them")
        self.orphans = orphans or ("drop" if drop_orphans else None)
        self.drop_orphans = self.orphans == "drop"
        #: per foreign key with orphans in the last fit: {"orphans", "rows", "policy"}
        self.orphan_report: dict[str, dict[str, Any]] = {}
        self.seed = check_seed(seed)
        if not 0.0 <= float(holdout) < 1.0:
            raise ConfigError(f"holdout must be a fraction in [0, 1), got {holdout}")
        self.holdout = float(holdout)
        self.small_table_rows = int(small_table_rows)
        #: enforce declared rules that the real rows break (refused by default, naming the share of rows)
        self.force_rules = bool(force_rules)
        #: tables whose neural default was replaced by gaussian_copula in the last fit (small tables)
        self.small_tables: list[str] = []
        self._fit_rows: dict[str, int] = {}
        #: the split rule of the last fit (fraction, seed, root tables), or None without a holdout
        self.holdout_split: dict[str, Any] | None = None
        self.table_generators: dict[str, TableGenerator] = {}
        self.table_rows: dict[str, int] = {}
        self.engine: RelationalEngine | None = None
        #: rows dropped as orphans in the last fit, per table.
        self.dropped_orphans: dict[str, int] = {}
        self.report_path: Path | None = None
        #: the folder or file the model was fitted from, when it was a path (saved with the model, so
        #: that ``hiveframe sample`` can refuse to write over the real data).
        self.source: str | None = None
        #: categories and ranges seen per modelled column at fit (see ``conditions.fit_domains``)
        self.domains: dict[str, Any] = {}
        #: per conditioned table of the last sample(conditions=..., balance=...): method, acceptance rate
        self.sampling_report: dict[str, dict[str, Any]] = {}
        #: what the QA filters of the last sample(qa=...) removed (see ``hiveframe.pipeline.qa``)
        self.qa_report: dict[str, Any] = {}
        #: the last report's summary (its verdict under "overall"), from fit(validate=True)
        self.report_summary: dict[str, Any] | None = None
        #: the digest of the training data's profile (docs/profile.md), named by every output's catalog
        #: entry; None under DP (an exact function of the real data) and before a fit
        self.source_profile_digest: str | None = None
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
    def _declared(self, name: str) -> Mapping[str, Any] | None:
        """The generator the metadata declares for a table (``{"name", "params"}``), unless ``generators`` names one."""
        if name in self.generators or self.metadata is None or not self.metadata.has_table(name):
            return None
        return self.metadata.table(name).generator

    def _generator_for(self, table: Table) -> TableGenerator:
        declared = self._declared(table.name)
        spec = self.generators.get(table.name, declared["name"] if declared else self.generator)
        if isinstance(spec, TableGenerator):
            if self.table_params.get(table.name):
                raise ConfigError(f"table_params for {table.name!r} given with a generator instance",
                                  hint="configure the instance itself")
            gen = spec
        else:
            params = {} if table.name in self.generators or declared else dict(self.generator_params)
            params.update((declared.get("params") or {}) if declared else {})
            params.update(self.table_params.get(table.name, {}))
            try:  # made even when a small table then gets the copula: wrong parameters are never ignored
                gen = self.host.create("table_generator", spec, params)
            except ConfigError as exc:  # name the table whose generator or parameters are wrong
                exc.message = f"table {table.name!r}: {exc.message}"
                exc.args = (exc.message,)
                raise
        if self._small_table(table.name, spec):
            log.info("table %s has %d rows (at most small_table_rows=%d): gaussian_copula instead of %s",
                     table.name, self._fit_rows[table.name], self.small_table_rows, _spec_label(spec))
            self.small_tables.append(table.name)
            gen = self.host.create("table_generator", DEFAULT_GENERATOR, {})  # the neural one's params do not apply
        overrides = self._transformer_overrides(table)
        if overrides:
            gen.transformers = {**overrides, **gen.transformers}
        if self.dp_wrapper is not None:
            gen = self.dp_wrapper.wrap(gen)
        if self.pii_wrapper is not None and self.metadata is not None and pii_columns(self.metadata, table):
            gen = self.pii_wrapper.wrap(gen)
        return gen

    def _small_table(self, name: str, spec: Any) -> bool:
        """Whether a neural default gives way to the copula for this (small) table."""
        if name in self.generators or name in self.table_params or self.dp_wrapper is not None \
                or name not in self._fit_rows or self._declared(name):
            return False
        if self._fit_rows[name] > self.small_table_rows or isinstance(spec, TableGenerator):
            return False
        cls = spec if isinstance(spec, type) else self.host.component_class("table_generator", str(spec))
        return bool(getattr(cls, "neural", False))

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
            report_dir: str | Path = "hiveframe-report", target: str | None = None,
            progress: bool = False) -> Synthesizer:
        """Learn every table of ``data`` (a Database, a mapping of tables, or any readable source).

        ``validate=True`` then samples the fitted model once and writes the quality report (HTML and
        JSON, from the validators plugin) to ``report_dir``; ``target`` ("table.column") adds the
        train-on-synthetic utility figures. The report's path is kept in ``report_path``. The folder
        appears whole or not at all, and replaces only an earlier hiveframe report: one holding other
        files is refused before training starts.
        ``progress=True`` prints the CLI's lines on stderr (one per table as it starts and ends, and
        plain-language training lines); ``callback`` receives every training event for your own display.
        """
        if not progress:
            return self._fit(data, callback=callback, workdir=workdir, drop_orphans=drop_orphans,
                             validate=validate, report_dir=report_dir, target=target)
        from hiveframe.pipeline.progress import ProgressPlugin

        plugin = next((p for p in self.host.pm.get_plugins() if isinstance(p, ProgressPlugin)), None)
        if plugin is None:
            plugin = ProgressPlugin(enabled=False)
            self.host.register(plugin, name="progress")
        user_callback = callback

        def both(event: Mapping[str, Any]) -> None:
            plugin.callback(event)
            if user_callback is not None:
                user_callback(event)

        was = plugin.enabled
        plugin.enabled = True
        plugin.reset(len(self.metadata.tables) if self.metadata is not None else None)
        try:
            return self._fit(data, callback=both, workdir=workdir, drop_orphans=drop_orphans,
                             validate=validate, report_dir=report_dir, target=target)
        finally:
            plugin.enabled = was

    def _fit(self, data: Database | Mapping[str, Any] | object, *, callback: TrainingCallback | None,
             workdir: str | Path | None, drop_orphans: bool | None, validate: bool, report_dir: str | Path,
             target: str | None) -> Synthesizer:
        from hiveframe.pipeline.io import as_database

        if validate:  # a missing report plugin or a report folder that cannot be replaced: before training
            from hiveframe.pipeline.report import check_report_dir, check_report_plugin

            check_report_plugin(self.host)
            check_report_dir(report_dir)
        database = as_database(data, host=self.host)
        given = database
        if isinstance(data, (str, Path)):
            self.source = str(Path(data).resolve())
        if self.metadata is None:
            from hiveframe.metadata import detect

            self.metadata = detect(database, host=self.host)
            self.metadata_detected = True
        policy = self.orphans if drop_orphans is None else ("drop" if drop_orphans else self.orphans)
        declared = self.metadata  # with what detect recorded about its rules (their support)
        self.metadata = self._orphan_policies(self.metadata.without_detection(), database, policy)
        database = self._check(self.metadata, database, policy == "drop")
        private = self.dp_wrapper is not None
        # rules in metadata the user passes are declared, like its keys (detect, review, fit); rules that
        # fit itself detects come with metadata_detected set above (DP: refused without the opt-in)
        check_rules_before_fit(declared, database, force=self.force_rules, private=private)
        unknown = [g for g in self.generators if not self.metadata.has_table(g)]
        unknown += [t for t in self.null_handling if t != "*" and not self.metadata.has_table(t)]
        if unknown:
            raise ConfigError(f"generators or null handling given for unknown table(s) {unknown}",
                              hint=f"tables: {self.metadata.table_names}")
        self._check_transformer_keys(self.metadata)

        holdout_tables: dict[str, Any] | None = None
        self.holdout_split = None
        if self.holdout:
            from hiveframe.pipeline.holdout import holdout_roots, split_holdout

            md = self.metadata
            # under DP every root table holds out: choosing by row count would use an exact count
            roots = ([t.name for t in md.tables if all(fk.is_self_reference for fk in md.parents_of(t.name))]
                     if self.dp_wrapper is not None else
                     holdout_roots(md, {t: database[t].num_rows for t in md.table_names}))
            database, holdout_tables = split_holdout(md, database, self.holdout, self.seed, roots)
            self.holdout_split = {"fraction": self.holdout, "seed": self.seed, "roots": roots}
            log.info("holdout: %s of the entities of %s kept out of training", self.holdout,
                     ", ".join(self.holdout_split["roots"]))
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
        self._fit_rows = {t: database[t].num_rows for t in self.metadata.table_names}
        self.small_tables = []
        self.table_generators = engine.fit(
            database, make_generator=self._generator_for, seed=self.seed, callback=callback,
            workdir=Path(workdir) if workdir is not None else None)
        # the real row counts, or under DP the noisy ones the engine released
        self.table_rows = {name: engine.plans[name].real_rows for name in self.table_generators}
        self.engine = engine
        self.source_profile_digest = None
        if self.dp_wrapper is None:  # under DP a digest would tell neighbouring databases apart
            from hiveframe.pipeline.profile import profile

            self.source_profile_digest = profile(given, self.metadata)["digest"]
        from hiveframe.pipeline.conditions import fit_domains

        self.domains = fit_domains(self.metadata, database, declared_only=self.dp_wrapper is not None)
        if validate:
            self.report_path = self._write_report(database, Path(report_dir), target, holdout=holdout_tables)
        return self

    def _check_transformer_keys(self, metadata: Metadata) -> None:
        """Every ``transformers`` key names a column kind or an existing ``table.column``."""
        kinds = [k.value for k in ColumnKind]
        columns = [f"{t.name}.{c}" for t in metadata.tables for c in t.column_names]
        wrong = [key for key in self.transformers if key not in kinds and key not in columns]
        if wrong:
            raise ConfigError(f"transformers given for unknown column(s) {', '.join(map(repr, wrong))}",
                              hint=did_you_mean(wrong[0], kinds + columns))
    def split_holdout(self, data: Database | Mapping[str, Any] | object) -> tuple[Database, dict[str, Any] | None]:
        """``(training part, holdout tables)`` of the real data, by the split rule recorded at fit.

        Without a holdout at fit: the data as a Database, and None.
        """
        from hiveframe.pipeline.io import as_database

        database = as_database(data, host=self.host)
        if not self.holdout_split or self.metadata is None:
            return database, None
        from hiveframe.pipeline.holdout import split_holdout

        split = self.holdout_split
        return split_holdout(self.metadata, database, float(split["fraction"]), int(split["seed"]),
                             list(split["roots"]))

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

    def _write_report(self, database: Database, report_dir: Path, target: str | None,
                      holdout: Mapping[str, Any] | None = None) -> Path:
        """Sample once and write the quality report (through the report hook) against ``database``."""
        from hiveframe.pipeline.report import write_report

        assert self.metadata is not None
        summary = write_report(self.host, database, self.sample(), self.metadata, report_dir, target=target,
                               holdout=holdout, privacy=self.privacy_report() or None, model_seed=self.seed,
                               title="hiveframe quality report (after fit)")
        self.report_summary = summary
        return Path(summary["path"])

    def _orphan_policies(self, metadata: Metadata, database: Database, default: str | None) -> Metadata:
        """The metadata with the orphan policy of every foreign key that has orphans, said aloud.

        A policy declared on the foreign key wins over ``default``; under ``null`` the key columns
        become nullable (the nulls are then learnt and generated at their rate). ``keep`` is refused
        under differential privacy: the orphan share would be released without noise.
        """
        from hiveframe.metadata.casting import check_table
        from hiveframe.metadata.relations import fk_checkable, fk_type_problems, orphan_rows

        self.orphan_report = {}
        fks = list(metadata.foreign_keys)
        problems: list[Problem] = []
        for i, fk in enumerate(fks):
            if not fk_checkable(fk, database.tables):
                continue  # the checks name the missing tables or columns
            child, parent = database[fk.child_table], database[fk.parent_table]
            if fk_type_problems(fk, {fk.child_table: child, fk.parent_table: parent}) and all(
                    metadata.has_table(t) for t in (fk.child_table, fk.parent_table)):
                # raw values (strings read from a file): match them as the data check will, once cast
                child = check_table(metadata.table(fk.child_table), child)[0]
                parent = check_table(metadata.table(fk.parent_table), parent)[0]
                pair = {fk.child_table: child, fk.parent_table: parent}
                if not fk_checkable(fk, pair) or fk_type_problems(fk, pair):
                    continue  # incomparable types: the data check reports them
            rows, _ = orphan_rows(fk, child, parent)
            if not rows:
                continue
            policy = fk.orphans or default
            with_key = child.num_rows - max(child.column(c).null_count for c in fk.child_columns)
            self.orphan_report[fk.name] = {"orphans": len(rows), "rows": with_key, "policy": policy}
            if policy is None:
                continue  # validate_data lists them as an error, with the choices
            if policy == "keep" and self.dp_wrapper is not None:
                problems.append(Problem(
                    f"foreign key {fk.name}: the orphan policy 'keep' is not available under differential "
                    "privacy (the share of parent-less rows would be released without noise)",
                    table=fk.child_table, column=",".join(fk.child_columns), hint="use 'drop' or 'null'"))
                continue
            what = {"drop": "dropped (with the rows that depend on them)", "null": "their key set to null",
                    "keep": "kept: parent-less rows are generated at this rate, with keys no parent has"}[policy]
            log.warning("foreign key %s: %d of %d rows (%.1f%%) have no parent in %s: %s (orphan policy %r%s)",
                        fk.name, len(rows), with_key, 100.0 * len(rows) / max(1, with_key), fk.parent_table, what,
                        policy, ", declared on the key" if fk.orphans else "")
            fks[i] = replace(fk, orphans=policy)
            if policy == "null":
                table = metadata.table(fk.child_table)
                for col in fk.child_columns:
                    if table.has_column(col) and not table.column(col).nullable:
                        table = table.with_column(replace(table.column(col), nullable=True))
                metadata = metadata.with_table(table)
        MetadataError.raise_if_any(problems)
        return replace(metadata, foreign_keys=tuple(fks))

    def _check(self, metadata: Metadata, database: Database, drop_orphans: bool) -> Database:
        """The metadata check of every plugin, then the data check (types, keys, orphans: dropped,
        nulled or kept by their policy), each listing every problem at once."""
        from hiveframe.metadata.validate import validate_data, validate_metadata

        validate_metadata(metadata, host=self.host)
        metadata.topological_order()  # a cycle through several tables is named here
        missing = [t for t in metadata.table_names if t not in database]
        if missing:
            raise DataError([Problem("table described in the metadata is missing from the data", table=t,
                                     hint=f"tables in the data: {', '.join(database.names)}")
                             for t in missing])
        before = {t: database[t].num_rows for t in metadata.table_names}
        database = validate_data(metadata, database, drop_orphans=drop_orphans)
        self.dropped_orphans = {t: before[t] - database[t].num_rows for t in metadata.table_names
                                if t in database and database[t].num_rows < before[t]}
        return database

    # -- sample ----------------------------------------------------------------------------------
    def sample(self, *, scale: float = 1.0, rows: Mapping[str, int] | None = None,
               seed: int | None = None, conditions: Mapping[str, Mapping[str, Any]] | None = None,
               balance: str | Sequence[str] | None = None, qa: bool | Sequence[str] | None = None,
               real: Database | Mapping[str, Any] | object | None = None) -> Database:
        """Generate a synthetic database: ``scale`` times the real size, ``rows`` per root table.

        ``conditions`` fixes values or ranges per table (``{"census": {"income": ">50K", "age": {"min": 30}}}``);
        ``balance`` ("table.column", or several) draws equal rows per class of a categorical column. See
        :mod:`hiveframe.pipeline.conditions`; what was done (method, acceptance rate) is in
        :attr:`sampling_report`.

        ``qa`` (``True``, or filter names such as ``["schema", "range"]``) removes the rows that fail the
        QA filters, and the rows that reference them (see :mod:`hiveframe.pipeline.qa`); ``real`` (the
        real data, any readable source) is what memorization filtering compares with, as the model holds
        no real rows. What each filter removed is in :attr:`qa_report`.
        """
        metadata = self._require_fitted()
        assert self.engine is not None
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise ConfigError(f"scale must be a positive finite number, got {scale!r}",
                              hint="1 gives the real size, 0.1 a tenth, 2 twice as many rows")
        if rows is not None and not isinstance(rows, Mapping):
            raise ConfigError(f"rows must map root table names to row counts, got {type(rows).__name__}",
                              hint="rows={'users': 1000}")
        rows = dict(rows or {})
        unknown = [t for t in rows if not metadata.has_table(t)]
        if unknown:
            raise ConfigError(f"--rows names unknown table(s) {unknown}", hint=f"tables: {metadata.table_names}")
        bad = {t: n for t, n in rows.items() if not isinstance(n, int) or n < 0}
        if bad:
            raise ConfigError(f"rows must be non-negative integers, got {bad}")
        seed = self.seed if seed is None else check_seed(seed)
        if real is not None and not qa:
            raise ConfigError("real data is only used by QA filtering", hint="add qa=True (CLI: --qa)")
        filters = None
        if qa:
            from hiveframe.pipeline.qa import make_filters

            filters = make_filters(self.host, None if qa is True else list(qa), have_real=real is not None)
        sampler = None
        if conditions or balance:
            from hiveframe.pipeline.conditions import ConditionSampler, parse_conditions

            sampler = ConditionSampler(self.host, parse_conditions(metadata, self.domains, conditions, balance),
                                       metadata)
        self._check_memory(float(scale), rows)
        tables = self.engine.sample(self.table_generators, scale=float(scale), rows=rows, seed=seed,
                                    conditions=sampler)
        self.sampling_report = dict(sampler.report) if sampler is not None else {}
        database = Database({name: tables[name] for name in metadata.table_names if name in tables},
                            {t.name: tuple(t.primary_key) for t in metadata.tables if t.primary_key},
                            list(metadata.foreign_keys))
        self.qa_report = {}
        if filters is not None:
            database, self.qa_report = self._filter(database, filters, real)
        return database

    def _filter(self, database: Database, filters: list[Any], real: Any) -> tuple[Database, dict[str, Any]]:
        """QA filters on a sample; with a holdout in the model, memorization compares with the training part."""
        from hiveframe.pipeline.io import as_database
        from hiveframe.pipeline.qa import apply_filters

        metadata = self._require_fitted()
        real_db = holdout = None
        if real is not None:
            real_db = as_database(real, host=self.host)
            missing = [t for t in metadata.table_names if t not in real_db]
            if missing:
                raise ConfigError(f"the real data lacks table(s) {missing} of the model",
                                  hint="give the source the model was fitted from")
            if self.holdout_split:
                real_db, holdout = self.split_holdout(real_db)
        return apply_filters(database, metadata, filters, real=real_db, domains=self.domains, holdout=holdout)

    def _check_memory(self, scale: float, rows: Mapping[str, int]) -> None:
        """Refuse, before any work, a size that cannot fit in this machine's memory.

        The estimate is the rows every table will have (children grow with the largest growth of a
        root table) times its columns, at 8 bytes a value and ``MEMORY_COPIES`` working copies: the
        generators and reverse transforms hold a few arrays of the full size at once.
        """
        metadata = self._require_fitted()
        growth = scale
        roots = [t for t in metadata.table_names if t in rows and self.table_rows.get(t)]
        if roots:
            growth = max([rows[t] / self.table_rows[t] for t in roots] + ([scale] if len(roots) < len(
                [t for t in metadata.table_names if not metadata.parents_of(t)]) else []))
        total_rows = 0.0
        values = 0.0
        for table in metadata.tables:
            n = rows[table.name] if table.name in rows else self.table_rows.get(table.name, 0) * growth
            total_rows += n
            values += n * max(1, len(table.columns))
        needed = values * 8 * MEMORY_COPIES
        available = _available_memory()
        if available is not None and needed > available:
            raise ConfigError(
                f"sampling {total_rows:,.0f} rows (scale {scale:g}"
                + (f", rows {dict(rows)}" if rows else "") + f") needs about {_gib(needed)} of memory; "
                f"{_gib(available)} is available",
                hint="choose a smaller scale or rows, or sample with `hiveframe sample --engine spark`, "
                "which writes partitions without holding the whole database in memory")

    def describe(self) -> dict[str, Any]:
        """Per table: the driver relationship, secondary keys, context columns, key formats."""
        self._require_fitted()
        assert self.engine is not None
        return self.engine.describe()

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from hiveframe.pipeline.store import SavedModel, save_model

        metadata = self._require_fitted()
        model = SavedModel(metadata, self.seed, self._config(), self.table_generators, self.table_rows, self.source)
        try:
            return save_model(model, Path(path), versions=self.host.versions(), write_extra=self._save_extra)
        except OSError as exc:
            raise PersistenceError(f"cannot save the model to {str(path)!r}: {exc.strerror or exc}",
                                   hint=os_error_hint(exc)) from None

    def _config(self) -> dict[str, Any]:
        """The configuration a saved model records (JSON values), read back by :meth:`load`."""
        return {
            "generator": _spec_label(self.generator),
            "generators": {t: _spec_label(g) for t, g in self.generators.items()},
            "generator_params": self.generator_params,
            "table_params": self.table_params,
            "linkage": self.linkage,
            "linkage_params": self.linkage_params,
            "max_context_columns": self.max_context_columns,
            "null_handling": self.null_handling,
            "pii": self.pii_wrapper.get_params() if self.pii_wrapper else None,
            "dp": self.dp_wrapper.get_params() if self.dp_wrapper else None,
            "max_summary_columns": self.max_summary_columns,
            "drop_orphans": self.drop_orphans,
            "orphans": self.orphans,
        }

    @classmethod
    def load(cls, path: str | Path, *, host: PluginHost | None = None) -> Synthesizer:
        from hiveframe.pipeline.store import load_model
        from hiveframe.plugins import PluginHost

        host = host or PluginHost()
        model = load_model(Path(path), host=host)
        config = model.config
        synth = cls(
            model.metadata,
            generator=config.get("generator") or "gaussian_copula",
            generator_params=config.get("generator_params") or {},
            table_params=config.get("table_params") or {},
            linkage=config.get("linkage") or "conditional",
            linkage_params=config.get("linkage_params") or {},
            max_context_columns=int(config.get("max_context_columns", 5)),
            max_summary_columns=int(config.get("max_summary_columns", 2)),
            drop_orphans=bool(config.get("drop_orphans", False)) and config.get("orphans") in (None, "drop"),
            orphans=config.get("orphans"),
            null_handling=config.get("null_handling") or "model",
            seed=model.seed,
            host=host,
        )
        synth.table_generators.update(model.table_generators)
        synth.table_rows.update(model.table_rows)
        synth._load_extra(Path(path), model.manifest)
        return synth

    def _save_extra(self, directory: Path) -> dict[str, Any]:
        from hiveframe.pipeline.store import save_plan

        assert self.engine is not None
        extra = save_plan(self.engine.plan, directory)
        privacy = self.privacy_report()
        if privacy:
            extra["privacy"] = privacy
        if self.holdout_split:
            extra["holdout"] = self.holdout_split
        if self.source_profile_digest:
            extra["source_profile_digest"] = self.source_profile_digest
        if self.domains:
            extra["domains"] = self.domains
        return extra

    def _load_extra(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        from hiveframe.pipeline.store import load_plan

        assert self.metadata is not None
        self.engine = RelationalEngine.from_plan(self.metadata, self.host, load_plan(directory, manifest, self.host))
        self._privacy_report = dict(manifest.get("privacy") or {})
        source = manifest.get("source")
        self.source = source if isinstance(source, str) else None


        digest = manifest.get("source_profile_digest")
        self.source_profile_digest = digest if isinstance(digest, str) else None
        self.holdout_split = dict(manifest["holdout"]) if manifest.get("holdout") else None
        self.domains = dict(manifest.get("domains") or {})
        self.holdout = float(self.holdout_split["fraction"]) if self.holdout_split else 0.0

    def _require_fitted(self) -> Metadata:
        if self.metadata is None or self.engine is None or not self.table_generators:
            raise NotFittedError("the synthesizer is not fitted", hint="call fit() or load a model directory")
        return self.metadata


#: working copies of the output a local sample holds at once (see ``Synthesizer._check_memory``)
MEMORY_COPIES = 3


def _gib(size: float) -> str:
    return f"{size / 2**30:,.1f} GiB"


def _available_memory() -> int | None:
    """Memory this process can still use: MemAvailable on Linux, else physical memory, else unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_seed(seed: Any) -> int:
    """A seed is a non-negative integer (numpy's generators refuse the rest, deep inside)."""
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}", hint="e.g. seed=0")
    return int(seed)
def _spec_label(spec: Any) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "name", None) or type(spec).__name__


def _null_handling(spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"mean"`` or ``{"table": "drop", "*": "model"}`` as a mapping (``"*"``: every other table)."""
    modes = {"*": spec} if isinstance(spec, str) else dict(spec)
    bad = {t: m for t, m in modes.items() if m not in NULL_HANDLING}
    if bad:
        raise ConfigError(f"unknown null handling {bad}",
                          hint="'model' (learn nulls, the default), 'mean' (replace by the column mean) or "
                          "'drop' (leave incomplete rows out of training)")
    return modes
