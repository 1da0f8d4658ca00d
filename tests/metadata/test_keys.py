"""Key detection on real databases without declarations, natural keys, dirty foreign keys, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest

from hiveframe import detect, validate_data
from hiveframe.components import Database
from hiveframe.errors import ConfigError
from hiveframe.metadata import Metadata
from hiveframe.testing.keys import (
    FLIGHTS_FOREIGN_KEYS,
    FLIGHTS_PRIMARY_KEYS,
    flights_database,
    key_sets,
    precision_recall,
    without_declarations,
)


def _pr(metadata: Metadata, pks: dict, fks: set) -> dict:
    found_pks, found_fks = key_sets(metadata)
    return precision_recall(found_pks, found_fks, pks, fks)


def _perfect(scores: dict) -> bool:
    return all(scores[k]["precision"] == 1.0 and scores[k]["recall"] == 1.0 for k in scores)


# -- real databases --------------------------------------------------------------------------------
def test_chinook_as_csv_role_named_and_composite_keys(datasets, tmp_path):
    sqlite, schema = datasets("chinook")
    truth = key_sets(detect(sqlite))  # the SQLite file's declared keys
    csv = without_declarations(sqlite, tmp_path / "chinook")
    assert not csv.declared_primary_keys and not csv.declared_foreign_keys
    metadata = detect(csv, detect_pii=False)
    scores = _pr(metadata, *truth)
    assert _perfect(scores), scores
    fks = {fk.name: fk for fk in metadata.foreign_keys}
    # role names: a representative is an employee; "reports to" is a self-reference
    assert "role word (rep)" in " ".join(fks["Customer.SupportRepId->Employee"].detection["evidence"])
    assert fks["Employee.ReportsTo->Employee"].is_self_reference
    playlist_track = metadata.table("PlaylistTrack")
    assert playlist_track.primary_key == ("PlaylistId", "TrackId")
    assert "2 of 2 are foreign keys" in playlist_track.detection["evidence"]
    validate_data(metadata, csv)


@pytest.mark.parametrize("name", ["berka", "biodegradability", "airbnb"])
def test_real_databases_every_declared_key_and_no_false_one(datasets, name, shared_data):
    from hiveframe.plugins import PluginHost

    _, schema = datasets(name)
    from hiveframe.testing import load_dataset

    _, truth_md = load_dataset(shared_data, name)
    database = PluginHost(load_entry_points=False).read(shared_data / name)
    metadata = detect(database, detect_pii=False)
    scores = _pr(metadata, *key_sets(truth_md))
    assert _perfect(scores), scores
    for fk in metadata.foreign_keys:
        assert fk.detection["confidence"] >= 0.5 and fk.detection["orphans"] == 0


# -- natural keys and dirty foreign keys -----------------------------------------------------------
def test_natural_codes_with_orphans_are_found_with_their_counts():
    database = flights_database(seed=3)
    metadata = detect(database, detect_pii=False)
    scores = _pr(metadata, FLIGHTS_PRIMARY_KEYS, FLIGHTS_FOREIGN_KEYS)
    assert _perfect(scores), scores
    fks = {fk.name: fk for fk in metadata.foreign_keys}
    tail = fks["flights.tailnum->planes"].detection
    assert tail["orphans"] > 0 and 0.01 < tail["orphan_share"] < 0.06
    # origin and dest both point at airports; neither is named after it
    assert {fks["flights.origin->airports"].parent_columns, fks["flights.dest->airports"].parent_columns} == {("faa",)}
    assert "role word (dest)" in " ".join(fks["flights.dest->airports"].detection["evidence"])
    assert metadata.table("weather").primary_key == ("origin", "time_hour")
    # a fact table without a key of its own has none
    assert metadata.table("flights").primary_key == ()
    # the (origin, time_hour) link to weather exists in the data but would fill origin from two parents
    left_out = metadata.detection["rejected"]
    assert any(r.get("child_columns") == ["origin", "time_hour"] and "already belong" in r["rejected_because"]
               for r in left_out)


def test_dirty_foreign_key_needs_an_orphan_policy_to_fit():
    from hiveframe.errors import DataError
    from hiveframe.pipeline import Synthesizer

    database = flights_database(seed=1, flights=800)
    metadata = detect(database, detect_pii=False)
    with pytest.raises(DataError) as info:
        Synthesizer(metadata).fit(database)
    text = str(info.value)
    assert "flights" in text and "--orphans null" in text and "tailnum" in text


def test_max_orphan_share_zero_accepts_clean_keys_only(caplog):
    database = flights_database(seed=2, flights=1000)
    with caplog.at_level(logging.WARNING, logger="hiveframe.metadata.detect"):
        metadata = detect(database, detect_pii=False, max_orphan_share=0.0)
    names = {fk.name for fk in metadata.foreign_keys}
    assert "flights.tailnum->planes" not in names and "flights.carrier->airlines" in names
    rejected = {(r["child_table"], r["child_columns"][0]): r for r in metadata.detection["rejected"]
                if r["kind"] == "foreign_key"}
    assert "no parent" in rejected[("flights", "tailnum")]["rejected_because"]
    assert "flights.tailnum looks like a foreign key to planes.tailnum" in caplog.text


def test_threshold_is_the_users_to_set(datasets, tmp_path):
    csv = without_declarations(datasets("chinook")[0], tmp_path / "c")
    strict = detect(csv, detect_pii=False, key_threshold=0.7)
    names = {fk.name for fk in strict.foreign_keys}
    assert "Customer.SupportRepId->Employee" not in names and "Invoice.CustomerId->Customer" in names
    left = [r for r in strict.detection["rejected"] if r.get("child_columns") == ["SupportRepId"]]
    assert left and left[0]["confidence"] == pytest.approx(0.6) and "below the threshold 0.7" in left[0][
        "rejected_because"]
    with pytest.raises(ConfigError):
        detect(csv, key_threshold=0)
    with pytest.raises(ConfigError):
        detect(csv, max_orphan_share=1.0)


def test_detection_evidence_round_trips_and_is_not_part_of_equality(tmp_path):
    metadata = detect(flights_database(seed=0, flights=500), detect_pii=False)
    back = Metadata.from_json(metadata.to_json())
    assert back == metadata
    assert back.table("airlines").detection == metadata.table("airlines").detection
    assert back.foreign_keys[0].detection == metadata.foreign_keys[0].detection
    assert back.detection["threshold"] == 0.5
    # a file written before detection evidence existed still reads
    plain = metadata.without_detection().to_dict()
    assert "detection" not in plain and all("detection" not in fk for fk in plain["foreign_keys"])
    assert Metadata.from_dict(plain) == metadata


# -- bad input -------------------------------------------------------------------------------------
def _db(**tables: pa.Table) -> Database:
    return Database(dict(tables))


def test_two_equally_good_candidates_tie_rule():
    n = 30
    both = pa.table({"a_code": [f"A{i:03d}" for i in range(n)], "b_code": [f"B{i:03d}" for i in range(n)],
                     "x": [i % 3 for i in range(n)]})
    alone = detect(_db(t=both), detect_pii=False)
    pk = alone.table("t")
    assert pk.primary_key == ("a_code",)  # equal evidence: the leftmost column
    assert any("tie with b_code" in e for e in pk.detection["evidence"])
    assert pk.detection["alternatives"][0].startswith("b_code")
    # a table that references b_code breaks the tie: the referenced column wins
    child = pa.table({"child_id": list(range(60)), "b_code": [f"B{i % n:03d}" for i in range(60)]})
    referenced = detect(_db(t=both, child=child), detect_pii=False)
    assert referenced.table("t").primary_key == ("b_code",)
    assert [fk.name for fk in referenced.foreign_keys] == ["child.b_code->t"]


def test_a_unique_float_column_is_never_a_key():
    rng = np.random.default_rng(0)
    t = pa.table({"reading_id": rng.random(50) * 100, "value": rng.random(50)})
    metadata = detect(_db(readings=t), detect_pii=False)
    assert metadata.table("readings").primary_key == ()


def test_a_table_where_every_column_is_unique_gets_no_key_without_other_evidence():
    t = pa.table({"alpha": [f"a{i}" for i in range(40)], "beta": list(range(100, 140)),
                  "gamma": [f"g-{i}" for i in range(40)]})
    metadata = detect(_db(t=t), detect_pii=False)
    assert metadata.table("t").primary_key == ()
    left = [r for r in metadata.detection["rejected"] if r["kind"] == "primary_key"]
    assert left and "every column is unique" in left[0]["evidence"] and "below the threshold" in left[0][
        "rejected_because"]


def test_a_flag_contained_in_a_dense_parent_key_is_no_foreign_key():
    parent = pa.table({"item_id": list(range(0, 200)), "w": [i * 0.5 for i in range(200)]})
    child = pa.table({"sale_id": list(range(500)), "item_id": [i % 200 for i in range(500)],
                      "is_paid": [i % 2 for i in range(500)], "quantity": [1 + i % 4 for i in range(500)]})
    metadata = detect(_db(item=parent, sale=child), detect_pii=False)
    assert [fk.name for fk in metadata.foreign_keys] == ["sale.item_id->item"]


def test_proposed_foreign_keys_never_close_a_cycle():
    a = pa.table({"a_id": list(range(1, 21)), "b_id": [1 + i % 10 for i in range(20)]})
    b = pa.table({"b_id": list(range(1, 11)), "a_id": [1 + (3 * i) % 20 for i in range(10)]})
    metadata = detect(_db(a=a, b=b), detect_pii=False)
    assert len(metadata.foreign_keys) == 1
    metadata.topological_order()  # no cycle
    cycles = [r for r in metadata.detection["rejected"] if "cycle" in r.get("rejected_because", "")]
    assert len(cycles) == 1


def test_large_tables_are_sampled_and_say_so():
    n = 30_000
    rng = np.random.default_rng(0)
    parent = pa.table({"customer_id": np.arange(1, 2001), "x": rng.random(2000)})
    child = pa.table({"order_id": np.arange(n), "customer_id": rng.integers(1, 2001, n)})
    metadata = detect(_db(customers=parent, orders=child), detect_pii=False, sample_rows=5000)
    assert metadata.detection["sampled"] == {"orders": {"checked_rows": 5000, "rows": n}}
    fk = metadata.foreign_keys[0]
    assert fk.name == "orders.customer_id->customers" and fk.detection["checked_rows"] == 5000
    assert metadata.table("orders").primary_key == ("order_id",)  # uniqueness is checked on every row


def test_composite_primary_and_foreign_keys():
    shops = pa.table({"region_code": ["N", "N", "S", "S", "E"], "shop_no": [1, 2, 1, 2, 1],
                      "size": [10.5, 20.0, 15.0, 30.0, 12.0]})
    sales = pa.table({"sale_id": list(range(40)), "region_code": [["N", "S", "E"][i % 3] for i in range(40)],
                      "shop_no": [1 + (i % 2 if i % 3 != 2 else 0) for i in range(40)],
                      "amount": [i * 1.5 for i in range(40)]})
    metadata = detect(_db(shop=shops, sale=sales), detect_pii=False)
    assert metadata.table("shop").primary_key == ("region_code", "shop_no")
    assert [(fk.name, fk.parent_columns) for fk in metadata.foreign_keys] == [
        ("sale.region_code,shop_no->shop", ("region_code", "shop_no"))]
    validate_data(metadata, _db(shop=shops, sale=sales))


def test_an_email_key_and_a_manager_self_reference():
    users = pa.table({"email": [f"user{i}@example.org" for i in range(30)],
                      "name": [f"User Number {i}" for i in range(30)]})
    orders = pa.table({"order_id": list(range(80)), "customer_email": [f"user{i % 25}@example.org" for i in range(80)]})
    staff = pa.table({"staff_id": list(range(1, 21)), "manager": [None] + [1 + (i // 5) for i in range(19)],
                      "level": [i % 3 for i in range(20)]})
    metadata = detect(_db(users=users, orders=orders, staff=staff), detect_pii=False)
    assert metadata.table("users").primary_key == ("email",)
    names = {fk.name for fk in metadata.foreign_keys}
    assert names == {"orders.customer_email->users", "staff.manager->staff"}
    # an integer column of the same table without a role word is no self-reference
    assert "staff.level->staff" not in names


def test_unique_email_column_nothing_references_is_pii_not_a_key():
    """A natural key that links no table gains nothing as a key; as PII its values are replaced."""
    from hiveframe.metadata import ColumnKind

    emails = [f"{name}.{i}@example.org" for i, name in enumerate(["ann", "bob", "cy", "dee", "eve"] * 40)]
    users = pa.table({"email": emails, "spend": np.linspace(1, 100, len(emails))})
    md = detect(Database({"users": users}))
    assert md.table("users").primary_key == ()
    assert md.table("users").column("email").kind == ColumnKind.PII


def test_unique_email_column_that_another_table_references_stays_the_key():
    emails = [f"{name}.{i}@example.org" for i, name in enumerate(["ann", "bob", "cy", "dee", "eve"] * 40)]
    users = pa.table({"email": emails, "spend": np.linspace(1, 100, len(emails))})
    orders = pa.table({"order_id": np.arange(400), "user_email": [emails[i % 200] for i in range(400)]})
    md = detect(Database({"users": users, "orders": orders}))
    assert md.table("users").primary_key == ("email",)
    assert any(fk.parent_table == "users" and fk.child_table == "orders" for fk in md.foreign_keys)
