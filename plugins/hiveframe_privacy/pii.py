"""The PII privacy wrapper: PII columns never reach a generator; the output carries fake values.

Per column a strategy (by ``"table.column"``, ``"column"`` or PII kind, e.g. ``"email"``, in
``strategies``; ``default_strategy`` otherwise):

* ``fake`` (default): realistic values from faker in the column's PII kind, locale-aware when the row
  has a country or locale column (``Country``, ``BillingCountry``, ``locale``...; a parent's through
  the context too). The generator learns only whether the value is present (for nullable columns).
  With ``consistent=True`` each real value is first mapped to one fake *pseudonym* (keyed by a secret
  salt) and the generator learns the pseudonyms, so a value repeated in the data, or in another table
  wrapped by the same wrapper, stays one fake value, with its frequency.
* ``hash``: a salted hash of the real value replaces it (consistent by construction).
* ``mask``: random characters in the column's formats (``+## ###-####``); the generator learns the
  format of each row; a format shared by fewer than ``MIN_PATTERN_SUPPORT`` rows is never kept.
* ``drop``: the column comes out empty (all null).
* ``keep``: the user declares the column safe; it is modelled like a categorical column.

No real value is saved or generated. The salt is secret (``hiveframe.components.secret_token``) per
wrapper unless given, and never saved. Fake values may coincide with real ones by chance (faker draws
first names, cities and postcodes from real-world lists), so without differential privacy the wrapper
excludes every real PII value it has seen (``exclude_values``; the engine gives it all PII values of
the database before fitting), and for emails every real local part (``anna.smith`` of
``anna.smith@corp.com``) too: fakes are drawn from pools made at fit time without them, and
pseudonyms are re-drawn until they are neither real nor taken by another real value.

The pools are drawn from a secret random source, never from the run's ``seed``: a pool made by
skipping real values from a replayable stream would let anyone holding the model replay the stream
and read off the skipped draws, the real values. Sampling a saved model draws from its pools with the
``seed`` of the sampling call, so it stays reproducible. Under differential privacy (the inner
generator is a ``dp`` one) the exclusion, which depends on the real values, is skipped: fakes are
drawn fresh at sampling time and may then coincide with a real value by chance only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import ComponentState, PrivacyWrapper, TableGenerator, secret_token
from hiveframe.errors import ConfigError
from hiveframe.metadata import Column, ColumnKind, PIIKind, Table
from hiveframe_privacy._protected import ProtectedGenerator

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

STRATEGIES = ("fake", "hash", "mask", "drop", "keep")
#: fakes made per distinct real value (per locale) at fit time, within these limits
POOL_FACTOR, POOL_MIN, POOL_MAX = 3, 30, 20_000
_MAX_TRIES = 40


def _check_strategies(strategies: Mapping[str, str], default: str) -> None:
    bad = {c: s for c, s in strategies.items() if s not in STRATEGIES}
    if default not in STRATEGIES:
        bad["<default>"] = default
    if bad:
        raise ConfigError(f"unknown PII strategy {bad}", hint=f"strategies: {', '.join(STRATEGIES)}")


def resolve_strategy(strategies: Mapping[str, str], default: str, table: str, column: Column) -> str:
    """The strategy for a column: by ``table.column``, then ``column``, then its PII kind, then the default."""
    strategy = default
    for key in (f"{table}.{column.name}", column.name, column.pii_kind.value if column.pii_kind else None):
        if key is not None and key in strategies:
            strategy = strategies[key]
            break
    if strategy == "fake" and column.dtype not in ("string", "large_string", "utf8"):
        # a PII column stored as a number (e.g. Berka's birth_number) keeps its type: faker's text
        # (an SSN like '860-28-1048') cannot be cast back, a format-preserving mask of digits can
        return "mask"
    return strategy


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def _local_part(value: str) -> str | None:
    """The part of an email before ``@`` (normalised), the part that names a person."""
    text = _norm(value)
    return text.rsplit("@", 1)[0] if "@" in text else None


class _Shared:
    """What every table wrapped by one PII wrapper shares: the salt, real values to avoid, pseudonyms."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self.exclude: set[str] = set()
        #: local parts of the real emails (and of every real value with an ``@``)
        self.exclude_local: set[str] = set()
        self.pseudonyms: dict[tuple[str, str], str] = {}
        self.taken: set[tuple[str, str]] = set()

    def add(self, values: Iterable[Any]) -> None:
        for v in values:
            if v is None:
                continue
            self.exclude.add(_norm(v))
            local = _local_part(str(v))
            if local:
                self.exclude_local.add(local)

    def is_real(self, kind: PIIKind, value: str) -> bool:
        """Whether a fake equals a real value, or for an email has a real email's local part."""
        if _norm(value) in self.exclude:
            return True
        return kind == PIIKind.EMAIL and _local_part(value) in self.exclude_local


@attrs.define(kw_only=True, eq=False)
class PIIProtectedGenerator(ProtectedGenerator):
    """A table generator whose PII columns are replaced before the inner generator sees the data."""

    name: ClassVar[str] = "pii_protected"
    requires: ClassVar[tuple[str, ...]] = ("faker",)

    strategies: dict[str, str] = attrs.field(factory=dict)
    default_strategy: str = "fake"
    consistent: bool = False
    locale: str = "en_US"
    locale_map: dict[str, str] = attrs.field(factory=dict)
    _shared: _Shared = attrs.field(factory=lambda: _Shared(secret_token()), alias="_shared")
    _plan: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        _check_strategies(self.strategies, self.default_strategy)

    @property
    def is_private(self) -> bool:
        """Whether the inner generator is trained with differential privacy."""
        return bool(getattr(self.inner, "is_private", False))

    @property
    def released_rows(self) -> int | None:
        return getattr(self.inner, "released_rows", None)

    def strategy_for(self, table: str, column: Column) -> str:
        return resolve_strategy(self.strategies, self.default_strategy, table, column)

    def _locale_of(self, value: Any) -> str | None:
        from hiveframe_privacy.fakes import locale_for

        if value is not None and str(value) in self.locale_map:
            return self.locale_map[str(value)]
        return locale_for(value)

    def _row_locales(self, *sources: pa.Table | None) -> list[str | None] | None:
        from hiveframe_privacy.fakes import LOCALE_COLUMN_NAMES

        for source in sources:
            if source is None:
                continue
            for col in source.column_names:
                if col.lower().split(".")[-1].lstrip("^") in LOCALE_COLUMN_NAMES and col not in self._plan:
                    return [self._locale_of(v) for v in source.column(col).to_pylist()]
        return None

    # -- fit -------------------------------------------------------------------------------------
    def _fit(self, data: pa.Table, table: Table, *, context_columns, seed, callback, workdir) -> None:
        import pyarrow as pa

        from hiveframe_privacy.fakes import FakeSource, check_locale, faker_method

        check_locale(self.locale)
        for loc in self.locale_map.values():
            check_locale(loc)
        private = self.is_private
        # the pools skip real values: drawn from a secret, so the skipped draws cannot be replayed
        rng = np.random.default_rng(int.from_bytes(secret_token(), "big"))
        fakes = FakeSource(self.locale)
        pii = [c for c in table.columns if c.kind == ColumnKind.PII and c.name not in context_columns]
        problems = []
        for column in pii:
            strategy = self.strategy_for(table.name, column)
            if strategy == "fake":
                try:
                    faker_method(column.pii_kind)
                except ConfigError as exc:
                    problems.append(f"column {column.name!r}: {exc.message}")
        if problems:
            from hiveframe_privacy.fakes import _FAKER_METHODS

            raise ConfigError(f"table {table.name!r}: " + "; ".join(problems),
                              hint="use strategy 'mask', 'hash' or 'drop' for these columns (strategies="
                              "{'table.column': 'mask'}), or set a pii_kind faker knows: "
                              + ", ".join(k.value for k in _FAKER_METHODS))
        self._plan = {}
        self._plan.update({c.name: {} for c in pii})  # so locale columns are never PII columns
        locales = self._row_locales(data)
        inner_columns: list[Column] = []
        inner_data: dict[str, Any] = {}
        for column in table.columns:
            values = data.column(column.name)
            if column not in pii:
                inner_columns.append(column)
                inner_data[column.name] = values
                continue
            real = values.to_pylist()
            if not private:
                self._shared.add(real)
            strategy = self.strategy_for(table.name, column)
            kind = column.pii_kind
            entry: dict[str, Any] = {"strategy": strategy, "pii_kind": kind.value if kind else None,
                                     "dtype": column.dtype, "derived": False}
            if strategy == "fake" and self.consistent:
                strategy = entry["strategy"] = "pseudonym"
            if strategy == "fake":
                if column.nullable:  # the generator learns which rows have a value
                    inner_data[column.name] = pa.array([v is not None for v in real], type=pa.bool_())
                    inner_columns.append(Column(column.name, ColumnKind.BOOLEAN, "bool", False))
                    entry["derived"] = True
                if not private:
                    entry["pools"], entry["unique"] = self._pools(column, kind, real, locales, fakes, rng)
            elif strategy == "mask":
                patterns = self._patterns(real, private)
                inner_data[column.name] = pa.array(patterns, type=pa.string())
                inner_columns.append(Column(column.name, ColumnKind.CATEGORICAL, "string", True))
                entry["derived"] = True
            elif strategy in ("pseudonym", "hash", "keep"):
                replaced = self._replace(strategy, kind, real, locales, fakes, private)
                inner_data[column.name] = pa.array(replaced, type=pa.string())
                inner_columns.append(Column(column.name, ColumnKind.CATEGORICAL, "string", True))
                entry["derived"] = True
            self._plan[column.name] = entry
        inner_table = Table(name=table.name, columns=tuple(inner_columns), constraints=table.constraints)
        self.inner.fit(pa.table(inner_data) if inner_data else pa.table({"_": pa.nulls(data.num_rows)}).drop(["_"]),
                       inner_table, context_columns=context_columns, seed=seed, callback=callback, workdir=workdir)
        log.info("table %s: PII columns %s", table.name, {c: e["strategy"] for c, e in self._plan.items()})

    def _pools(self, column: Column, kind: PIIKind | None, real: list[Any], locales: list[str | None] | None,
               fakes: Any, rng: np.random.Generator) -> tuple[dict[str, list[str]], bool]:
        """Fake values per locale, none of them a real value; and whether the real column is unique."""
        assert kind is not None
        present = [(v, locales[i] if locales else None) for i, v in enumerate(real) if v is not None]
        distinct: dict[str, set[str]] = {}
        for v, loc in present:
            distinct.setdefault(loc or self.locale, set()).add(str(v))
        distinct.setdefault(self.locale, set())
        pools: dict[str, list[str]] = {}
        for loc, vals in distinct.items():
            size = int(np.clip(POOL_FACTOR * len(vals), POOL_MIN, POOL_MAX))
            pool: list[str] = []
            seen: set[str] = set()
            tries = 0
            while len(pool) < size and tries < size * 40:
                tries += 1
                value = fakes.value(kind, int(rng.integers(0, 2**62)), loc)
                key = _norm(value)
                if key in seen or self._shared.is_real(kind, value):
                    continue
                seen.add(key)
                pool.append(value)
            if not pool:
                raise ConfigError(f"column {column.name!r}: faker gives no {kind.value} value (locale {loc}) that "
                                  "differs from every real value", hint="use strategy 'mask' or 'hash' for it")
            pools[loc] = pool
        unique = len(present) > 1 and len({str(v) for v, _ in present}) == len(present)
        return pools, unique

    def _patterns(self, real: list[Any], private: bool) -> list[str | None]:
        """The format of every value; without DP, rare formats become the most common one."""
        from hiveframe_privacy.fakes import MIN_PATTERN_SUPPORT, pattern_of

        patterns = [None if v is None else pattern_of(str(v)) for v in real]
        if private:  # the DP generator's noisy threshold suppresses rare formats
            return patterns
        from collections import Counter

        counts = Counter(p for p in patterns if p is not None)
        frequent = {p for p, c in counts.items() if c >= MIN_PATTERN_SUPPORT}
        if not frequent:
            if not counts:
                return patterns
            lengths = Counter(len(p) for p in patterns if p is not None)
            generic = "#" * lengths.most_common(1)[0][0]
            return [None if p is None else generic for p in patterns]
        top = counts.most_common(1)[0][0]
        return [None if p is None else (p if p in frequent else top) for p in patterns]

    def _replace(self, strategy: str, kind: PIIKind | None, real: list[Any], locales: list[str | None] | None,
                 fakes: Any, private: bool) -> list[str | None]:
        from hiveframe_privacy.fakes import salted_hash

        shared = self._shared
        out: list[str | None] = []
        for i, v in enumerate(real):
            if v is None:
                out.append(None)
            elif strategy == "keep":
                out.append(str(v))
            elif strategy == "hash":
                out.append(salted_hash(shared.salt, str(v)))
            else:
                out.append(self._pseudonym(kind, str(v), locales[i] if locales else None, fakes, private))
        return out

    def _pseudonym(self, kind: PIIKind | None, value: str, locale: str | None, fakes: Any, private: bool) -> str:
        """The fake standing for ``value`` wherever this wrapper sees it (same kind, any table)."""
        from hiveframe_privacy.fakes import keyed_seed

        assert kind is not None
        shared = self._shared
        key = (kind.value, value)
        if key in shared.pseudonyms:
            return shared.pseudonyms[key]
        fake = fakes.value(kind, keyed_seed(shared.salt, value), locale)
        if not private:  # never a real value, never the pseudonym of another real value
            k = 0
            while (shared.is_real(kind, fake) or (kind.value, fake) in shared.taken) and k < _MAX_TRIES:
                k += 1
                fake = fakes.value(kind, keyed_seed(shared.salt, f"{value}\x00{k}"), locale)
            if k == _MAX_TRIES:
                fake = f"{fake} {keyed_seed(shared.salt, value) % 10_000:04d}"
        shared.pseudonyms[key] = fake
        shared.taken.add((kind.value, fake))
        return fake

    # -- sample ----------------------------------------------------------------------------------
    def _sample(self, num_rows: int, *, context, conditions, seed) -> pa.Table:
        import pyarrow as pa

        from hiveframe_privacy.fakes import FakeSource, fill_pattern

        bad = [c for c in conditions if c in self._plan]
        if bad:
            raise ConfigError(f"cannot condition on PII column(s) {bad}",
                              hint="PII columns are replaced by fake values, not modelled")
        table = self.fitted_table
        inner_out = self.inner.sample(num_rows, context=context, conditions=conditions, seed=seed)
        rng = np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 7919]))
        locales = self._row_locales(inner_out, context) or [None] * num_rows
        fakes = FakeSource(self.locale)
        columns: dict[str, pa.Array] = {}
        for name, entry in self._plan.items():
            strategy = entry["strategy"]
            derived = inner_out.column(name).to_pylist() if entry.get("derived") else None
            if strategy in ("pseudonym", "hash", "keep"):
                values: list[Any] = list(derived or [None] * num_rows)
            elif strategy == "drop":
                values = [None] * num_rows
            elif strategy == "mask":
                values = [None if p is None else fill_pattern(p, rng) for p in (derived or [None] * num_rows)]
            else:
                present = [bool(p) for p in derived] if derived is not None else [True] * num_rows
                values = self._fakes(entry, present, locales, fakes, rng)
            columns[name] = _as_type(values, entry["dtype"])
        out, names = [], []
        for column in table.columns:
            if column.name in self.context_columns:
                continue
            out.append(columns[column.name] if column.name in columns else inner_out.column(column.name))
            names.append(column.name)
        if not out:
            return pa.table({"_": pa.nulls(num_rows)}).drop(["_"])
        return pa.table(out, names=names)

    def _fakes(self, entry: Mapping[str, Any], present: list[bool], locales: list[str | None], fakes: Any,
               rng: np.random.Generator) -> list[str | None]:
        kind = PIIKind(entry["pii_kind"])
        pools: dict[str, list[str]] = entry.get("pools") or {}
        out: list[str | None] = [None] * len(present)
        rows = [i for i, ok in enumerate(present) if ok]
        by_locale: dict[str, list[int]] = {}
        for i in rows:
            loc = locales[i] if locales[i] in pools or not pools else self.locale
            by_locale.setdefault(loc or self.locale, []).append(i)
        for loc, idx in by_locale.items():
            pool = pools.get(loc) or pools.get(self.locale) or []
            if pool:
                if entry.get("unique") and len(idx) <= len(pool):
                    picks = rng.permutation(len(pool))[: len(idx)]
                else:
                    picks = rng.integers(len(pool), size=len(idx))
                for i, p in zip(idx, picks, strict=False):
                    out[i] = pool[int(p)]
            else:  # no pool (a model trained with DP): fresh fakes
                seeds = rng.integers(0, 2**62, size=len(idx))
                for i, s in zip(idx, seeds, strict=False):
                    out[i] = fakes.value(kind, int(s), loc)
        return out

    # -- state -----------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        return ComponentState(values={"plan": self._plan})

    def _set_state(self, state: ComponentState) -> None:
        self._plan = {k: dict(v) for k, v in state.values["plan"].items()}


def _as_type(values: list[Any], dtype: str) -> pa.Array:
    import pyarrow as pa

    arr = pa.array(values, type=pa.string())
    if dtype in ("string", "large_string", "utf8"):
        return arr
    try:
        from hiveframe.arrow import arrow_type

        return arr.cast(arrow_type(dtype))
    except Exception:  # noqa: BLE001 - a fake that does not parse as the column's type stays a string
        return arr


@attrs.define(kw_only=True, eq=False)
class PIIWrapper(PrivacyWrapper):
    """Wraps generators so PII columns are replaced (one salt and one pseudonym map for every table).

    ``strategies`` maps ``"table.column"``, ``"column"`` or a PII kind (``"email"``) to a strategy;
    ``locale`` is the default faker locale, ``locale_map`` maps values of a country/locale column to
    faker locales (beyond the built-in country names). ``salt`` (a secret) makes hashes and
    pseudonyms reproducible across runs; it is never saved.
    """

    name: ClassVar[str] = "pii"
    requires: ClassVar[tuple[str, ...]] = ("faker",)
    extra: ClassVar[str | None] = "privacy"

    strategies: dict[str, str] = attrs.field(factory=dict)
    default_strategy: str = "fake"
    consistent: bool = False
    locale: str = "en_US"
    locale_map: dict[str, str] = attrs.field(factory=dict)
    salt: str | None = None
    _shared: _Shared = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        from hiveframe_privacy.fakes import check_locale

        _check_strategies(self.strategies, self.default_strategy)
        check_locale(self.locale)
        for loc in self.locale_map.values():
            check_locale(loc)
        self._shared = _Shared(self.salt.encode("utf-8") if self.salt else secret_token())

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["salt"] = None  # never persist the secret
        return params

    def exclude_values(self, values: Iterable[Any]) -> None:
        """Real PII values no fake may equal (the engine passes every PII value of the database)."""
        self._shared.add(values)

    def strategy_for(self, table: str, column: Column) -> str:
        return resolve_strategy(self.strategies, self.default_strategy, table, column)

    def report(self) -> dict[str, Any]:
        return {"mechanism": "pii replacement", "default_strategy": self.default_strategy,
                "strategies": dict(self.strategies), "consistent": self.consistent, "locale": self.locale}

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        return PIIProtectedGenerator(
            inner=generator, strategies=dict(self.strategies), default_strategy=self.default_strategy,
            consistent=self.consistent, locale=self.locale, locale_map=dict(self.locale_map), _shared=self._shared,
        )
