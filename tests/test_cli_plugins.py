"""Plugins extend the command line without the kernel importing them: subcommands through
``hiveframe_register_commands``, sampling engines through ``hiveframe_register_engines``."""

from __future__ import annotations

import pyarrow as pa
import pytest

import hiveframe
from hiveframe.cli import main
from hiveframe.pipeline import Synthesizer

PLUGIN = '''
from hiveframe.engines import SampleEngine, SampleRequest
from hiveframe.errors import ConfigError
from hiveframe.hookspecs import hookimpl


class EchoEngine(SampleEngine):
    name = "echo"
    title = "the echo engine"
    help = "sample in this process through the engine seam"

    def add_arguments(self, group):
        group.add_argument("--echo-note", default=None, help="with --engine echo: a note")

    def sample(self, request: SampleRequest):
        from hiveframe.pipeline import Synthesizer
        from hiveframe.pipeline.catalog import with_rows

        if request.format == "sqlite":
            raise ConfigError("--engine echo writes folders")
        synth = Synthesizer.load(request.model)
        database = synth.sample(scale=request.scale, rows=request.rows, seed=request.seed)
        rows = {name: table.num_rows for name, table in database.tables.items()}
        assert request.catalog is not None and request.catalog["rows"] is None  # the engine sets them
        synth.host.write(database, request.output, format=request.format, overwrite=request.overwrite,
                         provenance={"catalog": with_rows(request.catalog, rows)})
        print("note:", request.options["echo_note"])
        return rows


class FitEchoEngine(SampleEngine):
    name = "fitecho"
    help = "sample in this process"
    fits = True
    fit_help = "fit in this process through the engine seam"

    def add_fit_arguments(self, group):
        group.add_argument("--fit-note", default=None, help="with --engine fitecho: a note")

    def sample(self, request: SampleRequest):
        raise ConfigError("fitecho does not sample")

    def fit(self, request):
        request.synthesizer.fit(request.data, callback=request.callback)
        print("fit note:", request.options["fit_note"])


def hello(args):
    print(f"hello {args.name}")
    return 0


@hookimpl
def hiveframe_register_engines():
    return [EchoEngine, FitEchoEngine]


@hookimpl
def hiveframe_register_commands(subparsers, common):
    p = subparsers.add_parser("hello", parents=[common], help="say hello")
    p.add_argument("--name", default="world")
    p.set_defaults(func=hello)
'''

BROKEN = '''
from hiveframe.hookspecs import hookimpl


@hookimpl
def hiveframe_register_commands(subparsers, common):
    subparsers.add_parser("fit", parents=[common])  # clashes with the kernel's own command
'''


@pytest.fixture
def echo(fake_distribution):
    fake_distribution("hiveframe-echo", {"echo": "hiveframe_echo.plugin"}, modules={"hiveframe_echo.plugin": PLUGIN})


@pytest.fixture
def model(tmp_path):
    data = {"people": pa.table({"id": list(range(40)), "age": [20 + i % 30 for i in range(40)]})}
    synth = Synthesizer().fit(data)
    return synth.save(tmp_path / "model")


def test_a_plugin_adds_a_subcommand(echo, capsys):
    assert main(["hello", "--name", "bees"]) == 0
    assert capsys.readouterr().out.strip() == "hello bees"
    with pytest.raises(SystemExit) as exc:  # blocked: the command is gone, argparse says so
        main(["--block-plugin", "echo", "hello"])
    assert exc.value.code == 2 and "invalid choice: 'hello'" in capsys.readouterr().err


def test_a_plugin_adds_a_sampling_engine_with_its_own_options(echo, model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sample", str(model), "-o", str(out), "--engine", "echo", "--echo-note", "hi", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "note: hi" in printed and "sampled 1 table(s), 40 rows on the echo engine" in printed
    assert (out / "people.parquet").is_file()
    entry = hiveframe.read_catalog(out)  # made by the kernel, completed and stored by the engine
    assert entry["rows"] == {"people": 40} and entry["sampling"]["scale"] == 1.0
    assert entry["model"]["path"] == str(model) and hiveframe.read_catalog(out / "people.parquet") == entry

    assert main(["sample", str(model), "-o", str(tmp_path / "o2"), "--echo-note", "hi"]) == 2
    err = capsys.readouterr().err
    assert "--echo-note only apply with --engine echo" in err and "Traceback" not in err
    assert main(["sample", str(model), "-o", str(tmp_path / "o3"), "--engine", "ech"]) == 2
    err = capsys.readouterr().err
    assert "--engine 'ech' is not installed (engines here: local, " in err and "did you mean 'echo'?" in err
    assert main(["sample", str(model), "-o", str(tmp_path / "o4.sqlite"), "--engine", "echo"]) == 2
    assert "--engine echo writes folders" in capsys.readouterr().err


def test_a_plugin_whose_commands_fail_is_named_and_the_cli_still_works(fake_distribution, capsys):
    fake_distribution("hiveframe-broken", {"broken": "hiveframe_broken.plugin"},
                      modules={"hiveframe_broken.plugin": BROKEN})
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    assert "broken" in captured.out
    assert "plugin 'broken': its commands were not added" in captured.err


def test_an_engine_that_can_fit_fits_from_the_command_line(echo, tmp_path, capsys):
    import pyarrow.parquet as pq

    (tmp_path / "db").mkdir()
    pq.write_table(pa.table({"id": list(range(40)), "age": [20 + i % 30 for i in range(40)]}),
                   tmp_path / "db" / "people.parquet")
    source, model = str(tmp_path / "db"), str(tmp_path / "model")
    assert main(["fit", source, "-o", model, "--engine", "fitecho", "--fit-note", "hey", "-q"]) == 0
    assert "fit note: hey" in capsys.readouterr().out
    assert Synthesizer.load(model).sample(seed=1)["people"].num_rows == 40
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "fitecho: fit in this process through the engine seam" in helped and "echo: sample" not in helped

    assert main(["fit", source, "-o", model, "--engine", "echo"]) == 2
    assert "--engine 'echo' samples only; it cannot fit (engines that fit here: local, " in capsys.readouterr().err
    assert main(["fit", source, "-o", model, "--engine", "nope"]) == 2
    assert "--engine 'nope' is not installed" in capsys.readouterr().err
    assert main(["fit", source, "-o", model, "--fit-note", "x"]) == 2
    assert "--fit-note only apply with --engine fitecho" in capsys.readouterr().err
    assert main(["fit", source, "-o", model, "--engine", "fitecho", "--checkpoint-dir", str(tmp_path / "ck")]) == 2
    assert "--checkpoint-dir only apply to a local fit, not --engine fitecho" in capsys.readouterr().err
