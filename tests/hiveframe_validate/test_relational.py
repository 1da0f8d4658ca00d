"""Keys, referential integrity, children per parent and parent-child detection on a Berka slice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_validate.relational import Relational
from scipy import stats

from hiveframe.metadata import ForeignKey

FAST = {"sample_size": 1200, "max_iter": 40, "repeats": 1}
LOAN = "loan.account_id->account"
ORDER = "order.account_id->account"


def replace(table, column, values):
    return table.set_column(table.column_names.index(column), column, pa.array(values))


def test_real_against_itself_is_intact(berka):
    tables, meta = berka
    res = Relational(**FAST).validate(tables, tables, meta)
    assert res.scores["referential_integrity"] == 1.0
    assert res.scores["cardinality_similarity"] == 1.0
    assert res.scores["key_uniqueness"] == 1.0
    order = res.details["links"][ORDER]
    assert order["real"]["mean_children"] == pytest.approx(6471 / 4500)
    assert order["real"]["childless_share"] == pytest.approx(1 - 3758 / 4500)
    assert sum(order["histogram"]["real"]) == pytest.approx(1.0)
    # district has 77 rows: too few for a detection test, stated rather than guessed
    assert "too few rows" in res.details["links"]["account.district_id->district"]["detection"]["note"]


def test_broken_links_fail_integrity(berka):
    tables, meta = berka
    synth = dict(tables)
    ids = tables["loan"].column("account_id").to_numpy().copy()
    ids[:50] = 10**9 + np.arange(50)  # parents that do not exist
    synth["loan"] = replace(tables["loan"], "account_id", ids)
    res = Relational(**FAST, detect=False).validate(tables, synth, meta)
    loan = res.details["links"][LOAN]["synthetic"]
    assert loan["orphans"] == 50 and loan["integrity"] == pytest.approx(1 - 50 / tables["loan"].num_rows)
    assert res.status == "fail"
    assert any(b["metric"] == "referential_integrity" and b["status"] == "fail" for b in res.details["bands"])


def test_reassigned_children_change_cardinality(berka):
    tables, meta = berka
    rng = np.random.default_rng(0)
    parents = tables["account"].column("account_id").to_numpy()
    synth = dict(tables)
    # every order goes to a random account: more childless and single-order accounts
    synth["order"] = replace(tables["order"], "account_id", rng.choice(parents, tables["order"].num_rows))
    res = Relational(detect=False, tables=("account", "order")).validate(tables, synth, meta)
    # children per account computed independently, compared with scipy's KS
    acc = {a: i for i, a in enumerate(parents)}
    per = {side: np.bincount([acc[a] for a in t["order"].column("account_id").to_pylist()], minlength=len(parents))
           for side, t in (("real", tables), ("synthetic", synth))}
    expected = 1 - stats.ks_2samp(per["real"], per["synthetic"]).statistic
    assert res.details["links"][ORDER]["cardinality_similarity"] == pytest.approx(expected, abs=1e-12)
    assert expected < 0.95
    assert res.details["links"][ORDER]["synthetic"]["childless_share"] > res.details["links"][ORDER]["real"][
        "childless_share"]


def test_shuffled_links_keep_counts_but_fail_parent_child_detection(berka):
    tables, meta = berka
    rng = np.random.default_rng(0)
    synth = dict(tables)
    # permuting the foreign key keeps every account's order count but gives it someone else's orders
    synth["order"] = replace(tables["order"], "account_id", rng.permutation(tables["order"].column("account_id").to_numpy()))
    good = Relational(**FAST, tables=("account", "order")).validate(tables, tables, meta)
    bad = Relational(**FAST, tables=("account", "order")).validate(tables, synth, meta)
    assert bad.details["links"][ORDER]["cardinality_similarity"] == 1.0
    det_bad, det_good = bad.details["links"][ORDER]["detection"], good.details["links"][ORDER]["detection"]
    assert det_bad["auc"] > 0.65 and det_bad["auc"] > det_good["auc"] + 0.15
    assert "children" in det_bad["features"] and "mean(amount)" in det_bad["features"]
    assert bad.scores["parent_child_max_auc"] == det_bad["auc"]


def test_duplicate_keys_and_one_to_one(berka):
    tables, meta = berka
    synth = dict(tables)
    ids = tables["loan"].column("loan_id").to_numpy().copy()
    ids[1:11] = ids[0]
    synth["loan"] = replace(tables["loan"], "loan_id", ids)
    meta11 = meta.with_foreign_key(ForeignKey("loan", ("account_id",), "account", ("account_id",), one_to_one=True))
    acc = tables["loan"].column("account_id").to_numpy().copy()
    acc[1] = acc[0]  # one account with two loans
    synth["loan"] = replace(synth["loan"], "account_id", acc)
    res = Relational(**FAST, detect=False, tables=("account", "loan")).validate(tables, synth, meta11)
    assert res.details["keys"]["loan"]["synthetic"]["duplicate_keys"] == 10
    assert res.scores["key_uniqueness"] == pytest.approx(1 - 10 / tables["loan"].num_rows)
    one = [b for b in res.details["bands"] if b["metric"] == "one_to_one"]
    assert one and one[0]["status"] == "fail"
