"""Conformance checks: does a component honour its family's contract?

A plugin author runs one ``check_*`` per component in their own test suite::

    from hiveframe.testing.conformance import check_table_generator

    def test_my_generator_conforms():
        check_table_generator(MyGenerator, params={"epochs": 1})

Each check builds small, realistic data (numbers with nulls, integers, categories, booleans,
datetimes) unless given some, exercises the public methods the engine calls, and raises one
:class:`ConformanceError` (an ``AssertionError``, so pytest shows it as a test failure) listing every
broken rule at once. It returns a :class:`ConformanceReport` naming the rules that held.

What is checked, for every kind: the class subclasses its contract, has a ``name``, declares its
parameters as attrs fields, round-trips them through ``get_params``/``from_params`` as JSON, rejects
unknown parameters with a :class:`~hiveframe.errors.ConfigError`, and leaves the public methods (which
validate input and wrap errors naming plugin and component) to the base class, implementing the
private ones. Then, per kind: shapes and dtypes of outputs, determinism for a seed, and the state
round trip through :func:`~hiveframe.persistence.save_component` / ``load_component`` (JSON + arrays,
no pickle).
"""

from __future__ import annotations

import json
import math
import tempfile
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from hiveframe.components import (
    BASES,
    FAMILIES,
    Component,
    ComponentState,
    Database,
    LinkageModel,
    PrivacyWrapper,
    Reader,
    Span,
    TableGenerator,
    Transformer,
    ValidationResult,
    Validator,
    Writer,
)
from hiveframe.errors import ConfigError, HiveframeError, NotFittedError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column, Metadata, Table
    from hiveframe.plugins import PluginHost

__all__ = [
    "ConformanceError", "ConformanceReport", "check_linkage_model", "check_privacy_wrapper",
    "check_reader", "check_table_generator", "check_transformer", "check_validator", "check_writer",
    "sample_metadata", "sample_table",
]

#: the public methods each family implements in the base class; plugins implement the ``_`` versions.
PUBLIC_METHODS: dict[str, tuple[str, ...]] = {
    "reader": ("read",),
    "writer": ("write",),
    "transformer": ("fit", "transform", "reverse"),
    "linkage_model": ("fit", "sample"),
    "table_generator": ("fit", "fit_private", "sample"),
    "privacy_wrapper": ("wrap",),
    "validator": ("validate",),
}


class ConformanceError(AssertionError):
    """A component breaks its contract. ``failures`` lists every broken rule."""

    def __init__(self, component: str, failures: Sequence[str]) -> None:
        self.failures = list(failures)
        lines = [f"{component} breaks the hiveframe contract ({len(self.failures)} problem(s)):"]
        lines += [f"  - {f}" for f in self.failures]
        super().__init__("\n".join(lines))


@dataclass
class ConformanceReport:
    """What a check verified: the rules that held (``passed``) and any notes."""

    component: str
    kind: str
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Checker:
    """Collects rule outcomes; ``rule`` runs one and records a failure instead of stopping."""

    def __init__(self, cls: type[Component], kind: str) -> None:
        self.cls = cls
        self.kind = kind
        self.label = f"{kind.replace('_', ' ')} {getattr(cls, 'name', '') or cls.__name__!r}"
        self.failures: list[str] = []
        self.report = ConformanceReport(component=getattr(cls, "name", "") or cls.__name__, kind=kind)

    def rule(self, title: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except AssertionError as exc:
            self.failures.append(f"{title}: {exc}")
            return _FAILED
        except Exception as exc:  # noqa: BLE001 - a failing rule is a finding, not a crash
            self.failures.append(f"{title}: raised {type(exc).__name__}: {exc}")
            return _FAILED
        self.report.passed.append(title)
        return result

    def finish(self) -> ConformanceReport:
        if self.failures:
            raise ConformanceError(self.label, self.failures)
        return self.report


_FAILED = object()


# -- sample data ----------------------------------------------------------------------------------
def sample_table(num_rows: int = 200, *, seed: int = 0, context: bool = False) -> pa.Table:
    """A small mixed-type table: floats with nulls, ints, a category with nulls, bools, datetimes.

    With ``context=True`` it also holds ``parent_segment`` (a category) and ``parent_size`` (a float)
    that play the role of parent context columns.
    """
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n = num_rows
    age = rng.integers(18, 90, size=n)
    income = np.round(rng.lognormal(10, 0.5, size=n) + age * 100, 2)
    color = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    color_mask = rng.random(n) < 0.1
    income_mask = rng.random(n) < 0.15
    flag = rng.random(n) < (age / 100)
    start = np.datetime64("2020-01-01T00:00:00", "us")
    when = start + (rng.integers(0, 3 * 365 * 24 * 3600, size=n) * 1_000_000).astype("timedelta64[us]")
    columns: dict[str, pa.Array] = {
        "age": pa.array(age, type=pa.int64()),
        "income": pa.array(income, type=pa.float64(), mask=income_mask),
        "color": pa.array(color.tolist(), type=pa.string(), mask=color_mask),
        "member": pa.array(flag, type=pa.bool_()),
        "joined": pa.array(when, type=pa.timestamp("us")),
    }
    if context:
        segment = rng.choice(["north", "south"], size=n)
        columns["parent_segment"] = pa.array(segment.tolist(), type=pa.string())
        columns["parent_size"] = pa.array(rng.normal(50, 10, size=n) + (segment == "north") * 20,
                                          type=pa.float64())
    return pa.table(columns)


def sample_metadata(data: pa.Table, name: str = "people") -> Table:
    """A :class:`~hiveframe.metadata.Table` describing ``data`` (kinds guessed from Arrow types)."""
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind, Table

    columns = []
    for fld in data.schema:
        t = fld.type
        if pa.types.is_boolean(t):
            kind = ColumnKind.BOOLEAN
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            kind = ColumnKind.NUMERICAL
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            kind = ColumnKind.DATETIME
        else:
            kind = ColumnKind.CATEGORICAL
        columns.append(Column(name=fld.name, kind=kind, dtype=str(t),
                              nullable=data.column(fld.name).null_count > 0))
    return Table(name=name, columns=tuple(columns))


# -- shared rules ---------------------------------------------------------------------------------
def _raises(error: type[Exception], failure: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Pass when ``call(*args, **kwargs)`` raises ``error``; a call that returns fails the rule with
    ``failure`` (any other exception fails it too, with that exception)."""
    try:
        call(*args, **kwargs)
    except error:
        return
    raise AssertionError(failure)


def _resolve(cls_or_instance: Any, kind: str) -> tuple[type[Component], Component | None]:
    base = BASES[kind]
    if isinstance(cls_or_instance, Component):
        instance = cls_or_instance
        cls = type(instance)
    elif isinstance(cls_or_instance, type):
        instance, cls = None, cls_or_instance
    else:
        raise ConformanceError(repr(cls_or_instance), [f"expected a {base.__name__} subclass or instance"])
    if not issubclass(cls, base):
        raise ConformanceError(cls.__name__, [f"{cls.__name__} does not subclass {base.__module__}.{base.__name__}"])
    return cls, instance


def _check_declaration(ck: _Checker, cls: type[Component], instance: Component | None,
                       params: Mapping[str, Any] | None) -> Component | None:
    base = BASES[ck.kind]

    def has_name() -> None:
        assert isinstance(cls.name, str) and cls.name, "set the class attribute `name` to the registered name"
        assert cls.kind == base.kind, f"`kind` is {cls.kind!r}, expected {base.kind!r}"

    def is_attrs() -> None:
        assert attrs.has(cls), (f"{cls.__name__} is not an attrs class: decorate it with "
                                "@attrs.define(kw_only=True, eq=False) and declare parameters as fields")

    def public_methods_untouched() -> None:
        bad = [m for m in PUBLIC_METHODS[ck.kind] if getattr(cls, m) is not getattr(base, m)]
        assert not bad, (f"overrides {', '.join(bad)}; implement {', '.join('_' + m for m in bad)} instead "
                         "(the public methods validate input and wrap errors naming plugin and component)")
        assert cls._call is Component._call, "overrides _call (error wrapping)"

    def requirements() -> None:
        cls.check_available()

    for title, fn in (("declares a name and kind", has_name), ("is an attrs class", is_attrs),
                      ("keeps the public methods of the contract", public_methods_untouched),
                      ("its optional dependencies are installed", requirements)):
        ck.rule(title, fn)

    def build() -> Component:
        if instance is not None:
            return instance
        return cls.from_params(dict(params or {}))

    built = ck.rule("builds from declared parameters", build)
    if built is _FAILED:
        return None

    def params_round_trip() -> None:
        got = {k: v for k, v in built.get_params().items() if not _holds_components(v)}
        text = json.dumps(got)  # raises TypeError if a parameter is not JSON-able
        again = cls.from_params(json.loads(text)).get_params()
        for k, v in got.items():
            assert again[k] == v, f"parameter {k!r}: {v!r} came back as {again[k]!r}"

    def rejects_unknown() -> None:
        _raises(ConfigError, "from_params accepted an unknown parameter (expected ConfigError)",
                cls.from_params, {**dict(params or {}), "no_such_parameter_xyz": 1})

    ck.rule("parameters round-trip as JSON through get_params/from_params", params_round_trip)
    ck.rule("rejects an unknown parameter with ConfigError", rejects_unknown)
    return built


def _holds_components(value: Any) -> bool:
    if isinstance(value, Component):
        return True
    if isinstance(value, dict):
        return any(isinstance(v, Component) for v in value.values())
    return False


def _fresh(cls: type[Component], instance: Component | None, params: Mapping[str, Any] | None) -> Any:
    """A new, unfitted component configured like the one under test."""
    if instance is not None:
        return attrs.evolve(instance)
    return cls.from_params(dict(params or {}))


class _HostFor:
    """A host in which ``cls`` is registered: a given one, the default one, or a private one."""

    def __init__(self, cls: type[Component], host: PluginHost | None) -> None:
        self.cls = cls
        self.host = host
        self._saved_plugin = cls.plugin

    def __enter__(self) -> PluginHost:
        from hiveframe.plugins import PluginHost

        kind, name = self.cls.kind, self.cls.name
        if self.host is not None:
            reg = self.host.registry.get(kind, {}).get(name)
            assert reg is not None and reg.cls is self.cls, (
                f"{kind} {name!r} is not registered in the given host (register it through a plugin)")
            return self.host
        default = PluginHost()
        reg = default.registry.get(kind, {}).get(name)
        if reg is not None and reg.cls is self.cls:
            return default
        hook = {k: h for h, k in FAMILIES.items()}[kind]
        cls = self.cls

        def register() -> list[type[Component]]:
            return [cls]

        from hiveframe.hookspecs import hookimpl

        plugin = types.SimpleNamespace(**{hook: hookimpl(register)})
        return PluginHost(load_entry_points=False, plugins={"conformance": plugin})

    def __exit__(self, *exc: object) -> None:
        self.cls.plugin = self._saved_plugin


def _round_trip(cls: type[Component], component: Component, host: PluginHost | None) -> Component:
    from hiveframe.persistence import load_component, save_component

    with tempfile.TemporaryDirectory(prefix="hiveframe-conformance-") as tmp, _HostFor(cls, host) as h:
        directory = Path(tmp)
        save_component(directory, "component", component)
        for npz in directory.rglob("*.npz"):
            with np.load(npz, allow_pickle=False) as arrays:  # object arrays would need pickle
                for key in arrays.files:
                    arrays[key]
        loaded = load_component(directory, "component", h)
    assert type(loaded) is cls, f"loaded a {type(loaded).__name__}, expected {cls.__name__}"
    return loaded


def _check_state_is_plain(state: ComponentState) -> None:
    assert isinstance(state, ComponentState), f"_get_state returned {type(state).__name__}, not ComponentState"
    json.dumps(state.values, default=_iso)
    for key, arr in state.arrays.items():
        assert isinstance(arr, np.ndarray), f"state array {key!r} is a {type(arr).__name__}, not a numpy array"
        assert arr.dtype != object, f"state array {key!r} has dtype object (needs pickle)"


def _iso(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def _assert_tables_equal(a: pa.Table, b: pa.Table, what: str) -> None:
    assert a.column_names == b.column_names, f"{what}: columns {a.column_names} vs {b.column_names}"
    assert a.num_rows == b.num_rows, f"{what}: {a.num_rows} vs {b.num_rows} rows"
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        diffs = [i for i, (x, y) in enumerate(zip(left, right, strict=True)) if not _same(x, y)]
        assert not diffs, f"{what}: column {name!r} differs in {len(diffs)} row(s), first at row {diffs[0]}"


def _check_output_schema(out: Any, table: Table, skip: Sequence[str], num_rows: int, what: str) -> None:
    import pyarrow as pa

    assert isinstance(out, pa.Table), f"{what} returned {type(out).__name__}, expected pyarrow.Table"
    expected = [c for c in table.column_names if c not in skip]
    assert out.column_names == expected, f"{what} returned columns {out.column_names}, expected {expected}"
    assert out.num_rows == num_rows, f"{what} returned {out.num_rows} rows, expected {num_rows}"
    for name in expected:
        col = table.column(name)
        got = str(out.schema.field(name).type)
        assert got == col.dtype, f"{what}: column {name!r} has type {got}, metadata says {col.dtype}"
        if not col.nullable:
            assert out.column(name).null_count == 0, f"{what}: non-nullable column {name!r} holds nulls"


def _check_domains(out: pa.Table, data: pa.Table, table: Table, what: str) -> None:
    from hiveframe.metadata import ColumnKind

    for name in out.column_names:
        col = table.column(name)
        if col.kind not in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            continue
        allowed = set(col.categories or ()) | set(data.column(name).to_pylist())
        extra = {v for v in out.column(name).to_pylist() if v is not None} - allowed
        assert not extra, f"{what}: column {name!r} produced unseen categories {sorted(map(str, extra))[:5]}"


# -- table generators -----------------------------------------------------------------------------
def check_table_generator(
    cls_or_instance: type[TableGenerator] | TableGenerator,
    *,
    params: Mapping[str, Any] | None = None,
    data: pa.Table | None = None,
    table: Table | None = None,
    num_rows: int = 50,
    seed: int = 0,
    host: PluginHost | None = None,
    check_domains: bool = True,
) -> ConformanceReport:
    """Check a table generator: fit/sample shapes and dtypes, seeds, context, conditions, state.

    ``data``/``table`` replace the built-in sample (:func:`sample_table`); ``params`` configure the
    class (keep training short, e.g. ``{"epochs": 1}``); ``host`` is one where the class is registered
    (by default: the installed plugins, or a private host registering just this class).
    """
    cls, instance = _resolve(cls_or_instance, "table_generator")
    ck = _Checker(cls, "table_generator")
    built = _check_declaration(ck, cls, instance, params)
    if built is None:
        return ck.finish()
    data_given = data
    if data is None:
        data = sample_table(200, seed=seed)
    if table is None:
        table = sample_metadata(data)

    def not_fitted() -> None:
        _raises(NotFittedError, "sample() before fit() did not raise NotFittedError",
                _fresh(cls, instance, params).sample, 5, seed=seed)

    ck.rule("refuses to sample before fit", not_fitted)

    def fit_one() -> TableGenerator:
        gen = _fresh(cls, instance, params)
        returned = gen.fit(data, table, seed=seed)
        assert returned is gen, "fit() must return the generator itself"
        return gen

    gen = ck.rule("fits the sample table", fit_one)
    if gen is _FAILED:
        return ck.finish()

    out = ck.rule("samples the requested rows, columns and dtypes",
                  lambda: _sample_checked(gen, table, num_rows, seed))
    if out is not _FAILED and check_domains:
        ck.rule("samples only categories seen in training", lambda: _check_domains(out, data, table, "sample"))
    ck.rule("samples zero rows", lambda: _check_output_schema(gen.sample(0, seed=seed), table, (), 0, "sample(0)"))

    def negative_rows() -> None:
        _raises(ConfigError, "sample(-1) did not raise ConfigError", gen.sample, -1)

    ck.rule("rejects a negative row count", negative_rows)

    def same_seed_same_rows() -> None:
        _assert_tables_equal(gen.sample(num_rows, seed=seed + 1), gen.sample(num_rows, seed=seed + 1),
                             "two samples with the same seed")

    def same_seed_same_fit() -> None:
        other = _fresh(cls, instance, params).fit(data, table, seed=seed)
        _assert_tables_equal(gen.sample(num_rows, seed=seed + 2), other.sample(num_rows, seed=seed + 2),
                             "two fits with the same seed, sampled with the same seed")

    ck.rule("same seed, same sample", same_seed_same_rows)
    ck.rule("same seed, same fit", same_seed_same_fit)

    def state_round_trip() -> None:
        _check_state_is_plain(gen._get_state())
        loaded = _round_trip(cls, gen, host)
        assert isinstance(loaded, TableGenerator) and loaded.is_fitted, "loaded generator is not fitted"
        _assert_tables_equal(gen.sample(num_rows, seed=seed + 3), loaded.sample(num_rows, seed=seed + 3),
                             "sample before and after save/load")

    ck.rule("state round-trips through save_component/load_component", state_round_trip)

    def missing_column() -> None:
        _raises(HiveframeError, "fit() on data lacking a described column did not raise a hiveframe error",
                _fresh(cls, instance, params).fit, data.drop_columns([table.column_names[0]]), table, seed=seed)

    ck.rule("fit on data lacking a column raises a hiveframe error", missing_column)

    if cls.conditional:
        _check_conditional(ck, cls, instance, params, num_rows, seed, check_domains)
    else:
        ck.report.notes.append("conditional = False: context and conditions not checked")
    private_data = sample_table(3000, seed=seed) if data_given is None else data
    _check_private(ck, cls, instance, params, private_data, table, num_rows, seed, host)
    return ck.finish()


#: planted in one extra row by the differential-privacy rules: must never come out of a private fit
CANARY_TEXT = "canary-7f3a9q"
CANARY_NUMBER = 987654321.0
#: the budget the private rules train with (3,000 rows of the sample table unless data is given)
PRIVATE_EPSILON = 3.0


def _with_canary(data: pa.Table, table: Table) -> tuple[pa.Table, str | None, str | None]:
    """``data`` plus one row holding a unique category and an extreme number (where columns allow)."""
    import pyarrow as pa

    text_col = next((c.name for c in table.columns if pa.types.is_string(data.column(c.name).type)), None)
    num_col = next((c.name for c in table.columns if pa.types.is_floating(data.column(c.name).type)), None)
    row = data.slice(0, 1).to_pylist()[0]
    if text_col:
        row[text_col] = CANARY_TEXT
    if num_col:
        row[num_col] = CANARY_NUMBER
    extra = pa.Table.from_pylist([row], schema=data.schema)
    return pa.concat_tables([data, extra]), text_col, num_col


def _check_private(ck: _Checker, cls: type[TableGenerator], instance: TableGenerator | None,
                   params: Mapping[str, Any] | None, data: pa.Table, table: Table, num_rows: int, seed: int,
                   host: PluginHost | None) -> None:
    """Differential privacy: a ``supports_dp`` generator trains under the ``dp`` wrapper and leaks no canary."""
    if not cls.supports_dp:
        def refuses() -> None:
            _raises(ConfigError, "fit_private() of a generator without supports_dp did not raise ConfigError",
                    _fresh(cls, instance, params).fit_private, data, table, private=None, seed=seed)

        ck.rule("without supports_dp, fit_private refuses", refuses)
        ck.report.notes.append("supports_dp = False: private training not checked")
        return

    def implements() -> None:
        assert cls._fit_private is not TableGenerator._fit_private, (
            "supports_dp = True but _fit_private is not implemented")

    ck.rule("supports_dp: implements _fit_private", implements)
    from hiveframe.plugins import PluginHost

    h = host or PluginHost()
    try:
        registration = h.registration("privacy_wrapper", "dp")
    except ConfigError:
        registration = None
    if registration is None or not registration.available:
        ck.report.notes.append("the 'dp' privacy wrapper is not installed: private training not exercised "
                               "(pip install 'hiveframe[privacy]')")
        return
    wrapper = h.create("privacy_wrapper", "dp", {"epsilon": PRIVATE_EPSILON})
    planted, text_col, num_col = _with_canary(data, table)

    def private_fit() -> TableGenerator:
        wrapped = wrapper.wrap(_fresh(cls, instance, params))
        wrapped.fit(planted, table, seed=seed)
        report = wrapper.report()["tables"][table.name]
        assert report.get("private") is True, f"the dp wrapper did not train it privately: {report}"
        assert report["epsilon_spent"] <= PRIVATE_EPSILON + 1e-9, (
            f"spent epsilon {report['epsilon_spent']} > {PRIVATE_EPSILON}")
        return wrapped

    wrapped = ck.rule("trains under the 'dp' wrapper within its epsilon", private_fit)
    if wrapped is _FAILED:
        return
    out = ck.rule("samples after a private fit", lambda: _sample_checked(wrapped, table, num_rows, seed))

    def no_canary() -> None:
        inner = wrapped.inner  # type: ignore[attr-defined]
        state = inner._get_state()
        text = json.dumps(state.values, default=_iso)
        assert CANARY_TEXT not in text, "the canary category of one row is in the private model's state"
        for key, arr in state.arrays.items():
            if arr.dtype.kind in "fiu":
                assert not np.isclose(arr, CANARY_NUMBER).any(), f"the canary number is in state array {key!r}"
            elif arr.dtype.kind in "US":
                assert CANARY_TEXT not in arr.astype(str).tolist(), f"the canary category is in state array {key!r}"
        if out is not _FAILED:
            if text_col:
                assert CANARY_TEXT not in out.column(text_col).to_pylist(), "the canary category was sampled"
            if num_col:
                values = np.asarray(out.column(num_col).to_numpy(zero_copy_only=False), dtype=np.float64)
                assert not np.isclose(values, CANARY_NUMBER).any(), "the canary number was sampled"

    ck.rule("a private fit keeps no value of a single row (canary)", no_canary)


def _sample_checked(gen: TableGenerator, table: Table, n: int, seed: int) -> pa.Table:
    out = gen.sample(n, seed=seed)
    _check_output_schema(out, table, (), n, "sample")
    return out


def _check_conditional(ck: _Checker, cls: type[TableGenerator], instance: TableGenerator | None,
                       params: Mapping[str, Any] | None, num_rows: int, seed: int, check_domains: bool) -> None:
    import pyarrow as pa

    data = sample_table(200, seed=seed, context=True)
    table = sample_metadata(data, "children")
    ctx_cols = ("parent_segment", "parent_size")

    def fit_with_context() -> TableGenerator:
        return _fresh(cls, instance, params).fit(data, table, context_columns=ctx_cols, seed=seed)

    gen = ck.rule("fits with context columns", fit_with_context)
    if gen is _FAILED:
        return
    context = pa.table({"parent_segment": ["north"] * 7 + ["south"] * 8,
                        "parent_size": pa.array(np.linspace(30, 90, 15), type=pa.float64())})

    def sample_with_context() -> None:
        out = gen.sample(context=context, seed=seed)
        _check_output_schema(out, table, ctx_cols, context.num_rows, "sample(context=...)")
        if check_domains:
            _check_domains(out, data, table, "sample(context=...)")
        again = gen.sample(context=context, seed=seed)
        _assert_tables_equal(out, again, "two context samples with the same seed")

    def needs_context() -> None:
        _raises(ConfigError, "sampling a context-fitted generator without context did not raise ConfigError",
                gen.sample, 5, seed=seed)

    ck.rule("samples one row per context row", sample_with_context)
    ck.rule("refuses to sample without the context it was fitted with", needs_context)

    plain = ck.rule("fits without context for conditions",
                    lambda: _fresh(cls, instance, params).fit(sample_table(200, seed=seed),
                                                              sample_metadata(sample_table(200, seed=seed)),
                                                              seed=seed))
    if plain is _FAILED:
        return

    def conditions() -> None:
        out = plain.sample(num_rows, conditions={"color": "green", "member": True}, seed=seed)
        assert out.num_rows == num_rows, f"sample(conditions=...) returned {out.num_rows} rows"
        assert set(out.column("color").to_pylist()) == {"green"}, "condition color='green' not honoured"
        assert set(out.column("member").to_pylist()) == {True}, "condition member=True not honoured"

    ck.rule("honours conditions on columns", conditions)


# -- readers and writers --------------------------------------------------------------------------
def check_reader(
    cls_or_instance: type[Reader] | Reader,
    source: object,
    *,
    expected_tables: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    missing_source: object | None = None,
) -> ConformanceReport:
    """Check a reader on a ``source`` it should read (a path, a connection...).

    ``missing_source`` is something that does not exist (default: a path in an empty temporary
    folder); reading it must raise a hiveframe error, not a bare ``OSError``.
    """
    cls, instance = _resolve(cls_or_instance, "reader")
    ck = _Checker(cls, "reader")
    reader = _check_declaration(ck, cls, instance, params)
    if reader is None:
        return ck.finish()
    ck.rule("claims the source", lambda: _assert(cls.claims(source) is True, "claims(source) is not True"))
    ck.rule("does not claim an arbitrary object",
            lambda: _assert(not cls.claims(object()), "claims(object()) is true"))

    def read_all() -> Database:
        import pyarrow as pa

        db = reader.read(source)
        assert isinstance(db, Database), f"read() returned {type(db).__name__}, expected Database"
        assert len(db) > 0, "read() returned no tables"
        for name, tbl in db.tables.items():
            assert isinstance(tbl, pa.Table), f"table {name!r} is a {type(tbl).__name__}, not a pyarrow.Table"
        if expected_tables is not None:
            missing = sorted(set(expected_tables) - set(db.tables))
            assert not missing, f"tables {missing} not read"
        return db

    db = ck.rule("reads the source into a Database of Arrow tables", read_all)
    if db is _FAILED:
        return ck.finish()
    first = db.names[0]

    def subset() -> None:
        part = reader.read(source, tables=[first])
        assert first in part.tables, f"read(tables=[{first!r}]) lacks {first!r}"
        _assert_tables_equal(part[first], db[first], f"table {first!r} read alone")

    def unknown_table() -> None:
        _raises(SourceError, "reading an unknown table did not raise SourceError",
                reader.read, source, tables=["__no_such_table__"])

    def missing() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            target = missing_source if missing_source is not None else Path(tmp) / "no_such_source"
            try:
                reader.read(target)
            except HiveframeError:
                return
        raise AssertionError("reading a missing source did not raise a hiveframe error")

    def deterministic() -> None:
        again = reader.read(source)
        for name in db.names:
            _assert_tables_equal(db[name], again[name], f"table {name!r} read twice")

    ck.rule("reads a chosen subset of tables", subset)
    ck.rule("names an unknown table with SourceError", unknown_table)
    ck.rule("a missing source raises a hiveframe error", missing)
    ck.rule("reads the same data twice", deterministic)
    return ck.finish()


def _assert(condition: bool, message: str) -> None:
    assert condition, message


def _sample_database() -> tuple[Database, Metadata]:
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table

    people = sample_table(20, seed=1)
    people = people.add_column(0, "person_id", pa.array(np.arange(1, 21), type=pa.int64()))
    rng = np.random.default_rng(2)
    orders = pa.table({
        "order_id": pa.array(np.arange(1, 41), type=pa.int64()),
        "person_id": pa.array(rng.integers(1, 21, size=40), type=pa.int64()),
        "amount": pa.array(np.round(rng.gamma(2, 30, size=40), 2), type=pa.float64()),
    })
    people_meta = sample_metadata(people, "people")
    people_meta = Table(name="people", primary_key=("person_id",), columns=(
        Column(name="person_id", kind=ColumnKind.ID, dtype="int64", nullable=False),
        *people_meta.columns[1:],
    ))
    orders_meta = Table(name="orders", primary_key=("order_id",), columns=(
        Column(name="order_id", kind=ColumnKind.ID, dtype="int64", nullable=False),
        Column(name="person_id", kind=ColumnKind.ID, dtype="int64", nullable=False),
        Column(name="amount", kind=ColumnKind.NUMERICAL, dtype="double", nullable=False),
    ))
    metadata = Metadata(tables=(people_meta, orders_meta), foreign_keys=(
        ForeignKey(child_table="orders", child_columns=("person_id",), parent_table="people",
                   parent_columns=("person_id",)),
    ))
    return Database({"people": people, "orders": orders}), metadata


def check_writer(
    cls_or_instance: type[Writer] | Writer,
    target: object,
    *,
    format: str | None = None,
    params: Mapping[str, Any] | None = None,
    reader: str | Reader | None = None,
    host: PluginHost | None = None,
    compare_values: bool = True,
) -> ConformanceReport:
    """Check a writer: it claims ``target`` (in ``format``), writes a two-table database there, and
    (with ``reader``, a name or instance) the data reads back with the same tables, columns, rows and,
    with ``compare_values``, values.
    """
    cls, instance = _resolve(cls_or_instance, "writer")
    ck = _Checker(cls, "writer")
    writer = _check_declaration(ck, cls, instance, params)
    if writer is None:
        return ck.finish()
    db, metadata = _sample_database()
    ck.rule("claims the target", lambda: _assert(cls.claims(target, format) is True,
                                                 f"claims({target!r}, {format!r}) is not True"))
    ck.rule("does not claim an arbitrary object",
            lambda: _assert(not cls.claims(object(), None), "claims(object(), None) is true"))
    written = ck.rule("writes a Database", lambda: writer.write(db, target, metadata=metadata,
                                                               provenance={"generator": "conformance"}))
    if written is not _FAILED and reader is not None:
        def read_back() -> None:
            from hiveframe.plugins import PluginHost

            h = host or PluginHost()
            back = h.read(target, reader=reader)
            assert sorted(back.names) == sorted(db.names), f"read back tables {back.names}, wrote {db.names}"
            for name in db.names:
                assert back[name].column_names == db[name].column_names, (
                    f"table {name!r} read back with columns {back[name].column_names}")
                assert back[name].num_rows == db[name].num_rows, f"table {name!r} read back with other row count"
                if compare_values:
                    _assert_tables_equal(back[name].cast(db[name].schema), db[name], f"table {name!r} read back")

        ck.rule("what it writes reads back unchanged", read_back)

    def unwritable() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            blocker = Path(tmp) / "a_file"
            blocker.write_text("not a folder")
            bad = blocker / ("out.sqlite" if str(target).endswith(".sqlite") else "out")
            try:
                writer.write(db, bad, metadata=metadata)
            except HiveframeError:
                return
        raise AssertionError("writing below a plain file did not raise a hiveframe error")

    if isinstance(target, (str, Path)):
        ck.rule("an unwritable target raises a hiveframe error", unwritable)
    return ck.finish()


# -- transformers ---------------------------------------------------------------------------------
def _default_column(cls: type[Transformer]) -> tuple[pa.Array, Column]:
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind

    kind = cls.handles[0] if cls.handles else ColumnKind.NUMERICAL
    data = sample_table(300, seed=3)
    by_kind = {
        ColumnKind.NUMERICAL: "income", ColumnKind.CATEGORICAL: "color", ColumnKind.BOOLEAN: "member",
        ColumnKind.DATETIME: "joined",
    }
    name = by_kind.get(kind)
    if name is None:
        values = pa.array([f"v{i % 17}" for i in range(300)], type=pa.string())
        return values, Column(name="value", kind=kind, dtype="string", nullable=False)
    values = data.column(name).combine_chunks()
    return values, Column(name=name, kind=kind, dtype=str(values.type), nullable=values.null_count > 0)


def check_transformer(
    cls_or_instance: type[Transformer] | Transformer,
    *,
    values: pa.Array | None = None,
    column: Column | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    round_trip: bool = True,
    rtol: float = 1e-6,
    host: PluginHost | None = None,
) -> ConformanceReport:
    """Check a transformer on ``values`` described by ``column`` (default: a sample column of the
    first kind in ``handles``): encoding shape and spans, exact reverse (``round_trip``), seeds, state.
    """
    cls, instance = _resolve(cls_or_instance, "transformer")
    ck = _Checker(cls, "transformer")
    built = _check_declaration(ck, cls, instance, params)
    if built is None:
        return ck.finish()
    if values is None or column is None:
        values, column = _default_column(cls)
    ck.rule("declares the column kinds it handles",
            lambda: _assert(bool(cls.handles), "set the class attribute `handles` (a tuple of ColumnKind)"))

    def not_fitted() -> None:
        _raises(NotFittedError, "transform() before fit() did not raise NotFittedError",
                _fresh(cls, instance, params).transform, values)

    ck.rule("refuses to transform before fit", not_fitted)

    def fit() -> Transformer:
        t = _fresh(cls, instance, params)
        t.fit(values, column, seed=seed)
        return t

    t = ck.rule("fits the column", fit)
    if t is _FAILED:
        return ck.finish()

    def encode() -> np.ndarray:
        encoded = t.transform(values)
        spans = t.output_spans
        assert spans and all(isinstance(s, Span) for s in spans), "output_spans must be a non-empty list of Span"
        assert all(s.activation in ("scalar", "onehot") and s.width > 0 for s in spans), f"bad spans {spans}"
        assert encoded.shape == (len(values), sum(s.width for s in spans)), (
            f"transform returned shape {encoded.shape}, spans say ({len(values)}, {sum(s.width for s in spans)})")
        assert np.isfinite(encoded).all(), "transform returned NaN or infinity (encode nulls explicitly)"
        start = 0
        for s in spans:
            block = encoded[:, start:start + s.width]
            if s.activation == "onehot":
                assert ((block >= 0) & (block <= 1)).all(), "a one-hot block holds values outside [0, 1]"
                assert np.allclose(block.sum(axis=1), 1.0), "a one-hot block's rows do not sum to 1"
            start += s.width
        return encoded

    encoded = ck.rule("encodes to finite floats shaped by output_spans", encode)
    if encoded is _FAILED:
        return ck.finish()

    def reverse() -> None:
        back = t.reverse(encoded)
        assert len(back) == len(values), f"reverse returned {len(back)} values for {len(values)}"
        assert str(back.type) == column.dtype, f"reverse returned type {back.type}, column dtype is {column.dtype}"
        if round_trip:
            _assert_close(values.to_pylist(), back.to_pylist(), rtol, "reverse(transform(values))")

    def deterministic() -> None:
        other = _fresh(cls, instance, params)
        other.fit(values, column, seed=seed)
        assert np.array_equal(other.transform(values), encoded), "two fits with the same seed encode differently"

    def state() -> None:
        _check_state_is_plain(t._get_state())
        loaded = _round_trip(cls, t, host)
        assert np.array_equal(loaded.transform(values), encoded), "encoding differs after save/load"
        _assert_close(t.reverse(encoded).to_pylist(), loaded.reverse(encoded).to_pylist(), 0.0,
                      "reverse after save/load")

    ck.rule("reverse returns the column's type" + (" and values" if round_trip else ""), reverse)
    ck.rule("same seed, same encoding", deterministic)
    ck.rule("state round-trips through save_component/load_component", state)
    return ck.finish()


def _assert_close(expected: list[Any], got: list[Any], rtol: float, what: str) -> None:
    bad = []
    for i, (x, y) in enumerate(zip(expected, got, strict=True)):
        if x is None or y is None:
            ok = x is None and y is None
        elif isinstance(x, float) or isinstance(y, float):
            ok = _same(float(x), float(y)) or math.isclose(float(x), float(y), rel_tol=rtol, abs_tol=rtol)
        else:
            ok = x == y
        if not ok:
            bad.append(i)
    assert not bad, (f"{what}: {len(bad)} value(s) differ, first at row {bad[0]}: "
                     f"{expected[bad[0]]!r} -> {got[bad[0]]!r}")


# -- linkage models -------------------------------------------------------------------------------
def check_linkage_model(
    cls_or_instance: type[LinkageModel] | LinkageModel,
    *,
    params: Mapping[str, Any] | None = None,
    parents: pa.Table | None = None,
    counts: np.ndarray | None = None,
    seed: int = 0,
    host: PluginHost | None = None,
) -> ConformanceReport:
    """Check a linkage model: one non-negative integer count per parent row, seeds, state, and
    parents without feature columns."""
    import pyarrow as pa

    cls, instance = _resolve(cls_or_instance, "linkage_model")
    ck = _Checker(cls, "linkage_model")
    built = _check_declaration(ck, cls, instance, params)
    if built is None:
        return ck.finish()
    rng = np.random.default_rng(seed)
    if parents is None:
        n = 300
        segment = rng.choice(["a", "b"], size=n)
        parents = pa.table({"segment": segment.tolist(), "size": rng.normal(0, 1, size=n)})
        counts = rng.poisson(np.where(segment == "a", 0.5, 4.0))
    assert counts is not None, "give counts with parents"
    counts = np.asarray(counts)

    def fit() -> LinkageModel:
        m = _fresh(cls, instance, params)
        assert m.fit(parents, counts, seed=seed) is m, "fit() must return the model itself"
        return m

    model = ck.rule("fits counts per parent", fit)
    if model is _FAILED:
        return ck.finish()

    def sample() -> np.ndarray:
        out = model.sample(parents, seed=seed)
        assert out.shape == (parents.num_rows,), f"sample returned shape {out.shape}"
        assert (out >= 0).all(), "sample returned negative counts"
        return out

    out = ck.rule("samples one non-negative count per parent", sample)
    ck.rule("samples for zero parents", lambda: _assert(model.sample(parents.slice(0, 0), seed=seed).shape == (0,),
                                                         "sample on zero parents is not shape (0,)"))

    def deterministic() -> None:
        assert np.array_equal(model.sample(parents, seed=seed + 1), model.sample(parents, seed=seed + 1)), (
            "two samples with the same seed differ")
        other = _fresh(cls, instance, params).fit(parents, counts, seed=seed)
        assert np.array_equal(other.sample(parents, seed=seed + 1), model.sample(parents, seed=seed + 1)), (
            "two fits with the same seed sample differently")

    def featureless() -> None:
        bare = parents.select([])
        m = _fresh(cls, instance, params).fit(bare, counts, seed=seed)
        got = m.sample(bare, seed=seed)
        assert got.shape == (bare.num_rows,), f"featureless sample has shape {got.shape}"

    def state() -> None:
        _check_state_is_plain(model._get_state())
        loaded = _round_trip(cls, model, host)
        assert np.array_equal(loaded.sample(parents, seed=seed + 2), model.sample(parents, seed=seed + 2)), (
            "samples differ after save/load")

    def bad_counts() -> None:
        _raises(ConfigError, "fit with one count too few did not raise ConfigError",
                _fresh(cls, instance, params).fit, parents, counts[:-1], seed=seed)

    if out is not _FAILED:
        ck.rule("same seed, same counts", deterministic)
    ck.rule("fits and samples parents without feature columns", featureless)
    ck.rule("state round-trips through save_component/load_component", state)
    ck.rule("rejects counts that do not match the parents", bad_counts)
    return ck.finish()


# -- validators -----------------------------------------------------------------------------------
def check_validator(
    cls_or_instance: type[Validator] | Validator,
    *,
    params: Mapping[str, Any] | None = None,
    real: Mapping[str, pa.Table] | None = None,
    synthetic: Mapping[str, pa.Table] | None = None,
    metadata: Metadata | None = None,
    deterministic: bool = True,
) -> ConformanceReport:
    """Check a validator: it returns a :class:`ValidationResult` under its own name with finite float
    scores and a known status, JSON-able, and (``deterministic``) the same result twice."""
    from hiveframe.metadata import Metadata

    cls, instance = _resolve(cls_or_instance, "validator")
    ck = _Checker(cls, "validator")
    validator = _check_declaration(ck, cls, instance, params)
    if validator is None:
        return ck.finish()
    if real is None or synthetic is None or metadata is None:
        db, metadata = _sample_database()
        real = db.tables
        rng = np.random.default_rng(5)
        synthetic = {name: tbl.take(rng.integers(0, tbl.num_rows, size=tbl.num_rows)) for name, tbl in real.items()}
    assert isinstance(metadata, Metadata)

    def validate() -> ValidationResult:
        result = validator.validate(real, synthetic, metadata)
        assert isinstance(result, ValidationResult), f"returned {type(result).__name__}, not ValidationResult"
        assert result.validator == cls.name, f"result names validator {result.validator!r}, not {cls.name!r}"
        assert result.status in ("pass", "warn", "fail", "info"), f"unknown status {result.status!r}"
        for key, value in result.scores.items():
            assert isinstance(value, (int, float)) and math.isfinite(value), f"score {key!r} = {value!r}"
        json.dumps(result.to_dict(), default=_iso)
        return result

    result = ck.rule("returns a well-formed ValidationResult", validate)
    if result is not _FAILED and deterministic:
        ck.rule("same input, same scores",
                lambda: _assert(validator.validate(real, synthetic, metadata).scores == result.scores,
                                "two runs gave different scores"))
    return ck.finish()


# -- privacy wrappers -----------------------------------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class BootstrapGenerator(TableGenerator):
    """A reference table generator: resamples each column independently (for wrapper checks)."""

    name: ClassVar[str] = "conformance_bootstrap"
    conditional: ClassVar[bool] = False
    _data: Any = attrs.field(default=None, init=False)

    def _fit(self, data: pa.Table, table: Table, *, context_columns: tuple[str, ...], seed: int | None,
             callback: Any, workdir: Any) -> None:
        self._data = data.select([c for c in table.column_names if c not in context_columns])

    def _sample(self, num_rows: int, *, context: Any, conditions: dict[str, Any], seed: int | None) -> pa.Table:
        rng = np.random.default_rng(seed)
        return self._data.take(rng.integers(0, self._data.num_rows, size=num_rows))


def check_privacy_wrapper(
    cls_or_instance: type[PrivacyWrapper] | PrivacyWrapper,
    *,
    params: Mapping[str, Any] | None = None,
    generator: TableGenerator | None = None,
    data: pa.Table | None = None,
    table: Table | None = None,
    num_rows: int = 50,
    seed: int = 0,
) -> ConformanceReport:
    """Check a privacy wrapper: ``wrap`` returns a table generator that fits and samples the table's
    columns, and ``report`` returns JSON-able accounting. ``generator`` is one the wrapper supports
    (default: a bootstrap resampler; DP-SGD wrappers need a neural generator, e.g. CTGAN with
    ``epochs=1``)."""
    cls, instance = _resolve(cls_or_instance, "privacy_wrapper")
    ck = _Checker(cls, "privacy_wrapper")
    wrapper = _check_declaration(ck, cls, instance, params)
    if wrapper is None:
        return ck.finish()
    if data is None:
        data = sample_table(200, seed=seed)
    if table is None:
        table = sample_metadata(data)
    inner = generator if generator is not None else BootstrapGenerator()

    def wrap() -> TableGenerator:
        wrapped = wrapper.wrap(inner)
        assert isinstance(wrapped, TableGenerator), f"wrap returned {type(wrapped).__name__}, not a TableGenerator"
        return wrapped

    wrapped = ck.rule("wraps a generator", wrap)
    if wrapped is _FAILED:
        return ck.finish()

    def fit_sample() -> None:
        wrapped.fit(data, table, seed=seed)
        _check_output_schema(wrapped.sample(num_rows, seed=seed), table, (), num_rows, "wrapped sample")

    ck.rule("the wrapped generator fits and samples", fit_sample)

    def report() -> None:
        rep = wrapper.report()
        assert isinstance(rep, dict), f"report() returned {type(rep).__name__}, not dict"
        json.dumps(rep, default=_iso)

    ck.rule("report() is a JSON-able dict", report)
    if cls.differentially_private:
        _check_dp_wrapper(ck, cls, instance, params, data, table, seed)
    return ck.finish()


#: what the relational engine calls on a differentially private wrapper (declared by PrivacyWrapper)
DP_WRAPPER_METHODS = ("begin", "table_budget", "linkage_model", "noisy_share", "forest", "key_format",
                      "set_null_handling")


def _check_dp_wrapper(ck: _Checker, cls: type[PrivacyWrapper], instance: PrivacyWrapper | None,
                      params: Mapping[str, Any] | None, data: pa.Table, table: Table, seed: int) -> None:
    def implements_engine_methods() -> None:
        missing = [m for m in DP_WRAPPER_METHODS if getattr(cls, m) is getattr(PrivacyWrapper, m)]
        assert not missing, f"differentially_private = True but {', '.join(missing)} not implemented"

    def refuses_non_dp_generators() -> None:
        _raises(ConfigError, "a generator without supports_dp was trained under differential privacy",
                _fresh(cls, instance, params).wrap(BootstrapGenerator()).fit, data, table, seed=seed)

    ck.rule("differentially private: implements what the engine asks", implements_engine_methods)
    ck.rule("differentially private: refuses a generator without supports_dp", refuses_non_dp_generators)
