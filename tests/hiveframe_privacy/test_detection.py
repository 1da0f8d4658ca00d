"""PII detection by column name and by value patterns."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
from hiveframe_privacy.detection import detect_pii, iban_valid, kind_from_values, luhn_valid

from hiveframe.metadata import Column, ColumnKind, PIIKind


def _chinook_table(path, name):
    con = sqlite3.connect(path)
    cur = con.execute(f"select * from {name}")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    con.close()
    data = pa.table({n: pa.array([None if r[i] is None else str(r[i]) for r in rows]) for i, n in enumerate(names)})
    return data, [Column(n, ColumnKind.TEXT) for n in names]


def test_chinook_customer_pii(chinook_path):
    data, columns = _chinook_table(chinook_path, "Customer")
    found = {name: col.pii_kind for name, col in detect_pii("Customer", data, columns).items()}
    assert found == {
        "FirstName": PIIKind.FIRST_NAME, "LastName": PIIKind.LAST_NAME, "Address": PIIKind.ADDRESS,
        "City": PIIKind.CITY, "PostalCode": PIIKind.POSTCODE, "Phone": PIIKind.PHONE, "Fax": PIIKind.PHONE,
        "Email": PIIKind.EMAIL,
    }
    assert all(col.kind == ColumnKind.PII for col in detect_pii("Customer", data, columns).values())


def test_song_and_band_names_are_not_people(chinook_path):
    for table in ("Track", "Artist", "Genre", "Playlist"):
        data, columns = _chinook_table(chinook_path, table)
        assert detect_pii(table, data, columns) == {}


def test_value_patterns_without_telling_names():
    data = pa.table({
        "c1": ["ann@example.org", "bo@mail.com", "x.y@z.de"] * 4,
        "c2": ["192.168.0.1", "10.0.0.255", "8.8.8.8"] * 4,
        "c3": ["4111111111111111", "5500005555555559", "340000000000009"] * 4,
        "c4": ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606"] * 4,
        "c5": ["red", "green", "blue"] * 4,
        "c6": ["1234567890123456", "1111222233334444", "9999888877776666"] * 4,  # not Luhn-valid
    })
    columns = [Column(n, ColumnKind.CATEGORICAL) for n in data.column_names]
    found = {n: c.pii_kind for n, c in detect_pii("t", data, columns).items()}
    assert found == {"c1": PIIKind.EMAIL, "c2": PIIKind.IP_ADDRESS, "c3": PIIKind.CREDIT_CARD, "c4": PIIKind.IBAN}


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013001")


def test_a_minority_of_matches_is_not_enough():
    values = ["ann@example.org"] + ["plain text"] * 9
    assert kind_from_values(values) is None


def test_numeric_columns_named_like_pii_are_left_alone():
    data = pa.table({"email_count": pa.array([1, 2, 3], pa.int64())})
    assert detect_pii("t", data, [Column("email_count", ColumnKind.NUMERICAL, "int64")]) == {}


def test_names_ending_in_ip_are_not_ip_addresses():
    from hiveframe_privacy.detection import kind_from_name

    assert kind_from_name("relationship") is None
    assert kind_from_name("membership") is None
    assert kind_from_name("ip_address") == PIIKind.IP_ADDRESS
    assert kind_from_name("client_ip") == PIIKind.IP_ADDRESS


def test_id_columns_are_proposed_as_pii_only_for_pii_shaped_values():
    n = 30
    data = pa.table({
        "mobile": [f"0791{i:07d}" for i in range(n)],  # digits only: PII by its name and shape
        "ssn": [f"{100 + i}-45-{6789 + i}" for i in range(n)],  # by value
        "email": [f"user{i}@corp.com" for i in range(n)],
        "phone_id": [f"0791{i:07d}" for i in range(n)],  # named as a key: a surrogate key
        "account": [f"ACC-{i:05d}" for i in range(n)],
        "uuid": [f"123e4567-e89b-12d3-a456-4266141740{i:02d}" for i in range(n)],
        "customer_id": pa.array(range(1, n + 1), pa.int64()),
    })
    columns = [Column(c, ColumnKind.ID, str(data.column(c).type), False) for c in data.column_names]
    found = {name: col.pii_kind for name, col in detect_pii("t", data, columns).items()}
    assert found == {"mobile": PIIKind.PHONE, "ssn": PIIKind.NATIONAL_ID, "email": PIIKind.EMAIL}
