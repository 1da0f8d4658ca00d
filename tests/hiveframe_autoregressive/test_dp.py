"""The autoregressive generator under differential privacy (the ``dp`` wrapper), and value protection of
extreme numbers outside it: tiny data and networks, a few DP-SGD epochs.

The neighbouring-dataset attacks follow tests/hiveframe_privacy/test_dp_noise.py (which also runs its
own neighbouring checks on this generator): the same data with and without one row holding an extreme
value, and what each model can emit or reveals in its files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import NoiseSource
from hiveframe.errors import ConfigError, DataError
from hiveframe.metadata import Column, ColumnKind, Table
from hiveframe.persistence import save_component

from .conftest import mixed_table, tiny

pytest.importorskip("hiveframe_privacy")

EXTREME = 987_654_321.25


def _dp_fit(
    data: pa.Table,
    table: Table,
    *,
    noise: NoiseSource | None = None,
    seed: int = 0,
    epsilon: float = 4.0,
    **params: Any,
) -> tuple[Any, Any, list[dict[str, Any]]]:
    from hiveframe.plugins import PluginHost

    dp: dict[str, Any] = {"epsilon": epsilon, "micro_batch_size": 64, "surrogate_rows": 1000}
    if noise is not None:
        dp["noise"] = noise
    wrapper = PluginHost().create("privacy_wrapper", "dp", dp)
    gen = wrapper.wrap(tiny(**{"epochs": 2, **params}))
    events: list[dict[str, Any]] = []
    gen.fit(data, table, seed=seed, callback=events.append)
    return gen, wrapper, events


def _with_extreme_row(data: pa.Table) -> pa.Table:
    row = {c: data.column(c)[7].as_py() for c in data.column_names}
    row["amount"] = EXTREME
    return pa.concat_tables([data, pa.Table.from_pylist([row], schema=data.schema)])


def _files_text(root: Path) -> str:
    out = []
    for p in sorted(root.rglob("*")):
        if p.suffix == ".json":
            out.append(p.read_text())
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as arrays:
                out += [repr(arrays[k].tolist()) for k in arrays.files]
    return "\n".join(out)


# -- DP-SGD -------------------------------------------------------------------------------------------
def test_dp_training_reports_epsilon_per_epoch_and_stays_in_budget():
    data, table = mixed_table()
    gen, wrapper, events = _dp_fit(data, table, epochs=3)
    spent = [e["epsilon"] for e in events]
    assert len(spent) == 3 and 0 < spent[0] < spent[1] < spent[2] <= 4.0 + 1e-9
    report = wrapper.report()["tables"]["things"]
    assert report["private"] and report["generator"] == "autoregressive"
    assert report["epsilon_spent"] == pytest.approx(spent[-1])
    assert report["training"]["steps"] == report["training"]["planned_steps"] > 0
    assert report["training"]["clip_unit"] == "row"
    info = gen.inner.fit_info
    assert info["private"] and info["epochs_trained"] == 3 and info["validation_rows"] == 0
    assert [h["epsilon"] for h in info["history"]] == spent
    # no loss of real rows, no timing, no exact row count: statistics of the data without noise
    assert all(set(h) == {"epoch", "epsilon"} for h in info["history"])
    assert not any("seconds" in k for k in info) and all(e["losses"] == {} for e in events)
    out = gen.sample(200, seed=1)
    assert out.num_rows == 200 and set(out.column("color").drop_null().to_pylist()) <= {
        "red",
        "green",
        "blue",
    }


def test_no_early_stopping_on_real_rows_under_dp():
    """``patience`` and a validation share would hold out real rows and pick an epoch by their exact
    loss: under DP every epoch runs on every row and the last weights are kept."""
    data, table = mixed_table()
    gen, _, events = _dp_fit(data, table, epochs=3, patience=1, validation_fraction=0.2)
    info = gen.inner.fit_info
    assert len(events) == 3 and info["epochs_trained"] == 3 and info["best_epoch"] is None
    assert info["validation_rows"] == 0


def test_the_same_seed_gives_other_weights_under_secret_noise():
    data, table = mixed_table()
    first, second = (_dp_fit(data, table, seed=5)[0].inner for _ in range(2))
    assert all(
        not np.array_equal(first._arrays[k], second._arrays[k]) for k in first._arrays if "b_" not in k
    )
    # control: with one fixed (test-only) source, the seed and the source are all the randomness there is
    fixed = [_dp_fit(data, table, seed=5, noise=NoiseSource.fixed(1))[0].inner for _ in range(2)]
    assert all(np.array_equal(fixed[0]._arrays[k], fixed[1]._arrays[k]) for k in fixed[0]._arrays)


def test_column_orders_and_samples_come_from_the_secret_source(monkeypatch):
    from hiveframe_autoregressive import _model

    handed: list[np.random.Generator] = []
    used: list[np.random.Generator] = []
    real_numpy, real_draw = NoiseSource.numpy, _model.draw_ranks

    def numpy(self: NoiseSource) -> np.random.Generator:
        rng = real_numpy(self)
        handed.append(rng)
        return rng

    def draw_ranks(rng: np.random.Generator, *args: Any) -> np.ndarray:
        used.append(rng)
        return real_draw(rng, *args)

    monkeypatch.setattr(NoiseSource, "numpy", numpy)
    monkeypatch.setattr(_model, "draw_ranks", draw_ranks)
    data, table = mixed_table()
    _dp_fit(data, table)
    assert used and all(any(u is h for h in handed) for u in used)


def test_the_noise_source_is_not_saved(tmp_path, noise_sources_made):
    made = noise_sources_made
    data, table = mixed_table()
    gen, _, _ = _dp_fit(data, table)
    save_component(tmp_path, "gen", gen)
    text = _files_text(tmp_path)
    entropies = [s._root.entropy for s in made if s.secret]
    assert entropies and not any(str(e) in text or f"{e:x}" in text for e in entropies)
    state = json.dumps(gen.inner.get_state().values, default=str)
    assert "noise" not in state and "rng" not in state


def test_codecs_come_from_the_released_statistics_not_the_real_rows():
    """A category below the release threshold is not learnt, and the numeric range is the released one."""
    data, table = mixed_table()
    gen, _, _ = _dp_fit(data, table)
    codecs = {c.name: c for c in gen.inner._codecs}
    assert "purple" not in codecs["color"].categories  # 3 real rows: below the noisy threshold
    low, high = codecs["amount"].range()
    real = data.column("amount").to_numpy()
    assert (low, high) != (real.min(), real.max())


def test_sequential_is_refused_under_dp():
    """Through the flat seam (``fit``) a sequential generator is refused: sequences come with their parents."""
    data, table = mixed_table()
    with pytest.raises(ConfigError, match="sequential=True is not available under differential privacy"):
        _dp_fit(data, table, sequential=True)


def _sequences(parents_n: int = 60, seed: int = 0, long_parent: int = 0) -> tuple[Any, ...]:
    """Parents with a plan; pro parents have several children (kind depends on the plan), free ones few;
    ``long_parent`` extra children for parent 0 (one whole unit's sequence made longer)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro"], parents_n)
    counts = np.where(plan == "pro", rng.integers(3, 6, parents_n), rng.integers(0, 2, parents_n))
    counts[0] += long_parent
    owner = np.repeat(np.arange(parents_n), counts)
    kind = np.where(plan[owner] == "pro", rng.choice(["a", "b"], len(owner), p=[0.8, 0.2]), "c")
    data = pa.table(
        {"kind": pa.array(kind.tolist()), "amount": pa.array(np.round(rng.normal(10, 2, len(owner)), 2))}
    )
    table = Table(
        "events",
        (
            Column("kind", ColumnKind.CATEGORICAL, categories=("a", "b", "c"), nullable=False),
            Column("amount", ColumnKind.NUMERICAL, "double", low=0.0, high=20.0, nullable=False),
            Column("plan", ColumnKind.CATEGORICAL, categories=("free", "pro"), nullable=False),
        ),
    )
    return data, table, owner, pa.table({"plan": pa.array(plan.tolist())})


def _dp_sequences(data, table, owner, parents, *, noise=None, max_children=8, epochs=2, epsilon=4.0):
    from hiveframe.plugins import PluginHost

    dp: dict[str, Any] = {"epsilon": epsilon, "surrogate_rows": 500, "max_children": max_children}
    if noise is not None:
        dp["noise"] = noise
    wrapper = PluginHost().create("privacy_wrapper", "dp", dp)
    gen = wrapper.wrap(tiny(epochs=epochs, sequential=True))
    events: list[dict[str, Any]] = []
    gen.fit_sequences(data, table, parent_index=owner, parents=parents, seed=0, callback=events.append)
    return gen, wrapper, events


def test_sequences_train_under_dp_per_parent_and_sample_with_integrity(tmp_path, autoregressive_host):
    from hiveframe.persistence import load_component

    # (a large epsilon and a fixed source: at epsilon 4 the released null share of a column can be
    # noise alone on so few parents, which the statistics do not floor for a non-nullable column)
    data, table, owner, parents = _sequences(parents_n=200)
    gen, wrapper, events = _dp_sequences(
        data, table, owner, parents, epochs=3, epsilon=20.0, noise=NoiseSource.fixed(5)
    )
    spent = [e["epsilon"] for e in events]
    assert len(spent) == 3 and 0 < spent[0] < spent[1] < spent[2] <= 20.0 + 1e-9
    report = wrapper.report()["tables"]["events"]
    assert report["private"] and report["epsilon_spent"] == pytest.approx(spent[-1])
    assert report["training"]["clip_unit"].startswith("sequence")
    assert report["training"]["unit_rows"] == 8  # every release counts a parent's (capped) sequence
    assert any(r.get("release") == "parents (sequences)" for r in report["releases"])
    rows, index = gen.sample_sequences(parents, seed=1)
    assert rows.column_names == ["kind", "amount"] and rows.num_rows == len(index)
    assert (np.diff(index) >= 0).all() and np.bincount(index, minlength=200).max() <= 8
    assert set(rows.column("kind").to_pylist()) <= {"a", "b", "c"}
    info = gen.inner.fit_info
    assert info["private"] and "loss" not in json.dumps(info)
    save_component(tmp_path, "gen", gen)
    again = load_component(tmp_path, "gen", autoregressive_host)
    rows2, index2 = again.sample_sequences(parents, seed=1)
    assert rows2.equals(rows) and (index2 == index).all()


def test_one_parent_with_a_long_sequence_leaks_no_length():
    """Neighbouring datasets differing by one parent's whole sequence (parent 0 with 5,000 more children):
    lengths stay within the public cap in both models, and neither model's files hold the real length."""
    small = _sequences()
    big = _sequences(long_parent=5000)
    assert big[2].size - small[2].size == 5000
    lengths = []
    for data, table, owner, parents in (small, big):
        gen, wrapper, _ = _dp_sequences(data, table, owner, parents, noise=NoiseSource.fixed(3), epochs=1)
        rows, index = gen.sample_sequences(parents, seed=2)
        lengths.append(np.bincount(index, minlength=60))
        assert gen.inner._sequences["max_length"] == 8  # the cap, not the longest real sequence
        length_codec = gen.inner._sequences["lengths"]._codecs[0]
        assert length_codec.range()[1] <= 8
        text = json.dumps(wrapper.report(), default=str)
        assert "5003" not in text and "5004" not in text and "5005" not in text
    assert max(x.max() for x in lengths) <= 8


def test_a_sequence_generator_without_private_sequences_is_refused():
    from hiveframe.plugins import PluginHost
    from hiveframe.testing.reference import ResampleSequences

    data, table, owner, parents = _sequences()
    wrapper = PluginHost().create("privacy_wrapper", "dp", {"epsilon": 4.0})
    gen = wrapper.wrap(ResampleSequences())
    with pytest.raises(ConfigError, match="cannot learn sequences with differential privacy"):
        gen.fit_sequences(data, table, parent_index=owner, parents=parents, seed=0)


def _users_sessions() -> tuple[Any, dict[str, pa.Table]]:
    """Users (a plan) and their sessions (minutes depend on the plan), with declared metadata."""
    from hiveframe.metadata import ForeignKey, Metadata

    rng = np.random.default_rng(0)
    users = pa.table(
        {"uid": pa.array(np.arange(150)), "plan": pa.array(rng.choice(["free", "pro"], 150).tolist())}
    )
    owner = rng.integers(0, 150, size=450)
    plans = np.array(users.column("plan").to_pylist())[owner]
    sessions = pa.table(
        {
            "sid": pa.array(np.arange(450)),
            "uid": pa.array(owner),
            "minutes": pa.array(np.where(plans == "pro", 30.0, 5.0) + rng.normal(0, 2, size=450)),
        }
    )
    md = Metadata(
        tables=(
            Table(
                "users",
                (
                    Column("uid", ColumnKind.ID, "int64", nullable=False),
                    Column("plan", ColumnKind.CATEGORICAL, nullable=False),
                ),
                primary_key=("uid",),
            ),
            Table(
                "sessions",
                (
                    Column("sid", ColumnKind.ID, "int64", nullable=False),
                    Column("uid", ColumnKind.ID, "int64", nullable=False),
                    Column("minutes", ColumnKind.NUMERICAL, "double", nullable=False),
                ),
                primary_key=("sid",),
            ),
        ),
        foreign_keys=(ForeignKey("sessions", ("uid",), "users", ("uid",), context_columns=("plan",)),),
    )
    return md, {"users": users, "sessions": sessions}


def _fit_sessions(md: Any, db: Any, params: dict[str, Any], dp: dict[str, Any]) -> Any:
    """The users/sessions database fitted under the engine's DP, sessions by a tiny autoregressive model."""
    from hiveframe.pipeline.synthesizer import Synthesizer

    synth = Synthesizer(
        md,
        seed=0,
        generators={"sessions": "autoregressive"},
        table_params={"sessions": {"batch_size": 64, "embedding_dim": 4, "hidden": 16, **params}},
        dp={"epsilon": 5.0, "surrogate_rows": 1000, **dp},
    )
    synth.fit(db)
    return synth


def test_a_child_table_trains_per_entity_through_the_engine():
    """Under DP the engine models a child table row by row, each row's gradient clipped to its entity's share."""
    from hiveframe.metadata.relations import relational_problems

    md, db = _users_sessions()
    synth = _fit_sessions(md, db, {"epochs": 2, "patience": None}, {})
    assert not relational_problems(md, synth.sample(seed=1))
    report = synth.privacy_report()["dp"]["tables"]["sessions"]
    assert report["generator"] == "autoregressive" and report["epsilon_spent"] <= 5.0 + 1e-9
    assert report["training"]["unit_rows"] > 1  # a user owns several sessions: clipped per user


def test_sequential_trains_per_parent_through_the_engine():
    """``sequential=True`` under the engine's DP: each user (a root entity) with all its sessions is one unit."""
    from hiveframe.metadata.relations import relational_problems

    md, db = _users_sessions()
    synth = _fit_sessions(md, db, {"epochs": 1, "sequential": True}, {"max_children": 6})
    assert synth.describe()["sessions"]["sequence"] is not None
    out = synth.sample(seed=1)
    assert not relational_problems(md, out)
    owner = out["sessions"].column("uid").to_numpy()
    assert np.unique(owner, return_counts=True)[1].max() <= 6  # never above the public cap
    report = synth.privacy_report()["dp"]["tables"]["sessions"]
    assert report["epsilon_spent"] <= 5.0 + 1e-9
    assert report["training"]["clip_unit"].startswith("sequence") and report["training"]["unit_rows"] == 6


def test_sequences_below_a_child_table_are_refused_under_dp():
    """Events of sessions of users: a session is not a root entity (a user owns several), so a sequence of
    events is not one privacy unit: refused with a ConfigError naming the table."""
    from hiveframe.metadata import ForeignKey, Metadata
    from hiveframe.pipeline.synthesizer import Synthesizer

    md, db = _users_sessions()
    rng = np.random.default_rng(1)
    events = pa.table(
        {
            "eid": pa.array(np.arange(600)),
            "sid": pa.array(rng.integers(0, 450, 600)),
            "kind": pa.array(rng.choice(["a", "b"], 600).tolist()),
        }
    )
    table = Table(
        "events",
        (
            Column("eid", ColumnKind.ID, "int64", nullable=False),
            Column("sid", ColumnKind.ID, "int64", nullable=False),
            Column("kind", ColumnKind.CATEGORICAL, nullable=False),
        ),
        primary_key=("eid",),
    )
    md = Metadata(
        tables=(*md.tables, table),
        foreign_keys=(*md.foreign_keys, ForeignKey("events", ("sid",), "sessions", ("sid",))),
    )
    params = {"epochs": 1, "batch_size": 64, "embedding_dim": 4, "hidden": 16}
    synth = Synthesizer(
        md,
        seed=0,
        generators={"sessions": "autoregressive", "events": "autoregressive"},
        table_params={"sessions": params, "events": {**params, "sequential": True}},
        dp={"epsilon": 5.0, "surrogate_rows": 500},
    )
    with pytest.raises(
        ConfigError, match="table 'events': sequences under differential privacy need one foreign"
    ):
        synth.fit({**db, "events": events})


def test_the_rule_never_picks_sequences_under_dp():
    """Without ``sequential=True`` the rule would read exact counts of the real rows: rows one by one."""
    from hiveframe.pipeline.synthesizer import Synthesizer

    md, db = _users_sessions()
    params = {"epochs": 1, "batch_size": 64, "embedding_dim": 4, "hidden": 16}
    synth = Synthesizer(
        md,
        seed=0,
        generators={"sessions": "autoregressive"},
        table_params={"sessions": params},
        dp={"epsilon": 5.0, "surrogate_rows": 1000},
    )
    synth.fit(db)
    assert synth.describe()["sessions"].get("sequence") is None


# -- extreme numbers (value protection, on by default) --------------------------------------------------
def _numbers(n: int = 300, seed: int = 0) -> tuple[pa.Table, Table]:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(100, 10, n), 2)
    return (
        pa.table({"x": pa.array(x), "k": pa.array(rng.choice(["a", "b"], n).tolist())}),
        Table("t", (Column("x", ColumnKind.NUMERICAL, "double"), Column("k", ColumnKind.CATEGORICAL))),
    )


def test_extreme_numbers_are_clipped_to_the_min_count_th_values():
    data, table = _numbers()
    gen = tiny(epochs=2, min_count=5).fit(data, table, seed=0)
    real = np.sort(data.column("x").to_numpy())
    low, high = gen._codecs[0].range()
    assert (low, high) == (real[4], real[-5])
    out = gen.sample(3000, seed=1).column("x").to_numpy()
    assert out.min() >= real[4] and out.max() <= real[-5]
    assert not np.isin(real[:4], out).any() and not np.isin(real[-4:], out).any()
    with pytest.raises(DataError, match="outside the column's range"):
        gen.sample(3, conditions={"x": float(real[-1])}, seed=0)
    assert tiny(epochs=1, min_count=1).fit(data, table, seed=0)._codecs[0].range() == (real[0], real[-1])


def test_one_extreme_row_never_leaves_the_model(tmp_path):
    """Neighbouring datasets D and D + one row with an extreme value: neither model can emit the value,
    and neither model's files hold it (without DP and with it)."""
    data, table = mixed_table()
    neighbour = _with_extreme_row(data)
    plain = [tiny(epochs=2).fit(d, table, seed=0) for d in (data, neighbour)]
    private = [_dp_fit(d, table, noise=NoiseSource.fixed(3))[0] for d in (data, neighbour)]
    for i, gen in enumerate(plain + private):
        out = gen.sample(5000, seed=2).column("amount").to_numpy(zero_copy_only=False)
        assert np.nanmax(out) < 1e6, "the extreme value (or one near it) was emitted"
        save_component(tmp_path / str(i), "gen", gen)
        text = _files_text(tmp_path / str(i))
        assert "987654321" not in text and "9.8765" not in text
    # without DP the neighbour's range is the one the (min_count)-th largest value sets: the same as D's
    assert plain[0]._codecs[0].range()[1] <= plain[1]._codecs[0].range()[1] < 1e6


# -- per-row gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_context", [False, True])
def test_factored_row_gradients_equal_vmap_grad_of_the_network(with_context):
    """The factored per-row gradients (norms, clipped sums) are those of ``vmap(grad)`` of the network's own
    loss through ``functional_call``, and of the linearised loss."""
    import torch
    from hiveframe_autoregressive import _dp, _model
    from hiveframe_privacy.dpsgd import private_gradient
    from torch.func import grad, vmap

    vocab = [3, 5, 4, 2, 6]
    layout = _model.Layout(vocab, [0, 1, 1, 2, 3], [0, 0, 1, 0, 0], [4, 3] if with_context else [])
    net = _model.Network(layout, 4, 8, seed=1)
    rng = np.random.default_rng(0)
    rows = 37
    tokens = torch.as_tensor(np.stack([rng.integers(0, v, rows) for v in vocab + layout.ctx_vocab], axis=1))
    known = _model.known_masks(layout, torch.as_tensor(_model.draw_ranks(rng, rows, layout.n_columns, 0.5)))
    params = {k: v.detach() for k, v in net.named_parameters()}
    direct = vmap(grad(_dp.row_loss_fn(net)), in_dims=(None, 0, 0))(params, tokens, known)
    linear = vmap(grad(_dp.linearised_loss(net)), in_dims=(None,) + (0,) * 9)(
        params, *_dp.backprops(net, tokens, known)
    )
    factored = _dp.RowGradients(net, tokens, known)
    norms = torch.cat([direct[k].reshape(rows, -1) for k in params], dim=1).norm(dim=1)
    assert torch.allclose(factored.unit_norms(), norms, rtol=1e-4, atol=1e-5)
    weights = torch.as_tensor(rng.random(rows), dtype=torch.float32)
    summed = factored.weighted_sum(weights)
    for k in params:
        assert torch.allclose(linear[k], direct[k], rtol=1e-4, atol=1e-5), k
        expected = (direct[k] * weights.view(-1, *[1] * (direct[k].dim() - 1))).sum(0)
        assert torch.allclose(summed[k], expected, rtol=1e-4, atol=1e-5), k
    # through the wrapper's DP-SGD step, without noise: the same clipped mean either way
    kwargs = dict(max_grad_norm=0.5, noise_std=0.0, denominator=rows, micro_batch=8)
    a, stats_a = private_gradient(
        _dp.row_loss_fn(net), params, (tokens, known), generator=torch.Generator().manual_seed(0), **kwargs
    )
    b, stats_b = private_gradient(factored, params, (), generator=torch.Generator().manual_seed(0), **kwargs)
    assert stats_a["units"] == stats_b["units"] == rows
    assert stats_a["clipped_share"] == stats_b["clipped_share"]
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in params)


def test_a_private_fit_learns_no_ordered_pairs():
    """Choosing which columns to learn as gaps reads exact facts of the real rows: none under DP, where
    the same data without DP learns one."""
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 100, 300)
    data = pa.table({"start": start, "end": start + rng.exponential(5, 300)})
    table = Table(
        "spans",
        (
            Column("start", ColumnKind.NUMERICAL, dtype="double"),
            Column("end", ColumnKind.NUMERICAL, dtype="double"),
        ),
    )
    plain = tiny(epochs=1).fit(data, table, seed=0)
    assert [o.column for o in plain._offsets] == ["end"]  # the pair exists and is used without DP
    gen, _, _ = _dp_fit(data, table)
    assert gen.inner._offsets == []
    assert gen.sample(50, seed=1).num_rows == 50


def test_unit_gradients_equal_summed_row_gradients_per_unit():
    """A sequence's privacy unit: its gradient is the sum of its rows' gradients in both networks (the
    parent's length row and every child row); the factored per-unit norms and clipped sums are those of
    ``vmap(grad)`` per row summed per unit, and the wrapper's DP-SGD step clips per unit."""
    import torch
    from hiveframe_autoregressive import _dp, _model
    from hiveframe_privacy.dpsgd import private_gradient
    from torch.func import grad, vmap

    rng = np.random.default_rng(1)

    def net_and_rows(vocab: list[int], ctx: list[int], rows: int, seed: int) -> tuple[Any, Any, Any]:
        layout = _model.Layout(vocab, list(range(len(vocab))), [0] * len(vocab), ctx)
        net = _model.Network(layout, 3, 6, seed=seed)
        # few values: rows of one unit share embedding rows (the case the per-unit norm must count)
        tokens = torch.as_tensor(np.stack([rng.integers(0, v, rows) for v in vocab + ctx], axis=1))
        known = _model.known_masks(
            layout, torch.as_tensor(_model.draw_ranks(rng, rows, layout.n_columns, 0.5))
        )
        return net, tokens, known

    units = 6
    lnet, ltok, lknown = net_and_rows([4], [2], units, 1)  # one length row per parent
    rnet, rtok, rknown = net_and_rows([3, 2, 5], [2, 4], 23, 2)
    row_unit = torch.as_tensor(np.sort(rng.integers(0, units - 1, 23)))  # the last parent has no children
    grads = {}
    for prefix, net, tok, known, unit in (
        ("lengths", lnet, ltok, lknown, torch.arange(units)),
        ("rows", rnet, rtok, rknown, row_unit),
    ):
        params = {k: v.detach() for k, v in net.named_parameters()}
        per_row = vmap(grad(_dp.row_loss_fn(net)), in_dims=(None, 0, 0))(params, tok, known)
        for k, g in per_row.items():
            grads[f"{prefix}.{k}"] = torch.zeros((units, *g.shape[1:])).index_add(0, unit, g)
    factored = _dp.UnitGradients(
        {
            "lengths": (_dp.RowGradients(lnet, ltok, lknown), torch.arange(units)),
            "rows": (_dp.RowGradients(rnet, rtok, rknown), row_unit),
        },
        units,
    )
    norms = torch.cat([g.reshape(units, -1) for g in grads.values()], dim=1).norm(dim=1)
    assert torch.allclose(factored.unit_norms(), norms, rtol=1e-4, atol=1e-5)
    weights = torch.as_tensor(rng.random(units), dtype=torch.float32)
    summed = factored.weighted_sum(weights)
    assert set(summed) == set(grads)
    for k, g in grads.items():
        expected = (g * weights.view(-1, *[1] * (g.dim() - 1))).sum(0)
        assert torch.allclose(summed[k], expected, rtol=1e-4, atol=1e-5), k
    # the wrapper's step without noise: each unit's whole gradient clipped to the norm, then averaged
    clip = float(norms.median())
    params = {k: torch.zeros(g.shape[1:]) for k, g in grads.items()}
    out, stats = private_gradient(
        factored,
        params,
        (),
        max_grad_norm=clip,
        noise_std=0.0,
        denominator=units,
        micro_batch=None,
        generator=torch.Generator().manual_seed(0),
    )
    factor = (clip / (norms + 1e-6)).clamp(max=1.0)
    assert stats["units"] == units and 0 < stats["clipped_share"] < 1
    for k, g in grads.items():
        expected = (g * factor.view(-1, *[1] * (g.dim() - 1))).sum(0) / units
        assert torch.allclose(out[k], expected, rtol=1e-4, atol=1e-6), k
