"""The `hiveframe` command line: its exact shape, the main jobs on real data, and every bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from hiveframe.cli import build_parser, main

PLUGIN_WARNING = "unavailable ("  # the host's one-line warning about unavailable plugins


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def single_error(err: str, command: str) -> str:
    """The one error message on stderr (the plugin host may add its own warning lines before it)."""
    lines = [line for line in err.splitlines() if line.startswith("hiveframe ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hiveframe {command}: error: "), err
    assert "Traceback" not in err
    return err[err.index(lines[0]):]


# -- parsing --------------------------------------------------------------------------------------
def test_parser_shape():
    parser = build_parser()
    args = parser.parse_args(["fit", "src", "--metadata", "m.json", "-o", "model", "--generator", "ctgan",
                              "--param", "epochs=5", "--param", "lr=0.001", "--param", "name=abc",
                              "--param", "dims=[64, 64]", "--param", "flag=true", "--param", "eq=a=b",
                              "--table-param", "Track.epochs=3", "--table-param", "my.table.batch=10",
                              "--seed", "7", "--drop-orphans"])
    assert args.param == [("epochs", 5), ("lr", 0.001), ("name", "abc"), ("dims", [64, 64]), ("flag", True),
                          ("eq", "a=b")]
    assert args.table_param == [("Track", "epochs", 3), ("my.table", "batch", 10)]
    assert (args.seed, args.drop_orphans, args.generator, args.metadata) == (7, True, "ctgan", "m.json")

    args = parser.parse_args(["sample", "model", "-o", "out.sqlite", "--rows", "Artist=10", "--rows",
                              "Customer=0", "--seed", "3", "--format", "sqlite"])
    assert args.rows == [("Artist", 10), ("Customer", 0)] and args.scale is None and args.format == "sqlite"
    assert parser.parse_args(["sample", "m", "-o", "o", "--scale", "0.5"]).scale == 0.5


def test_global_options_before_or_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--debug", "-v", "--block-plugin", "ctgan", "plugins"])
    after = parser.parse_args(["plugins", "--debug", "--verbose", "--block-plugin", "ctgan", "--block-plugin", "x"])
    assert before.debug and before.verbose and before.block_plugin == ["ctgan"]
    assert after.debug and after.verbose and after.block_plugin == ["ctgan", "x"]
    assert not hasattr(parser.parse_args(["plugins"]), "debug")


@pytest.mark.parametrize("argv", [
    ["fit", "src", "-o", "m", "--param", "epochs"],
    ["fit", "src", "-o", "m", "--table-param", "epochs=3"],
    ["sample", "m", "-o", "o", "--scale", "0"],
    ["sample", "m", "-o", "o", "--scale", "2", "--rows", "a=1"],
    ["sample", "m", "-o", "o", "--rows", "a=-1"],
    ["sample", "m", "-o", "o", "--format", "xlsx"],
    ["fit", "src"],
    [],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


# -- plugins --------------------------------------------------------------------------------------
def test_plugins_lists_versions_sources_status_and_components(capsys):
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    assert out.splitlines()[0] == "builtin 0.1.0 (builtin): ok"
    assert "    table generator: gaussian_copula" in out
    assert "    reader: " in out and "    writer: " in out


def test_plugins_shows_an_unavailable_plugin_with_its_extra(capsys, fake_distribution, monkeypatch):
    monkeypatch.setattr("hiveframe.plugins._WARNED", set())  # the warning is said once per process
    fake_distribution("hiveframe-gpu", {"gpu": "hf_gpu_plugin"}, version="0.3.0",
                      modules={"hf_gpu_plugin": "import not_a_real_module\n"},
                      requires=['not-a-real-module>=1; extra == "gpu"'])
    code, out, err = run(capsys, "plugins")
    assert code == 0
    assert "gpu 0.3.0 (entry point): unavailable: install hiveframe-gpu[gpu]" in out
    assert len([line for line in err.splitlines() if "'gpu'" in line]) == 1  # one warning
    assert PLUGIN_WARNING in err
    assert "Traceback" not in err


def test_plugins_shows_unavailable_components(capsys, fake_distribution):
    source = '''
from typing import ClassVar
import attrs
from hiveframe.hookspecs import hookimpl
from hiveframe.testing.reference import ResampleGenerator

@attrs.define(kw_only=True, eq=False)
class Heavy(ResampleGenerator):
    name: ClassVar[str] = "heavy_gen"
    requires: ClassVar[tuple] = ("not_a_real_module",)
    extra: ClassVar = "heavy"

@hookimpl
def hiveframe_register_table_generators():
    return [Heavy]
'''
    fake_distribution("hiveframe", {"heavy": "hf_heavy_plugin"}, version="0.1.0",
                      modules={"hf_heavy_plugin": source})
    code, out, _ = run(capsys, "plugins")
    assert "heavy 0.1.0 (entry point): unavailable: install hiveframe[heavy]" in out
    assert "    table generator: heavy_gen (unavailable)" in out
    code, out, _ = run(capsys, "plugins", "--json")
    heavy = next(p for p in json.loads(out) if p["name"] == "heavy")
    assert heavy["status"] == "unavailable"
    assert heavy["components"] == {"table_generator": [{"name": "heavy_gen", "available": False}]}


def test_plugins_blocked_by_option_and_environment(capsys, fake_distribution, monkeypatch):
    fake_distribution("hf-blockme", {"blockme": "hf_blockme_plugin"}, modules={"hf_blockme_plugin": ""})
    monkeypatch.delenv("HIVEFRAME_BLOCK_PLUGINS", raising=False)
    assert "blockme 0.0.1 (entry point): ok" in run(capsys, "plugins")[1]
    out = run(capsys, "plugins", "--block-plugin", "blockme")[1]
    assert "blockme 0.0.1 (entry point): blocked" in out
    monkeypatch.setenv("HIVEFRAME_BLOCK_PLUGINS", "blockme")
    assert "blockme 0.0.1 (entry point): blocked" in run(capsys, "plugins")[1]


# -- detect, fit, sample on real data -------------------------------------------------------------
@pytest.fixture(scope="module")
def chinook_model(tmp_path_factory, chinook_path):
    """`hiveframe detect` and `hiveframe fit` on Chinook, once for the module."""
    root = tmp_path_factory.mktemp("chinook")
    assert main(["detect", str(chinook_path), "-o", str(root / "metadata.json")]) == 0
    assert main(["fit", str(chinook_path), "--metadata", str(root / "metadata.json"), "-o", str(root / "model"),
                 "--seed", "1", "-q"]) == 0
    return root


def test_detect_chinook(capsys, chinook_path, tmp_path):
    code, out, _ = run(capsys, "detect", chinook_path, "-o", tmp_path / "meta.json")
    assert code == 0
    assert out.splitlines()[0] == "11 table(s), 11 foreign key(s)"
    assert "  InvoiceLine(InvoiceId) -> Invoice(InvoiceId)" in out
    assert "  Employee(ReportsTo) -> Employee(EmployeeId)" in out
    assert f"metadata written to {tmp_path / 'meta.json'}" in out
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["spec_version"] == 1
    assert sorted(meta["tables"]["PlaylistTrack"]["primary_key"]) == ["PlaylistId", "TrackId"]


def test_detect_prints_json_without_output(capsys, shared_data):
    code, out, err = run(capsys, "detect", shared_data / "census_adult")
    assert code == 0
    meta = json.loads(out)
    assert list(meta["tables"]) == ["census"] and meta["foreign_keys"] == []
    assert meta["tables"]["census"]["columns"]["income"]["kind"] == "categorical"
    assert "1 table(s), 0 foreign key(s)" in err


def test_fit_and_sample_chinook_to_sqlite(chinook_model, chinook_path, tmp_path, capsys):
    out_file = tmp_path / "synthetic.sqlite"
    code, out, err = run(capsys, "sample", chinook_model / "model", "-o", out_file, "--seed", "3")
    assert code == 0
    assert "(sqlite)" in out
    assert "[11/11] sampled" in err  # per-table progress on stderr
    real, synth = sqlite3.connect(chinook_path), sqlite3.connect(out_file)
    try:
        tables = [r[0] for r in real.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        synth_tables = [r[0] for r in synth.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        assert [t for t in synth_tables if not t.startswith("_hiveframe")] == tables
        for t in tables:
            cols_real = [r[1] for r in real.execute(f'PRAGMA table_info("{t}")')]
            cols_synth = [r[1] for r in synth.execute(f'PRAGMA table_info("{t}")')]
            assert cols_synth == cols_real, t
        assert synth.execute("PRAGMA foreign_key_check").fetchall() == []
        declared = sum(len(synth.execute(f'PRAGMA foreign_key_list("{t}")').fetchall()) for t in tables)
        assert declared == 11
        genres_real = {r[0] for r in real.execute("SELECT Name FROM Genre")}
        genres_synth = {r[0] for r in synth.execute("SELECT Name FROM Genre")}
        assert genres_synth <= genres_real
    finally:
        real.close()
        synth.close()


def test_sample_rows_and_formats(chinook_model, tmp_path, capsys):
    for fmt in ("parquet", "jsonl"):  # csv: tests/testing/test_thirdparty.py
        folder = tmp_path / fmt
        code, out, _ = run(capsys, "sample", chinook_model / "model", "-o", folder, "--rows", "Artist=20",
                           "--rows", "Genre=5", "--format", fmt, "--seed", "1", "-q")
        assert code == 0, out
        assert f"({fmt})" in out
        names = {p.name.split(".")[0] for p in folder.iterdir() if not p.name.startswith("_")}
        assert {"Artist", "Album", "Track", "InvoiceLine"} <= names
    artists = pq.read_table(tmp_path / "parquet" / "Artist.parquet")
    assert artists.num_rows == 20


@pytest.fixture(scope="module")
def census_model(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("census")
    assert main(["fit", str(shared_data / "census_adult"), "-o", str(root / "model"), "--seed", "1", "-q"]) == 0
    return root / "model"


def test_census_round_trip_keeps_schema_domains_and_null_rates(census_model, shared_data, tmp_path, capsys):
    code, _, _ = run(capsys, "sample", census_model, "-o", tmp_path / "out", "--seed", "5", "-q")
    assert code == 0
    import hiveframe

    real = hiveframe.read(shared_data / "census_adult")["census"]  # as hiveframe sees it: "?" read as null
    assert real.column("workclass").null_count > 2000
    synth = pq.read_table(tmp_path / "out" / "census.parquet")
    assert synth.num_rows == real.num_rows
    assert synth.schema.names == real.schema.names
    for field in real.schema:
        col_real, col_synth = real.column(field.name), synth.column(field.name)
        assert synth.schema.field(field.name).type == field.type, field.name
        if pa.types.is_string(field.type):
            assert set(col_synth.drop_null().to_pylist()) <= set(col_real.drop_null().to_pylist()), field.name
        else:
            lo, hi = pc.min(col_real).as_py(), pc.max(col_real).as_py()
            assert lo <= pc.min(col_synth).as_py() and pc.max(col_synth).as_py() <= hi, field.name
            mean_real, mean_synth = pc.mean(col_real).as_py(), pc.mean(col_synth).as_py()
            spread = pc.stddev(col_real).as_py()
            assert abs(mean_real - mean_synth) < 0.25 * spread, field.name
        assert abs(col_real.null_count - col_synth.null_count) / real.num_rows < 0.02, field.name
    share_real = pc.mean(pc.equal(real.column("income"), ">50K")).as_py()
    share_synth = pc.mean(pc.equal(synth.column("income"), ">50K")).as_py()
    assert abs(share_real - share_synth) < 0.05


def test_same_seed_same_output(census_model, tmp_path, capsys):
    for name in ("a", "b", "c"):
        seed = "9" if name != "c" else "10"
        assert run(capsys, "sample", census_model, "-o", tmp_path / name, "--seed", seed, "--scale", "0.05",
                   "-q")[0] == 0
    a, b, c = (pq.read_table(tmp_path / n / "census.parquet") for n in "abc")
    assert a.num_rows == round(48842 * 0.05)
    assert a.equals(b)
    assert not a.equals(c)


# -- outputs: never over the user's data, whole or not at all ------------------------------------
TINY_USERS = "id,age,name\n1,30,a\n2,40,b\n3,50,a\n4,35,c\n5,41,b\n6,29,a\n"
TINY_ORDERS = "oid,user_id,amt\n1,1,3.5\n2,2,4.5\n3,2,1.0\n4,3,2.0\n5,5,9.0\n6,6,1.5\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A two-table source folder and a model fitted from it (seed 1), plus the same fitted with seed 2."""
    root = tmp_path_factory.mktemp("tiny")
    write_files(root / "src", {"users.csv": TINY_USERS, "orders.csv": TINY_ORDERS})
    for name, seed in (("model", "1"), ("model-seed2", "2")):
        assert main(["fit", str(root / "src"), "-o", str(root / name), "--seed", seed, "-q"]) == 0
    return root


def _same_run_catalog(text: str) -> str:
    """A catalog entry without what differs between two runs of the same command (its id and time)."""
    entry = json.loads(text)
    return json.dumps({k: v for k, v in entry.items() if k not in ("dataset_id", "created")}, sort_keys=True)


def _snapshot_file(file: Path) -> bytes:
    if file.name == "_catalog.json":
        return _same_run_catalog(file.read_text()).encode()
    if file.suffix == ".parquet":
        table = pq.read_table(file)
        meta = dict(table.schema.metadata or {})
        if b"hiveframe.catalog" in meta:
            meta[b"hiveframe.catalog"] = _same_run_catalog(meta[b"hiveframe.catalog"].decode()).encode()
        return repr((table.replace_schema_metadata(None).to_pydict(), sorted(meta.items()))).encode()
    return file.read_bytes()


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under a folder (or the rows of a SQLite file), to compare whole outputs; the catalog
    entry's id and creation time, which differ between runs by design, are left out."""
    if path.is_file():
        conn = sqlite3.connect(path)
        try:
            lines = []
            for line in conn.iterdump():
                if line.startswith('INSERT INTO "_hiveframe_provenance" VALUES(\'catalog\','):
                    value = conn.execute("SELECT value FROM _hiveframe_provenance WHERE key = 'catalog'").fetchone()[0]
                    line = "catalog: " + _same_run_catalog(value)
                lines.append(line)
            return {"dump": "\n".join(lines).encode()}
        finally:
            conn.close()
    return {p.relative_to(path).as_posix(): _snapshot_file(p) for p in sorted(path.rglob("*")) if p.is_file()}


def test_sample_never_writes_over_the_source_or_the_model(tiny, tmp_path, capsys):
    before = snapshot(tiny / "src"), snapshot(tiny / "model")
    for out, what in ((tiny / "src", "the source the model was fitted from"), (tiny / "model", "the model folder"),
                      (tiny / "model" / "out", "inside the model folder")):
        for extra in ((), ("--overwrite",), ("--format", "csv")):
            code, _, err = run(capsys, "sample", tiny / "model", "-o", out, *extra)
            assert code == 2 and what in single_error(err, "sample")
    assert (snapshot(tiny / "src"), snapshot(tiny / "model")) == before


def test_sample_never_replaces_unrelated_files(tiny, tmp_path, capsys):
    folder = write_files(tmp_path / "real", {"users.csv": "id\n1\n", "orders.csv": "oid\n1\n"})
    database = tmp_path / "real.sqlite"
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE _hiveframe_provenance (key TEXT, value TEXT)")
    conn.commit()
    conn.close()
    before = snapshot(folder), snapshot(database)
    for out, extra in ((folder, ("--format", "csv")), (folder, ("--format", "csv", "--overwrite")), (database, ()),
                       (database, ("--overwrite",))):
        code, _, err = run(capsys, "sample", tiny / "model", "-o", out, *extra)
        message = single_error(err, "sample")
        assert code == 1 and ("orders.csv, users.csv" in message or "not written by hiveframe" in message)
        assert "hint:" in message
    assert (snapshot(folder), snapshot(database)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "real.sqlite"]


def test_sample_overwrite_replaces_a_hiveframe_output_whole(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "sample", tiny / "model", "-o", out, "--format", "csv", "-q")[0] == 0
    first = snapshot(out)
    assert run(capsys, "sample", tiny / "model", "-o", out, "--format", "csv", "-q")[0] == 0  # a rerun: its own
    assert snapshot(out) == first
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "sample", tiny / "model", "-o", out, "--seed", "2")
    assert code == 1 and "notes.txt" in single_error(err, "sample") and "--overwrite" in err
    assert run(capsys, "sample", tiny / "model", "-o", out, "--seed", "2", "--overwrite", "-q")[0] == 0
    assert sorted(snapshot(out)) == ["_catalog.json", "_provenance.json", "orders.parquet", "users.parquet"]
    assert json.loads((out / "_provenance.json").read_text())["provenance"]["seed"] == 2


def kill_at(points: list[tuple[str, bool]], argv_for) -> None:
    """Run the CLI once per crash point, all at once, each killing itself (SIGKILL) at its point."""
    procs = []
    for point, two_renames in points:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HIVEFRAME_TEST_KILL_AT": point}
        if two_renames:
            env["HIVEFRAME_TEST_NO_EXCHANGE"] = "1"
        procs.append(subprocess.Popen([sys.executable, "-m", "hiveframe.cli", *map(str, argv_for(point))], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for (point, _), proc in zip(points, procs, strict=True):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"{point}: not killed (exit {proc.returncode}): {err}"


def slug(point: str) -> str:
    return point.replace(":", "-")


# (crash point, swap with two renames instead of one exchange, what the path holds right after the kill)
FOLDER_KILLS = [("folder:table-0", False, "old"), ("folder:table-1", False, "old"), ("swap:exchanged", False, "new"),
                ("swap:old-aside", True, "missing"), ("swap:new-in", True, "new")]
SQLITE_KILLS = [("sqlite:table-0", False, "old"), ("sqlite:table-1", False, "old"),
                ("file:before-replace", False, "old")]
MODEL_KILLS = [("model:staged", False, "old"), ("swap:exchanged", False, "new"), ("swap:old-aside", True, "missing"),
               ("swap:new-in", True, "new")]


def check_killed_then_rerun(cases, path_of, reference, rerun, capsys) -> None:
    """Right after each kill the path holds the old or the new whole output (or, with two renames, it is
    missing with the old one beside it); the next run repairs and leaves no temporary file."""
    for point, _, expected in cases:
        path = path_of(point)
        if expected == "missing":
            assert not path.exists(), point
            assert [p.name for p in path.parent.iterdir() if ".hf-old-" in p.name], point
        else:
            assert snapshot(path) == reference[expected], point
        assert len(list(path.parent.iterdir())) > 1, f"{point}: the kill left nothing to clean up?"
        code, _, err = run(capsys, *rerun(path))
        assert code == 0, err
        if expected == "missing":
            assert "restored the previous output" in err
        assert "interrupted hiveframe run" in err or "interrupted replacement" in err, (point, err)
        assert snapshot(path) == reference["new"], point
        assert [p.name for p in path.parent.iterdir()] == [path.name], point


def test_kill_9_during_sample_to_a_folder(tiny, tmp_path, capsys):
    argv = ["sample", tiny / "model", "--format", "csv", "--seed"]
    reference = {}
    for seed, name in ((1, "old"), (2, "new")):
        assert run(capsys, *argv, seed, "-o", tmp_path / name, "-q")[0] == 0
        reference[name] = snapshot(tmp_path / name)
    assert reference["old"] != reference["new"]
    path_of = {point: tmp_path / slug(point) / "out" for point, _, _ in FOLDER_KILLS}
    for path in path_of.values():
        shutil.copytree(tmp_path / "old", path)
    kill_at([(p, two) for p, two, _ in FOLDER_KILLS], lambda point: [*argv, 2, "-o", path_of[point]])
    check_killed_then_rerun(FOLDER_KILLS, path_of.get, reference, lambda path: [*argv, 2, "-o", path], capsys)


def test_kill_9_during_sample_to_sqlite(tiny, tmp_path, capsys):
    argv = ["sample", tiny / "model", "--seed"]
    reference = {}
    for seed, name in ((1, "old"), (2, "new")):
        assert run(capsys, *argv, seed, "-o", tmp_path / f"{name}.sqlite", "-q")[0] == 0
        reference[name] = snapshot(tmp_path / f"{name}.sqlite")
    path_of = {point: tmp_path / slug(point) / "out.sqlite" for point, _, _ in SQLITE_KILLS}
    for path in path_of.values():
        path.parent.mkdir()
        shutil.copy(tmp_path / "old.sqlite", path)
    kill_at([(p, two) for p, two, _ in SQLITE_KILLS], lambda point: [*argv, 2, "-o", path_of[point]])
    check_killed_then_rerun(SQLITE_KILLS, path_of.get, reference, lambda path: [*argv, 2, "-o", path], capsys)


def test_kill_9_while_replacing_a_model(tiny, tmp_path, capsys):
    reference = {"old": snapshot(tiny / "model"), "new": snapshot(tiny / "model-seed2")}
    assert reference["old"] != reference["new"]
    path_of = {point: tmp_path / slug(point) / "model" for point, _, _ in MODEL_KILLS}
    for path in path_of.values():
        shutil.copytree(tiny / "model", path)
    argv = ["fit", tiny / "src", "--seed", "2", "-o"]
    kill_at([(p, two) for p, two, _ in MODEL_KILLS], lambda point: [*argv, path_of[point]])
    check_killed_then_rerun(MODEL_KILLS, path_of.get, reference, lambda path: [*argv, path], capsys)


def test_fit_with_table_params_and_drop_orphans(tmp_path, capsys):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "users.csv").write_text("id,age,city\n" + "".join(f"{i},{20 + i % 50},c{i % 4}\n" for i in range(1, 61)))
    (folder / "orders.csv").write_text("oid,user_id,amount\n" + "".join(
        f"{i},{(i % 70) + 1},{i * 1.5}\n" for i in range(1, 201)))
    meta = {"spec_version": 1, "tables": {
        "users": {"columns": {"id": {"kind": "id", "dtype": "int64", "nullable": False},
                              "age": {"kind": "numerical", "dtype": "int64"},
                              "city": {"kind": "categorical", "dtype": "string"}}, "primary_key": ["id"]},
        "orders": {"columns": {"oid": {"kind": "id", "dtype": "int64", "nullable": False},
                               "user_id": {"kind": "id", "dtype": "int64"},
                               "amount": {"kind": "numerical", "dtype": "double"}}, "primary_key": ["oid"]}},
        "foreign_keys": [{"child_table": "orders", "child_columns": ["user_id"], "parent_table": "users",
                          "parent_columns": ["id"]}]}
    (tmp_path / "meta.json").write_text(json.dumps(meta))

    code, _, err = run(capsys, "fit", folder, "--metadata", tmp_path / "meta.json", "-o", tmp_path / "m")
    assert code == 1
    message = single_error(err, "fit")
    assert "orders" in message and "user_id" in message and "orphan" in message
    assert "--drop-orphans" in message or "drop_orphans" in message

    code, out, err = run(capsys, "fit", folder, "--metadata", tmp_path / "meta.json", "-o", tmp_path / "m",
                         "--drop-orphans", "--table-param", "users.no_such_param=1")
    assert code == 2
    assert "no parameter" in single_error(err, "fit")

    code, out, err = run(capsys, "fit", folder, "--metadata", tmp_path / "meta.json", "-o", tmp_path / "m",
                         "--drop-orphans", "--table-param", "userz.x=1")
    assert code == 2
    assert "did you mean 'users'" in single_error(err, "fit")

    code, out, err = run(capsys, "fit", folder, "--metadata", tmp_path / "meta.json", "-o", tmp_path / "m",
                         "--drop-orphans", "-v")
    assert code == 0, err
    assert "orphan" in err  # how many rows were dropped is said
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["seed"] == 0


# -- demo and report ------------------------------------------------------------------------------
def test_demo(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "-o", tmp_path / "demo")
    assert code == 0, err
    demo = tmp_path / "demo"
    assert (demo / "chinook_synthetic.sqlite").is_file() and (demo / "model" / "manifest.json").is_file()
    assert "foreign_key_check: ok, 0 violation(s) over 11 declared foreign key(s)" in out
    track = next(line.split() for line in out.splitlines() if line.split()[:1] == ["Track"])
    assert track == ["Track", "3503", "3503"]  # table, real rows, synthetic rows
    assert (demo / "summary.txt").read_text().strip() == out.strip()
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["foreign_key_violations"] == 0 and len(summary["tables"]) == 11
    assert "/11] fitting Track" in err
    if summary["report"] is not None:  # the summary quotes the quality report's verdict, not only integrity
        report = json.loads((demo / "report" / "report.json").read_text())
        words = {"pass": "GOOD", "warn": "CHECK", "fail": "POOR"}
        assert f"quality report: {words[report['overall']['status']]} (" in out
        assert summary["report"]["overall"]["status"] == report["overall"]["status"]
    if summary["report"] is not None:  # paths name the folder the output was swapped into, not its staging
        assert summary["report"]["path"] == str(demo / "report" / "report.html")
    assert json.loads((demo / "_provenance.json").read_text())["kind"] == "demo"
    # running it again replaces the demo's own output
    assert run(capsys, "demo", "-o", demo, "-q")[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging left beside it


def test_demo_never_replaces_a_users_files(tmp_path, capsys):
    """Refused before any work: a user's file of the demo's own name, and one added to an earlier demo."""
    users = write_files(tmp_path / "mine", {"chinook_synthetic.sqlite": "my own database", "notes.txt": "mine"})
    earlier = write_files(tmp_path / "earlier", {"summary.txt": "demo"})
    write_files(earlier / "model", {"notes.txt": "mine"})
    (earlier / "_provenance.json").write_text(json.dumps({"written_by": "hiveframe", "kind": "demo",
                                                          "files": ["summary.txt"]}))
    before = snapshot(users), snapshot(earlier)
    for out, named in ((users, "chinook_synthetic.sqlite, notes.txt"), (earlier, "model/")):
        code, _, err = run(capsys, "demo", "-o", out)
        message = single_error(err, "demo")
        assert code == 1 and f"hiveframe did not write: {named}" in message and "hint: " in message
    code, _, err = run(capsys, "demo", "-o", users, "--overwrite")
    assert code == 1 and "does not hold hiveframe output" in single_error(err, "demo")
    assert (snapshot(users), snapshot(earlier)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "mine"]


def whole_report(path: Path) -> int:
    """The model seed of the complete report in ``path`` (every file there, the HTML to its end)."""
    assert sorted(snapshot(path)) == ["_provenance.json", "report.html", "report.json"], path
    assert (path / "report.html").read_text().rstrip().endswith("</html>"), path
    assert json.loads((path / "_provenance.json").read_text())["kind"] == "report"
    return json.loads((path / "report.json").read_text())["settings"]["model_seed"]


def test_report_never_replaces_a_users_files(tiny, tmp_path, capsys):
    pytest.importorskip("hiveframe_validate.report")
    synth = tmp_path / "synth"
    assert run(capsys, "sample", tiny / "model", "-o", synth, "-q")[0] == 0
    mine = write_files(tmp_path / "mine", {"report.html": "my own report"})
    write_files(mine / "notes", {"a.txt": "mine"})
    before = snapshot(mine), snapshot(synth)
    for argv in (["report", tiny / "src", synth, "-o", mine], ["report", tiny / "src", synth, "-o", mine, "-q"],
                 ["fit", tiny / "src", "-o", tmp_path / "m", "--report", mine]):
        code, _, err = run(capsys, *argv)
        message = single_error(err, argv[0])
        assert code == 1 and "hiveframe did not write: notes/, report.html; not replacing them" in message
        assert "hint: write to a new or empty folder" in message
    assert not (tmp_path / "m").exists()  # fit refused before training, so no model either
    code, _, err = run(capsys, "report", tiny / "src", synth, "-o", mine, "--overwrite")
    assert code == 1 and "does not hold hiveframe output" in single_error(err, "report")
    # a folder that is, or holds, an input: refused even with --overwrite
    for argv, what in ((["report", tiny / "src", synth, "-o", synth, "--overwrite"], "is SYNTH"),
                       (["report", tiny / "src", synth, "-o", tmp_path], "holds SYNTH"),
                       (["report", tiny / "src", synth, "-o", tiny / "model" / "r", "--model", tiny / "model"],
                        "is inside --model"),
                       (["fit", tiny / "src", "-o", tmp_path / "m", "--report", tmp_path / "m"], "is -o MODEL_DIR"),
                       (["fit", tiny / "src", "-o", tmp_path / "m", "--report", tmp_path / "m" / "r"],
                        "is inside -o MODEL_DIR")):
        code, _, err = run(capsys, *argv)
        assert code == 2 and what in single_error(err, argv[0]), err
    assert (snapshot(mine), snapshot(synth)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "synth"]


def test_report_reruns_into_its_own_folder(tiny, tmp_path, capsys):
    pytest.importorskip("hiveframe_validate.report")
    synth, out = tmp_path / "synth", tmp_path / "report"
    assert run(capsys, "sample", tiny / "model", "-o", synth, "-q")[0] == 0
    for model in ("model", "model-seed2"):
        code, stdout, err = run(capsys, "report", tiny / "src", synth, "-o", out, "--model", tiny / model)
        assert code == 0, err
        assert f"report written to {out / 'report.html'}" in stdout
    assert whole_report(out) == 2
    code, stdout, err = run(capsys, "fit", tiny / "src", "-o", tmp_path / "m", "--report", out, "-q")
    assert code == 0 and f"quality report written to {out / 'report.html'}" in stdout, err
    assert whole_report(out) == 0
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "report", tiny / "src", synth, "-o", out)
    assert code == 1 and "did not write: notes.txt" in single_error(err, "report") and "--overwrite" in err
    assert (out / "notes.txt").read_text() == "mine"
    code, _, err = run(capsys, "report", tiny / "src", synth, "-o", out, "--model", tiny / "model", "--overwrite")
    assert code == 0 and "notes.txt" in err  # said aloud: the folder is replaced whole
    assert whole_report(out) == 1
    # another kind of hiveframe output is not a report: replaced only when asked
    code, _, err = run(capsys, "report", tiny / "src", synth, "-o", tmp_path / "m")
    assert code == 1 and "not replacing" in single_error(err, "report")
    other = tmp_path / "other-sample"
    assert run(capsys, "sample", tiny / "model", "-o", other, "-q")[0] == 0
    code, _, err = run(capsys, "report", tiny / "src", synth, "-o", other)
    assert code == 1 and "holds synthetic tables (hiveframe sample), not a quality report" in err
    assert run(capsys, "report", tiny / "src", synth, "-o", other, "--overwrite", "-q")[0] == 0
    assert whole_report(other) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "other-sample", "report", "synth"]


REPORT_KILLS = [("report:staged", False, "old"), ("swap:exchanged", False, "new"), ("swap:old-aside", True, "missing"),
                ("swap:new-in", True, "new")]


def test_kill_9_while_replacing_a_report(tiny, tmp_path, capsys):
    """The report folder holds the old whole report or the new one whatever the moment of the kill."""
    pytest.importorskip("hiveframe_validate.report")
    synth = tmp_path / "synth"
    assert run(capsys, "sample", tiny / "model", "-o", synth, "-q")[0] == 0

    def argv(model: str, out: Path) -> list:
        return ["report", tiny / "src", synth, "--model", tiny / model, "-o", out]

    assert run(capsys, *argv("model", tmp_path / "old"), "-q")[0] == 0
    old = snapshot(tmp_path / "old")
    path_of = {point: tmp_path / slug(point) / "report" for point, _, _ in REPORT_KILLS}
    for path in path_of.values():
        shutil.copytree(tmp_path / "old", path)
    kill_at([(p, two) for p, two, _ in REPORT_KILLS], lambda point: argv("model-seed2", path_of[point]))
    for point, _, expected in REPORT_KILLS:
        path = path_of[point]
        if expected == "missing":
            assert not path.exists() and [p for p in path.parent.iterdir() if ".hf-old-" in p.name], point
        elif expected == "old":
            assert snapshot(path) == old, point
        else:
            assert whole_report(path) == 2, point
        assert len(list(path.parent.iterdir())) > 1, f"{point}: the kill left nothing to clean up?"
        code, _, err = run(capsys, *argv("model-seed2", path))
        assert code == 0, err
        if expected == "missing":
            assert "restored the previous output" in err
        assert "interrupted hiveframe run" in err or "interrupted replacement" in err, (point, err)
        assert whole_report(path) == 2, point
        assert [p.name for p in path.parent.iterdir()] == [path.name], point


def test_report_without_the_validators_plugin(tmp_path, capsys, monkeypatch, chinook_path):
    # as if not installed, also when an earlier test in this process imported its submodules
    for name in [m for m in sys.modules if m == "hiveframe_validate" or m.startswith("hiveframe_validate.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "hiveframe_validate", None)
    code, _, err = run(capsys, "report", chinook_path, chinook_path, "-o", tmp_path / "r")
    assert code == 1
    message = single_error(err, "report")
    assert "needs the validators plugin (hiveframe_validate)" in message and "Traceback" not in err
    assert "pip install 'hiveframe[validate]'" in message


@pytest.mark.slow
def test_report_on_census(census_model, shared_data, tmp_path, capsys):
    pytest.importorskip("hiveframe_validate.report")
    synth = tmp_path / "synth"
    assert run(capsys, "sample", census_model, "-o", synth, "--rows", "census=2000", "-q")[0] == 0
    real = tmp_path / "real"
    real.mkdir()
    pq.write_table(pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz").slice(0, 2000),
                   real / "census.parquet")
    code, out, err = run(capsys, "report", real, synth, "-o", tmp_path / "report", "--target", "income")
    assert code == 0, err
    assert "report written to" in out
    assert any((tmp_path / "report").iterdir())


# -- bad input: one clear message, right exit status, no traceback --------------------------------
def write_files(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def two_tables_meta(**changes) -> dict:
    meta = {"spec_version": 1, "tables": {
        "users": {"columns": {"id": {"kind": "id", "dtype": "int64"}, "age": {"kind": "numerical", "dtype": "int64"},
                              "name": {"kind": "categorical", "dtype": "string"}},
                  "primary_key": ["id"]},
        "orders": {"columns": {"oid": {"kind": "id", "dtype": "int64"}, "user_id": {"kind": "id", "dtype": "int64"},
                               "amt": {"kind": "numerical", "dtype": "double"}},
                   "primary_key": ["oid"]}},
        "foreign_keys": [{"child_table": "orders", "child_columns": ["user_id"], "parent_table": "users",
                          "parent_columns": ["id"]}]}
    for key, value in changes.items():
        meta[key] = value
    return meta


GOOD_USERS = "id,age,name\n1,30,a\n2,40,b\n3,50,a\n4,35,c\n"
GOOD_ORDERS = "oid,user_id,amt\n1,1,3.5\n2,2,4.5\n3,2,1.0\n4,3,2.0\n"


def fit_error(capsys, tmp_path, files=None, meta=None, extra=(), source=None, expect=1) -> str:
    if source is None:
        source = write_files(tmp_path / "src", files or {"users.csv": GOOD_USERS, "orders.csv": GOOD_ORDERS})
    argv = ["fit", source, "-o", tmp_path / "model", "-q", *extra]
    if meta is not None:
        (tmp_path / "meta.json").write_text(json.dumps(meta))
        argv += ["--metadata", tmp_path / "meta.json"]
    code, _, err = run(capsys, *argv)
    assert code == expect, err
    assert not (tmp_path / "model").exists()
    return single_error(err, "fit")


def test_bad_missing_path(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, source=tmp_path / "nowhere")
    assert "does not exist" in msg


def test_bad_unsupported_file_type(capsys, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("zzz")
    assert "unsupported file type '.xlsx'" in fit_error(capsys, tmp_path, source=path)


def test_bad_sqlite_file_that_is_not_a_database(capsys, tmp_path):
    path = tmp_path / "broken.sqlite"
    path.write_text("hello, I am not a database")
    assert "is not a SQLite database" in fit_error(capsys, tmp_path, source=path)


def test_bad_corrupt_parquet(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, files={"users.parquet": b"PAR1 this is not parquet"})
    assert "users.parquet" in msg and "Parquet" in msg


def test_bad_mixed_types(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, files={"users.jsonl": '{"id": 1, "v": 1}\n{"id": 2, "v": "abc"}\n'})
    assert "users.jsonl" in msg and "v" in msg


def test_bad_empty_table(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, files={"users.csv": "id,age\n", "orders.csv": GOOD_ORDERS})
    assert "table 'users'" in msg and "no rows" in msg


def test_all_null_column_is_named_and_kept_null(capsys, tmp_path):
    """The metadata helpers chose a warning (not an error) for an all-null column: it is generated null."""
    source = write_files(tmp_path / "src", {"users.csv": "id,age,notes\n1,30,\n2,40,\n3,50,\n"})
    code, _, err = run(capsys, "fit", source, "-o", tmp_path / "model", "-q")
    assert code == 0
    assert "users.notes is entirely null" in err or "table 'users', column 'notes'" in err
    code, _, _ = run(capsys, "sample", tmp_path / "model", "-o", tmp_path / "out", "-q")
    assert code == 0
    notes = pq.read_table(tmp_path / "out" / "users.parquet").column("notes")
    assert notes.null_count == len(notes) == 3


def test_bad_foreign_key_to_missing_table_and_column(capsys, tmp_path):
    meta = two_tables_meta(foreign_keys=[
        {"child_table": "orders", "child_columns": ["user_id"], "parent_table": "customers", "parent_columns": ["id"]},
        {"child_table": "orders", "child_columns": ["amt"], "parent_table": "users", "parent_columns": ["nope"]}])
    msg = fit_error(capsys, tmp_path, meta=meta)
    assert "customers" in msg and "'nope'" in msg
    assert "(2)" in msg.splitlines()[0]  # both problems listed at once


def test_bad_foreign_key_to_a_non_key_column(capsys, tmp_path):
    meta = two_tables_meta(foreign_keys=[
        {"child_table": "orders", "child_columns": ["user_id"], "parent_table": "users", "parent_columns": ["age"]}])
    msg = fit_error(capsys, tmp_path, meta=meta)
    assert "users" in msg and "age" in msg and "key" in msg


def test_bad_duplicate_and_null_primary_keys(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, meta=two_tables_meta(),
                    files={"users.csv": "id,age,name\n1,30,a\n1,40,b\n,50,a\n4,35,c\n", "orders.csv": GOOD_ORDERS})
    assert "table 'users', column 'id'" in msg
    assert "duplicate" in msg and "null" in msg


def test_bad_orphans_show_the_count(capsys, tmp_path):
    orders = "oid,user_id,amt\n1,1,3.5\n2,9,4.5\n3,8,1.0\n4,2,2.0\n"
    msg = fit_error(capsys, tmp_path, meta=two_tables_meta(), files={"users.csv": GOOD_USERS, "orders.csv": orders})
    assert "table 'orders', column 'user_id'" in msg and "2" in msg and "orphan" in msg


def test_bad_cycle_through_several_tables(capsys, tmp_path):
    meta = two_tables_meta()
    meta["tables"]["users"]["columns"]["last_order"] = {"kind": "id", "dtype": "int64"}
    meta["foreign_keys"].append({"child_table": "users", "child_columns": ["last_order"], "parent_table": "orders",
                                 "parent_columns": ["oid"]})
    users = "id,age,name,last_order\n1,30,a,1\n2,40,b,2\n3,50,a,3\n4,35,c,4\n"
    msg = fit_error(capsys, tmp_path, meta=meta, files={"users.csv": users, "orders.csv": GOOD_ORDERS})
    assert "cycle" in msg and "users" in msg and "orders" in msg


def test_bad_unknown_generator_name(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, extra=["--generator", "gausian_copula"], expect=2)
    assert "no table generator named 'gausian_copula'" in msg and "did you mean 'gaussian_copula'" in msg
    assert "pii_protected" not in msg and "dp_protected" not in msg  # wrappers' internal generators


def test_bad_generator_parameter(capsys, tmp_path):
    msg = fit_error(capsys, tmp_path, extra=["--param", "no_such_knob=1"], expect=2)
    assert "no_such_knob" in msg


def test_bad_metadata_files(capsys, tmp_path):
    assert "does not exist" in fit_error(capsys, tmp_path, extra=["--metadata", tmp_path / "none.json"])
    (tmp_path / "broken.json").write_text("{nope")
    assert "not valid JSON" in fit_error(capsys, tmp_path, extra=["--metadata", tmp_path / "broken.json"],
                                         expect=2)


def test_bad_model_directories(capsys, tmp_path, chinook_model):
    code, _, err = run(capsys, "sample", tmp_path / "no_model", "-o", tmp_path / "out")
    assert code == 1 and "does not exist" in single_error(err, "sample")

    import shutil

    tampered = tmp_path / "tampered"
    shutil.copytree(chinook_model / "model", tampered)
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest["seed"] = 12345
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "sample", tampered, "-o", tmp_path / "out")
    assert code == 1 and "modified after the model was saved" in single_error(err, "sample")

    import hashlib

    future = tmp_path / "future"
    shutil.copytree(chinook_model / "model", future)
    manifest = json.loads((future / "manifest.json").read_text())
    manifest.pop("manifest_digest")
    manifest["format_version"] = 99
    manifest["manifest_digest"] = hashlib.sha256(
        json.dumps(manifest, indent=2, sort_keys=True).encode()).hexdigest()
    (future / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "sample", future, "-o", tmp_path / "out")
    assert code == 1 and "model format version 99 cannot be read" in single_error(err, "sample")

    changed = tmp_path / "changed"
    shutil.copytree(chinook_model / "model", changed)
    component = next((changed / "components").rglob("*.json"))
    component.write_text(component.read_text().replace("{", "{ ", 1))
    code, _, err = run(capsys, "sample", changed, "-o", tmp_path / "out")
    assert code == 1 and "was modified or is corrupt" in single_error(err, "sample")
    assert not (tmp_path / "out").exists()


def test_bad_rows_table(capsys, tmp_path, chinook_model):
    code, _, err = run(capsys, "sample", chinook_model / "model", "-o", tmp_path / "o", "--rows", "Artists=5")
    assert code == 2
    assert "did you mean 'Artist'" in single_error(err, "sample")


def test_debug_shows_the_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "fit", tmp_path / "nowhere", "-o", tmp_path / "m", "--debug")
    assert code == 1
    assert "Traceback" in err and "SourceError" in err


def test_console_script_in_a_subprocess(tmp_path):
    script = Path(sys.executable).parent / "hiveframe"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "hiveframe.cli"]
    proc = subprocess.run([*cmd, "sample", str(tmp_path / "missing"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "hiveframe sample: error: model directory" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("hiveframe ")


def test_plugins_with_every_optional_extra_missing(tmp_path):
    """As on a machine with only the base install: the optional libraries cannot be imported."""
    script = ("import sys\n"
              "for name in ('torch', 'pyspark', 'polars', 'opacus', 'sklearn'):\n"
              "    sys.modules[name] = None\n"
              "from hiveframe.cli import main\n"
              "sys.exit(main(['plugins']))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "builtin 0.1.0 (builtin): ok" in proc.stdout
    assert "ctgan 0.1.0 (entry point): unavailable: install hiveframe[ctgan]" in proc.stdout
    assert "table generator: ctgan (unavailable), tvae (unavailable)" in proc.stdout
    assert "spark 0.1.0 (entry point): unavailable: install hiveframe[spark]" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "plugin 'ctgan' unavailable (install hiveframe[ctgan])" in warnings[0]
    assert "Traceback" not in proc.stderr


def test_fit_with_sdv_metadata(tmp_path, capsys):
    source = write_files(tmp_path / "src", {"users.csv": GOOD_USERS, "orders.csv": GOOD_ORDERS})
    sdv = {"METADATA_SPEC_VERSION": "V1",
           "tables": {"users": {"primary_key": "id", "columns": {
                          "id": {"sdtype": "id"}, "age": {"sdtype": "numerical"}, "name": {"sdtype": "categorical"}}},
                      "orders": {"primary_key": "oid", "columns": {
                          "oid": {"sdtype": "id"}, "user_id": {"sdtype": "id"}, "amt": {"sdtype": "numerical"}}}},
           "relationships": [{"parent_table_name": "users", "parent_primary_key": "id",
                              "child_table_name": "orders", "child_foreign_key": "user_id"}]}
    (tmp_path / "sdv.json").write_text(json.dumps(sdv))
    code, out, err = run(capsys, "fit", source, "--metadata", tmp_path / "sdv.json", "-o", tmp_path / "m", "-q")
    assert code == 0, err
    assert "SDV metadata" in err
    saved = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert saved["foreign_keys"][0]["child_table"] == "orders"
    assert saved["tables"]["users"]["columns"]["age"]["dtype"] == "int64"  # dtype taken from the data


def test_verbose_logs_and_quiet_silences_progress(tmp_path, capsys):
    source = write_files(tmp_path / "src", {"users.csv": GOOD_USERS, "orders.csv": GOOD_ORDERS})
    code, _, err = run(capsys, "fit", source, "-o", tmp_path / "m1", "-q")
    assert code == 0 and "fitting" not in err
    code, _, err = run(capsys, "-v", "fit", source, "-o", tmp_path / "m2")
    assert code == 0
    assert "fitting users" in err
    lines_verbose = len(err.splitlines())
    code, _, err = run(capsys, "fit", source, "-o", tmp_path / "m3")
    assert code == 0 and "fitting users" in err
    assert lines_verbose > len(err.splitlines())  # INFO records added to the progress lines


def test_fit_with_dp_pii_and_null_handling_flags(tmp_path, capsys, chinook_path):
    model = tmp_path / "m"
    code, out, err = run(capsys, "fit", chinook_path, "-o", model, "--dp", "epsilon=2", "--dp",
                         "detect_metadata=true", "--pii-strategy", "Customer.Email=hash", "--null-handling", "mean",
                         "-q")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("differential privacy: epsilon ") and " entity (budget 2)" in last
    assert " per row" in last and "detected from the private data, outside the guarantee" in last
    assert "left out of training (children beyond the cap): " in last  # Chinook has albums of 10+ tracks
    assert "rows_left_out" not in (model / "manifest.json").read_text()  # exact counts stay out of the model
    from hiveframe.pipeline import Synthesizer

    synth = Synthesizer.load(model)
    report = synth.privacy_report()
    assert report["dp"]["epsilon_spent"] <= 2.0 + 1e-9
    assert report["dp"]["metadata"].startswith("DETECTED")
    assert report["pii"]["strategies"] == {"Customer.Email": "hash"}
    assert synth.null_handling == {"*": "mean"}


def test_fit_with_dp_refuses_detected_metadata(tmp_path, capsys, chinook_path):
    code, out, err = run(capsys, "fit", chinook_path, "-o", tmp_path / "m", "--dp", "epsilon=1")
    assert code == 2 and "--dp needs declared metadata" in err and "detect_metadata=true" in err
    assert not (tmp_path / "m").exists()


def test_report_with_model_shows_guarantees(tmp_path, capsys):
    pytest.importorskip("hiveframe_validate.report")
    import numpy as np

    rng = np.random.default_rng(0)
    real = tmp_path / "real"
    real.mkdir()
    pq.write_table(pa.table({"age": rng.integers(18, 80, 2000), "city": rng.choice(["a", "b", "c"], 2000)}),
                   real / "people.parquet")
    model, synth, report = tmp_path / "m", tmp_path / "s", tmp_path / "r"
    assert run(capsys, "fit", real, "-o", model, "--dp", "epsilon=3", "--dp", "detect_metadata=true", "-q")[0] == 0
    assert run(capsys, "sample", model, "-o", synth, "-q")[0] == 0
    code, _, err = run(capsys, "report", real, synth, "-o", report, "--model", model)
    assert code == 0, err
    assert "Privacy guarantees of the model" in (report / "report.html").read_text()


# -- keys: detect's evidence, orphan policies ------------------------------------------------------
def test_detect_prints_keys_with_evidence_and_fit_takes_an_orphan_policy(tmp_path, capsys):
    import pyarrow.csv as pv

    from hiveframe.metadata import Metadata
    from hiveframe.testing.keys import flights_database

    folder = tmp_path / "flights"
    folder.mkdir()
    for name, table in flights_database(seed=0, flights=600).tables.items():
        pv.write_csv(table, folder / f"{name}.csv")
    code, out, _ = run(capsys, "detect", folder, "-o", tmp_path / "md.json")
    assert code == 0
    assert "primary keys (inferred)" in out and "foreign keys (inferred)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("flights.tailnum"))
    assert "planes.tailnum" in line and "%)" in line and "same name as the parent key" in line
    assert "proposals left out" in out and "--orphans drop|null|keep" in out
    metadata = Metadata.from_json(tmp_path / "md.json")
    assert metadata.detection["threshold"] == 0.5

    code, _, err = run(capsys, "fit", folder, "--metadata", tmp_path / "md.json", "-o", tmp_path / "m", "-q")
    assert code == 1 and "--orphans null" in single_error(err, "fit")
    code, out, err = run(capsys, "fit", folder, "--metadata", tmp_path / "md.json", "-o", tmp_path / "m", "-q",
                         "--orphans", "keep")
    assert code == 0, err
    assert "orphan policy 'keep'" in err and "flights.tailnum->planes" in err
    code, out, err = run(capsys, "sample", tmp_path / "m", "-o", tmp_path / "out", "-q", "--format", "csv")
    assert code == 0, err
    saved = Metadata.from_json(tmp_path / "m" / "metadata.json")
    assert {fk.name: fk.orphans for fk in saved.foreign_keys if fk.orphans} == {
        "flights.tailnum->planes": "keep", "flights.dest->airports": "keep"}

    code, _, err = run(capsys, "fit", folder, "-o", tmp_path / "m2", "--orphans", "keep", "--drop-orphans")
    assert code == 2 and "contradicts" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", str(folder), "--threshold", "1.5"])
    assert exit_info.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


def test_detect_threshold_and_sampling_options(tmp_path, capsys, shared_data):
    code, out, _ = run(capsys, "detect", shared_data / "airbnb", "-o", tmp_path / "md.json", "--sample-rows", "5000")
    assert code == 0
    assert "sampled: sessions has 47,217 rows; values were checked on 5,000 of them" in out
    assert "sessions.user_id  users.id" in out


def test_one_csv_in_gives_one_csv_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    people = pa.table({"age": rng.integers(18, 90, 300), "city": rng.choice(["Oslo", "Rome", "Lima"], 300)})
    pacsv.write_csv(people, tmp_path / "people.csv")
    assert run(capsys, "fit", tmp_path / "people.csv", "-o", tmp_path / "model", "-q")[0] == 0
    code, out, err = run(capsys, "sample", tmp_path / "model", "-o", tmp_path / "people_syn.csv", "-q")
    assert code == 0, err
    back = pacsv.read_csv(tmp_path / "people_syn.csv")
    assert back.schema.names == ["age", "city"] and back.num_rows == 300
    assert (tmp_path / "people_syn.csv.provenance.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left
    # never replaces a file
    code, _, err = run(capsys, "sample", tmp_path / "model", "-o", tmp_path / "people_syn.csv", "-q")
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "sample", tmp_path / "model", "-o", tmp_path / "p.parquet", "-q")
    assert code == 0 and pq.read_table(tmp_path / "p.parquet").num_rows == 300
