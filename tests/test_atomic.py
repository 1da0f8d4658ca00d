"""Staged outputs: the swap, the cleanup on every exit, and the repair of a killed run's leftovers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hiveframe import _atomic
from hiveframe._atomic import NO_EXCHANGE_ENV, recover, staged_file, staged_folder, swap_in
from hiveframe.errors import SourceError


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def folder(path: Path, **files: str) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def listing(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_swap_replaces_the_folder_whole_and_leaves_nothing_beside_it(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setenv(NO_EXCHANGE_ENV, "1")
    out = folder(tmp_path / "out", **{"a.csv": "old", "b.csv": "old"})
    with staged_folder(out) as staging:
        (staging / "a.csv").write_text("new")
        assert (out / "a.csv").read_text() == "old"  # the old output stays readable while staging
    assert listing(out) == ["a.csv"] and (out / "a.csv").read_text() == "new"
    assert listing(tmp_path) == ["out"]


def test_swap_into_a_missing_path(tmp_path):
    staging = folder(tmp_path / "staging", x="1")
    swap_in(staging, tmp_path / "out")
    assert listing(tmp_path) == ["out"] and (tmp_path / "out" / "x").read_text() == "1"


def test_a_failed_write_leaves_the_old_output_and_no_staging(tmp_path):
    out = folder(tmp_path / "out", **{"a.csv": "old"})
    with pytest.raises(OSError, match="disk full"), staged_folder(out) as staging:
        (staging / "a.csv").write_text("half")
        raise OSError(28, "disk full")
    assert listing(tmp_path) == ["out"] and (out / "a.csv").read_text() == "old"
    target = tmp_path / "db.sqlite"
    with pytest.raises(KeyboardInterrupt), staged_file(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert listing(tmp_path) == ["out"]


def test_recover_puts_the_old_output_back_when_a_kill_left_the_path_missing(tmp_path, caplog):
    pid = dead_pid()
    folder(tmp_path / f".out.hf-old-{pid}-0a1b", **{"a.csv": "old"})
    folder(tmp_path / f".out.hf-stage-{pid}-0c2d", **{"a.csv": "new"})
    with caplog.at_level(logging.WARNING, logger="hiveframe._atomic"):
        recover(tmp_path / "out")
    assert listing(tmp_path) == ["out"] and (tmp_path / "out" / "a.csv").read_text() == "old"
    assert "restored the previous output" in caplog.text and "staging copy" in caplog.text


def test_recover_removes_stale_copies_and_leaves_a_running_process_alone(tmp_path, caplog):
    out = folder(tmp_path / "out", **{"a.csv": "new"})
    pid = dead_pid()
    folder(tmp_path / f".out.hf-old-{pid}-0a1b", **{"a.csv": "old"})
    (tmp_path / f".out.hf-stage-{pid}-0c2d").write_text("half a sqlite file")
    running = tmp_path / f".out.hf-stage-{os.getppid()}-0e3f"  # another live process: still writing
    running.mkdir()
    unrelated = [tmp_path / ".other.hf-old-1-0a1b", tmp_path / ".out.hf-old-x", tmp_path / "out.hf-old-1-0a1b"]
    for path in unrelated:
        path.write_text("not ours to remove")
    with caplog.at_level(logging.WARNING, logger="hiveframe._atomic"):
        recover(out)
    assert listing(tmp_path) == sorted(["out", running.name, *(p.name for p in unrelated)])
    assert (out / "a.csv").read_text() == "new"
    assert caplog.text.count("interrupted") == 2


def test_sigterm_during_a_staged_write_removes_the_staging(tmp_path):
    script = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from hiveframe._atomic import staged_folder\n"
        "out = Path(sys.argv[1])\n"
        "try:\n"
        "    with staged_folder(out) as staging:\n"
        "        (staging / 'a.csv').write_text('new')\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(30)\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "    raise\n"
    )
    out = folder(tmp_path / "out", **{"a.csv": "old"})
    proc = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 143 and "exit 143" in proc.stdout, proc.stderr
    assert listing(tmp_path) == ["out"] and (out / "a.csv").read_text() == "old"


def test_the_sigterm_handler_is_restored(tmp_path):
    import signal

    with staged_folder(tmp_path / "out"):
        assert signal.getsignal(signal.SIGTERM) is _atomic._raise_exit
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# -- staged outputs with provenance (report, demo) ---------------------------------------------------
def test_staged_output_lists_every_file_it_wrote_and_can_be_run_again(tmp_path):
    out = tmp_path / "report"
    for text in ("first", "second"):
        with _atomic.staged_output(out, kind="report", fields={"provenance": {"run": text}}) as staging:
            (staging / "report.html").write_text(text)
            (staging / "assets").mkdir()
            (staging / "assets" / "plot.svg").write_text(text)
        manifest = _atomic.read_provenance(out)
        assert manifest["kind"] == "report" and manifest["provenance"] == {"run": text}
        assert manifest["files"] == ["assets/plot.svg", "report.html"]
        assert (out / "report.html").read_text() == text
    assert listing(tmp_path) == ["report"]


@pytest.mark.parametrize("user_file", ["report.html", "notes.txt", "assets/mine.svg", "private/"])
def test_staged_output_refuses_a_folder_with_a_file_it_did_not_write(tmp_path, user_file):
    out = tmp_path / "report"
    with _atomic.staged_output(out, kind="report") as staging:
        (staging / "assets").mkdir()
        (staging / "assets" / "plot.svg").write_text("ours")
    if user_file == "report.html":  # a user's own report: no provenance at all
        (out / "_provenance.json").unlink()
        (out / "assets" / "plot.svg").unlink()
    target = out / user_file.rstrip("/")
    target.parent.mkdir(exist_ok=True)
    target.mkdir() if user_file.endswith("/") else target.write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(SourceError, match=user_file.replace(".", r"\.")) as err:
            with _atomic.staged_output(out, kind="report", overwrite=overwrite) as staging:
                raise AssertionError("refused before anything is written")
        assert err.value.hint
        if user_file != "report.html":
            break  # with overwrite a hiveframe output is replaced, other files included
    assert target.exists() and (target.is_dir() or target.read_text() == "mine")
    assert listing(tmp_path) == ["report"]


def test_staged_output_replaces_another_kind_of_output_only_with_overwrite(tmp_path, caplog):
    out = tmp_path / "out"
    with _atomic.staged_output(out, kind="tables") as staging:
        (staging / "users.csv").write_text("id\n1\n")
    with pytest.raises(SourceError, match="holds synthetic tables.*not a quality report") as err:
        with _atomic.staged_output(out, kind="report"):
            raise AssertionError("refused before anything is written")
    assert "--overwrite" in err.value.hint and (out / "users.csv").exists()
    (out / "notes.txt").write_text("mine")
    with caplog.at_level(logging.WARNING), _atomic.staged_output(out, kind="report", overwrite=True) as staging:
        (staging / "report.html").write_text("ours")
    assert "notes.txt" in caplog.text
    assert listing(out) == ["_provenance.json", "report.html"]


def test_a_file_where_the_output_folder_goes_is_refused(tmp_path):
    (tmp_path / "report").write_text("mine")
    with pytest.raises(SourceError, match="exists and is not a folder"):
        with _atomic.staged_output(tmp_path / "report", kind="report", overwrite=True):
            raise AssertionError("refused before anything is written")
    assert (tmp_path / "report").read_text() == "mine"


def test_relocated_moves_only_paths_inside_the_staging_folder(tmp_path):
    staging, out = tmp_path / ".r.hf-stage-1-ab", tmp_path / "r"
    summary = {"path": str(staging / "report.html"), "nested": [staging / "a" / "b.json", "text"],
               "other": str(tmp_path / ".r.hf-stage-1-abc" / "x"), "n": 3}
    assert _atomic.relocated(summary, staging, out) == {
        "path": str(out / "report.html"), "nested": [out / "a" / "b.json", "text"],
        "other": str(tmp_path / ".r.hf-stage-1-abc" / "x"), "n": 3}
