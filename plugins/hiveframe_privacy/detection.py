"""PII detection: by column name and by value patterns (with checksums where a format has one).

A column is proposed as PII when its name says so (``email``, ``phone``, ``first_name``...) and its
values do not contradict it, or when most of its non-null values match a kind's pattern (emails,
phone numbers, IPv4/IPv6 addresses, Luhn-valid card numbers, checksum-valid IBANs, national-id
formats). Detection only *proposes*: ``hiveframe detect`` writes the proposal into metadata.json where
the user can accept or change it.

PII takes priority over the id rule: a unique column of phone numbers, SSNs, emails (``user17@corp.com``
looks like a key: unique, no spaces, digits), card numbers or IBANs is classified as an id by the
kernel's detector, and is proposed as PII here. An id column is proposed only for the kinds an id can
hold (:data:`ID_LIKE_KINDS`), by its values, or by its name when its values have that kind's shape
(a ``mobile`` column of ``07911123456``); a surrogate key (``customer_id`` 1..n, ``ACC-00012``, a
UUID) matches neither and stays an id. For primary and foreign keys the kernel keeps the key and
records the proposed ``pii_kind`` on it (see ``hiveframe.metadata.detect``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hiveframe.metadata import Column, ColumnKind, PIIKind

if TYPE_CHECKING:
    import pyarrow as pa

#: how many non-null values are inspected per column
SAMPLE_VALUES = 500
#: share of inspected values that must match a value pattern
VALUE_MATCH_SHARE = 0.8

_NAME_RULES: list[tuple[re.Pattern[str], PIIKind]] = [
    (re.compile(r"e[-_]?mail"), PIIKind.EMAIL),
    (re.compile(r"phone|mobile|fax|telephone|^tel$|_tel$"), PIIKind.PHONE),
    (re.compile(r"^(first|given|fore)[-_]?name$|^firstname$"), PIIKind.FIRST_NAME),
    (re.compile(r"^(last|family|sur)[-_]?name$|^lastname$|^surname$"), PIIKind.LAST_NAME),
    (re.compile(r"^(full[-_]?)?name$|^person[-_]?name$|customer[-_]?name|^contact[-_]?name"), PIIKind.PERSON_NAME),
    (re.compile(r"^ip$|(^|[-_])ip[-_]?(address|addr)$|^ip_?v?[46]|^ipaddress$|[-_]ip$"), PIIKind.IP_ADDRESS),
    (re.compile(r"street|address|^addr"), PIIKind.ADDRESS),
    (re.compile(r"^city$|^town$"), PIIKind.CITY),
    (re.compile(r"post[-_]?(al)?[-_]?code|zip[-_]?(code)?$"), PIIKind.POSTCODE),
    (re.compile(r"ssn|social[-_]?security|national[-_]?id|passport|tax[-_]?id|birth[-_]?number"), PIIKind.NATIONAL_ID),
    (re.compile(r"card[-_]?(number|no|num)|credit[-_]?card|^ccn?$|^pan$"), PIIKind.CREDIT_CARD),
    (re.compile(r"iban"), PIIKind.IBAN),
]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:]{2,39}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_CARD = re.compile(r"^\d{13,19}$")
_US_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")

#: PII kinds a unique, key-like column can hold; an id column is proposed only as one of these
ID_LIKE_KINDS = frozenset({PIIKind.EMAIL, PIIKind.PHONE, PIIKind.NATIONAL_ID, PIIKind.CREDIT_CARD, PIIKind.IBAN,
                           PIIKind.IP_ADDRESS})
#: a name ending in an id token (``phone_id``, ``CardKey``): a surrogate key, whatever it is named after
_ID_NAME = re.compile(r"(?i:(^|[-_\s])(id|key|pk|uuid|guid)$)|[a-z](Id|ID|Key|Pk|PK|Uuid|UUID)$")
#: the shape an id column's values must have for its name alone to make it PII
_ID_SHAPES: dict[PIIKind, re.Pattern[str]] = {
    PIIKind.EMAIL: re.compile(r"^[^@\s]+@[^@\s]+$"),
    PIIKind.PHONE: re.compile(r"^\+?[\d\s().\-/]{7,20}$"),
    PIIKind.NATIONAL_ID: re.compile(r"^[A-Za-z]{0,3}[\d\s\-/.]{6,14}[A-Za-z]{0,2}$"),
    PIIKind.CREDIT_CARD: re.compile(r"^[\d\s\-]{13,23}$"),
    PIIKind.IBAN: re.compile(r"^[A-Za-z]{2}\d{2}[A-Za-z0-9\s]{10,34}$"),
}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum used by payment card numbers."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 mod-97 check."""
    moved = text[4:] + text[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return int(numeric) % 97 == 1


def _value_kind(value: str) -> PIIKind | None:
    v = value.strip()
    compact = v.replace(" ", "").replace("-", "")
    if _EMAIL.match(v):
        return PIIKind.EMAIL
    if _IPV4.match(v) or (":" in v and v.count(":") >= 2 and _IPV6.match(v)):
        return PIIKind.IP_ADDRESS
    if _IBAN.match(compact) and iban_valid(compact):
        return PIIKind.IBAN
    if _CARD.match(compact) and luhn_valid(compact):
        return PIIKind.CREDIT_CARD
    if _US_SSN.match(v):
        return PIIKind.NATIONAL_ID
    if _PHONE.match(v) and sum(ch.isdigit() for ch in v) >= 7 and any(ch in v for ch in " ()-+./"):
        return PIIKind.PHONE
    return None


def kind_from_name(name: str) -> PIIKind | None:
    lowered = name.lower()
    for pattern, kind in _NAME_RULES:
        if pattern.search(lowered):
            return kind
    return None


def kind_from_values(values: Sequence[str]) -> PIIKind | None:
    """The PII kind most values match, if at least VALUE_MATCH_SHARE of them do."""
    if not values:
        return None
    counts: dict[PIIKind, int] = {}
    for v in values:
        kind = _value_kind(v)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return None
    kind, hits = max(counts.items(), key=lambda kv: kv[1])
    return kind if hits >= VALUE_MATCH_SHARE * len(values) else None


def detect_pii(table_name: str, data: pa.Table, columns: Sequence[Column]) -> dict[str, Column]:
    """PII proposals for one table: column name -> the column re-marked as PII."""
    import pyarrow as pa

    out: dict[str, Column] = {}
    for column in columns:
        if column.kind in (ColumnKind.PII, ColumnKind.BOOLEAN, ColumnKind.DATETIME):
            continue
        if column.name not in data.column_names:
            continue
        arr = data.column(column.name)
        is_text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        values: list[str] = []
        if is_text:
            values = [v for v in arr.drop_null().slice(0, SAMPLE_VALUES).to_pylist() if v]
        by_value = kind_from_values(values) if values else None
        by_name = kind_from_name(column.name)
        if column.kind == ColumnKind.ID:
            kind = _id_column_kind(by_value, None if _ID_NAME.search(column.name) else by_name, is_text, values)
        else:
            kind = by_value or (by_name if _name_is_plausible(by_name, column, is_text, values) else None)
        if kind is not None:
            out[column.name] = Column(
                name=column.name, kind=ColumnKind.PII, dtype=column.dtype, nullable=column.nullable, pii_kind=kind,
            )
    return out


def _id_column_kind(by_value: PIIKind | None, by_name: PIIKind | None, is_text: bool,
                    values: list[str]) -> PIIKind | None:
    """The PII kind of a column classified as an id: by its values, or by its name and its values' shape.

    Numbers (``customer_id`` 1..n) and names ending in an id token are surrogate keys, never PII by name.
    """
    if by_value in ID_LIKE_KINDS:
        return by_value
    if by_name not in _ID_SHAPES or not is_text or not values:
        return None
    shape = _ID_SHAPES[by_name]
    if by_name in (PIIKind.PHONE, PIIKind.NATIONAL_ID, PIIKind.CREDIT_CARD):
        fits = sum(1 for v in values if shape.match(v.strip()) and sum(ch.isdigit() for ch in v) >= 6)
    else:
        fits = sum(1 for v in values if shape.match(v.strip()))
    return by_name if fits >= VALUE_MATCH_SHARE * len(values) else None


def _name_is_plausible(kind: PIIKind | None, column: Column, is_text: bool, values: list[str]) -> bool:
    """A name-based guess must not be contradicted by the values (e.g. a numeric 'phone_count')."""
    if kind is None:
        return False
    if kind in (PIIKind.POSTCODE, PIIKind.NATIONAL_ID, PIIKind.CREDIT_CARD, PIIKind.PHONE):
        return is_text or column.kind in (ColumnKind.TEXT, ColumnKind.CATEGORICAL, ColumnKind.NUMERICAL)
    if not is_text:
        return False
    if kind == PIIKind.CITY:
        # a city is identifying only when it nearly singles rows out; otherwise it is a category
        return len(values) > 0 and len(set(values)) > 0.5 * len(values)
    if kind == PIIKind.EMAIL:
        return any("@" in v for v in values[:50])
    if kind in (PIIKind.PERSON_NAME, PIIKind.FIRST_NAME, PIIKind.LAST_NAME):
        # "name" alone is ambiguous (songs, products, bands): most values must look like a person's name
        tokens = (1, 2) if kind != PIIKind.PERSON_NAME else (2, 4)
        looks = sum(1 for v in values if _PERSON.match(v) and tokens[0] <= len(v.split()) <= tokens[1])
        return looks >= VALUE_MATCH_SHARE * len(values)
    return True


_PERSON = re.compile(r"^[A-Z][A-Za-z\u00C0-\u024F'\-]+( [A-Z][A-Za-z\u00C0-\u024F'\-\.]*)*$")
