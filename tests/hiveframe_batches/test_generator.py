"""The batches API: creating batches, training them (alone, all, in processes), anchors, conditions,
failures, resume, and every bad input the issue lists."""

from __future__ import annotations

from dataclasses import replace

import attrs
import numpy as np
import pytest
from hiveframe_batches.generators import BatchesGenerator

from hiveframe.baseline import GaussianCopula
from hiveframe.errors import ConfigError, DataError, NotFittedError, PluginError
from hiveframe.metadata import ColumnKind


def corr(table, x, y) -> float:
    return float(np.corrcoef(table.column(x).to_numpy(), table.column(y).to_numpy())[0, 1])


def test_batches_respect_the_width_and_put_id_like_columns_alone(grouped):
    data, table = grouped
    gen = BatchesGenerator(max_width=3)
    batches = gen.create_batches(data, table, seed=0)
    assert all(len(b.columns) <= 3 for b in batches)
    assert sorted(c for b in batches for c in b.columns) == sorted(table.column_names)
    assert ("code",) in [b.columns for b in batches]
    assert {"a1", "a2", "a3"} in [set(b.columns) for b in batches]
    assert batches[0].anchors == () and all(len(b.anchors) <= 3 for b in batches)


def test_explicit_groups_and_the_rest_clustered(grouped):
    data, table = grouped
    gen = BatchesGenerator(groups=[["a1", "b1"], ["colour"]], max_width=4)
    batches = gen.create_batches(data, table, seed=0)
    assert batches[0].columns == ("a1", "b1") and batches[1].columns == ("colour",)
    assert sorted(c for b in batches for c in b.columns) == sorted(table.column_names)


def test_num_batches_asks_for_about_that_many(grouped):
    data, table = grouped
    batches = BatchesGenerator(num_batches=3).create_batches(data, table, seed=0)
    assert 3 <= len(batches) <= 5  # the id-like column comes on top, merging may leave one more


def test_train_sample_and_join_by_position(grouped):
    data, table = grouped
    gen = BatchesGenerator(max_width=3, anchors=2)
    gen.create_batches(data, table, seed=0)
    models = gen.train_all_batches(workers=1)
    assert set(models) == {b.key for b in gen.batches}
    out = gen.sample(300, seed=1)
    assert out.column_names == table.column_names and out.num_rows == 300
    assert gen.sample(300, seed=1).equals(out)
    assert corr(out, "a1", "a2") > 0.8  # within a batch


def test_anchors_keep_dependence_across_batches(grouped):
    """b1 follows a1 (r ~ 0.95) but they sit in different batches: anchors carry it, independent batches lose it."""
    data, table = grouped
    groups = [["a1", "a2", "a3"], ["c1", "c2", "colour"], ["b1", "b2", "b3"], ["code"]]
    chained = BatchesGenerator(groups=groups, anchors=1).fit(data, table, seed=0)
    independent = BatchesGenerator(groups=groups, anchors=0).fit(data, table, seed=0)
    assert chained.batches[2].anchors[0] in ("a1", "a2", "a3")
    assert abs(corr(independent.sample(500, seed=2), "a1", "b1")) < 0.2
    assert corr(chained.sample(500, seed=2), "a1", "b1") > 0.7


def test_conditions_on_any_column(grouped):
    data, table = grouped
    gen = BatchesGenerator(groups=[["a1", "a2", "a3"], ["b1", "b2", "b3"]], anchors=2).fit(data, table, seed=0)
    out = gen.sample(200, conditions={"b3": "up", "colour": "red"}, seed=3)
    assert set(out.column("b3").to_pylist()) == {"up"} and set(out.column("colour").to_pylist()) == {"red"}
    # a condition in the first batch reaches later batches through the anchors
    high = gen.sample(200, conditions={"a1": 1.5}, seed=3)
    assert np.mean(high.column("b1").to_numpy()) > 0.8


@pytest.mark.parametrize("workers", [1, 3])
def test_epoch_callbacks_carry_the_batch_and_table(grouped, workers):
    """Also from worker processes: their events reach the callback in this process."""
    data, table = grouped
    events = []
    gen = BatchesGenerator(max_width=4, generator=_Chatty(), workers=workers)
    gen.fit(data, table, seed=0, callback=events.append)
    assert {e["batch"] for e in events} == set(range(len(gen.batches)))
    assert {e["table"] for e in events} == {"wide"} and {e["batches"] for e in events} == {len(gen.batches)}


def test_every_batch_gets_its_own_config_copy_and_folder(grouped, tmp_path):
    data, table = grouped
    template = GaussianCopula()
    gen = BatchesGenerator(max_width=4, generator=template)
    gen.fit(data, table, seed=0, workdir=tmp_path)
    models = list(gen.models.values())
    assert len({id(m) for m in models}) == len(models) and all(m is not template for m in models)
    assert not template.is_fitted
    assert sorted(p.name for p in tmp_path.iterdir()) == [b.key for b in gen.batches]


def test_train_batch_retrains_one_batch_and_leaves_the_others(grouped):
    data, table = grouped
    gen = BatchesGenerator(max_width=4)
    gen.fit(data, table, seed=0)
    before = dict(gen.models)
    retrained = gen.train_batch(1)
    assert retrained is gen.models[gen.batches[1].key] and retrained is not before[gen.batches[1].key]
    assert all(gen.models[k] is m for k, m in before.items() if k != gen.batches[1].key)


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_training_gives_the_same_model_as_sequential(grouped, workers):
    """This process and the workers share the batches; the model does not depend on who trained what."""
    data, table = grouped
    seq = BatchesGenerator(max_width=4, workers=1).fit(data, table, seed=0)
    par = BatchesGenerator(max_width=4, workers=workers).fit(data, table, seed=0)
    assert seq.batches == par.batches
    assert par.sample(100, seed=5).equals(seq.sample(100, seed=5))
    assert seq.fit_info["processes"] == 1 and par.fit_info["processes"] == workers
    where = [info["where"] for info in par.fit_info["batches"].values()]
    assert "main" in where and any(w.startswith("worker") for w in where)  # this process trains too


def test_auto_workers_train_cheap_batches_here_and_costly_ones_in_processes(grouped, monkeypatch):
    from hiveframe_batches import _parallel
    from hiveframe_batches import generators as module

    data, table = grouped
    monkeypatch.setattr(_parallel, "available_cores", lambda: 2)
    gen = BatchesGenerator(max_width=4)
    assert gen.workers == "auto"
    gen.fit(data, table, seed=0)
    assert gen.fit_info["processes"] == 1  # a copula on 600 rows: a worker's start-up costs more
    monkeypatch.setattr(module, "MIN_WORKER_SECONDS", 0.0)
    costly = BatchesGenerator(max_width=4).fit(data, table, seed=0)
    assert costly.fit_info["processes"] == 2
    assert costly.sample(50, seed=1).equals(gen.sample(50, seed=1))
    monkeypatch.setattr(_parallel, "available_cores", lambda: 1)
    assert BatchesGenerator(max_width=4).fit(data, table, seed=0).fit_info["processes"] == 1


def test_the_estimate_counts_steps_for_neural_models_and_cells_for_the_others():
    from hiveframe_batches.generators import estimate_seconds

    @attrs.define(kw_only=True, eq=False)
    class _Neural(GaussianCopula):
        neural = True
        epochs: int = 300
        batch_size: int = 500

    assert estimate_seconds(GaussianCopula(), 5000, 15) < 1.0
    assert estimate_seconds(_Neural(), 5000, 15) == pytest.approx(30 * estimate_seconds(_Neural(epochs=10), 5000, 15))
    assert estimate_seconds(_Neural(), 5000, 15) >= 2.0  # CTGAN's 300 epochs: worth a worker


def test_thread_caps_limit_the_loaded_pools_and_restore_them():
    from hiveframe_batches._parallel import thread_caps
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info()]
    with thread_caps(1):
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert [p["num_threads"] for p in threadpool_info()] == before


def test_a_worker_caps_the_threads_of_libraries_it_loads_later(monkeypatch):
    import os

    from hiveframe_batches import _parallel

    for name in _parallel.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_parallel, "_THREADS", None)
    monkeypatch.setattr(_parallel, "_EVENTS", None)
    _parallel.init_worker(None, 1)
    assert all(os.environ[name] == "1" for name in _parallel.THREAD_VARIABLES)
    assert _parallel._THREADS == 1


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_failing_batch_keeps_the_others_and_names_itself(grouped, workers):
    data, table = grouped
    wrong = table.with_column(replace(table.column("b3"), kind=ColumnKind.NUMERICAL, dtype="double"))  # "up"/"down"
    gen = BatchesGenerator(groups=[["a1", "a2", "a3"], ["b1", "b2", "b3"]], anchors=0, workers=workers)
    with pytest.raises(PluginError, match=r"(?s)1 of 4 batch model\(s\) failed: batch 1 \(columns b1, b2, b3\): "
                       r"DataError.*column 'b3'") as info:
        gen.fit(data, wrong, seed=0)
    assert "batches [0, 2, 3] are trained and kept" in str(info.value)
    assert [b.key in gen.models for b in gen.batches] == [True, False, True, True]
    with pytest.raises(NotFittedError, match=r"batch\(es\) \[1\] are not trained"):
        gen.sample(10)


def test_resume_reuses_finished_batches_and_retrains_changed_ones(grouped, tmp_path):
    data, table = grouped
    first = BatchesGenerator(max_width=4).fit(data, table, seed=0, workdir=tmp_path)
    again = BatchesGenerator(max_width=4).fit(data, table, seed=0, workdir=tmp_path)
    assert all(v.get("resumed") for v in again.fit_info["batches"].values())
    assert again.sample(50, seed=1).equals(first.sample(50, seed=1))
    other = BatchesGenerator(max_width=4).fit(data, table, seed=1, workdir=tmp_path)
    assert not any(v.get("resumed") for v in other.fit_info["batches"].values())


def test_context_columns_reach_every_batch(grouped):
    data, table = grouped
    gen = BatchesGenerator(max_width=3).fit(data, table, context_columns=["c1"], seed=0)
    assert all("c1" in m.context_columns for m in gen.models.values())
    ctx = data.select(["c1"]).slice(0, 80)
    out = gen.sample(context=ctx, seed=0)
    assert out.num_rows == 80 and "c1" not in out.column_names
    assert corr(out.append_column("c1", ctx.column("c1")), "c1", "c2") > 0.8


# -- bad input -------------------------------------------------------------------------------------
def test_more_batches_than_columns(grouped):
    data, table = grouped
    with pytest.raises(DataError, match="num_batches=11 is more batches than the 10 columns"):
        BatchesGenerator(num_batches=11).create_batches(data, table)


@pytest.mark.parametrize(("groups", "message"), [
    ([["a1", "nope"]], "group 0 names a column the table does not have"),
    ([["a1"], ["b1", "a1"]], "group 1 repeats a column of group 0"),
    ([["a1", "a1"]], "group 0 names the column twice"),
])
def test_groups_naming_unknown_or_repeated_columns(grouped, groups, message):
    data, table = grouped
    with pytest.raises(DataError, match=message):
        BatchesGenerator(groups=groups).create_batches(data, table)


def test_every_group_problem_is_listed_at_once(grouped):
    data, table = grouped
    with pytest.raises(DataError) as info:
        BatchesGenerator(groups=[["a1", "nope"], ["a1"]]).create_batches(data, table)
    assert "nope" in str(info.value) and "repeats" in str(info.value)


@pytest.mark.parametrize("width", [0, -3, 1.5, True])
def test_max_width_below_one(width):
    with pytest.raises(ConfigError, match="max_width must be an integer >= 1"):
        BatchesGenerator(max_width=width)


def test_a_key_column_in_a_batch(grouped):
    data, table = grouped
    keyed = replace(table, primary_key=("code",))
    with pytest.raises(DataError, match="a key column cannot be in a batch") as info:
        BatchesGenerator(groups=[["code", "a1"]]).create_batches(data, keyed)
    assert "code" in str(info.value)


def test_train_batch_out_of_range(grouped):
    data, table = grouped
    gen = BatchesGenerator(max_width=4)
    gen.create_batches(data, table, seed=0)
    for index in (-1, len(gen.batches), "1"):
        with pytest.raises(ConfigError, match="there is no batch"):
            gen.train_batch(index)


def test_train_before_create(grouped):
    with pytest.raises(NotFittedError, match="create_batches"):
        BatchesGenerator().train_all_batches()


def test_bad_parameters_are_listed_together():
    with pytest.raises(ConfigError) as info:
        BatchesGenerator(workers=0, anchors=-1, groups=[[]], generator="batches")
    with pytest.raises(ConfigError, match="workers must be an integer >= 1 or 'auto'"):
        BatchesGenerator(workers="many")
    text = str(info.value)
    assert "workers" in text and "anchors" in text and "groups" in text and "cannot itself be 'batches'" in text


# -- helpers: per-batch models that talk or fail ---------------------------------------------------
@attrs.define(kw_only=True, eq=False)
class _Chatty(GaussianCopula):
    """The copula, reporting two "epochs" to the callback."""

    def _fit(self, data, table, *, context_columns, seed, callback, workdir):
        super()._fit(data, table, context_columns=context_columns, seed=seed, callback=callback, workdir=workdir)
        for epoch in (1, 2):
            if callback is not None:
                callback({"table": table.name, "epoch": epoch})


def test_fit_parts_fitted_elsewhere_and_joined_make_the_model_fit_makes(grouped):
    """The parallel trainer's seam (Spark tasks): one part per batch, fitted anywhere, joined back."""
    data, table = grouped
    whole = BatchesGenerator(max_width=4, anchors=2).fit(data, table, seed=3)
    split = BatchesGenerator(max_width=4, anchors=2)
    parts = split.fit_parts(data, table, seed=3)
    assert [p.key for p in parts] == [b.key for b in whole.batches]
    assert all(set(p.context_columns) == set(b.anchors) for p, b in zip(parts, whole.batches, strict=True))
    with pytest.raises(NotFittedError, match="not trained"):
        split.sample(10)
    fitted = {p.key: p.generator.fit(p.data, p.table, context_columns=p.context_columns, seed=p.seed)
              for p in parts}
    with pytest.raises(PluginError, match=r"batch\(es\) \[0\] came back without a model"):
        split.join_parts({k: v for k, v in fitted.items() if k != parts[0].key})
    split.join_parts(fitted)
    assert split.sample(200, seed=5).equals(whole.sample(200, seed=5))
    assert GaussianCopula().fit_parts(data, table) is None  # an ordinary generator is one piece


def test_share_epochs_gives_each_neural_batch_its_share_by_width(grouped):
    @attrs.define(kw_only=True, eq=False)
    class _Counted(GaussianCopula):
        neural = True
        epochs: int = 20

    data, table = grouped
    gen = BatchesGenerator(groups=[["a1", "a2", "a3", "b1", "b2", "b3"]], generator=_Counted(), share_epochs=True,
                           workers=1)
    gen.create_batches(data, table, seed=0)
    width = sum(len(b.columns) for b in gen.batches)
    epochs = [gen._job(b, gen._training)["model"].epochs for b in gen.batches]
    assert epochs == [max(1, round(20 * len(b.columns) / width)) for b in gen.batches] and epochs[0] == 12
    plain = BatchesGenerator(generator=_Counted(), max_width=4)
    plain.create_batches(data, table, seed=0)
    assert {plain._job(b, plain._training)["model"].epochs for b in plain.batches} == {20}
    with pytest.raises(ConfigError, match="share_epochs must be true or false"):
        BatchesGenerator(share_epochs="yes")
