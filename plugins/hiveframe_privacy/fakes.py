"""Fake PII values: realistic (faker), locale-aware, format-preserving, optionally consistent.

Nothing here keeps a real value. Formats are learned as character-class patterns (``+## ###-####``)
and only patterns shared by at least ``MIN_PATTERN_SUPPORT`` rows are kept, so a rare format cannot
single out a person.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from hiveframe.errors import ConfigError
from hiveframe.metadata import PIIKind

MIN_PATTERN_SUPPORT = 5

#: column names that carry a row's locale or country
LOCALE_COLUMN_NAMES = ("locale", "country", "country_code", "countrycode", "nationality", "billingcountry")

#: country names/codes (lower case) -> faker locale
COUNTRY_LOCALES: dict[str, str] = {
    "usa": "en_US", "us": "en_US", "united states": "en_US", "canada": "en_CA", "ca": "en_CA",
    "united kingdom": "en_GB", "uk": "en_GB", "gb": "en_GB", "ireland": "en_IE", "australia": "en_AU",
    "au": "en_AU", "india": "en_IN", "germany": "de_DE", "de": "de_DE", "austria": "de_AT", "at": "de_AT",
    "switzerland": "de_CH", "france": "fr_FR", "fr": "fr_FR", "belgium": "nl_BE", "netherlands": "nl_NL",
    "nl": "nl_NL", "spain": "es_ES", "es": "es_ES", "mexico": "es_MX", "argentina": "es_AR",
    "chile": "es_CL", "italy": "it_IT", "it": "it_IT", "portugal": "pt_PT", "pt": "pt_PT",
    "brazil": "pt_BR", "br": "pt_BR", "poland": "pl_PL", "pl": "pl_PL", "czech republic": "cs_CZ",
    "cz": "cs_CZ", "hungary": "hu_HU", "norway": "no_NO", "sweden": "sv_SE", "se": "sv_SE",
    "denmark": "da_DK", "dk": "da_DK", "finland": "fi_FI", "fi": "fi_FI", "japan": "ja_JP", "jp": "ja_JP",
    "china": "zh_CN", "cn": "zh_CN", "russia": "ru_RU", "ru": "ru_RU", "turkey": "tr_TR", "greece": "el_GR",
}


def locale_for(value: Any) -> str | None:
    """A faker locale for a locale/country cell, or None when unknown."""
    if value is None:
        return None
    text = str(value).strip()
    if "_" in text and len(text) == 5:
        return text
    return COUNTRY_LOCALES.get(text.lower())


def check_locale(locale: str) -> None:
    from faker.config import AVAILABLE_LOCALES

    if locale not in AVAILABLE_LOCALES:
        import difflib

        close = difflib.get_close_matches(locale, AVAILABLE_LOCALES, n=3)
        raise ConfigError(f"locale {locale!r} is not available for fake PII",
                          hint=f"did you mean {', '.join(close)}?" if close else "e.g. en_US, de_DE, fr_FR")


_FAKER_METHODS: dict[PIIKind, str] = {
    PIIKind.EMAIL: "email",
    PIIKind.PHONE: "phone_number",
    PIIKind.PERSON_NAME: "name",
    PIIKind.FIRST_NAME: "first_name",
    PIIKind.LAST_NAME: "last_name",
    PIIKind.ADDRESS: "street_address",
    PIIKind.CITY: "city",
    PIIKind.POSTCODE: "postcode",
    PIIKind.NATIONAL_ID: "ssn",
    PIIKind.CREDIT_CARD: "credit_card_number",
    PIIKind.IBAN: "iban",
    PIIKind.IP_ADDRESS: "ipv4",
}


def faker_method(kind: PIIKind | None) -> str:
    if kind is None or kind == PIIKind.OTHER or kind not in _FAKER_METHODS:
        raise ConfigError(f"no faker for PII kind {kind.value if kind else None!r}",
                          hint="use strategy 'mask', 'hash' or 'drop' for this column, or set a known pii_kind: "
                          + ", ".join(k.value for k in _FAKER_METHODS))
    return _FAKER_METHODS[kind]


class FakeSource:
    """Faker instances per locale, seeded explicitly (never the global faker seed)."""

    def __init__(self, default_locale: str = "en_US") -> None:
        check_locale(default_locale)
        self.default_locale = default_locale
        self._fakers: dict[str, Any] = {}

    def _faker(self, locale: str | None) -> Any:
        from faker import Faker

        key = locale or self.default_locale
        if key not in self._fakers:
            try:
                self._fakers[key] = Faker(key)
            except AttributeError:
                self._fakers[key] = Faker(self.default_locale)
        return self._fakers[key]

    def value(self, kind: PIIKind, seed: int, locale: str | None = None) -> str:
        faker = self._faker(locale)
        faker.seed_instance(seed)
        method = faker_method(kind)
        try:
            return str(getattr(faker, method)())
        except AttributeError:  # a locale without this provider: fall back to the default locale
            fallback = self._faker(self.default_locale)
            fallback.seed_instance(seed)
            return str(getattr(fallback, method)())

    def values(self, kind: PIIKind, seeds: Sequence[int], locales: Sequence[str | None] | None = None) -> list[str]:
        faker_method(kind)  # fail early for kinds with no faker
        locales = locales if locales is not None else [None] * len(seeds)
        return [self.value(kind, int(s), loc) for s, loc in zip(seeds, locales, strict=False)]


def keyed_seed(salt: bytes, value: str) -> int:
    """A 63-bit seed from a real value; without the salt nobody can map fake back to real."""
    digest = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def salted_hash(salt: bytes, value: str, length: int = 16) -> str:
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]


# -- format-preserving masks -----------------------------------------------------------------------
def pattern_of(value: str) -> str:
    """Character classes: digits -> '#', upper -> 'A', lower -> 'a', anything else kept."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append("#")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


def learn_patterns(values: Sequence[str], min_support: int = MIN_PATTERN_SUPPORT) -> tuple[list[str], list[float]]:
    """Frequent formats and their shares; rare formats are dropped (they could identify a person)."""
    counts = Counter(pattern_of(v) for v in values if v)
    kept = [(p, c) for p, c in counts.most_common() if c >= min_support]
    if not kept:
        if not counts:
            return [], []
        # no format is shared by enough rows: keep only the shape of the most common length
        lengths = Counter(len(v) for v in values if v)
        length = lengths.most_common(1)[0][0]
        return ["#" * length], [1.0]
    total = sum(c for _, c in kept)
    return [p for p, _ in kept], [c / total for c in kept]


def fill_pattern(pattern: str, rng: np.random.Generator) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(chr(48 + int(rng.integers(10))))
        elif ch == "A":
            out.append(chr(65 + int(rng.integers(26))))
        elif ch == "a":
            out.append(chr(97 + int(rng.integers(26))))
        else:
            out.append(ch)
    return "".join(out)
