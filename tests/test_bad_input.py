"""Bad input, through the CLI and the Python API: every case gets one clear message naming its culprit.

Each case feeds one bad input (a source, a metadata file, a flag, a model folder, an output path) to
``hiveframe.cli.main`` in-process or to the Python API, and is judged:

- ``good``: an error (a ``HiveframeError``, or a usage error from the CLI's parser) whose message names
  every culprit of the case (table, column, parameter or path); for inputs that can be handled with a
  warning (``warn`` cases), a warning on the ``hiveframe`` logger naming them is good too;
- ``partial``: an error or warning that does not name the culprit;
- ``traceback``: an internal error, a traceback, or a raw exception out of the API;
- ``silent``: success with no word about the problem.

The tests require ``good`` of every case. ``python tests/test_bad_input.py`` prints the tally (how the
before/after table of issue 16 was measured).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import math
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from hiveframe.errors import HiveframeError


# -- the judged outcome of one case ---------------------------------------------------------------
@dataclass
class Outcome:
    failed: bool  # an error was reported (exit != 0, or an exception)
    text: str  # the message, plus whatever was logged
    crashed: bool = False  # an internal error or a raw exception


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Env], Outcome]
    culprits: tuple[str, ...]
    warn: bool = False  # a warning naming the culprits is as good as an error
    ok: Callable[[Env], bool] | None = None  # for warn cases: success that is simply right


def verdict(case: Case, outcome: Outcome, env: Env) -> str:
    text = outcome.text.lower()
    if outcome.crashed or "traceback" in text or "internal error" in text:
        return "traceback"
    named = all(c.lower() in text for c in case.culprits)
    if outcome.failed:
        return "good" if named else "partial"
    if case.ok is not None and case.ok(env):
        return "good"
    if case.warn and named and "warning" in text:
        return "good"
    if case.warn and "warning" in text:
        return "partial"
    return "silent"


# -- the environment: tiny real tables, a fitted model, metadata ----------------------------------
@dataclass
class Env:
    root: Path
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"

    @property
    def sqlite(self) -> Path:
        return self.root / "src.sqlite"

    def fresh(self, name: str = "case") -> Path:
        """A new empty folder for one case."""
        self.counter[0] += 1
        path = self.root / "cases" / f"{self.counter[0]:03d}-{name}"
        path.mkdir(parents=True)
        return path

    def model_copy(self) -> Path:
        target = self.fresh("model") / "model"
        shutil.copytree(self.model, target)
        return target

    def src_copy(self) -> Path:
        target = self.fresh("src") / "src"
        shutil.copytree(self.src, target)
        return target

    def meta_dict(self) -> dict[str, Any]:
        return json.loads(self.meta.read_text())

    def write_meta(self, data: Any, name: str = "meta.json") -> Path:
        path = self.fresh("meta") / name
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return path


def parent_table(n: int = 30) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": [f"n{i}" for i in range(n)],
                     "amount": [i * 1.5 for i in range(n)], "kind": ["ab"[i % 2] for i in range(n)]})


def child_table(n: int = 60, parents: int = 30) -> pa.Table:
    return pa.table({"cid": list(range(n)), "parent_id": [i % parents for i in range(n)],
                     "value": [i * 2.0 for i in range(n)],
                     "day": [f"2020-01-{i % 28 + 1:02d}" for i in range(n)]})


def build_env(root: Path) -> Env:
    from hiveframe.cli import main

    env = Env(root)
    env.src.mkdir(parents=True)
    pacsv.write_csv(parent_table(), env.src / "parent.csv")
    pacsv.write_csv(child_table(), env.src / "child.csv")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["detect", str(env.src), "-o", str(env.meta), "-q"]) == 0
        assert main(["fit", str(env.src), "--metadata", str(env.meta), "-o", str(env.model), "-q"]) == 0
    con = sqlite3.connect(env.sqlite)
    con.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT, amount REAL, kind TEXT)")
    con.executemany("INSERT INTO parent VALUES (?, ?, ?, ?)",
                    [(i, f"n{i}", i * 1.5, "ab"[i % 2]) for i in range(30)])
    con.commit()
    con.close()
    return env


# -- running the CLI and the API ------------------------------------------------------------------
@contextlib.contextmanager
def _logged() -> Iterator[io.StringIO]:
    """Collect logged warnings (and Python warnings) as text."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger()  # the kernel's and the plugins' loggers (hiveframe, hiveframe_ctgan...)
    logger.addHandler(handler)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield buffer
        finally:
            logger.removeHandler(handler)
            for w in caught:
                buffer.write(f"WARNING {w.message}\n")


def cli(env: Env, *argv: Any) -> Outcome:
    from hiveframe.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage error
            code = int(exc.code or 0)
        except BaseException as exc:  # noqa: BLE001 - judged, not hidden
            return Outcome(True, f"{type(exc).__name__}: {exc}\n{err.getvalue()}", crashed=True)
    text = err.getvalue()
    # the CLI prints warnings as plain lines: mark them so the verdict sees them
    text = "WARNING " + text.replace("\n", "\nWARNING ") if code == 0 and text.strip() else text
    return Outcome(code != 0, text)


def api(fn: Callable[[], Any]) -> Outcome:
    with _logged() as logs:
        try:
            fn()
        except HiveframeError as exc:
            return Outcome(True, f"{exc}\n{logs.getvalue()}")
        except BaseException as exc:  # noqa: BLE001 - judged, not hidden
            return Outcome(True, f"{type(exc).__name__}: {exc}\n{logs.getvalue()}", crashed=True)
    return Outcome(False, logs.getvalue())


def synth(env: Env, **options: Any):
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    return Synthesizer(Metadata.from_json(env.meta.read_text()), **options)


def fitted(env: Env):
    from hiveframe.pipeline import Synthesizer

    return Synthesizer.load(env.model)


def database(env: Env, source: Path | None = None):
    from hiveframe.pipeline import read

    return read(str(source or env.src))


# -- sources --------------------------------------------------------------------------------------
def src_with(env: Env, files: dict[str, bytes | str | pa.Table], *, keep: bool = False) -> Path:
    folder = env.src_copy() if keep else env.fresh("src")
    for name, content in files.items():
        path = folder / name
        if isinstance(content, pa.Table):
            (pq.write_table if name.endswith(".parquet") else pacsv.write_csv)(content, path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


CASES: list[Case] = []


def case(id: str, *culprits: str, warn: bool = False, ok: Callable[[Env], bool] | None = None):
    def register(fn: Callable[[Env], Outcome]) -> Callable[[Env], Outcome]:
        CASES.append(Case(id, fn, tuple(culprits), warn, ok))
        return fn
    return register


def both(id: str, *culprits: str, warn: bool = False):
    """Register a source case twice: ``detect`` on the CLI and ``fit`` through the API."""
    def register(make: Callable[[Env], Path]) -> Callable[[Env], Path]:
        CASES.append(Case(f"cli-{id}", lambda env: cli(env, "fit", make(env), "-o", env.fresh() / "m", "-q"),
                          tuple(culprits), warn))
        CASES.append(Case(f"api-{id}", lambda env: api(lambda: synth_detect(env, make(env))),
                          tuple(culprits), warn))
        return make
    return register


def synth_detect(env: Env, source: Path) -> None:
    from hiveframe.pipeline import Synthesizer

    Synthesizer().fit(str(source))


@both("source-missing", "nope")
def _(env: Env) -> Path:
    return env.root / "nope"


@both("source-empty-folder", "empty")
def _(env: Env) -> Path:
    folder = env.fresh("src") / "empty"
    folder.mkdir()
    return folder


@both("source-only-xlsx", "xlsx")
def _(env: Env) -> Path:
    return src_with(env, {"book.xlsx": b"PK\x03\x04junk"})


@both("source-empty-csv", "parent")
def _(env: Env) -> Path:
    return src_with(env, {"parent.csv": ""})


@both("source-corrupt-parquet", "parent")
def _(env: Env) -> Path:
    return src_with(env, {"parent.parquet": b"PAR1 this is not parquet"})


@both("source-corrupt-sqlite", "db.sqlite")
def _(env: Env) -> Path:
    path = env.fresh("src") / "db.sqlite"
    path.write_bytes(b"definitely not a database" * 40)
    return path


@both("source-empty-sqlite", "empty.sqlite")
def _(env: Env) -> Path:
    path = env.fresh("src") / "empty.sqlite"
    sqlite3.connect(path).close()
    return path


@both("source-bad-jsonl", "parent")
def _(env: Env) -> Path:
    return src_with(env, {"parent.jsonl": '{"id": 1}\n{"id": 2,,}\n'})


@both("source-ragged-csv", "parent")
def _(env: Env) -> Path:
    return src_with(env, {"parent.csv": "id,name\n1,a\n2,b,c,d\n"})


@both("source-duplicate-header", "parent", "id")
def _(env: Env) -> Path:
    return src_with(env, {"parent.csv": "id,id,name\n1,2,a\n3,4,b\n"})


@both("source-latin1", "parent")
def _(env: Env) -> Path:
    return src_with(env, {"parent.csv": "id,name\n1,caf\xe9\n2,na\xefve\n".encode("latin-1")})


@both("source-txt-file", "notes.txt")
def _(env: Env) -> Path:
    path = env.fresh("src") / "notes.txt"
    path.write_text("hello")
    return path


@both("source-header-only", "parent", warn=True)
def _(env: Env) -> Path:
    return src_with(env, {"parent.csv": "id,name,amount\n"})


@both("source-semicolon-csv", "parent", ";", warn=True)
def _(env: Env) -> Path:
    rows = "\n".join(f"{i};n{i};{i * 1.5}" for i in range(30))
    return src_with(env, {"parent.csv": "id;name;amount\n" + rows + "\n"})


@both("source-inf", "parent", "amount", warn=True)
def _(env: Env) -> Path:
    table = parent_table().set_column(2, "amount", pa.array([math.inf if i == 3 else -math.inf if i == 5
                                                             else i * 1.5 for i in range(30)]))
    return src_with(env, {"parent.parquet": table})


@both("source-decimal-1e19", "parent", "amount", warn=True)
def _(env: Env) -> Path:
    import decimal

    values = [decimal.Decimal(10**19 + i * 1000) / 1 + decimal.Decimal("0.25") for i in range(30)]
    table = parent_table().set_column(2, "amount", pa.array(values, type=pa.decimal128(24, 2)))
    return src_with(env, {"parent.parquet": table})


@both("source-junk-numbers", "parent", "amount", warn=True)
def _(env: Env) -> Path:
    values = [str(i * 1.5) for i in range(30)]
    values[4], values[17] = "n/a", "12,5x"
    return src_with(env, {"parent.csv": parent_table().set_column(2, "amount", pa.array(values))})


@both("source-mixed-dates", "child", "day", warn=True)
def _(env: Env) -> Path:
    days = [["2020-01-%02d", "%02d/01/2020", "Jan %02d 2020"][i % 3] % (i % 28 + 1) for i in range(60)]
    return src_with(env, {"parent.csv": parent_table(),
                          "child.csv": child_table().set_column(3, "day", pa.array(days))})


# fitting with explicit metadata: data that contradicts it
def fit_meta(env: Env, source: Path, meta: dict[str, Any] | None = None, *extra: Any) -> Outcome:
    path = env.write_meta(meta if meta is not None else env.meta_dict())
    return cli(env, "fit", source, "--metadata", path, "-o", env.fresh() / "m", "-q", *extra)


def api_fit_meta(env: Env, source: Path, meta: dict[str, Any] | None = None, **options: Any) -> Outcome:
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    def go() -> None:
        Synthesizer(Metadata.from_dict(meta if meta is not None else env.meta_dict()), **options).fit(str(source))
    return api(go)


def with_rows(env: Env, parent: pa.Table | None = None, child: pa.Table | None = None) -> Path:
    return src_with(env, {"parent.parquet": parent if parent is not None else parent_table(),
                          "child.parquet": child if child is not None else child_table()})


def self_cycle_meta(nullable: bool) -> dict[str, Any]:
    return {"spec_version": 1, "tables": {"emp": {"primary_key": ["emp_id"], "columns": {
        "emp_id": {"kind": "id", "dtype": "int64", "nullable": False},
        "boss": {"kind": "id", "dtype": "int64", "nullable": nullable},
        "pay": {"kind": "numerical", "dtype": "double"}}}},
        "foreign_keys": [{"child_table": "emp", "child_columns": ["boss"], "parent_table": "emp",
                          "parent_columns": ["emp_id"]}]}


def cycle_source(env: Env) -> Path:
    table = pa.table({"emp_id": list(range(20)), "boss": [(i + 1) % 20 for i in range(20)],
                      "pay": [float(i) for i in range(20)]})
    return src_with(env, {"emp.parquet": table})


for _nullable in (False, True):
    CASES.append(Case(f"cli-self-cycle-declared-nullable={_nullable}",
                      lambda env, n=_nullable: fit_meta(env, cycle_source(env), self_cycle_meta(n)),
                      ("emp", "boss"), warn=True))
    CASES.append(Case(f"api-self-cycle-declared-nullable={_nullable}",
                      lambda env, n=_nullable: api_fit_meta(env, cycle_source(env), self_cycle_meta(n)),
                      ("emp", "boss"), warn=True))

_DATA_CASES: list[tuple[str, Callable[[Env], Path], tuple[str, ...]]] = [
    ("duplicate-primary-key", lambda env: with_rows(env, parent=parent_table().set_column(
        0, "id", pa.array([0] + list(range(29))))), ("parent", "id")),
    ("null-primary-key", lambda env: with_rows(env, parent=parent_table().set_column(
        0, "id", pa.array([None] + list(range(1, 30)), pa.int64()))), ("parent", "id")),
    ("orphan-foreign-key", lambda env: with_rows(env, child=child_table().set_column(
        1, "parent_id", pa.array([999] + [i % 30 for i in range(1, 60)]))), ("child", "parent_id")),
    ("missing-column", lambda env: with_rows(env, parent=parent_table().drop(["amount"])), ("parent", "amount")),
    ("missing-table", lambda env: src_with(env, {"parent.parquet": parent_table()}), ("child",)),
    ("string-in-int-column", lambda env: with_rows(env, parent=parent_table().set_column(
        2, "amount", pa.array(["x"] * 30))), ("parent", "amount")),
    ("nulls-in-non-nullable", lambda env: with_rows(env, parent=parent_table().set_column(
        2, "amount", pa.array([None] * 3 + [1.0] * 27, pa.float64()))), ("parent", "amount")),
    ("fk-type-mismatch", lambda env: with_rows(env, child=child_table().set_column(
        1, "parent_id", pa.array([f"p{i}" for i in range(60)]))), ("child", "parent_id")),
]
for _name, _make, _culprits in _DATA_CASES:
    CASES.append(Case(f"cli-data-{_name}", lambda env, m=_make: fit_meta(env, m(env)), _culprits))
    CASES.append(Case(f"api-data-{_name}", lambda env, m=_make: api_fit_meta(env, m(env)), _culprits))


# -- metadata -------------------------------------------------------------------------------------
def meta_edit(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Env], dict[str, Any]]:
    def make(env: Env) -> dict[str, Any]:
        data = env.meta_dict()
        result = edit(data)
        return data if result is None else result
    return make


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return edit


_DELETE = object()
_PCOLS = ["tables", "parent", "columns"]

_META_CASES: list[tuple[str, Callable[[Env], Any], tuple[str, ...]]] = [
    ("kind-banana", meta_edit(_set(_PCOLS + ["amount", "kind"], "banana")), ("amount", "banana")),
    ("tables-as-list", meta_edit(lambda d: {**d, "tables": list(d["tables"].values())}), ("tables",)),
    ("tables-missing", meta_edit(_set(["tables"], _DELETE)), ("tables",)),
    ("tables-null", meta_edit(_set(["tables"], None)), ("tables",)),
    ("columns-as-list", meta_edit(_set(["tables", "parent", "columns"], ["id", "name"])), ("parent", "columns")),
    ("column-not-object", meta_edit(_set(_PCOLS + ["amount"], "numerical")), ("parent", "amount")),
    ("column-kind-missing", meta_edit(_set(_PCOLS + ["amount", "kind"], _DELETE)), ("parent", "amount", "kind")),
    ("pii-kind-banana", meta_edit(_set(_PCOLS + ["name"], {"kind": "pii", "pii_kind": "banana"})),
     ("name", "banana")),
    ("dtype-banana", meta_edit(_set(_PCOLS + ["amount", "dtype"], "banana")), ("amount", "banana")),
    ("primary-key-unknown-column", meta_edit(_set(["tables", "parent", "primary_key"], ["nope"])),
     ("parent", "nope")),
    ("primary-key-int", meta_edit(_set(["tables", "parent", "primary_key"], 5)), ("parent", "primary_key")),
    ("fk-unknown-parent-table", meta_edit(_set(["foreign_keys", 0, "parent_table"], "ghost")), ("ghost",)),
    ("fk-unknown-child-column", meta_edit(_set(["foreign_keys", 0, "child_columns"], ["ghost"])),
     ("child", "ghost")),
    ("fk-to-non-key", meta_edit(_set(["foreign_keys", 0, "parent_columns"], ["amount"])), ("parent", "amount")),
    ("fk-arity-mismatch", meta_edit(_set(["foreign_keys", 0, "child_columns"], ["parent_id", "cid"])),
     ("child",)),
    ("fk-missing-field", meta_edit(lambda d: d["foreign_keys"][0].pop("parent_table") and None),
     ("parent_table",)),
    ("foreign-keys-object", meta_edit(_set(["foreign_keys"], {"a": 1})), ("foreign_keys",)),
    ("spec-version-99", meta_edit(_set(["spec_version"], 99)), ("spec_version", "99")),
    ("nullable-string", meta_edit(_set(_PCOLS + ["amount", "nullable"], "sometimes")), ("amount", "nullable")),
    ("low-above-high", meta_edit(_set(_PCOLS + ["amount"], {"kind": "numerical", "dtype": "double",
                                                            "low": 10, "high": 1})), ("amount",)),
    ("table-not-in-data", meta_edit(_set(["tables", "ghost"], {"columns": {"x": {"kind": "numerical"}}})),
     ("ghost",)),
    ("two-table-cycle", meta_edit(lambda d: d["foreign_keys"].append(
        {"child_table": "parent", "child_columns": ["amount"], "parent_table": "child",
         "parent_columns": ["cid"]}) or None), ("parent", "child")),
    ("categories-not-list", meta_edit(_set(_PCOLS + ["kind", "categories"], 5)), ("kind", "categories")),
    ("driver-unknown", meta_edit(_set(["tables", "child", "driver"], "ghost")), ("child", "ghost")),
]
for _name, _make, _culprits in _META_CASES:
    CASES.append(Case(f"cli-meta-{_name}", lambda env, m=_make: fit_meta(env, env.src, m(env)), _culprits))
    CASES.append(Case(f"api-meta-{_name}", lambda env, m=_make: api_fit_meta(env, env.src, m(env)), _culprits))


@case("cli-meta-not-json", "meta.json", "json")
def _(env: Env) -> Outcome:
    return cli(env, "fit", env.src, "--metadata", env.write_meta("{nope"), "-o", env.fresh() / "m")


@case("cli-meta-array", "meta.json")
def _(env: Env) -> Outcome:
    return cli(env, "fit", env.src, "--metadata", env.write_meta("[1, 2]"), "-o", env.fresh() / "m")


@case("cli-meta-missing-file", "ghost.json")
def _(env: Env) -> Outcome:
    return cli(env, "fit", env.src, "--metadata", env.root / "ghost.json", "-o", env.fresh() / "m")


@case("cli-meta-is-folder", "src")
def _(env: Env) -> Outcome:
    return cli(env, "fit", env.src, "--metadata", env.src, "-o", env.fresh() / "m")


@case("api-meta-from-json-garbage", "json")
def _(env: Env) -> Outcome:
    from hiveframe.metadata import Metadata

    return api(lambda: Metadata.from_json("{nope"))


def sdv_meta(sdtype: str = "numerical") -> dict[str, Any]:
    return {"METADATA_SPEC_VERSION": "MULTI_TABLE_V1", "tables": {
        "parent": {"primary_key": "id", "columns": {
            "id": {"sdtype": "id"}, "name": {"sdtype": "categorical"},
            "amount": {"sdtype": sdtype}, "kind": {"sdtype": "categorical"}}},
        "child": {"columns": {"cid": {"sdtype": "id"}, "parent_id": {"sdtype": "id"},
                              "value": {"sdtype": "numerical"},
                              "day": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}}}},
        "relationships": [{"parent_table_name": "parent", "parent_primary_key": "id",
                           "child_table_name": "child", "child_foreign_key": "parent_id"}]}


@case("cli-sdv-unknown-sdtype", "amount", "banana", warn=True)
def _(env: Env) -> Outcome:
    return fit_meta(env, env.src, sdv_meta("banana"))


@case("api-sdv-unknown-sdtype", "amount", "banana", warn=True)
def _(env: Env) -> Outcome:
    from hiveframe.metadata import from_sdv

    return api(lambda: from_sdv(sdv_meta("banana")))


@case("api-sdv-relationship-unknown-table", "ghost")
def _(env: Env) -> Outcome:
    from hiveframe.metadata import from_sdv

    data = sdv_meta()
    data["relationships"][0]["parent_table_name"] = "ghost"
    return api(lambda: from_sdv(data))


@case("api-sdv-tables-list", "tables")
def _(env: Env) -> Outcome:
    from hiveframe.metadata import from_sdv

    data = sdv_meta()
    data["tables"] = list(data["tables"].values())
    return api(lambda: from_sdv(data))


# -- flags ----------------------------------------------------------------------------------------
def sample(env: Env, *extra: Any, model: Path | None = None) -> Outcome:
    return cli(env, "sample", model or env.model, "-o", env.fresh() / "out", "-q", *extra)


def fit(env: Env, *extra: Any, source: Path | None = None) -> Outcome:
    return cli(env, "fit", source or env.src, "--metadata", env.meta, "-o", env.fresh() / "m", "-q", *extra)


_FLAG_CASES: list[tuple[str, Callable[[Env], Outcome], tuple[str, ...]]] = [
    ("sample-scale-inf", lambda env: sample(env, "--scale", "inf"), ("--scale", "inf")),
    ("sample-scale-nan", lambda env: sample(env, "--scale", "nan"), ("--scale", "nan")),
    ("sample-scale-negative", lambda env: sample(env, "--scale", "-1"), ("--scale",)),
    ("sample-scale-word", lambda env: sample(env, "--scale", "big"), ("--scale", "big")),
    ("sample-scale-1e7", lambda env: sample(env, "--scale", "1e7"), ("scale", "memory")),
    ("sample-scale-1e12", lambda env: sample(env, "--scale", "1e12"), ("scale", "memory")),
    ("sample-rows-unknown-table", lambda env: sample(env, "--rows", "ghost=5"), ("ghost",)),
    ("sample-rows-child-table", lambda env: sample(env, "--rows", "child=5"), ("child",)),
    ("sample-rows-float", lambda env: sample(env, "--rows", "parent=1.5"), ("parent=1.5",)),
    ("sample-rows-huge", lambda env: sample(env, "--rows", "parent=100000000000"), ("parent", "memory")),
    ("sample-seed-word", lambda env: sample(env, "--seed", "abc"), ("--seed", "abc")),
    ("sample-seed-negative", lambda env: sample(env, "--seed", "-1"), ("seed", "-1")),
    ("sample-format-xlsx", lambda env: sample(env, "--format", "xlsx"), ("--format", "xlsx")),
    ("sample-partitions-without-spark", lambda env: sample(env, "--partitions", "4"), ("--partitions", "spark")),
    ("sample-partitions-zero", lambda env: sample(env, "--engine", "spark", "--partitions", "0"),
     ("--partitions",)),
    ("sample-engine-banana", lambda env: sample(env, "--engine", "banana"), ("--engine", "banana")),
    ("sample-master-without-spark", lambda env: sample(env, "--master", "local[4]"), ("--master", "spark")),
    ("fit-target-without-report", lambda env: fit(env, "--target", "parent.amount"), ("--target", "--report")),
    ("fit-generator-unknown", lambda env: fit(env, "--generator", "gausian_copula"), ("gausian_copula",)),
    ("fit-param-unknown", lambda env: fit(env, "--param", "epochz=3"), ("epochz",)),
    ("fit-table-param-unknown-table", lambda env: fit(env, "--table-param", "ghost.x=1"), ("ghost",)),
    ("fit-table-param-unknown-key", lambda env: fit(env, "--table-param", "parent.epochz=1"),
     ("parent", "epochz")),
    ("fit-seed-word", lambda env: fit(env, "--seed", "abc"), ("--seed", "abc")),
    ("fit-null-handling-banana", lambda env: fit(env, "--null-handling", "banana"), ("banana",)),
    ("fit-null-handling-unknown-table", lambda env: fit(env, "--null-handling", "ghost=drop"), ("ghost",)),
    ("fit-dp-negative-epsilon", lambda env: fit(env, "--dp", "epsilon=-1"), ("epsilon",)),
    ("fit-dp-no-epsilon", lambda env: fit(env, "--dp", "delta=1e-5"), ("epsilon",)),
    ("fit-dp-epsilon-word", lambda env: fit(env, "--dp", "epsilon=lots"), ("epsilon", "lots")),
    ("fit-pii-strategy-banana", lambda env: fit(env, "--pii-strategy", "parent.name=banana"),
     ("parent.name", "banana")),
    ("fit-pii-default-banana", lambda env: fit(env, "--pii", "default_strategy=banana"), ("banana",)),
    ("fit-param-malformed", lambda env: fit(env, "--param", "epochs"), ("epochs",)),
    ("fit-table-param-malformed", lambda env: fit(env, "--table-param", "epochs=3"), ("epochs=3",)),
    # table parameters insist on ctgan for the small fixture table (else it gets the copula)
    ("fit-ctgan-batch-not-pac", lambda env: fit(env, "--generator", "ctgan", "--param", "epochs=1",
                                                "--table-param", "child.batch_size=15",
                                                "--table-param", "child.pac=10"),
     ("batch_size", "pac")),
    ("fit-ctgan-negative-dim", lambda env: fit(env, "--generator", "ctgan", "--param", "epochs=1",
                                               "--param", "generator_dim=[-4]"), ("generator_dim",)),
    ("fit-ctgan-zero-epochs", lambda env: fit(env, "--generator", "ctgan", "--param", "epochs=0"), ("epochs",)),
    ("fit-ctgan-negative-lr", lambda env: fit(env, "--generator", "ctgan", "--param", "epochs=1",
                                              "--param", "generator_lr=-1"), ("generator_lr",)),
    ("fit-ctgan-batch-word", lambda env: fit(env, "--generator", "ctgan", "--param", "batch_size=big"),
     ("batch_size", "big")),
    ("fit-ctgan-embedding-zero", lambda env: fit(env, "--generator", "ctgan", "--param", "epochs=1",
                                                 "--param", "embedding_dim=0"), ("embedding_dim",)),
    ("fit-block-unknown-plugin", lambda env: fit(env, "--block-plugin", "ghostplugin"), ("ghostplugin",)),
    ("fit-checkpoint-without-dir", lambda env: fit(env, "--resume"), ("--resume", "--checkpoint-dir")),
]
_WARNED_FLAGS = {"fit-ctgan-batch-not-pac", "fit-block-unknown-plugin"}  # handled, with a warning
for _name, _run, _culprits in _FLAG_CASES:
    CASES.append(Case(f"cli-{_name}", _run, _culprits, warn=_name in _WARNED_FLAGS))


def _sample_api(env: Env, **kwargs: Any) -> Outcome:
    model = fitted(env)
    return api(lambda: model.sample(**kwargs))


_API_FLAG_CASES: list[tuple[str, Callable[[Env], Outcome], tuple[str, ...]]] = [
    ("sample-scale-nan", lambda env: _sample_api(env, scale=math.nan), ("scale", "nan")),
    ("sample-scale-inf", lambda env: _sample_api(env, scale=math.inf), ("scale", "inf")),
    ("sample-scale-str", lambda env: _sample_api(env, scale="2"), ("scale", "'2'")),
    ("sample-scale-negative", lambda env: _sample_api(env, scale=-2), ("scale", "-2")),
    ("sample-scale-1e7", lambda env: _sample_api(env, scale=1e7), ("scale", "memory")),
    ("sample-scale-list", lambda env: _sample_api(env, scale=[1]), ("scale",)),
    ("sample-rows-negative", lambda env: _sample_api(env, rows={"parent": -1}), ("parent", "-1")),
    ("sample-rows-float", lambda env: _sample_api(env, rows={"parent": 1.5}), ("parent", "1.5")),
    ("sample-rows-unknown", lambda env: _sample_api(env, rows={"ghost": 1}), ("ghost",)),
    ("sample-rows-child", lambda env: _sample_api(env, rows={"child": 3}), ("child",)),
    ("sample-rows-list", lambda env: _sample_api(env, rows=[("parent", 3)]), ("rows",)),
    ("sample-seed-str", lambda env: _sample_api(env, seed="abc"), ("seed", "abc")),
    ("sample-seed-float", lambda env: _sample_api(env, seed=1.5), ("seed", "1.5")),
    ("synth-seed-str", lambda env: api(lambda: synth(env, seed="abc")), ("seed", "abc")),
    ("synth-seed-negative", lambda env: api(lambda: synth(env, seed=-3).fit(database(env))), ("seed", "-3")),
    ("synth-seed-float", lambda env: api(lambda: synth(env, seed=2.5)), ("seed", "2.5")),
    ("synth-generator-unknown", lambda env: api(lambda: synth(env, generator="nope")), ("nope",)),
    ("synth-generators-unknown-table", lambda env: api(lambda: synth(env, generators={"ghost": "gaussian_copula"})
                                                       .fit(database(env))), ("ghost",)),
    ("synth-max-context-negative", lambda env: api(lambda: synth(env, max_context_columns=-1)),
     ("max_context_columns",)),
    ("synth-max-context-str", lambda env: api(lambda: synth(env, max_context_columns="x")),
     ("max_context_columns",)),
    ("synth-linkage-banana", lambda env: api(lambda: synth(env, linkage="banana")), ("banana",)),
    ("synth-null-handling-banana", lambda env: api(lambda: synth(env, null_handling="banana")), ("banana",)),
    ("synth-transformer-unknown", lambda env: api(lambda: synth(env, transformers={"parent.amount": "nope"})
                                                  .fit(database(env))), ("nope",)),
    ("synth-transformer-unknown-column", lambda env: api(lambda: synth(env, transformers={
        "parent.ghost": "onehot"}).fit(database(env))), ("parent.ghost",)),
    ("synth-generator-params-unknown", lambda env: api(lambda: synth(env, generator_params={"epochz": 1})
                                                       .fit(database(env))), ("epochz",)),
    ("synth-dp-not-mapping", lambda env: api(lambda: synth(env, dp=3)), ("dp",)),
    ("synth-fit-not-data", lambda env: api(lambda: synth(env).fit(42)), ("int",)),
    ("synth-fit-missing-path", lambda env: api(lambda: synth(env).fit(str(env.root / "ghost"))), ("ghost",)),
    ("synth-unfitted-sample", lambda env: api(lambda: synth(env).sample()), ("fit",)),
    ("synth-unfitted-save", lambda env: api(lambda: synth(env).save(env.fresh() / "m")), ("fit",)),
    ("ctgan-negative-generator-dim", lambda env: api(lambda: ctgan_fit(env, generator_dim=(-4,))),
     ("generator_dim",)),
    ("ctgan-negative-discriminator-dim", lambda env: api(lambda: ctgan_fit(env, discriminator_dim=(8, -1))),
     ("discriminator_dim",)),
    ("ctgan-pac-zero", lambda env: api(lambda: ctgan_fit(env, pac=0)), ("pac",)),
    ("ctgan-batch-zero", lambda env: api(lambda: ctgan_fit(env, batch_size=0)), ("batch_size",)),
    ("ctgan-epochs-negative", lambda env: api(lambda: ctgan_fit(env, epochs=-1)), ("epochs",)),
    ("ctgan-generator-dim-str", lambda env: api(lambda: ctgan_fit(env, generator_dim="big")), ("generator_dim",)),
]
for _name, _run, _culprits in _API_FLAG_CASES:
    CASES.append(Case(f"api-{_name}", _run, _culprits))


def ctgan_fit(env: Env, *, discrete: bool = True, **params: Any) -> None:
    from hiveframe.components import Database
    from hiveframe.pipeline import Synthesizer

    table = pa.table({"x": [float(i) for i in range(40)], "y": [float(i % 7) * 0.5 for i in range(40)]})
    if discrete:
        table = table.append_column("k", pa.array(["ab"[i % 2] for i in range(40)]))
    options = {"epochs": 1, "batch_size": 20, "pac": 2, **params}
    # named for the table: ctgan insisted on (a 40-row table would otherwise get the copula)
    synthetic = Synthesizer(generators={"t": "ctgan"}, table_params={"t": options}).fit(Database({"t": table})).sample()
    assert synthetic["t"].num_rows == 40 and synthetic["t"].column_names == table.column_names


CASES.append(Case("api-ctgan-batch-not-pac", lambda env: api(lambda: ctgan_fit(env, batch_size=15, pac=10)),
                  ("batch_size", "pac"), warn=True))
CASES.append(Case("api-ctgan-no-discrete-fits", lambda env: api(lambda: ctgan_fit(env, discrete=False)),
                  ("t",), ok=lambda env: True))


# -- model folders --------------------------------------------------------------------------------
def broken_model(edit: Callable[[Path], None]) -> Callable[[Env], Path]:
    def make(env: Env) -> Path:
        model = env.model_copy()
        edit(model)
        return model
    return make


def _manifest(model: Path) -> dict[str, Any]:
    return json.loads((model / "manifest.json").read_text())


def _edit_manifest(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        import hashlib

        data = _manifest(model)
        data.pop("manifest_digest")
        change(data)  # a crafted model: the digest is recomputed, as anyone can
        data["manifest_digest"] = hashlib.sha256(json.dumps(data, indent=2, sort_keys=True).encode()).hexdigest()
        (model / "manifest.json").write_text(json.dumps(data))
    return edit


def _rm(name: str) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        path = model / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return edit


def _garble(name: str) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        (model / name).write_bytes(b"garbage" * 10)
    return edit


_MODEL_CASES: list[tuple[str, Callable[[Env], Path], tuple[str, ...]]] = [
    ("missing", lambda env: env.root / "ghost-model", ("ghost-model",)),
    ("is-a-file", lambda env: env.meta, ("meta.json",)),
    ("empty-folder", lambda env: env.fresh("m"), ("manifest",)),
    ("data-folder", lambda env: env.src, ("manifest",)),
    ("manifest-missing", broken_model(_rm("manifest.json")), ("manifest",)),
    ("manifest-garbage", broken_model(_garble("manifest.json")), ("manifest",)),
    ("manifest-array", broken_model(lambda m: (m / "manifest.json").write_text("[]")), ("manifest.json",)),
    ("metadata-missing", broken_model(_rm("metadata.json")), ("metadata.json",)),
    ("metadata-garbage", broken_model(_garble("metadata.json")), ("metadata.json",)),
    ("relational-npz-missing", broken_model(_rm("relational.npz")), ("relational.npz",)),
    ("relational-npz-garbage", broken_model(_garble("relational.npz")), ("relational.npz",)),
    ("relational-json-garbage", broken_model(_garble("relational.json")), ("relational.json",)),
    ("generator-npz-missing", broken_model(_rm("components/tables/parent/generator.npz")), ("parent",)),
    ("generator-json-garbage", broken_model(_garble("components/tables/child/generator.json")), ("child",)),
    ("components-missing", broken_model(_rm("components")), ("components",)),
    ("version-from-future", broken_model(_edit_manifest(lambda d: d.update(format_version=999))), ("version",)),
    ("plan-absolute-path", broken_model(_edit_manifest(
        lambda d: d.get("relational", {}).update(plan="/etc/passwd"))), ("relational",)),
    ("plan-dotdot-path", broken_model(_edit_manifest(
        lambda d: d.get("relational", {}).update(arrays="../../outside.npz"))), ("outside.npz",)),
]
for _name, _make, _culprits in _MODEL_CASES:
    CASES.append(Case(f"cli-model-{_name}", lambda env, m=_make: sample(env, model=m(env)), _culprits))
    CASES.append(Case(f"api-model-{_name}", lambda env, m=_make: api(
        lambda: __import__("hiveframe.pipeline", fromlist=["Synthesizer"]).Synthesizer.load(m(env)).sample()),
        _culprits))


# -- outputs --------------------------------------------------------------------------------------
def _readonly(env: Env) -> Path:
    """A folder on a "read-only filesystem": writes there fail with EROFS (see ``_failing_writes``)."""
    return env.fresh("ro")


@case("cli-detect-output-existing-folder", "out")
def _(env: Env) -> Outcome:
    out = env.fresh("d") / "out"
    out.mkdir()
    return cli(env, "detect", env.src, "-o", out)


@case("cli-detect-output-readonly", "readonly")
def _(env: Env) -> Outcome:
    ro = _readonly(env)
    with _read_only_fs():
        return cli(env, "detect", env.src, "-o", ro / "readonly" / "meta.json")


@case("cli-detect-output-under-file", "meta.json")
def _(env: Env) -> Outcome:
    return cli(env, "detect", env.src, "-o", env.meta / "x.json")


@case("cli-fit-output-readonly", "ro")
def _(env: Env) -> Outcome:
    ro = _readonly(env)
    with _read_only_fs():
        return cli(env, "fit", env.src, "--metadata", env.meta, "-o", ro / "model", "-q")


@case("cli-fit-output-is-file", "meta.json")
def _(env: Env) -> Outcome:
    target = env.fresh("f") / "meta.json"
    target.write_text("{}")
    return cli(env, "fit", env.src, "--metadata", env.meta, "-o", target, "-q")


@case("cli-fit-output-under-file", "meta.json")
def _(env: Env) -> Outcome:
    return cli(env, "fit", env.src, "--metadata", env.meta, "-o", env.meta / "model", "-q")


@case("cli-fit-disk-full", "no space")
def _(env: Env) -> Outcome:
    model = env.fresh() / "m"
    with _disk_full():
        return cli(env, "fit", env.src, "--metadata", env.meta, "-o", model, "-q")


@case("api-save-disk-full", "no space")
def _(env: Env) -> Outcome:
    model, target = fitted(env), env.fresh() / "m"
    with _disk_full():
        return api(lambda: model.save(target))


@case("api-save-readonly", "ro")
def _(env: Env) -> Outcome:
    model = fitted(env)
    ro = _readonly(env)
    with _read_only_fs():
        return api(lambda: model.save(ro / "m"))


@case("cli-sample-output-readonly", "ro")
def _(env: Env) -> Outcome:
    ro = _readonly(env)
    with _read_only_fs():
        return cli(env, "sample", env.model, "-o", ro / "out", "-q")


@case("cli-sample-output-readonly-sqlite", "ro")
def _(env: Env) -> Outcome:
    ro = _readonly(env)
    with _read_only_fs():
        return cli(env, "sample", env.model, "-o", ro / "out.sqlite", "-q")


@case("cli-sample-output-under-file", "meta.json")
def _(env: Env) -> Outcome:
    return cli(env, "sample", env.model, "-o", env.meta / "out", "-q")


@case("cli-sample-disk-full", "no space")
def _(env: Env) -> Outcome:
    out = env.fresh() / "out"
    with _disk_full():
        return cli(env, "sample", env.model, "-o", out, "-q")


@case("cli-sample-sqlite-format-to-folder", "sqlite")
def _(env: Env) -> Outcome:
    out = env.fresh("o") / "out"
    out.mkdir()
    return cli(env, "sample", env.model, "-o", out, "--format", "sqlite", "-q")


@case("cli-sample-output-is-garbage-sqlite", "out.sqlite")
def _(env: Env) -> Outcome:
    out = env.fresh("o") / "out.sqlite"
    out.write_bytes(b"not a database" * 100)
    return cli(env, "sample", env.model, "-o", out, "-q")


@case("api-write-unknown-format", "xlsx")
def _(env: Env) -> Outcome:
    from hiveframe.pipeline import write

    db = fitted(env).sample()
    return api(lambda: write(db, str(env.fresh() / "out"), format="xlsx"))


@case("cli-report-missing-synthetic", "ghost")
def _(env: Env) -> Outcome:
    return cli(env, "report", env.src, env.root / "ghost", "-o", env.fresh() / "r")


@case("cli-fit-report-readonly", "ro")
def _(env: Env) -> Outcome:
    ro, model = _readonly(env), env.fresh() / "m"
    with _read_only_fs():
        return cli(env, "fit", env.src, "--metadata", env.meta, "-o", model, "-q", "--report", ro / "report")


def _disk_full() -> contextlib.AbstractContextManager[None]:
    return _failing_writes(errno.ENOSPC)


def _read_only_fs() -> contextlib.AbstractContextManager[None]:
    return _failing_writes(errno.EROFS)


@contextlib.contextmanager
def _failing_writes(code: int) -> Iterator[None]:
    """Every file opened for writing fails with ``code`` (ENOSPC: a full disk; EROFS: a read-only
    filesystem). The tests may run as root, for whom a chmod-ed folder is still writable."""
    real_open = open
    real_mkdir = Path.mkdir
    import builtins

    def failing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(m in mode for m in "wax+"):
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, mode, *args, **kwargs)

    def failing_write(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code), str(self))

    def failing_mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if code == errno.EROFS and not self.exists():
            raise OSError(code, os.strerror(code), str(self))
        real_mkdir(self, *args, **kwargs)

    real_connect = sqlite3.connect

    def failing_connect(database: Any, *args: Any, **kwargs: Any) -> Any:
        if "mode=ro" in str(database):
            return real_connect(database, *args, **kwargs)
        reason = "database or disk is full" if code == errno.ENOSPC else "attempt to write a readonly database"
        raise sqlite3.OperationalError(reason)

    import io as _io

    patches = [(sqlite3, "connect", failing_connect), (builtins, "open", failing_open), (_io, "open", failing_open),
               (Path, "write_text", failing_write), (Path, "write_bytes", failing_write),
               (Path, "mkdir", failing_mkdir)]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


# -- the tests ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("bad_input")
    yield build_env(root)


def test_enough_cases() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, env: Env) -> None:
    outcome = case.run(env)
    result = verdict(case, outcome, env)
    assert result == "good", f"[{result}] culprits {case.culprits}:\n{outcome.text}"


def tally() -> dict[str, list[str]]:
    """Run every case once and group the ids by verdict (``python tests/test_bad_input.py``)."""
    out: dict[str, list[str]] = {"good": [], "partial": [], "traceback": [], "silent": []}
    with tempfile.TemporaryDirectory() as tmp:
        environment = build_env(Path(tmp))
        for c in CASES:
            outcome = c.run(environment)
            result = verdict(c, outcome, environment)
            out[result].append(c.id)
            if "-v" in sys.argv:
                first = outcome.text.strip().splitlines()[:1]
                print(f"{result:9s} {c.id}: {first[0][:160] if first else ''}", flush=True)
    return out


if __name__ == "__main__":  # pragma: no cover
    import resource

    # a case that tries to allocate the impossible fails with MemoryError instead of taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    result = tally()
    verbose = "-v" in sys.argv
    for name, ids in result.items():
        print(f"{name:10s} {len(ids)}")
        if verbose:
            for i in ids:
                print(f"    {i}")
    print(f"{'total':10s} {sum(len(v) for v in result.values())}")
