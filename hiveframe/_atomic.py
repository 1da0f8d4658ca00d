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

What hiveframe wrote is listed in the folder's ``_provenance.json`` (``written_by: hiveframe``, the
output's ``kind``: ``tables`` from the folder writer, ``report``, ``demo``, and its ``files``), and a
folder is replaced only when that list covers everything in it (:func:`check_replaceable`).
:func:`staged_output` is the whole recipe (refuse, stage, list, swap) for outputs the kernel writes
itself: the report folder (whatever plugin writes the report) and the demo folder.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hiveframe.errors import SourceError

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


def process_alive(pid: int) -> bool:
    """Whether the process ``pid`` still runs, so that what it is writing must be left alone. This
    process counts as gone: a leftover carrying its own id is from an earlier run that reused the id."""
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
        if not match or match["name"] != path.name or process_alive(int(match["pid"])):
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
def _staging(path: Path) -> Iterator[Path]:
    """A fresh sibling name for ``path`` (after repairing what killed runs left), removed when the block
    ends (or the process exits) while it still exists; SIGTERM unwinds like Ctrl-C meanwhile."""
    recover(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = sibling(path, STAGE_TAG)
    _PENDING.add(staging)
    try:
        with _terminate_as_exit():
            yield staging
    finally:
        _PENDING.discard(staging)
        _remove(staging)


@contextlib.contextmanager
def staged_folder(path: Path) -> Iterator[Path]:
    """A fresh sibling folder to write into; swapped in at ``path`` when the block ends without error."""
    with _staging(path) as staging:
        staging.mkdir()  # honours the umask, unlike tempfile.mkdtemp's 0700
        yield staging
        swap_in(staging, path)


@contextlib.contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A sibling temporary file name to write; moved to ``path`` when the block ends without error."""
    with _staging(path) as staging:
        yield staging
        _fsync(staging)
        crash_point("file:before-replace")
        os.replace(staging, path)


# -- provenance: what hiveframe wrote, so that it replaces nothing else -------------------------------
#: the file in every folder output that lists what hiveframe wrote there (and says what the output is).
PROVENANCE_FILE = "_provenance.json"
#: the catalog entry of a tables output (hiveframe.pipeline.catalog), beside the tables and in Parquet metadata
CATALOG_FILE = "_catalog.json"
CATALOG_PARQUET_KEY = b"hiveframe.catalog"
#: the kinds of folder output; a folder of one kind is not replaced by another without ``overwrite``.
OUTPUT_KINDS = {"tables": "synthetic tables (hiveframe sample)", "report": "a quality report",
                "demo": "the output of hiveframe demo"}


def read_provenance(folder: Path) -> dict[str, Any]:
    """The ``_provenance.json`` of ``folder`` when hiveframe wrote it; ``{}`` otherwise."""
    path = folder / PROVENANCE_FILE
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", path)
        return {}
    return data if isinstance(data, dict) and data.get("written_by") == "hiveframe" else {}


def _listed_files(manifest: Mapping[str, Any]) -> set[str]:
    """The relative paths a provenance lists (``files`` is a list, or the folder writer's table -> file map)."""
    files = manifest.get("files")
    names = files.values() if isinstance(files, dict) else files if isinstance(files, list) else ()
    extra = {manifest["catalog_file"]} if isinstance(manifest.get("catalog_file"), str) else set()
    return {name for name in names if isinstance(name, str)} | {PROVENANCE_FILE} | extra


def unlisted_entries(folder: Path, listed: set[str]) -> list[str]:
    """Entries under ``folder`` that ``listed`` does not name: a folder nothing in which is listed counts
    once (``notes/``); symbolic links and special files are never hiveframe's."""
    out: list[str] = []

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            rel = prefix + entry.name
            if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                out.append(rel)
            elif entry.is_dir():
                if any(name.startswith(rel + "/") for name in listed):
                    walk(entry, rel + "/")
                else:
                    out.append(rel + "/")
            elif rel not in listed:
                out.append(rel)

    walk(folder, "")
    return out


def check_replaceable(folder: Path, *, kind: str, overwrite: bool = False,
                      overwrite_option: str = "--overwrite (overwrite=True)") -> None:
    """Refuse, before anything is written, to replace a folder holding anything hiveframe did not write.

    ``folder`` may be replaced when it is missing or empty, or when its ``_provenance.json`` lists every
    file in it and says it holds output of the same ``kind`` (an earlier run of the same command).
    ``overwrite`` also replaces a hiveframe output holding other files or of another kind (deleting
    them, with a warning); a folder without hiveframe's provenance is never replaced.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise SourceError(f"{str(folder)!r} exists and is not a folder",
                          hint="give the path of a new folder (or of an earlier hiveframe output folder)")
    manifest = read_provenance(folder)
    foreign = unlisted_entries(folder, _listed_files(manifest))
    found_kind = manifest.get("kind", "tables") if manifest else None
    if manifest and found_kind != kind and not overwrite:
        what = OUTPUT_KINDS.get(str(found_kind), f"hiveframe output of kind {found_kind!r}")
        raise SourceError(f"folder {str(folder)!r} holds {what}, not {OUTPUT_KINDS[kind]}; not replacing it",
                          hint=f"write to a new folder, or, to replace that output, pass {overwrite_option}")
    if not foreign:
        return
    listed = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
    if overwrite and manifest:
        log.warning("overwrite: replacing folder %s whole, with files hiveframe did not write: %s", folder, listed)
        return
    if overwrite:
        raise SourceError(f"folder {str(folder)!r} does not hold hiveframe output (no {PROVENANCE_FILE}); "
                          f"overwrite replaces only hiveframe output, never files like {listed}",
                          hint="write to a new or empty folder")
    more = f" or, to replace the whole folder with them, pass {overwrite_option}" if manifest else ""
    raise SourceError(f"folder {str(folder)!r} holds files hiveframe did not write: {listed}; not replacing them",
                      hint=f"write to a new or empty folder, move those files away{more}")


def write_provenance(folder: Path, kind: str, fields: Mapping[str, Any],
                     files: Mapping[str, str] | None = None) -> None:
    """Write ``_provenance.json``: the output's ``kind``, ``fields`` and the files it holds (``files``, or
    every file under ``folder`` as a sorted list of relative paths)."""
    from hiveframe._version import __version__

    listed: Any = dict(files) if files is not None else sorted(
        rel for rel in (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        if rel != PROVENANCE_FILE)
    manifest = {"written_by": "hiveframe", "hiveframe_version": __version__, "kind": kind, **fields,
                "files": listed}
    (folder / PROVENANCE_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")


@contextlib.contextmanager
def staged_output(path: Path, *, kind: str, overwrite: bool = False, fields: Mapping[str, Any] | None = None,
                  overwrite_option: str = "--overwrite (overwrite=True)") -> Iterator[Path]:
    """A folder output that appears whole or not at all and replaces only hiveframe's own output.

    Refuses a folder holding anything else (:func:`check_replaceable`), yields a staging folder, then
    lists everything written there in its ``_provenance.json`` and swaps it in at ``path``.
    """
    recover(path)
    check_replaceable(path, kind=kind, overwrite=overwrite, overwrite_option=overwrite_option)
    with staged_folder(path) as staging:
        yield staging
        write_provenance(staging, kind, fields or {})
        crash_point(f"{kind}:staged")


def relocated(value: Any, staging: Path, path: Path) -> Any:
    """``value`` (a summary: dicts, lists, strings, paths) with every path inside ``staging`` moved to
    ``path``, where the staged output now lies."""
    if isinstance(value, Mapping):
        return {key: relocated(item, staging, path) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relocated(item, staging, path) for item in value)
    if isinstance(value, (str, Path)):
        text = str(value)
        root = str(staging)
        if text == root or text.startswith(root + os.sep):
            moved = str(path) + text[len(root):]
            return Path(moved) if isinstance(value, Path) else moved
    return value
