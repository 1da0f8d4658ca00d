"""PII and DP through the Synthesizer and the relational engine, on Chinook and small tables."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.errors import ConfigError, PluginError
from hiveframe.metadata import Column, ColumnKind, Metadata, PIIKind, Table
from hiveframe.pipeline.synthesizer import Synthesizer
from hiveframe.plugins import PluginHost

PEOPLE = ("Customer", "Employee", "Invoice")


@pytest.fixture(scope="module")
def chinook(chinook_path):
    from hiveframe import detect

    host = PluginHost()
    db = host.read(str(chinook_path))
    md = detect(db)
    # a city is identifying here: every city column of the people tables is PII (the user's call)
    for table, col in (("Employee", "City"), ("Invoice", "BillingCity")):
        md = md.with_column(table, replace(md.table(table).column(col), kind=ColumnKind.PII, pii_kind=PIIKind.CITY))
    return db, md


def _pii_values(db, md, kinds=None) -> set[str]:
    out: set[str] = set()
    for name in PEOPLE:
        for c in md.table(name).columns:
            if c.kind == ColumnKind.PII and (kinds is None or c.pii_kind in kinds):
                out |= {str(v) for v in db[name].column(c.name).drop_null().to_pylist()}
    return out


def _public_values(db, md) -> set[str]:
    """Values the database holds in columns that are not PII (a song called 'Paris' is not a leak)."""
    out: set[str] = set()
    for t in md.tables:
        for c in t.columns:
            if c.kind != ColumnKind.PII:
                out |= {str(v) for v in db[t.name].column(c.name).drop_null().to_pylist()}
    return out


def _strings_in(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _strings_in(k) + _strings_in(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings_in(v)]
    return []


@pytest.fixture(scope="module")
def fitted(chinook, tmp_path_factory):
    db, md = chinook
    synth = Synthesizer(md, seed=3)
    synth.fit(db)
    out = synth.sample(seed=4)
    model = synth.save(tmp_path_factory.mktemp("chinook") / "model")
    return synth, out, model


def test_no_real_pii_value_in_the_output_or_the_model(chinook, fitted):
    db, md = chinook
    synth, out, model = fitted
    public = _public_values(db, md)
    secret = _pii_values(db, md) - public
    assert len(secret) > 300  # emails, phones, names, addresses, cities, postcodes of three tables
    # emails, phones and street addresses must not appear even inside another value (a fake street
    # may well be named after a real surname, or end with a real city: those are checked as values)
    public_text = "\n".join(public)
    long = {v for v in _pii_values(db, md, (PIIKind.EMAIL, PIIKind.PHONE, PIIKind.ADDRESS)) - public
            if len(v) >= 6 and v not in public_text}
    assert len(long) > 150
    # every cell of every output table
    for name in out.names:
        for col in out[name].column_names:
            cells = {str(v) for v in out[name].column(col).drop_null().to_pylist()}
            assert not cells & secret, f"{name}.{col} holds real PII {sorted(cells & secret)[:5]}"
            text = "\n".join(cells)
            assert not [v for v in long if v in text], f"{name}.{col} contains real PII"
    # every file of the saved model: bytes for long values, every stored string for all of them
    files = [p for p in Path(model).rglob("*") if p.is_file()]
    assert any(p.suffix == ".npz" for p in files)
    for path in files:
        blob = path.read_bytes()
        for v in long:
            assert v.encode("utf-8") not in blob, f"{path.name} holds {v!r}"
            assert v.encode("utf-32-le") not in blob, f"{path.name} holds {v!r} (numpy unicode)"
        if path.suffix == ".json":
            stored = set(_strings_in(json.loads(blob)))
            assert not stored & secret, f"{path.name} holds {sorted(stored & secret)[:5]}"
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                for key in npz.files:
                    if npz[key].dtype.kind == "U":
                        assert not set(npz[key].ravel().tolist()) & secret, f"{path.name}:{key}"


def test_fakes_are_realistic_and_follow_the_country(fitted):
    import faker.providers.person.de_DE as de

    _, out, _ = fitted
    customers = out["Customer"]
    emails = customers.column("Email").to_pylist()
    assert all("@" in e for e in emails)
    rows = list(zip(customers.column("Country").to_pylist(), customers.column("FirstName").to_pylist(),
                    customers.column("PostalCode").to_pylist(), strict=False))
    german = [(n, p) for c, n, p in rows if c == "Germany"]
    assert german, "the generated customers include Germans"
    names = set(de.Provider.first_names)
    assert np.mean([n in names for n, _ in german]) >= 0.9
    assert all(p is None or (len(p) == 5 and p.isdigit()) for _, p in german)  # German postcodes


def test_the_manifest_reports_the_pii_strategies(fitted):
    synth, _, model = fitted
    manifest = json.loads((Path(model) / "manifest.json").read_text())
    assert manifest["privacy"]["pii"]["default_strategy"] == "fake"
    assert manifest["config"]["pii"]["salt"] is None
    loaded = Synthesizer.load(model)
    again = loaded.sample(seed=4)
    assert again["Customer"].num_rows == synth.table_rows["Customer"]
    assert loaded.privacy_report()["pii"]["default_strategy"] == "fake"


def test_consistent_pseudonyms_across_customer_and_invoice(chinook):
    db, md = chinook
    synth = Synthesizer(md, seed=1, pii={"consistent": True}, linkage="empirical")
    synth.fit(db)
    out = synth.sample(seed=2)
    shared = synth.pii_wrapper._shared.pseudonyms
    real_addresses = set(db["Customer"].column("Address").to_pylist())
    customer_fakes = {shared[("address", a)] for a in real_addresses}
    assert len(customer_fakes) == len(real_addresses)  # one fake per real address, never shared
    billed = set(out["Invoice"].column("BillingAddress").drop_null().to_pylist())
    assert billed and billed <= customer_fakes  # an invoice's billing address is a customer's fake address
    assert not billed & real_addresses


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(0)
    n = 150
    data = pa.table({
        "id": pa.array(np.arange(n)),
        "name": pa.array([f"Real Person{i}" for i in range(n)]),
        "email": pa.array([f"real{i}@corp.example" for i in range(n)]),
        "phone": pa.array([f"+1 555 01{i % 100:02d}" if i % 4 else None for i in range(n)]),
        "Country": pa.array(rng.choice(["Germany", "France", "USA"], size=n).tolist()),
        "age": pa.array(rng.integers(20, 70, size=n)),
    })
    table = Table("people", (
        Column("id", ColumnKind.ID, "int64", nullable=False),
        Column("name", ColumnKind.PII, pii_kind=PIIKind.PERSON_NAME, nullable=False),
        Column("email", ColumnKind.PII, pii_kind=PIIKind.EMAIL, nullable=False),
        Column("phone", ColumnKind.PII, pii_kind=PIIKind.PHONE),
        Column("Country", ColumnKind.CATEGORICAL),
        Column("age", ColumnKind.NUMERICAL, "int64", nullable=False),
    ), primary_key=("id",))
    return {"people": data}, Metadata(tables=(table,))


@pytest.mark.parametrize(("strategy", "check"), [
    ("fake", lambda v, real: v is not None and v not in real),
    ("hash", lambda v, real: v is not None and len(v) == 16 and v not in real),
    ("mask", lambda v, real: v is not None and v not in real and v.startswith("real") is False),
    ("drop", lambda v, real: v is None),
    ("keep", lambda v, real: v in real),
])
def test_each_strategy_through_the_synthesizer(people, strategy, check):
    db, md = people
    synth = Synthesizer(md, seed=0, pii={"strategies": {"people.email": strategy}})
    synth.fit(db)
    out = synth.sample(seed=1)["people"]
    real = set(db["people"].column("email").to_pylist())
    values = out.column("email").to_pylist()
    assert all(check(v, real) for v in values), values[:5]
    assert not set(out.column("name").to_pylist()) & set(db["people"].column("name").to_pylist())


def test_mask_keeps_the_format(people):
    db, md = people
    synth = Synthesizer(md, seed=0, pii={"strategies": {"phone": "mask"}})
    synth.fit(db)
    phones = [p for p in synth.sample(seed=1)["people"].column("phone").to_pylist() if p is not None]
    assert phones and all(len(p) == len("+1 555 0100") and p[0] == "+" and p[2] == " " for p in phones)
    assert not set(phones) & set(db["people"].column("phone").to_pylist())


def test_pii_kind_without_faker_is_a_config_error(people):
    db, md = people
    table = md.table("people")
    md = md.with_column("people", replace(table.column("email"), pii_kind=PIIKind.OTHER))
    with pytest.raises((ConfigError, PluginError), match="no faker for PII kind 'other'"):
        Synthesizer(md, seed=0).fit(db)


def test_unknown_locale_is_refused_at_once(people):
    with pytest.raises(ConfigError, match="not available"):
        Synthesizer(people[1], pii={"locale": "xx_XX"})


# -- null handling ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_nulls():
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(10, 2, size=n)
    x[rng.random(n) < 0.3] = np.nan
    cat = rng.choice(["a", "b"], size=n, p=[0.7, 0.3]).astype(object)
    cat[rng.random(n) < 0.2] = None
    data = pa.table({"x": pa.array(x, from_pandas=True), "c": pa.array(cat.tolist()),
                     "y": pa.array(rng.normal(0, 1, size=n))})
    table = Table("t", (Column("x", ColumnKind.NUMERICAL, "double"), Column("c", ColumnKind.CATEGORICAL),
                        Column("y", ColumnKind.NUMERICAL, "double", nullable=False)))
    return {"t": data}, Metadata(tables=(table,))


@pytest.mark.parametrize("mode", ["model", "mean", "drop"])
def test_null_handling(with_nulls, mode):
    db, md = with_nulls
    synth = Synthesizer(md, seed=0, null_handling=mode)
    synth.fit(db)
    out = synth.sample(seed=1)["t"]
    assert out.num_rows == db["t"].num_rows  # the table keeps its size whatever the training rows
    x_nulls = out.column("x").null_count / out.num_rows
    if mode == "model":
        assert 0.2 < x_nulls < 0.4 and out.column("c").null_count > 0
    else:
        assert x_nulls == 0 and out.column("c").null_count == 0
    if mode == "mean":  # a spike at the real mean, where the nulls were
        x = np.array(out.column("x").to_pylist())
        real_mean = np.nanmean(np.array(db["t"].column("x").to_pylist(), dtype=float))
        assert np.mean(np.isclose(x, real_mean, atol=0.05)) > 0.15


def test_null_handling_is_checked(with_nulls):
    with pytest.raises(ConfigError, match="unknown null handling"):
        Synthesizer(with_nulls[1], null_handling="zero")
    with pytest.raises(ConfigError, match="unknown table"):
        Synthesizer(with_nulls[1], null_handling={"nope": "drop"}).fit(with_nulls[0])


def test_null_handling_mean_under_dp(with_nulls):
    db, md = with_nulls
    synth = Synthesizer(md, seed=0, null_handling="mean", dp={"epsilon": 5})
    synth.fit(db)
    out = synth.sample(seed=1)["t"]
    assert out.column("x").null_count == 0


# -- differential privacy through the engine ------------------------------------------------------
def test_chinook_with_dp_reports_every_table_and_keeps_keys(chinook, tmp_path):
    from hiveframe.metadata.relations import relational_problems

    db, md = chinook
    synth = Synthesizer(md, seed=0, dp={"epsilon": 2.0})
    synth.fit(db)
    out = synth.sample(seed=1)
    assert not relational_problems(md, out)
    report = synth.privacy_report()["dp"]
    assert set(report["tables"]) == set(md.table_names)
    for name, entry in report["tables"].items():
        assert entry["private"] is True
        assert entry["epsilon_spent"] <= 2.0 + 1e-9, name
    model = synth.save(tmp_path / "model")
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["privacy"]["dp"]["tables"]["Invoice"]["epsilon_spent"] <= 2.0
    # row counts are noisy: the exact real ones are not in the model
    plan = json.loads((model / "relational.json").read_text())
    real_rows = {t: db[t].num_rows for t in md.table_names if db[t].num_rows > 50}
    noisy = {t: plan["tables"][t]["real_rows"] for t in real_rows}
    assert sum(noisy[t] != real_rows[t] for t in real_rows) >= len(real_rows) - 1
    assert all(manifest["tables"][t]["rows"] == noisy[t] for t in real_rows)
    # keys owe nothing to the real keys
    assert all(fmt["kind"] in ("int", "counter") for t in plan["tables"].values() for fmt in t["keys"].values())
