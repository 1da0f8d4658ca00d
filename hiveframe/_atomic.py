"""Outputs that appear whole or not at all: stage beside the target, swap in, clean up on every exit.

A folder output (or a model) is written into a fresh sibling folder ``.NAME.hf-stage-PID-XXXX`` and
swapped in at ``NAME`` when complete. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` call, so
``NAME`` holds the old complete output or the new one at every instant, whatever kills the process.
Where the kernel or file system lacks it, the swap is two renames (old aside as ``.NAME.hf-old-PID-XXXX``,
new in); a kill between them leaves ``NAME`` missing for a moment, and the next hiveframe run on
``NAME`` (write, save or load) puts the old output back with a logged message. A single file (SQLite)
is staged as a sibling file and moved in with ``os.replace``, which is atomic everywhere.

Staging paths are removed on every exit the process sees: errors, ``KeyboardInterrupt`` (SIGINT),
SIGTERM (turned into ``SystemExit`` while a staged write runs in the main thread) and interpreter exit.
Leftovers of a run killed with SIGKILL (or a power cut) carry its process id; the next run removes them
(or restores the old output) once that process is gone, and logs what it did.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

STAGE_TAG = "hf-stage"
OLD_TAG = "hf-old"
#: test hook: the process kills itself (SIGKILL) at the named crash point (see :func:`crash_point`).
KILL_AT_ENV = "HIVEFRAME_TEST_KILL_AT"
#: test hook: the signal sent at the crash point instead of SIGKILL (``TERM`` or ``INT``).
KILL_SIGNAL_ENV = "HIVEFRAME_TEST_KILL_SIGNAL"
#: test hook: swap with two renames even where an atomic exchange exists.
NO_EXCHANGE_ENV = "HIVEFRAME_TEST_NO_EXCHANGE"

_PENDING: set[Path] = set()
_LEFTOVER = re.compile(rf"^\.(?P<name>.+)\.(?P<tag>{STAGE_TAG}|{OLD_TAG})-(?P<pid>\d+)-[0-9a-f]+$")


def crash_point(name: str) -> None:
    """Kill this process here when ``HIVEFRAME_TEST_KILL_AT`` names this point (kill -9 tests only):
    a deterministic stand-in for a kill, an out-of-memory kill or a power cut at the worst moment."""
    if os.environ.get(KILL_AT_ENV) == name:
        signum = getattr(signal, "SIG" + os.environ.get(KILL_SIGNAL_ENV, "KILL").upper())
        os.kill(os.getpid(), signum)


def sibling(path: Path, tag: str) -> Path:
    """A fresh hidden name beside ``path`` that carries this process's id."""
    return path.parent / f".{path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_pending() -> None:
    for path in list(_PENDING):
        _remove(path)
        _PENDING.discard(path)


atexit.register(_remove_pending)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While staging, SIGTERM unwinds like Ctrl-C so ``finally`` blocks remove the staging paths."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(path: Path) -> None:
    """Repair what a killed run left beside ``path``: put an old output back if ``path`` is missing,
    remove stale staging and old copies. Leftovers of a process still running are left alone."""
    parent = path.parent
    if not parent.is_dir():
        return
    olds: list[Path] = []
    stages: list[Path] = []
    for entry in parent.iterdir():
        match = _LEFTOVER.match(entry.name)
        if not match or match["name"] != path.name or _alive(int(match["pid"])):
            continue
        (olds if match["tag"] == OLD_TAG else stages).append(entry)
    for entry in sorted(olds):
        if not path.exists() and not path.is_symlink():
            os.rename(entry, path)
            log.warning("%s was missing after an interrupted replacement; restored the previous output from %s",
                        path, entry.name)
        else:
            log.warning("removing %s, the previous output left by an interrupted replacement of %s", entry, path)
            _remove(entry)
    for entry in stages:
        log.warning("removing %s, a staging copy left by an interrupted hiveframe run on %s", entry, path)
        _remove(entry)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    if not sys.platform.startswith("linux") or os.environ.get(NO_EXCHANGE_ENV):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's files and the folder itself, to disk (a power cut after the swap
    must not leave renamed but empty files)."""
    paths = [path]
    if path.is_dir():
        paths = [Path(root) / name for root, _, names in os.walk(path) for name in names] + [path]
    for item in paths:
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def swap_in(staging: Path, path: Path) -> None:
    """Put the complete folder ``staging`` at ``path``; whatever was there is removed afterwards."""
    _fsync(staging)
    if not path.exists() and not path.is_symlink():
        os.rename(staging, path)
        crash_point("swap:new-in")
        return
    if _exchange(staging, path):
        crash_point("swap:exchanged")
        _remove(staging)  # now the old output
        return
    old = sibling(path, OLD_TAG)
    os.rename(path, old)
    crash_point("swap:old-aside")
    try:
        os.rename(staging, path)
    except OSError:
        os.rename(old, path)
        raise
    crash_point("swap:new-in")
    _remove(old)


@contextlib.contextmanager
def staged_folder(path: Path) -> Iterator[Path]:
    """A fresh sibling folder to write into; swapped in at ``path`` when the block ends without error."""
    recover(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = sibling(path, STAGE_TAG)
    _PENDING.add(staging)
    try:
        with _terminate_as_exit():
            staging.mkdir()  # honours the umask, unlike tempfile.mkdtemp's 0700
            yield staging
            swap_in(staging, path)
    finally:
        _PENDING.discard(staging)
        if staging.exists():
            _remove(staging)


@contextlib.contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A sibling temporary file name to write; moved to ``path`` when the block ends without error."""
    recover(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = sibling(path, STAGE_TAG)
    _PENDING.add(staging)
    try:
        with _terminate_as_exit():
            yield staging
            _fsync(staging)
            crash_point("file:before-replace")
            os.replace(staging, path)
    finally:
        _PENDING.discard(staging)
        _remove(staging)
