"""The plugin end to end: discovery, the conformance kit, a relational Synthesizer (instance, table
parameters, metadata setting), model folders (a folder per batch, the layout in the manifest, read-only
after loading) and the CLI (``fit --batches``, ``plugins``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hiveframe_batches.generators import BatchesGenerator

from hiveframe.errors import ConfigError, MetadataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata.model import SPEC_VERSION
from hiveframe.pipeline import Synthesizer
from hiveframe.testing.conformance import check_table_generator

from .conftest import grouped_table

ROOT = Path(__file__).resolve().parents[2]


def test_declared_for_installation():
    text = (ROOT / "pyproject.toml").read_text()
    entry_points = text.split("[project.entry-points.hiveframe]")[1].split("\n[")[0]
    assert 'batches = "hiveframe_batches.plugin"' in entry_points
    assert '"hiveframe_batches*"' in text.split("[tool.setuptools.packages.find]")[1].split("\n[")[0]


def test_found_through_the_entry_point():
    from hiveframe.plugins import PluginHost

    assert PluginHost().infos["batches"].components == {"table_generator": ["batches"]}


def test_registers_the_table_generator(batches_host):
    info = batches_host.infos["batches"]
    assert info.status == "ok" and info.components == {"table_generator": ["batches"]}
    gen = batches_host.create("table_generator", "batches", {"max_width": 4, "generator": "gaussian_copula"})
    assert isinstance(gen, BatchesGenerator) and gen.max_width == 4


def test_passes_the_conformance_kit(batches_host):
    report = check_table_generator(BatchesGenerator, params={"max_width": 2}, host=batches_host)
    assert "honours conditions on columns" in report.passed
    assert "state round-trips through save_component/load_component" in report.passed


def _relational(tmp_path: Path) -> tuple[Path, Metadata]:
    """A parent (region) and a wide child table whose rows depend on their parent's region."""
    rng = np.random.default_rng(0)
    data, table = grouped_table(600)
    parents = pa.table({"pid": list(range(60)), "region": rng.choice(["n", "s"], 60).tolist()})
    owner = rng.integers(0, 60, data.num_rows)
    shift = np.where(np.array(parents.column("region").to_pylist())[owner] == "n", 3.0, -3.0)
    data = data.set_column(0, "a1", pa.array(data.column("a1").to_numpy() + shift))
    data = data.append_column("rid", pa.array(range(data.num_rows))).append_column("pid", pa.array(owner))
    folder = tmp_path / "db"
    folder.mkdir()
    pq.write_table(parents, folder / "parent.parquet")
    pq.write_table(data, folder / "wide.parquet")
    wide = Table("wide", table.columns + (Column("rid", ColumnKind.ID, "int64"), Column("pid", ColumnKind.ID, "int64")),
                 primary_key=("rid",))
    parent = Table("parent", (Column("pid", ColumnKind.ID, "int64"), Column("region", ColumnKind.CATEGORICAL)),
                   primary_key=("pid",))
    return folder, Metadata((parent, wide), (ForeignKey("wide", ("pid",), "parent", ("pid",)),))


def test_in_a_relational_synthesizer_saved_and_loaded(batches_host, tmp_path):
    folder, metadata = _relational(tmp_path)
    synth = Synthesizer(metadata, generators={"wide": BatchesGenerator(max_width=3)}, host=batches_host, seed=1)
    synth.fit(folder)
    gen = synth.table_generators["wide"]
    assert gen.context_columns and all(set(gen.context_columns) <= set(m.context_columns)
                                       for m in gen.models.values())
    out = synth.sample()
    wide, parent = out["wide"].to_pandas(), out["parent"].to_pandas()
    joined = wide.merge(parent, on="pid")
    assert joined.groupby("region")["a1"].mean().diff().abs().iloc[-1] > 3  # the parent's region still shows

    model = synth.save(tmp_path / "model")
    manifest = json.loads((model / "manifest.json").read_text())
    layout = manifest["tables"]["wide"]["generator_info"]["batches"]
    assert [b["key"] for b in layout] == [b.key for b in gen.batches]
    for batch in layout:
        assert (model / "components/tables/wide/generator/models" / batch["key"] / "model.json").is_file()
    loaded = Synthesizer.load(model, host=batches_host)
    again = loaded.table_generators["wide"]
    assert again.read_only and again.batches == gen.batches
    assert loaded.sample(seed=4)["wide"].equals(synth.sample(seed=4)["wide"])
    with pytest.raises(ConfigError, match="loaded read-only from a saved model"):
        again.train_batch(0)
    with pytest.raises(ConfigError, match="loaded read-only"):
        again.train_all_batches()


def test_by_name_with_table_parameters(batches_host, tmp_path):
    folder, metadata = _relational(tmp_path)
    synth = Synthesizer(metadata, generators={"wide": "batches"},
                        table_params={"wide": {"max_width": 4, "anchors": 1}}, host=batches_host)
    synth.fit(folder)
    gen = synth.table_generators["wide"]
    assert isinstance(gen, BatchesGenerator) and max(len(b.columns) for b in gen.batches) <= 4


def test_as_a_metadata_setting(batches_host, tmp_path):
    folder, metadata = _relational(tmp_path)
    wide = metadata.table("wide")
    setting = {"name": "batches", "params": {"max_width": 3, "anchors": 2}}
    metadata = metadata.with_table(Table(wide.name, wide.columns, wide.primary_key, generator=setting))
    assert Metadata.from_json(metadata.to_json()).table("wide").generator == setting
    synth = Synthesizer(metadata, host=batches_host).fit(folder)
    gen = synth.table_generators["wide"]
    assert isinstance(gen, BatchesGenerator) and (gen.max_width, gen.anchors) == (3, 2)
    assert synth.table_generators["parent"].name == "gaussian_copula"


def test_a_malformed_metadata_setting_is_refused():
    with pytest.raises(MetadataError, match='"generator" must be an object with a "name"'):
        Metadata.from_dict({"spec_version": SPEC_VERSION,
                            "tables": {"t": {"columns": {"x": {"kind": "numerical"}}, "generator": "batches"}}})


# -- the CLI ---------------------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch, batches_host):
    """``hiveframe`` with the plugin registered even when the shared install predates its entry point."""
    import hiveframe_batches.plugin as entry

    import hiveframe.cli as cli_module

    original = cli_module._host

    def host(args, progress=None):
        made = original(args, progress)
        if "batches" not in made.infos and "batches" not in made.blocked:
            made.register(entry, name="batches")
        return made

    monkeypatch.setattr(cli_module, "_host", host)
    return cli_module.main


def _write_db(tmp_path, rows: int) -> None:
    """A one-table database folder ``tmp_path/db`` holding ``wide`` (grouped columns)."""
    (tmp_path / "db").mkdir()
    pq.write_table(grouped_table(rows)[0], tmp_path / "db" / "wide.parquet")


def test_cli_fit_with_batches_then_sample(cli, tmp_path, capsys):
    _write_db(tmp_path, 300)
    assert cli(["fit", str(tmp_path / "db"), "-o", str(tmp_path / "model"), "--batches", "wide=3",
                "--table-param", "wide.anchors=1", "-q"]) == 0
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    layout = manifest["tables"]["wide"]["generator_info"]["batches"]
    assert max(len(b["columns"]) for b in layout) <= 3 and all(len(b["anchors"]) <= 1 for b in layout)
    assert manifest["config"]["table_params"]["wide"]["generator"] == "gaussian_copula"
    assert cli(["sample", str(tmp_path / "model"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert pq.read_table(tmp_path / "out" / "wide.parquet").num_rows == 300


@pytest.mark.parametrize(("value", "message"), [("wide=0", "maximum batch width must be at least 1"),
                                                ("nope=3", "--batches names unknown table")])
def test_cli_bad_batches(cli, tmp_path, capsys, value, message):
    _write_db(tmp_path, 100)
    assert cli(["fit", str(tmp_path / "db"), "-o", str(tmp_path / "model"), "--batches", value]) == 2
    assert message in capsys.readouterr().err


def test_cli_plugins_lists_it(cli, capsys):
    assert cli(["plugins"]) == 0
    assert "table generator: batches" in capsys.readouterr().out


def test_cli_help_says_when_batches_train_in_parallel(cli, capsys):
    """The default is workers='auto': parallel only where it pays, which the help must say."""
    with pytest.raises(SystemExit):
        cli(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "batches train in parallel processes when they take long enough to pay for them" in text
    assert "TABLE.workers=N" in text


def test_cli_workers_for_the_batches(cli, tmp_path, capsys):
    _write_db(tmp_path, 200)
    assert cli(["fit", str(tmp_path / "db"), "-o", str(tmp_path / "model"), "--batches", "wide=4",
                "--table-param", "wide.workers=0", "-q"]) == 2
    assert "workers must be an integer >= 1 or 'auto', got 0" in capsys.readouterr().err
    assert cli(["fit", str(tmp_path / "db"), "-o", str(tmp_path / "model"), "--batches", "wide=4",
                "--table-param", "wide.workers=2", "-q"]) == 0
