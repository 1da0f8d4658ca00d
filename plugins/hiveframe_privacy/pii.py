"""The PII privacy wrapper: PII columns never reach a generator; the output carries fake values.

Per column a strategy:

* ``fake`` (default): realistic values from faker in the column's PII kind, locale-aware when the row
  has a country/locale column. With ``consistent=True`` each real value is first mapped to one fake
  pseudonym (keyed by a secret salt), and the generator learns the pseudonyms, so a value repeated in
  the data (or in another table wrapped by the same wrapper) stays one fake value, with its frequency.
* ``hash``: a salted hash of the real value replaces it (consistent by construction).
* ``mask``: random characters in the column's frequent formats (``+## ###-####``).
* ``drop``: the column comes out empty (all null).
* ``keep``: the user declares the column safe; it is modelled like any other column.

The salt is random per wrapper unless given, and never saved: a saved model holds only fake values,
hashes and formats.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, PrivacyWrapper, TableGenerator
from hiveframe.errors import ConfigError
from hiveframe.metadata import Column, ColumnKind, Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

STRATEGIES = ("fake", "hash", "mask", "drop", "keep")
_MODELLED = ("keep", "hash")  # strategies whose (transformed) column the inner generator learns


def _check_strategies(strategies: dict[str, str], default: str) -> None:
    bad = {c: s for c, s in strategies.items() if s not in STRATEGIES}
    if default not in STRATEGIES:
        bad["<default>"] = default
    if bad:
        raise ConfigError(f"unknown PII strategy {bad}", hint=f"strategies: {', '.join(STRATEGIES)}")


@attrs.define(kw_only=True, eq=False)
class PIIProtectedGenerator(TableGenerator):
    """A table generator whose PII columns are replaced before the inner generator sees the data."""

    name: ClassVar[str] = "pii_protected"
    requires: ClassVar[tuple[str, ...]] = ("faker",)
    extra: ClassVar[str | None] = "privacy"

    inner: TableGenerator
    strategies: dict[str, str] = attrs.field(factory=dict)
    default_strategy: str = "fake"
    consistent: bool = False
    locale: str = "en_US"
    _salt: bytes = attrs.field(factory=lambda: os.urandom(16), alias="_salt")
    _plan: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        _check_strategies(self.strategies, self.default_strategy)

    def strategy_for(self, column: Column) -> str:
        return self.strategies.get(column.name, self.default_strategy)

    # -- fit -------------------------------------------------------------------------------------
    def _fit(self, data: pa.Table, table: Table, *, context_columns, seed, callback, workdir) -> None:
        import pyarrow as pa

        from hiveframe_privacy.fakes import FakeSource, check_locale, faker_method, keyed_seed, learn_patterns, \
            salted_hash

        check_locale(self.locale)
        fakes = FakeSource(self.locale)
        plan: dict[str, dict[str, Any]] = {}
        inner_columns: list[Column] = []
        inner_data: dict[str, pa.Array] = {}
        for column in table.columns:
            values = data.column(column.name)
            if column.kind != ColumnKind.PII or column.name in context_columns:
                inner_columns.append(column)
                inner_data[column.name] = values
                continue
            strategy = self.strategy_for(column)
            if strategy == "fake" and self.consistent:
                strategy = "pseudonym"
            entry: dict[str, Any] = {"strategy": strategy, "pii_kind": column.pii_kind.value if column.pii_kind else None,
                                     "null_rate": float(values.null_count / max(len(values), 1)),
                                     "dtype": column.dtype}
            if strategy in ("fake", "pseudonym"):
                faker_method(column.pii_kind)  # a kind without faker fails here, before training
            if strategy == "mask":
                patterns, shares = learn_patterns([v for v in values.to_pylist() if v is not None])
                entry["patterns"], entry["shares"] = patterns, shares
            if strategy in ("pseudonym", "hash", "keep"):
                real = values.to_pylist()
                if strategy == "keep":
                    replaced = real
                else:
                    cache: dict[str, str] = {}
                    replaced = []
                    for v in real:
                        if v is None:
                            replaced.append(None)
                            continue
                        key = str(v)
                        if key not in cache:
                            cache[key] = (salted_hash(self._salt, key) if strategy == "hash"
                                          else fakes.value(column.pii_kind, keyed_seed(self._salt, key)))
                        replaced.append(cache[key])
                inner_data[column.name] = pa.array(replaced, type=pa.string())
                inner_columns.append(Column(column.name, ColumnKind.CATEGORICAL, "string", column.nullable))
            plan[column.name] = entry
        self._plan = plan
        inner_table = Table(name=table.name, columns=tuple(inner_columns))
        self.inner.fit(pa.table(inner_data), inner_table, context_columns=context_columns, seed=seed,
                       callback=callback, workdir=workdir)
        log.info("table %s: PII columns %s", table.name, {c: e["strategy"] for c, e in plan.items()})

    # -- sample ----------------------------------------------------------------------------------
    def _sample(self, num_rows: int, *, context, conditions, seed) -> pa.Table:
        import pyarrow as pa

        from hiveframe_privacy.fakes import LOCALE_COLUMN_NAMES, FakeSource, fill_pattern, locale_for

        bad = [c for c in conditions if c in self._plan]
        if bad:
            raise ConfigError(f"cannot condition on PII column(s) {bad}")
        table = self.fitted_table
        inner_out = self.inner.sample(num_rows, context=context, conditions=conditions, seed=seed)
        rng = np.random.default_rng(None if seed is None else seed + 7919)
        locales = self._row_locales(inner_out, context, LOCALE_COLUMN_NAMES, locale_for)
        fakes = FakeSource(self.locale)
        columns: dict[str, pa.Array] = {}
        for name, entry in self._plan.items():
            strategy = entry["strategy"]
            if strategy in ("pseudonym", "hash", "keep"):
                columns[name] = inner_out.column(name)
                continue
            present = rng.random(num_rows) >= entry["null_rate"]
            if strategy == "drop":
                values: list[Any] = [None] * num_rows
            elif strategy == "mask":
                patterns, shares = entry["patterns"], entry["shares"]
                if not patterns:
                    values = [None] * num_rows
                else:
                    picks = rng.choice(len(patterns), size=num_rows, p=np.asarray(shares) / np.sum(shares))
                    values = [fill_pattern(patterns[i], rng) if ok else None for i, ok in zip(picks, present)]
            else:
                from hiveframe.metadata import PIIKind

                seeds = rng.integers(0, 2**62, size=num_rows)
                made = fakes.values(PIIKind(entry["pii_kind"]), seeds, locales)
                values = [v if ok else None for v, ok in zip(made, present)]
            columns[name] = pa.array(values, type=pa.string())
        out = []
        for column in table.columns:
            if column.name in self.context_columns:
                continue
            out.append(columns[column.name] if column.name in columns else inner_out.column(column.name))
        names = [c.name for c in table.columns if c.name not in self.context_columns]
        return pa.table(out, names=names)

    @staticmethod
    def _row_locales(inner_out, context, names, locale_for) -> list[str | None] | None:
        for source in (inner_out, context):
            if source is None:
                continue
            for col in source.column_names:
                if col.lower().split(".")[-1] in names:
                    return [locale_for(v) for v in source.column(col).to_pylist()]
        return None

    # -- state -----------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        return ComponentState(values={"plan": self._plan})

    def _set_state(self, state: ComponentState) -> None:
        self._plan = dict(state.values["plan"])


@attrs.define(kw_only=True, eq=False)
class PIIWrapper(PrivacyWrapper):
    """Wraps generators so PII columns are replaced (one salt shared by every table it wraps)."""

    name: ClassVar[str] = "pii"
    requires: ClassVar[tuple[str, ...]] = ("faker",)
    extra: ClassVar[str | None] = "privacy"

    strategies: dict[str, str] = attrs.field(factory=dict)
    default_strategy: str = "fake"
    consistent: bool = False
    locale: str = "en_US"
    salt: str | None = None
    _salt_bytes: bytes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        _check_strategies(self.strategies, self.default_strategy)
        self._salt_bytes = self.salt.encode("utf-8") if self.salt else os.urandom(16)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["salt"] = None  # never persist the secret
        return params

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        return PIIProtectedGenerator(
            inner=generator, strategies=dict(self.strategies), default_strategy=self.default_strategy,
            consistent=self.consistent, locale=self.locale, _salt=self._salt_bytes,
        )
