"""The Synthesizer's relational API: persistence, seeds, rows, hooks, overrides, options."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database
from hiveframe.errors import ConfigError, MetadataError, NotFittedError, UnknownComponentError
from hiveframe.hookspecs import hookimpl
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import children_counts, integrity_problems
from hiveframe.plugins import PluginHost


def same(a: Database, b: Database) -> bool:
    return a.names == b.names and all(a[t].equals(b[t]) for t in a.names)


def shop(n_customers: int = 120, seed: int = 0) -> tuple[Database, Metadata]:
    """customer <- orders (nullable FK, 20% null) <- line; a small database made here."""
    rng = np.random.default_rng(seed)
    vip = rng.random(n_customers) < 0.3
    customers = pa.table({"cid": np.arange(1, n_customers + 1), "vip": vip,
                          "region": rng.choice(["n", "s", "e"], n_customers)})
    per = np.where(vip, rng.poisson(6, n_customers), rng.poisson(1, n_customers))
    owner = np.repeat(np.arange(1, n_customers + 1), per)
    n_orders = len(owner)
    null = rng.random(n_orders) < 0.2
    orders = pa.table({"oid": np.arange(1, n_orders + 1),
                       "cid": pa.array(owner, mask=null),
                       "amount": np.round(rng.gamma(2, 30, n_orders), 2)})
    lines_per = rng.integers(1, 4, n_orders)
    lines = pa.table({"lid": np.arange(1, lines_per.sum() + 1), "oid": np.repeat(np.arange(1, n_orders + 1), lines_per),
                      "qty": rng.integers(1, 5, lines_per.sum())})
    md = Metadata(
        tables=(
            Table("customer", (Column("cid", ColumnKind.ID, "int64"), Column("vip", ColumnKind.BOOLEAN, "bool"),
                               Column("region", ColumnKind.CATEGORICAL)), primary_key=("cid",)),
            Table("orders", (Column("oid", ColumnKind.ID, "int64"), Column("cid", ColumnKind.ID, "int64"),
                             Column("amount", ColumnKind.NUMERICAL, "double")), primary_key=("oid",)),
            Table("line", (Column("lid", ColumnKind.ID, "int64"), Column("oid", ColumnKind.ID, "int64"),
                           Column("qty", ColumnKind.NUMERICAL, "int64")), primary_key=("lid",)),
        ),
        foreign_keys=(ForeignKey("orders", ("cid",), "customer", ("cid",)),
                      ForeignKey("line", ("oid",), "orders", ("oid",))),
    )
    return Database({"customer": customers, "orders": orders, "line": lines}), md


def test_save_load_gives_identical_samples(fitted, tmp_path) -> None:
    db, md, synth = fitted("chinook")
    first = synth.sample(scale=0.7, seed=5)
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model")
    assert same(first, again.sample(scale=0.7, seed=5))
    assert again.describe() == synth.describe()
    assert (tmp_path / "model" / "relational.json").is_file()


def test_seeds(fitted) -> None:
    db, md, synth = fitted("berka")
    a, b = synth.sample(scale=0.3, seed=1), synth.sample(scale=0.3, seed=1)
    assert same(a, b)
    assert not same(a, synth.sample(scale=0.3, seed=2))
    assert same(synth.sample(scale=0.3), synth.sample(scale=0.3, seed=synth.seed))


def test_rows_sets_a_root_and_the_rest_follows(fitted) -> None:
    db, md, synth = fitted("berka")
    out = synth.sample(rows={"district": 20}, seed=3)
    assert out["district"].num_rows == 20
    assert out["account"].num_rows == pytest.approx(4500 * 20 / 77, rel=0.1)
    assert integrity_problems(md, out) == []
    with pytest.raises(ConfigError, match="root tables"):
        synth.sample(rows={"account": 10})
    with pytest.raises(ConfigError, match="unknown table"):
        synth.sample(rows={"nope": 10})
    with pytest.raises(ConfigError, match="scale"):
        synth.sample(scale=0)


def test_nullable_foreign_key_keeps_its_null_rate_and_attributes_drive_counts() -> None:
    db, md = shop()
    synth = Synthesizer(md, seed=1).fit(db)
    out = synth.sample(scale=3, seed=2)
    assert integrity_problems(md, out) == []
    nulls = out["orders"]["cid"].null_count / out["orders"].num_rows
    assert nulls == pytest.approx(0.2, abs=0.04)
    counts = children_counts(out, md.foreign_keys[0])
    vip = np.asarray(out["customer"]["vip"].to_pylist())
    assert counts[vip].mean() > 2.5 * counts[~vip].mean()  # conditioned on the parent, not one histogram


def test_every_table_goes_through_the_fit_and_sample_hooks() -> None:
    seen: list[tuple[str, str]] = []

    class Watch:
        @hookimpl(wrapper=True)
        def hiveframe_fit_table(self, table_name, generator, data, table, context_columns, seed, callback,
                                workdir):
            seen.append(("fit", table_name))
            return (yield)

        @hookimpl(wrapper=True)
        def hiveframe_sample_table(self, table_name, generator, num_rows, context, conditions, seed):
            seen.append(("sample", table_name))
            return (yield)

    host = PluginHost(load_entry_points=False)
    host.register(Watch(), name="watch")
    db, md = shop()
    Synthesizer(md, host=host).fit(db).sample()
    assert seen == [("fit", t) for t in ("customer", "orders", "line")] + \
        [("sample", t) for t in ("customer", "orders", "line")]


def test_driver_and_context_overrides(load_db) -> None:
    db, md = load_db("berka")
    disp = md.table("disp")
    md2 = md.with_table(Table(disp.name, disp.columns, disp.primary_key, driver="client_id"))
    fk = next(f for f in md.foreign_keys if f.name == "loan.account_id->account")
    md2 = md2.with_foreign_key(ForeignKey(fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns,
                                          context_columns=("frequency", "date")))
    sub = Database({t: db[t] for t in db.names})
    synth = Synthesizer(md2, seed=0, max_context_columns=2).fit(sub)
    plan = synth.describe()
    assert plan["disp"]["driver"] == "disp.client_id->client"
    assert plan["loan"]["context"] == ["account.frequency", "account.date"]
    assert all(len(p["context"]) <= 2 for p in plan.values())  # bounded at every depth
    assert integrity_problems(md2, synth.sample(scale=0.5)) == []
    bad = md.with_table(Table(disp.name, disp.columns, disp.primary_key, driver="nope"))
    with pytest.raises((ConfigError, MetadataError), match="driver 'nope'"):
        Synthesizer(bad).fit(sub)
    bad_ctx = md.with_foreign_key(ForeignKey(fk.child_table, fk.child_columns, fk.parent_table,
                                             fk.parent_columns, context_columns=("nope",)))
    with pytest.raises(MetadataError, match="nope"):
        Synthesizer(bad_ctx).fit(sub)


def test_context_width_does_not_grow_with_depth(fitted) -> None:
    db, md, synth = fitted("berka")
    widths = {t: len(p["context"]) for t, p in synth.describe().items()}
    assert max(widths.values()) <= 5
    assert widths["card"] <= 5  # four levels down: district -> account -> disp -> card


def test_empirical_linkage_and_a_third_party_generator(toy) -> None:
    db, md = shop()
    synth = Synthesizer(md, generator="toy_resample", linkage="empirical", host=toy, seed=0).fit(db)
    out = synth.sample(scale=2)
    assert integrity_problems(md, out) == []
    assert synth.engine.plans["orders"].driver.linkage.name == "empirical"
    with pytest.raises(UnknownComponentError):
        Synthesizer(md, linkage="nope")


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        Synthesizer().sample()


def test_composite_foreign_keys_and_a_composite_primary_key_with_a_counter() -> None:
    """order_line(order_no, store, line_no) -> orders(order_no, store): keys of two columns."""
    rng = np.random.default_rng(4)
    n = 150
    orders = pa.table({"order_no": np.arange(n) % 50, "store": np.repeat(["x", "y", "z"], 50),
                       "total": rng.gamma(2, 10, n)})
    per = rng.integers(0, 4, n)
    idx = np.repeat(np.arange(n), per)
    line_no = np.concatenate([np.arange(1, k + 1) for k in per])
    lines = pa.table({"order_no": orders["order_no"].take(pa.array(idx)), "store": orders["store"].take(pa.array(idx)),
                      "line_no": line_no, "qty": rng.integers(1, 9, len(idx))})
    md = Metadata(
        tables=(Table("orders", (Column("order_no", ColumnKind.ID, "int64"), Column("store", ColumnKind.ID, "string"),
                                 Column("total", ColumnKind.NUMERICAL, "double")), ("order_no", "store")),
                Table("line", (Column("order_no", ColumnKind.ID, "int64"), Column("store", ColumnKind.ID, "string"),
                               Column("line_no", ColumnKind.ID, "int64"), Column("qty", ColumnKind.NUMERICAL, "int64")),
                      ("order_no", "store", "line_no"))),
        foreign_keys=(ForeignKey("line", ("order_no", "store"), "orders", ("order_no", "store")),),
    )
    synth = Synthesizer(md, seed=0).fit(Database({"orders": orders, "line": lines}))
    out = synth.sample(scale=2, seed=1)
    assert integrity_problems(md, out) == []  # composite keys unique, composite references resolve
    assert out["line"]["line_no"].to_pylist()[:1] == [1]


def test_fit_with_progress_prints_a_line_per_table_and_plain_training_lines(capsys, shared_data):
    from hiveframe.pipeline.progress import describe_event
    from hiveframe.testing.datasets import load_dataset

    database, metadata = load_dataset(shared_data, "chinook", tables=["Genre", "MediaType"])
    events = []
    Synthesizer(metadata).fit(database, progress=True, callback=events.append)
    err = capsys.readouterr().err
    assert "[1/2] fitting Genre (25 rows" in err and "[2/2] fitted MediaType in" in err
    assert events and "epoch=" not in err  # the copula's one event prints nothing
    Synthesizer(metadata).fit(database)
    assert capsys.readouterr().err == ""  # silent unless asked
    line = describe_event({"table": "Track", "epoch": 3, "epochs": 10, "losses": {"generator": 1.5},
                           "validation": 0.91, "best_epoch": 3, "epoch_seconds": 1.7})
    assert line.startswith("Track: epoch 3 of 10, losses generator 1.5") and "held-out real rows" in line
    assert describe_event({"table": "Genre", "epoch": 0, "rows": 25}) is None
