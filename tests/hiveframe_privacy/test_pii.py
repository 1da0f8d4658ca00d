"""The PII wrapper: every strategy, consistent pseudonyms across tables, locales, bad input."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_privacy.pii import PIIWrapper

from hiveframe.errors import ConfigError, PluginError
from hiveframe.metadata import Column, ColumnKind, PIIKind, Table
from hiveframe.plugins import PluginHost

REAL_EMAILS = [f"person{i}@realmail.org" for i in range(40)]
REAL_PHONES = [f"+1 555-01{i:02d}" for i in range(40)]


def _people(n: int = 120, seed: int = 0) -> tuple[pa.Table, Table]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, 40, size=n)
    country = rng.choice(["Germany", "USA"], size=n).tolist()
    data = pa.table({
        "email": pa.array([REAL_EMAILS[i] for i in pick]),
        "phone": pa.array([REAL_PHONES[i] if rng.random() > 0.2 else None for i in pick]),
        "first": pa.array(["Anna" if c == "Germany" else "James" for c in country]),
        "Country": pa.array(country),
        "spend": pa.array(rng.normal(100, 10, size=n)),
    })
    table = Table("people", (
        Column("email", ColumnKind.PII, pii_kind=PIIKind.EMAIL, nullable=False),
        Column("phone", ColumnKind.PII, pii_kind=PIIKind.PHONE),
        Column("first", ColumnKind.PII, pii_kind=PIIKind.FIRST_NAME, nullable=False),
        Column("Country", ColumnKind.CATEGORICAL),
        Column("spend", ColumnKind.NUMERICAL, "double"),
    ))
    return data, table


def _fit(wrapper: PIIWrapper, data: pa.Table, table: Table, seed: int = 0):
    gen = wrapper.wrap(PluginHost().create("table_generator", "gaussian_copula"))
    gen.fit(data, table, seed=seed)
    return gen


def _reals(data: pa.Table) -> set[str]:
    return {str(v) for c in ("email", "phone", "first") for v in data.column(c).to_pylist() if v is not None}


def test_fake_strategy_gives_realistic_values_and_no_real_one():
    data, table = _people()
    gen = _fit(PIIWrapper(), data, table)
    out = gen.sample(300, seed=1)
    emails = out.column("email").to_pylist()
    assert all(re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", e) for e in emails)
    assert not _reals(data) & {str(v) for c in ("email", "phone", "first") for v in out.column(c).to_pylist()}
    # only presence was modelled: about a fifth of the phones are null, as in the data
    assert 0.08 < out.column("phone").null_count / out.num_rows < 0.35
    # the inner generator never saw a PII value: only whether the nullable phone is present
    assert gen.inner.fitted_table.column_names == ["phone", "Country", "spend"]
    assert gen.inner.fitted_table.column("phone").kind == ColumnKind.BOOLEAN
    state = str(gen.inner.get_state().values)
    assert not any(r in state for r in _reals(data))


def test_hash_mask_drop_keep():
    data, table = _people()
    wrapper = PIIWrapper(strategies={"email": "hash", "phone": "mask", "first": "drop"}, salt="s3cret")
    out = _fit(wrapper, data, table).sample(200, seed=2)
    hashes = [h for h in out.column("email").to_pylist() if h is not None]
    assert hashes and all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes)
    assert len(set(hashes)) <= 40  # one hash per real value
    phones = [p for p in out.column("phone").to_pylist() if p is not None]
    assert phones and all(re.fullmatch(r"\+# ###-####", re.sub(r"\d", "#", p)) for p in phones)
    assert not set(phones) & set(REAL_PHONES) or len(set(phones) & set(REAL_PHONES)) < 3
    assert out.column("first").null_count == out.num_rows
    kept = _fit(PIIWrapper(strategies={"people.first": "keep"}), data, table).sample(100, seed=3)
    assert set(kept.column("first").to_pylist()) <= {"Anna", "James"}


def test_same_salt_same_hash_across_wrappers():
    data, table = _people()
    a = _fit(PIIWrapper(strategies={"email": "hash"}, salt="k"), data, table).sample(50, seed=0)
    b = _fit(PIIWrapper(strategies={"email": "hash"}, salt="k"), data, table).sample(50, seed=0)
    assert a.column("email").to_pylist() == b.column("email").to_pylist()


def test_consistent_pseudonyms_across_two_tables():
    data, table = _people()
    wrapper = PIIWrapper(consistent=True)
    first = _fit(wrapper, data, table).sample(200, seed=0)
    orders = pa.table({"email": pa.array(REAL_EMAILS[:5] * 4), "amount": pa.array(np.arange(20.0))})
    order_table = Table("orders", (Column("email", ColumnKind.PII, pii_kind=PIIKind.EMAIL, nullable=False),
                                   Column("amount", ColumnKind.NUMERICAL, "double")))
    second = _fit(wrapper, orders, order_table).sample(100, seed=1)
    fakes_first = set(first.column("email").to_pylist())
    fakes_second = set(second.column("email").to_pylist())
    assert len(fakes_first) <= 40 and len(fakes_second) <= 5  # one fake per real value
    assert fakes_second <= fakes_first  # the same real value has the same fake in both tables
    assert not (fakes_first | fakes_second) & set(REAL_EMAILS)
    pseudonyms = {real: fake for (kind, real), fake in wrapper._shared.pseudonyms.items() if kind == "email"}
    assert set(pseudonyms) == set(data.column("email").to_pylist())
    assert len(set(pseudonyms.values())) == len(pseudonyms)  # injective: two people never share a fake


def test_fakes_follow_the_row_locale():
    data, table = _people(200)
    out = _fit(PIIWrapper(), data, table).sample(300, seed=4)
    import faker.providers.person.de_DE as de
    import faker.providers.person.en_US as en

    de_names = set(de.Provider.first_names)
    en_names = set(en.Provider.first_names)
    rows = list(zip(out.column("Country").to_pylist(), out.column("first").to_pylist(), strict=False))
    german = [n for c, n in rows if c == "Germany"]
    american = [n for c, n in rows if c == "USA"]
    assert german and american
    assert np.mean([n in de_names for n in german]) > 0.9
    assert np.mean([n in en_names for n in american]) > 0.9


def test_a_pii_kind_without_faker_is_refused_with_a_hint():
    data = pa.table({"secret": pa.array(["a1", "b2", "c3"] * 5), "v": pa.array(np.arange(15.0))})
    table = Table("t", (Column("secret", ColumnKind.PII, pii_kind=PIIKind.OTHER),
                        Column("v", ColumnKind.NUMERICAL, "double")))
    with pytest.raises((ConfigError, PluginError), match="no faker for PII kind 'other'") as info:
        _fit(PIIWrapper(), data, table)
    assert "secret" in str(info.value) and "mask" in str(info.value)
    out = _fit(PIIWrapper(strategies={"secret": "mask"}), data, table).sample(10, seed=0)
    assert all(re.fullmatch(r"[a-z]\d", v) for v in out.column("secret").to_pylist())


@pytest.mark.parametrize("params", [{"locale": "xx_XX"}, {"locale_map": {"Atlantis": "at_LA"}}])
def test_an_unknown_locale_is_refused(params):
    with pytest.raises(ConfigError, match="not available"):
        PIIWrapper(**params)


def test_unknown_strategy_is_refused():
    with pytest.raises(ConfigError, match="unknown PII strategy"):
        PIIWrapper(strategies={"email": "scramble"})


def test_excluded_values_never_come_out():
    data, table = _people()
    wrapper = PIIWrapper()
    import faker.providers.person.en_US as en

    common = list(en.Provider.first_names)[:300]
    wrapper.exclude_values(common)
    out = _fit(wrapper, data, table).sample(400, seed=5)
    usa = [n for c, n in zip(out.column("Country").to_pylist(), out.column("first").to_pylist(), strict=False) if c == "USA"]
    assert usa and not set(usa) & set(common)


def test_salt_is_never_saved():
    wrapper = PIIWrapper(salt="topsecret")
    assert wrapper.get_params()["salt"] is None


def test_numeric_pii_columns_keep_their_type():
    """Regression: a PII column stored as int64 (Berka's birth_number) got faker text and broke writers."""
    import numpy as np
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata import Column, ColumnKind, Metadata, PIIKind, Table
    from hiveframe.pipeline import Synthesizer

    rng = np.random.default_rng(0)
    real = rng.integers(100_000, 999_999, 200)
    table = Table("client", (Column("client_id", ColumnKind.ID, "int64", False),
                             Column("birth_number", ColumnKind.PII, "int64", False, pii_kind=PIIKind.NATIONAL_ID),
                             Column("score", ColumnKind.NUMERICAL, "double", False)), primary_key=("client_id",))
    data = pa.table({"client_id": np.arange(200), "birth_number": real, "score": rng.normal(0, 1, 200)})
    out = Synthesizer(Metadata((table,)), seed=0).fit(Database({"client": data})).sample(seed=1)["client"]
    assert out.column("birth_number").type == pa.int64()
    assert not set(out.column("birth_number").to_pylist()) & set(real.tolist())
