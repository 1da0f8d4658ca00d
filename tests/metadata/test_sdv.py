"""from_sdv(): SDV metadata JSON (multi-table V1/V2, single-table, legacy) into hiveframe Metadata."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from hiveframe import detect, validate_data, validate_metadata
from hiveframe.errors import MetadataError, SourceError
from hiveframe.metadata import (
    ColumnKind,
    Metadata,
    PIIKind,
    from_sdv,
)
from hiveframe.metadata.consistency import metadata_problems
from hiveframe.plugins import PluginHost

# Berka as SDV 1.x multi-table metadata, written by hand from the public format description.
BERKA_SDV = {
    "METADATA_SPEC_VERSION": "V1",
    "tables": {
        "district": {
            "primary_key": "district_id",
            "columns": {
                "district_id": {"sdtype": "id"},
                "A2": {"sdtype": "categorical"},
                "A3": {"sdtype": "categorical"},
                "A4": {"sdtype": "numerical", "computer_representation": "Int64"},
                "A10": {"sdtype": "numerical", "computer_representation": "Float"},
                "A12": {"sdtype": "numerical", "computer_representation": "Float"},
            },
        },
        "account": {
            "primary_key": "account_id",
            "columns": {
                "account_id": {"sdtype": "id"},
                "district_id": {"sdtype": "id"},
                "frequency": {"sdtype": "categorical"},
                "date": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
            },
        },
        "client": {
            "primary_key": "client_id",
            "columns": {
                "client_id": {"sdtype": "id"},
                "birth_number": {"sdtype": "numerical", "computer_representation": "Int64"},
                "district_id": {"sdtype": "id"},
            },
        },
        "disp": {
            "primary_key": "disp_id",
            "columns": {
                "disp_id": {"sdtype": "id"},
                "client_id": {"sdtype": "id"},
                "account_id": {"sdtype": "id"},
                "type": {"sdtype": "categorical"},
            },
        },
        "card": {
            "primary_key": "card_id",
            "columns": {
                "card_id": {"sdtype": "id"},
                "disp_id": {"sdtype": "id"},
                "type": {"sdtype": "categorical"},
                "issued": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
            },
        },
        "loan": {
            "primary_key": "loan_id",
            "columns": {
                "loan_id": {"sdtype": "id"},
                "account_id": {"sdtype": "id"},
                "date": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
                "amount": {"sdtype": "numerical", "computer_representation": "Int64"},
                "duration": {"sdtype": "categorical"},
                "payments": {"sdtype": "numerical", "computer_representation": "Int64"},
                "status": {"sdtype": "categorical"},
            },
        },
        "order": {
            "primary_key": "order_id",
            "columns": {
                "order_id": {"sdtype": "id"},
                "account_id": {"sdtype": "id"},
                "bank_to": {"sdtype": "categorical"},
                "account_to": {"sdtype": "numerical", "computer_representation": "Int64"},
                "amount": {"sdtype": "numerical", "computer_representation": "Float"},
                "k_symbol": {"sdtype": "categorical"},
            },
        },
    },
    "relationships": [
        {"parent_table_name": p, "parent_primary_key": pk, "child_table_name": c, "child_foreign_key": fk}
        for p, pk, c, fk in [
            ("district", "district_id", "account", "district_id"),
            ("district", "district_id", "client", "district_id"),
            ("account", "account_id", "disp", "account_id"),
            ("client", "client_id", "disp", "client_id"),
            ("disp", "disp_id", "card", "disp_id"),
            ("account", "account_id", "loan", "account_id"),
            ("account", "account_id", "order", "account_id"),
        ]
    ],
}

SINGLE_TABLE_SDV = {
    "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1",
    "primary_key": "guest_id",
    "alternate_keys": ["guest_email"],
    "columns": {
        "guest_id": {"sdtype": "id", "regex_format": "GID_[0-9]{6}"},
        "guest_email": {"sdtype": "email", "pii": True},
        "guest_name": {"sdtype": "name"},
        "phone": {"sdtype": "phone_number"},
        "address": {"sdtype": "address"},
        "ssn": {"sdtype": "ssn"},
        "card": {"sdtype": "credit_card_number"},
        "iban": {"sdtype": "iban"},
        "ip": {"sdtype": "ipv4_address"},
        "plate": {"sdtype": "license_plate"},
        "country_code": {"sdtype": "country_code", "pii": False},
        "has_rewards": {"sdtype": "boolean"},
        "room_type": {"sdtype": "categorical"},
        "amenities_fee": {"sdtype": "numerical", "computer_representation": "Float"},
        "checkin_date": {"sdtype": "datetime", "datetime_format": "%d %b %Y"},
        "checkin_time": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d %H:%M"},
        "notes": {"sdtype": "unknown"},
    },
}


def _keys(metadata: Metadata):
    return (
        {t.name: t.primary_key for t in metadata.tables},
        {
            (fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns)
            for fk in metadata.foreign_keys
        },
    )


def test_berka_multi_table(datasets):
    metadata = from_sdv(BERKA_SDV)
    assert metadata_problems(metadata) == []
    database, _ = datasets("berka")
    # the same keys as detected from the data (which match schema.json, see test_detect)
    assert _keys(metadata) == _keys(detect(database))
    district = metadata.table("district")
    assert (district.column("A4").kind, district.column("A4").dtype) == (ColumnKind.NUMERICAL, "int64")
    assert district.column("A10").dtype == "double"
    date = metadata.table("account").column("date")
    assert (date.kind, date.dtype, date.datetime_format) == (ColumnKind.DATETIME, "date32[day]", "%Y-%m-%d")
    assert metadata.table("disp").column("client_id").kind == ColumnKind.ID


def test_berka_with_data_takes_dtypes_and_one_to_one(datasets):
    database, _ = datasets("berka")
    metadata = from_sdv(json.dumps(BERKA_SDV), database=database)
    # dtypes as in the data; A12 is '?'-marked text in the file, kept numeric so validate_data casts it
    assert metadata.table("district").column("A2").dtype == "string"
    assert metadata.table("district").column("A12").dtype == "double"
    assert metadata.table("district").column("A12").nullable
    assert {fk.name for fk in metadata.foreign_keys if fk.one_to_one} == {
        "disp.client_id->client",
        "card.disp_id->disp",
        "loan.account_id->account",
    }
    # the selected columns fit: validate_data keeps only the declared ones
    out = validate_data(metadata, database)
    assert out["district"].column_names == ["district_id", "A2", "A3", "A4", "A10", "A12"]
    assert out["district"].column("A12").null_count == 1


def test_single_table_and_pii_mapping():
    metadata = from_sdv(SINGLE_TABLE_SDV, table_name="guests")
    (table,) = metadata.tables
    assert table.name == "guests" and table.primary_key == ("guest_id",)
    assert table.constraints == ({"type": "unique", "columns": ["guest_email"]},)
    pii = {c.name: c.pii_kind for c in table.columns if c.kind == ColumnKind.PII}
    assert pii == {
        "guest_email": PIIKind.EMAIL,
        "guest_name": PIIKind.PERSON_NAME,
        "phone": PIIKind.PHONE,
        "address": PIIKind.ADDRESS,
        "ssn": PIIKind.NATIONAL_ID,
        "card": PIIKind.CREDIT_CARD,
        "iban": PIIKind.IBAN,
        "ip": PIIKind.IP_ADDRESS,
        "plate": PIIKind.OTHER,
    }
    gid = table.column("guest_id")
    assert (gid.kind, gid.dtype, gid.id_format) == (ColumnKind.ID, "string", "GID_[0-9]{6}")
    assert table.column("country_code").kind == ColumnKind.CATEGORICAL  # pii: false
    assert (table.column("has_rewards").kind, table.column("has_rewards").dtype) == (
        ColumnKind.BOOLEAN,
        "bool",
    )
    assert table.column("checkin_date").dtype == "date32[day]"
    assert table.column("checkin_time").dtype == "timestamp[us]"
    assert table.column("notes").kind == ColumnKind.TEXT
    assert metadata_problems(metadata) == []


def test_v2_ranges_are_bounds_only_when_asked():
    v2 = {
        "METADATA_SPEC_VERSION": "V2",
        "tables": {
            "t": {
                "columns": {
                    "age": {
                        "sdtype": "numerical",
                        "range_is_nullable": False,
                        "range_min": 18,
                        "range_max": 90,
                    },
                    "dur": {"sdtype": "ordinal", "range_is_nullable": True, "range_values": [12, 24, 36]},
                    "c": {"sdtype": "categorical", "range_values": ["a", "b"]},
                }
            }
        },
        "relationships": [],
    }
    plain = from_sdv(v2).table("t")
    assert plain.column("age").low is None and plain.column("c").categories is None
    assert not plain.column("age").nullable and plain.column("dur").nullable
    assert (plain.column("dur").kind, plain.column("dur").dtype) == (ColumnKind.CATEGORICAL, "int64")
    bounded = from_sdv(v2, bounds=True).table("t")
    assert (bounded.column("age").low, bounded.column("age").high) == (18.0, 90.0)
    assert bounded.column("c").categories == ("a", "b")


def test_composite_keys_and_path(tmp_path):
    doc = {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {
            "playlist_track": {
                "primary_key": ["playlist_id", "track_id"],
                "columns": {"playlist_id": {"sdtype": "id"}, "track_id": {"sdtype": "id"}},
            },
            "plays": {
                "columns": {
                    "playlist_id": {"sdtype": "id"},
                    "track_id": {"sdtype": "id"},
                    "n": {"sdtype": "numerical"},
                }
            },
        },
        "relationships": [
            {
                "parent_table_name": "playlist_track",
                "parent_primary_key": ["playlist_id", "track_id"],
                "child_table_name": "plays",
                "child_foreign_key": ["playlist_id", "track_id"],
            }
        ],
    }
    path = tmp_path / "sdv.json"
    path.write_text(json.dumps(doc))
    metadata = from_sdv(path)
    assert metadata.table("playlist_track").primary_key == ("playlist_id", "track_id")
    (fk,) = metadata.foreign_keys
    assert fk.child_columns == fk.parent_columns == ("playlist_id", "track_id")
    validate_metadata(metadata, host=PluginHost(load_entry_points=False))


def test_legacy_fields_format():
    legacy = {
        "tables": {
            "users": {
                "primary_key": "id",
                "fields": {
                    "id": {"type": "id", "subtype": "string"},
                    "age": {"type": "numerical", "subtype": "integer"},
                    "email": {"type": "categorical", "pii": True, "pii_category": "email"},
                    "joined": {"type": "datetime", "format": "%Y-%m-%d"},
                },
            },
            "visits": {
                "fields": {
                    "user_id": {"type": "id", "subtype": "string", "ref": {"table": "users", "field": "id"}},
                    "ok": {"type": "boolean"},
                }
            },
        }
    }
    metadata = from_sdv(legacy)
    assert [fk.name for fk in metadata.foreign_keys] == ["visits.user_id->users"]
    assert metadata.table("users").column("email").pii_kind == PIIKind.EMAIL
    assert metadata.table("users").column("age").dtype == "int64"
    assert metadata_problems(metadata) == []


def test_bad_sdv_input_lists_every_problem(tmp_path):
    bad = {
        "tables": {"a": {"columns": {"x": {"type": "numerical"}, "y": {"sdtype": "id"}}}},
        "relationships": [{"parent_table_name": "a", "child_table_name": "b"}],
    }
    with pytest.raises(MetadataError) as info:
        from_sdv(bad)
    assert len(info.value.problems) == 2
    assert "'x'" in str(info.value) and "child_foreign_key" in str(info.value)
    with pytest.raises(MetadataError, match="not SDV metadata"):
        from_sdv({"spec_version": 1, "foreign_keys": []})
    with pytest.raises(SourceError):
        from_sdv(tmp_path / "missing.json")
    with pytest.raises(MetadataError, match="not valid JSON"):
        from_sdv("{not json")


def test_metadata_from_json_points_sdv_files_to_from_sdv(tmp_path):
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(BERKA_SDV))
    with pytest.raises(MetadataError) as info:
        Metadata.from_json(path)
    assert "SDV metadata (METADATA_SPEC_VERSION V1)" in str(info.value)
    assert "from_sdv" in str(info.value)


@pytest.mark.slow
def test_cross_check_with_sdv_detection(datasets):
    """SDV's own detection, imported, agrees with ours on Berka (where its name rules suffice)."""
    sdv_metadata = pytest.importorskip("sdv.metadata")
    import warnings

    database, schema = datasets("berka")
    frames = {name: table.to_pandas() for name, table in database.tables.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = sdv_metadata.Metadata.detect_from_dataframes(frames).to_dict()
    metadata = from_sdv(json.loads(json.dumps(exported)), database=database)
    ours = detect(database)
    assert _keys(metadata) == _keys(ours)
    assert {fk.name for fk in metadata.foreign_keys if fk.one_to_one} == {
        fk.name for fk in ours.foreign_keys if fk.one_to_one
    }
    validate_metadata(metadata, host=PluginHost(load_entry_points=False))
    validate_data(metadata, database)
    assert metadata.table("district").column("A3").kind == ours.table("district").column("A3").kind
    assert pa.types.is_integer(metadata.table("account").column("account_id").arrow_type())
