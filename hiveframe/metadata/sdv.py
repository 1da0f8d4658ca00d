"""Import of SDV metadata JSON (multi-table V1/V2, single-table, and the legacy 0.x ``fields`` format).

Written from the format's public description. SDV stores *semantic* types (``sdtype``) but not the
storage type of a column, so dtypes are guessed from ``computer_representation``/``datetime_format``/
``regex_format`` unless the data is given (``database=``), in which case each column takes the Arrow
type the data has, and links are marked one-to-one where the data says so.

SDV's ``range_min``/``range_max``/``range_values`` (V2) are computed from the data, so they are not
public bounds: they are imported as ``low``/``high``/``categories`` only with ``bounds=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import MetadataError, Problem, did_you_mean
from hiveframe.metadata.model import Column, ColumnKind, ForeignKey, Metadata, PIIKind, Table, _read_json

if TYPE_CHECKING:
    from hiveframe.components import Database

log = logging.getLogger(__name__)

KNOWN_VERSIONS = frozenset({"V1", "V2", "MULTI_TABLE_V1", "SINGLE_TABLE_V1"})

#: SDV sdtypes (Faker-style names) that are personal data, and what kind.
PII_SDTYPES: dict[str, PIIKind] = {
    "email": PIIKind.EMAIL,
    "free_email": PIIKind.EMAIL,
    "company_email": PIIKind.EMAIL,
    "ascii_email": PIIKind.EMAIL,
    "safe_email": PIIKind.EMAIL,
    "phone_number": PIIKind.PHONE,
    "cellphone_number": PIIKind.PHONE,
    "msisdn": PIIKind.PHONE,
    "name": PIIKind.PERSON_NAME,
    "full_name": PIIKind.PERSON_NAME,
    "first_name": PIIKind.FIRST_NAME,
    "first_name_female": PIIKind.FIRST_NAME,
    "first_name_male": PIIKind.FIRST_NAME,
    "last_name": PIIKind.LAST_NAME,
    "address": PIIKind.ADDRESS,
    "street_address": PIIKind.ADDRESS,
    "secondary_address": PIIKind.ADDRESS,
    "street_name": PIIKind.ADDRESS,
    "building_number": PIIKind.ADDRESS,
    "city": PIIKind.CITY,
    "postcode": PIIKind.POSTCODE,
    "zipcode": PIIKind.POSTCODE,
    "postalcode": PIIKind.POSTCODE,
    "postal_code": PIIKind.POSTCODE,
    "ssn": PIIKind.NATIONAL_ID,
    "passport_number": PIIKind.NATIONAL_ID,
    "national_id": PIIKind.NATIONAL_ID,
    "credit_card_number": PIIKind.CREDIT_CARD,
    "credit_card": PIIKind.CREDIT_CARD,
    "iban": PIIKind.IBAN,
    "bban": PIIKind.IBAN,
    "ipv4_address": PIIKind.IP_ADDRESS,
    "ipv6_address": PIIKind.IP_ADDRESS,
    "ip_address": PIIKind.IP_ADDRESS,
    "ipv4": PIIKind.IP_ADDRESS,
    "ipv6": PIIKind.IP_ADDRESS,
}

#: ``computer_representation`` of numerical columns -> Arrow dtype.
NUMERIC_DTYPES = {
    "Float": "double",
    "Int64": "int64",
    "Int32": "int32",
    "Int16": "int16",
    "Int8": "int8",
    "UInt64": "uint64",
    "UInt32": "uint32",
    "UInt16": "uint16",
    "UInt8": "uint8",
}

_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%z", "%X", "%c", "%T")


def from_sdv(
    data_or_path: Mapping[str, Any] | str | Path,
    *,
    database: Database | Mapping[str, Any] | None = None,
    table_name: str = "table",
    bounds: bool = False,
) -> Metadata:
    """Convert SDV metadata (a dict, a JSON string or a path) into :class:`Metadata`.

    Single-table metadata becomes one table named ``table_name``. With ``database``, dtypes and
    nullability come from the data and one-to-one links are marked.
    """
    data = _load(data_or_path)
    problems: list[Problem] = []
    unknown_sdtypes: list[str] = []  # sdtypes read as PII, warned about once
    version = data.get("METADATA_SPEC_VERSION")
    if version is not None and str(version) not in KNOWN_VERSIONS:
        log.warning("from_sdv: unknown METADATA_SPEC_VERSION %r; reading it as V1/V2", version)
    if "tables" in data:
        raw_tables = data["tables"]
        if not isinstance(raw_tables, Mapping):
            raise MetadataError([Problem("SDV metadata: 'tables' must be an object of table name -> table")])
        tables, fks = [], []
        for name, raw in raw_tables.items():
            table, table_fks = _table(str(name), raw, bounds, problems, unknown_sdtypes)
            tables.append(table)
            fks += table_fks
        for rel in data.get("relationships", ()):
            fk = _relationship(rel, problems)
            if fk is not None:
                fks.append(fk)
    elif "columns" in data or "fields" in data:
        table, fks = _table(table_name, data, bounds, problems, unknown_sdtypes)
        tables = [table]
    else:
        raise MetadataError(
            [
                Problem(
                    "not SDV metadata: no 'tables' (multi-table) nor 'columns' (single-table) key",
                    hint="hiveframe metadata (with 'spec_version') loads with Metadata.from_json()",
                )
            ]
        )
    names = {t.name for t in tables}
    for fk in fks:
        for role, table_name in (("parent", fk.parent_table), ("child", fk.child_table)):
            if table_name not in names:
                problems.append(Problem(f"SDV relationship names unknown {role} table {table_name!r}",
                                        table=table_name, hint=did_you_mean(table_name, names)))
    MetadataError.raise_if_any(problems, title="cannot import SDV metadata")
    _warn_unknown_sdtypes(unknown_sdtypes)
    metadata = Metadata(tables=tuple(tables), foreign_keys=tuple(fks))
    if database is not None:
        metadata = _with_data_types(metadata, database)
    return metadata


#: the sdtypes SDV itself defines; any other is a Faker-style semantic type (personal data)
BASIC_SDTYPES = ("numerical", "categorical", "ordinal", "boolean", "datetime", "id", "text", "unknown")


def _warn_unknown_sdtypes(unknown: list[str]) -> None:
    """SDV reads any sdtype it does not define as personal data; so do we, but never silently.

    A typo (``"numerica"``) or a made-up sdtype would otherwise replace a real column by fake values
    without a word.
    """
    if unknown:
        log.warning("SDV metadata: %d column(s) have an sdtype that is neither one of SDV's (%s) nor a known "
                    "kind of personal data, and are treated as PII (generated as fake values): %s; if one "
                    "is not personal data, give it a basic sdtype or \"pii\": false",
                    len(unknown), ", ".join(BASIC_SDTYPES), ", ".join(unknown))


def _load(data_or_path: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(data_or_path, Mapping):
        return data_or_path
    data = _read_json(data_or_path, "SDV metadata")
    if not isinstance(data, Mapping):
        raise MetadataError([Problem("SDV metadata must be a JSON object")])
    return data


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _table(name: str, raw: Any, bounds: bool, problems: list[Problem],
           unknown_sdtypes: list[str]) -> tuple[Table, list[ForeignKey]]:
    if not isinstance(raw, Mapping):
        problems.append(Problem("SDV table metadata must be an object", table=name))
        return Table(name=name, columns=()), []
    if "fields" in raw and "columns" not in raw:
        return _legacy_table(name, raw, problems)
    columns = []
    for col, spec in (raw.get("columns") or {}).items():
        if not isinstance(spec, Mapping) or "sdtype" not in spec:
            problems.append(
                Problem(
                    "SDV column metadata needs an 'sdtype'",
                    table=name,
                    column=str(col),
                    hint='e.g. {"sdtype": "categorical"}',
                )
            )
            continue
        columns.append(_column(str(col), spec, bounds))
        sdtype = str(spec["sdtype"])
        if sdtype not in BASIC_SDTYPES and sdtype not in PII_SDTYPES and spec.get("pii") is not False:
            unknown_sdtypes.append(f"{name}.{col} (sdtype {sdtype!r})")
    constraints = tuple({"type": "unique", "columns": list(_keys(k))} for k in raw.get("alternate_keys", ()))
    return Table(
        name=name, columns=tuple(columns), primary_key=_keys(raw.get("primary_key")), constraints=constraints
    ), []


def _column(name: str, spec: Mapping[str, Any], bounds: bool) -> Column:
    sdtype = str(spec["sdtype"])
    nullable = bool(spec.get("range_is_nullable", True))
    low = high = None
    categories = None
    datetime_format = spec.get("datetime_format")
    id_format = None
    pii_kind = None
    if sdtype == "numerical":
        kind = ColumnKind.NUMERICAL
        dtype = NUMERIC_DTYPES.get(str(spec.get("computer_representation", "Float")), "double")
        if bounds:
            low, high = spec.get("range_min"), spec.get("range_max")
    elif sdtype in ("categorical", "ordinal"):
        # hiveframe has no ordinal kind: the order of an ordinal column is not kept
        kind, dtype = ColumnKind.CATEGORICAL, _dtype_of_values(spec.get("range_values"))
        if bounds and spec.get("range_values") is not None:
            categories = tuple(spec["range_values"])
    elif sdtype == "boolean":
        kind, dtype = ColumnKind.BOOLEAN, "bool"
    elif sdtype == "datetime":
        kind = ColumnKind.DATETIME
        fmt = str(datetime_format or "")
        dtype = "date32[day]" if fmt and not any(d in fmt for d in _TIME_DIRECTIVES) else "timestamp[us]"
    elif sdtype == "id":
        kind = ColumnKind.ID
        id_format = spec.get("regex_format")
        dtype = "string" if id_format else "int64"
    elif sdtype in ("text", "unknown"):
        kind, dtype = ColumnKind.TEXT, "string"
    elif spec.get("pii") is False:
        # a recognised semantic type the user marked as not personal: sample it from the data
        kind, dtype = ColumnKind.CATEGORICAL, "string"
    else:
        kind, dtype = ColumnKind.PII, "string"
        pii_kind = PII_SDTYPES.get(sdtype, PIIKind.OTHER)
    return Column(
        name=name,
        kind=kind,
        dtype=dtype,
        nullable=nullable,
        pii_kind=pii_kind,
        datetime_format=datetime_format if kind == ColumnKind.DATETIME else None,
        id_format=id_format,
        low=_number(low),
        high=_number(high),
        categories=categories,
    )


def _dtype_of_values(values: Any) -> str:
    """The dtype of SDV's ``range_values`` (V2), ``string`` when unknown."""
    if not isinstance(values, list) or not values:
        return "string"
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int64"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "double"
    return "string"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _relationship(rel: Any, problems: list[Problem]) -> ForeignKey | None:
    needed = ("parent_table_name", "parent_primary_key", "child_table_name", "child_foreign_key")
    if not isinstance(rel, Mapping) or any(k not in rel for k in needed):
        problems.append(Problem(f"SDV relationship {rel!r} lacks one of {', '.join(needed)}"))
        return None
    return ForeignKey(
        child_table=str(rel["child_table_name"]),
        child_columns=_keys(rel["child_foreign_key"]),
        parent_table=str(rel["parent_table_name"]),
        parent_columns=_keys(rel["parent_primary_key"]),
    )


def _legacy_table(
    name: str, raw: Mapping[str, Any], problems: list[Problem]
) -> tuple[Table, list[ForeignKey]]:
    """SDV 0.x: ``{"fields": {col: {"type", "subtype", "format", "ref": {"table", "field"}}}}``."""
    columns, fks = [], []
    for col, spec in (raw.get("fields") or {}).items():
        col = str(col)
        kind_name = spec.get("type") if isinstance(spec, Mapping) else None
        subtype = spec.get("subtype") if isinstance(spec, Mapping) else None
        if kind_name == "id":
            columns.append(
                Column(
                    name=col,
                    kind=ColumnKind.ID,
                    dtype="string" if subtype == "string" else "int64",
                    id_format=spec.get("regex"),
                )
            )
            ref = spec.get("ref")
            if isinstance(ref, Mapping) and "table" in ref:
                fks.append(
                    ForeignKey(
                        child_table=name,
                        child_columns=(col,),
                        parent_table=str(ref["table"]),
                        parent_columns=_keys(ref.get("field")),
                    )
                )
        elif kind_name == "numerical":
            columns.append(
                Column(
                    name=col, kind=ColumnKind.NUMERICAL, dtype="int64" if subtype == "integer" else "double"
                )
            )
        elif kind_name == "categorical":
            pii = spec.get("pii_category")
            if spec.get("pii") and pii:
                columns.append(
                    Column(
                        name=col,
                        kind=ColumnKind.PII,
                        pii_kind=PII_SDTYPES.get(str(pii if isinstance(pii, str) else pii[0]), PIIKind.OTHER),
                    )
                )
            else:
                columns.append(Column(name=col, kind=ColumnKind.CATEGORICAL))
        elif kind_name == "boolean":
            columns.append(Column(name=col, kind=ColumnKind.BOOLEAN, dtype="bool"))
        elif kind_name == "datetime":
            fmt = spec.get("format")
            dtype = "date32[day]" if fmt and not any(d in fmt for d in _TIME_DIRECTIVES) else "timestamp[us]"
            columns.append(Column(name=col, kind=ColumnKind.DATETIME, dtype=dtype, datetime_format=fmt))
        else:
            problems.append(
                Problem(
                    f"unknown legacy SDV field type {kind_name!r}",
                    table=name,
                    column=col,
                    hint="types: id, numerical, categorical, boolean, datetime",
                )
            )
    return Table(name=name, columns=tuple(columns), primary_key=_keys(raw.get("primary_key"))), fks


def _with_data_types(metadata: Metadata, database: Database | Mapping[str, Any]) -> Metadata:
    """Take each column's Arrow dtype and nullability from the data; mark one-to-one links."""
    from dataclasses import replace

    from hiveframe.errors import DataError
    from hiveframe.metadata.coercion import as_arrow_database
    from hiveframe.metadata.detect import _with_cardinality

    db, problems = as_arrow_database(database, host=None)  # a Database or a mapping of tables
    DataError.raise_if_any(problems)
    tables = []
    for table in metadata.tables:
        data = db.tables.get(table.name)
        if data is None:
            tables.append(table)
            continue
        cols = []
        for col in table.columns:
            if col.name in data.column_names:
                arr = data.column(col.name)
                dtype, nullable = str(arr.type), arr.null_count > 0
                if col.kind == ColumnKind.NUMERICAL and dtype in ("string", "large_string"):
                    # numbers stored as text ('?' for missing): keep the numeric dtype, allow nulls
                    dtype, nullable = col.dtype, True
                col = replace(col, dtype=dtype, nullable=nullable)
            cols.append(col)
        tables.append(replace(table, columns=tuple(cols)))
    fks = tuple(
        _with_cardinality(fk, db) if fk.child_table in db.tables else fk for fk in metadata.foreign_keys
    )
    return Metadata(tables=tuple(tables), foreign_keys=fks)
