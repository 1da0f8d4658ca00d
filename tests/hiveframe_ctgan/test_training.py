"""Training like a product: callbacks, progress, validation and early stopping, checkpoints and resume."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

pytest.importorskip("torch")

from hiveframe.errors import PluginError

from .conftest import mixed_table, tiny

KINDS = ["ctgan", "tvae"]


class Stop(Exception):
    pass


def stop_at(epoch: int, exc: type[BaseException] = KeyboardInterrupt, seen: list | None = None):
    def callback(info):
        if seen is not None:
            seen.append(info["epoch"])
        if info["epoch"] == epoch:
            raise exc()

    return callback


@pytest.fixture
def scores(monkeypatch):
    """Replace the validation score by a scripted sequence (peaks at epoch 2)."""
    from hiveframe_ctgan import _data

    sequence = itertools.chain([0.5, 0.9, 0.7, 0.6, 0.65, 0.6], itertools.repeat(0.1))
    monkeypatch.setattr(_data.FidelityScorer, "score", lambda self, synthetic: next(sequence))


@pytest.mark.parametrize("kind", KINDS)
def test_callback_gets_table_epoch_losses_and_time(kind, mixed, capsys):
    data, table = mixed
    seen = []
    tiny(kind, epochs=3).fit(data, table, seed=0, callback=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2, 3]
    first = seen[0]
    assert first["table"] == "things" and first["model"] == kind and first["epochs"] == 3
    assert first["losses"] and all(np.isfinite(v) for v in first["losses"].values())
    assert first["elapsed"] > 0 and seen[2]["elapsed"] >= seen[0]["elapsed"]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # quiet unless verbose


def test_verbose_progress_goes_to_logging_without_a_terminal(mixed, caplog):
    data, table = mixed
    with caplog.at_level(logging.INFO, logger="hiveframe_ctgan.progress"):
        tiny("tvae", epochs=2, verbose=True).fit(data, table, seed=0)
    assert "epoch 2/2" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_early_stopping_keeps_the_best_epoch(kind, scores):
    data, table = mixed_table(1200)
    gen = tiny(kind, epochs=50, patience=3, validation_fraction=0.1).fit(data, table, seed=0)
    info = gen.fit_info
    assert info["validation_rows"] == 120 and info["train_rows"] == 1080
    assert info["best_epoch"] == 2 and info["epochs_trained"] == 5 and info["stopped_early"]
    assert [h["validation"] for h in info["history"]][:3] == [0.5, 0.9, 0.7]


@pytest.mark.parametrize("kind", KINDS)
def test_best_weights_are_the_ones_sampled(kind, monkeypatch):
    from hiveframe_ctgan import _data

    data, table = mixed_table(1200)
    for epochs, script in ((2, [0.5, 0.9]), (5, [0.5, 0.9, 0.7, 0.6, 0.65])):
        it = iter(script)
        monkeypatch.setattr(_data.FidelityScorer, "score", lambda self, synthetic, it=it: next(it))
        gen = tiny(kind, epochs=epochs, patience=10, validation_fraction=0.1).fit(data, table, seed=0)
        if epochs == 2:
            reference = gen.sample(50, seed=1)
    assert gen.fit_info["epochs_trained"] == 5 and gen.fit_info["best_epoch"] == 2
    assert gen.sample(50, seed=1).equals(reference)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fixed_number_of_epochs_trains_on_every_row_and_keeps_the_last_weights(kind):
    data, table = mixed_table(1200)
    gen = tiny(kind, epochs=3, patience=None, validation_fraction=0.1).fit(data, table, seed=0)
    info = gen.fit_info
    assert info["train_rows"] == 1200 and info["validation_rows"] == 0
    assert info["epochs_trained"] == 3 and info["best_epoch"] is None


def test_real_validation_score_is_a_fidelity_in_unit_range():
    data, table = mixed_table(1200)
    gen = tiny("ctgan", epochs=2, validation_fraction=0.1).fit(data, table, seed=0)
    values = [h["validation"] for h in gen.fit_info["history"]]
    assert all(0.0 < v <= 1.0 for v in values)


def test_max_seconds_stops_training():
    data, table = mixed_table(300)
    gen = tiny("tvae", epochs=100, max_seconds=1e-6).fit(data, table, seed=0)
    assert gen.fit_info["epochs_trained"] == 1


# -- checkpoints ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_interrupted_fit_resumes_from_the_checkpoint_not_from_zero(kind, mixed, tmp_path):
    data, table = mixed
    work = tmp_path / "things"
    with pytest.raises(KeyboardInterrupt):
        tiny(kind, epochs=4, checkpoint_every=1).fit(data, table, seed=0, callback=stop_at(2), workdir=work)
    assert (work / "checkpoint.pt").is_file()
    seen: list[int] = []
    resumed = tiny(kind, epochs=4, checkpoint_every=1).fit(data, table, seed=0, callback=seen.append, workdir=work)
    assert [s["epoch"] for s in seen] == [3, 4]
    assert resumed.fit_info["resumed_from"] == 2
    # the random streams were restored too: the result equals an uninterrupted fit
    straight = tiny(kind, epochs=4).fit(data, table, seed=0)
    assert resumed.sample(60, seed=9).equals(straight.sample(60, seed=9))


def test_resume_after_an_error_in_the_callback_from_the_last_checkpoint(mixed, tmp_path):
    data, table = mixed
    with pytest.raises(PluginError):
        tiny("ctgan", epochs=5, checkpoint_every=2).fit(data, table, seed=0, callback=stop_at(3, Stop), workdir=tmp_path)
    seen: list[int] = []
    tiny("ctgan", epochs=5, checkpoint_every=2).fit(data, table, seed=0, callback=stop_at(0, Stop, seen),
                                                    workdir=tmp_path)
    assert seen == [3, 4, 5]  # checkpoints at 2 and 4: resumed after epoch 2


def test_checkpoint_is_a_weights_only_file(mixed, tmp_path):
    import torch

    data, table = mixed
    tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True, map_location="cpu")
    assert ck["model"] == "ctgan" and ck["epoch"] == 2 and "G" in ck["trainer"]


def test_checkpoint_of_another_model_is_refused(mixed, tmp_path):
    from hiveframe_ctgan.errors import CheckpointError

    data, table = mixed
    tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    with pytest.raises(CheckpointError, match="written by model 'ctgan', not 'tvae'") as err:
        tiny("tvae", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    assert "delete" in str(err.value)


def test_checkpoint_of_another_version_is_refused(mixed, tmp_path, monkeypatch):
    import hiveframe_ctgan.generators as generators
    from hiveframe_ctgan.errors import CheckpointError

    data, table = mixed
    tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    monkeypatch.setattr(generators, "__version__", "9.9.0")
    with pytest.raises(CheckpointError, match="hiveframe_ctgan 0.1.0"):
        tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)


def test_unreadable_checkpoint_is_refused(mixed, tmp_path):
    from hiveframe_ctgan.errors import CheckpointError

    data, table = mixed
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)


def test_checkpoint_of_other_data_is_replaced_with_a_warning(mixed, tmp_path):
    data, table = mixed
    tiny("ctgan", epochs=2, checkpoint_every=1).fit(data, table, seed=0, workdir=tmp_path)
    seen: list[int] = []
    with pytest.warns(UserWarning, match="other data or other model parameters"):
        tiny("ctgan", epochs=2, checkpoint_every=1).fit(data.slice(0, 250), table, seed=0, workdir=tmp_path,
                                                        callback=lambda i: seen.append(i["epoch"]))
    assert seen == [1, 2]


def test_a_checkpoint_save_that_fails_keeps_the_previous_one_and_no_temporary_file(tmp_path, monkeypatch):
    import torch

    from hiveframe_ctgan import _train

    store = _train.CheckpointStore(tmp_path, "ctgan", "0.1.0", "same", torch.device("cpu"))
    store.save({"epoch": 1})

    def disk_full_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", disk_full_midway)
        with pytest.raises(OSError, match="No space left"):
            store.save({"epoch": 2})
    assert store.load()["epoch"] == 1  # the previous checkpoint, whole
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_the_temporary_file_of_a_killed_checkpoint_save_is_removed(tmp_path):
    import os
    import subprocess
    import sys

    import torch

    from hiveframe_ctgan import _train

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    (tmp_path / f".checkpoint.pt.{dead}.tmp").write_bytes(b"half")
    (tmp_path / f".checkpoint.pt.{os.getppid()}.tmp").write_bytes(b"a live process is writing this")
    store = _train.CheckpointStore(tmp_path, "ctgan", "0.1.0", "same", torch.device("cpu"))
    assert store.load() is None
    assert [p.name for p in tmp_path.iterdir()] == [f".checkpoint.pt.{os.getppid()}.tmp"]


@pytest.mark.parametrize("kind", KINDS)
def test_bfloat16_mixed_precision_trains_and_samples(kind, mixed):
    data, table = mixed
    gen = tiny(kind, precision="bfloat16", epochs=2).fit(data, table, seed=0)
    assert all(np.isfinite(v) for h in gen.fit_info["history"] for k, v in h.items() if k not in ("epoch", "validation"))
    out = gen.sample(50, seed=0)
    assert out.num_rows == 50 and gen.get_state().arrays["net/" + next(iter(gen._arrays))].dtype == np.float32


# -- weight average ------------------------------------------------------------------------------
def test_weight_average_moves_toward_the_generator_with_a_warmed_up_decay():
    import torch

    from hiveframe_ctgan._train import CTGANModel

    model = object.__new__(CTGANModel)  # only the two generators and the decay matter here
    model.ema_decay = 0.9
    model.G = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    model.G_average = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in model.G.parameters():
            p.fill_(1.0)
        for p in model.G_average.parameters():
            p.fill_(0.0)
        model.G[1].running_mean.fill_(5.0)
    model.update_average(1)  # warm-up: decay (1 + 1) / (10 + 1)
    assert torch.allclose(model.G_average[0].weight, torch.full((2, 3), 1 - 2 / 11))
    assert torch.equal(model.G_average[1].running_mean, torch.full((2,), 5.0))  # statistics are copied
    model.update_average(1000)  # past the warm-up: the configured decay
    assert torch.allclose(model.G_average[0].bias, torch.full((2,), 1 - 0.9 * (2 / 11)))
    assert model.sampling_module() is model.G_average


def test_sampling_uses_the_averaged_weights_unless_ema_decay_is_none(mixed):
    data, table = mixed
    averaged_losses: list = []
    last_losses: list = []
    averaged = tiny("ctgan", epochs=3, ema_decay=0.9).fit(data, table, seed=0,
                                                           callback=lambda e: averaged_losses.append(e["losses"]))
    last = tiny("ctgan", epochs=3, ema_decay=None).fit(data, table, seed=0,
                                                       callback=lambda e: last_losses.append(e["losses"]))
    assert not averaged.sample(60, seed=9).equals(last.sample(60, seed=9))
    # averaging only changes which weights sample: training itself (its losses) is the same
    assert averaged_losses == last_losses and len(last_losses) == 3
