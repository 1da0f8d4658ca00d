"""`hiveframe fit --checkpoint-dir DIR --resume`: a fit killed mid-training continues from its last
checkpoint and ends with the same model as a fit that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiveframe.cli import main

pytest.importorskip("torch")

EPOCHS = 60
PARAMS = ["--generator", "ctgan", "--seed", "3", "--param", f"epochs={EPOCHS}", "--param", "batch_size=40",
          "--param", "pac=4", "--param", "generator_dim=[16]", "--param", "discriminator_dim=[16]",
          "--param", "embedding_dim=8", "--param", "checkpoint_every=1", "--param", "threads=1",
          "--param", "validation_fraction=0"]


def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    n = 400
    pq.write_table(pa.table({"x": [float(i % 37) * 0.7 for i in range(n)],
                             "k": ["abc"[i % 3] for i in range(n)],
                             "y": [float((i * 7) % 11) for i in range(n)]}), folder / "t.parquet")
    return folder


def fit_command(src: Path, model: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hiveframe.cli", "fit", str(src), "-o", str(model), "-q", *PARAMS, *extra]


def env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[1]
    paths = [str(root), str(root / "plugins"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def sample(model: Path) -> pa.Table:
    from hiveframe.pipeline import Synthesizer

    return Synthesizer.load(model).sample(seed=5)["t"]


@pytest.mark.slow  # three CLI processes with torch: about 20 s
def test_a_killed_fit_resumes_to_the_same_model(tmp_path: Path) -> None:
    src = source(tmp_path)
    checkpoints = tmp_path / "checkpoints"
    killed = subprocess.Popen(fit_command(src, tmp_path / "killed", "--checkpoint-dir", str(checkpoints)),
                              env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(checkpoints.rglob("checkpoint.pt")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the fit ended before it could be killed: raise EPOCHS"
    assert not (tmp_path / "killed").exists()

    # a second fit into the same checkpoint folder without --resume is refused, naming the folder
    code = main(["fit", str(src), "-o", str(tmp_path / "m2"), "-q", *PARAMS, "--checkpoint-dir", str(checkpoints)])
    assert code == 2

    resumed = subprocess.run(fit_command(src, tmp_path / "resumed", "--checkpoint-dir", str(checkpoints), "-v",
                                         "--resume"), env=env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint of epoch" in resumed.stderr

    whole = subprocess.run(fit_command(src, tmp_path / "whole"), env=env(), capture_output=True, text=True,
                           timeout=300)
    assert whole.returncode == 0, whole.stderr
    assert sample(tmp_path / "resumed").equals(sample(tmp_path / "whole"))


@pytest.mark.parametrize(("args", "culprit"), [
    (["--resume"], "--checkpoint-dir"),
    (["--resume", "--checkpoint-dir", "{empty}"], "holds no checkpoints"),
    (["--checkpoint-dir", "{file}"], "is a file"),
])
def test_checkpoint_flags_are_checked_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      args: list[str], culprit: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    args = [a.format(empty=tmp_path / "empty", file=tmp_path / "file") for a in args]
    assert main(["fit", str(tmp_path / "no-such-source"), "-o", str(tmp_path / "m"), *args]) == 2
    err = capsys.readouterr().err
    assert culprit in err and "Traceback" not in err
