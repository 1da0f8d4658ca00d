"""A holdout kept at fit time: whole entities out of training, the rule recorded, the split recomputed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiveframe import detect
from hiveframe.cli import main
from hiveframe.components import Database
from hiveframe.errors import ConfigError
from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.checks import integrity_problems
from hiveframe.pipeline.holdout import SMALL_TABLE_ROWS, holdout_roots, split_holdout
from hiveframe.plugins import PluginHost


@pytest.fixture(scope="module")
def chinook(chinook_path):
    database = PluginHost().read(chinook_path)
    return database, detect(database)


def test_split_holds_out_entities_with_everything_below_them(chinook):
    database, metadata = chinook
    roots = holdout_roots(metadata, {t: database[t].num_rows for t in metadata.table_names})
    assert roots == ["Artist"]  # Genre, MediaType, Playlist, Employee are lookup tables: kept whole
    train, held = split_holdout(metadata, database, 0.2, seed=3)
    assert 0.1 < held["Artist"].num_rows / database["Artist"].num_rows < 0.3
    assert set(held) == {"Artist", "Album", "Track", "InvoiceLine", "PlaylistTrack"}
    for name in metadata.table_names:  # nothing lost, nothing twice
        assert train[name].num_rows + (held[name].num_rows if name in held else 0) == database[name].num_rows
    assert train["Genre"].num_rows == database["Genre"].num_rows <= SMALL_TABLE_ROWS
    assert not integrity_problems(metadata, train)  # training part stays referentially intact
    held_artists = set(held["Artist"].column("ArtistId").to_pylist())
    assert set(held["Album"].column("ArtistId").to_pylist()) <= held_artists
    assert not set(train["Album"].column("ArtistId").to_pylist()) & held_artists


def test_split_does_not_depend_on_row_order_and_follows_the_seed(chinook):
    database, metadata = chinook
    perm = np.random.default_rng(0).permutation(database["Artist"].num_rows)
    shuffled = Database({**{n: database[n] for n in database.names}, "Artist": database["Artist"].take(perm)})
    ids = lambda held: sorted(held["Artist"].column("ArtistId").to_pylist())  # noqa: E731
    assert ids(split_holdout(metadata, database, 0.2, 3)[1]) == ids(split_holdout(metadata, shuffled, 0.2, 3)[1])
    assert ids(split_holdout(metadata, database, 0.2, 3)[1]) != ids(split_holdout(metadata, database, 0.2, 4)[1])
    with pytest.raises(ConfigError, match="fraction"):
        split_holdout(metadata, database, 1.5, 0)


def test_synthesizer_records_the_rule_and_recomputes_the_split(chinook, tmp_path):
    database, metadata = chinook
    synth = Synthesizer(metadata, holdout=0.2, seed=5).fit(database)
    _, held = synth.split_holdout(database)
    assert synth.table_rows["Artist"] == database["Artist"].num_rows - held["Artist"].num_rows
    synth.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["holdout"] == {"fraction": 0.2, "seed": 5, "roots": ["Artist"]}  # the rule, never a row
    loaded = Synthesizer.load(tmp_path / "model")
    _, again = loaded.split_holdout(database)
    assert again["Track"].equals(held["Track"])
    with pytest.raises(ConfigError, match="holdout"):
        Synthesizer(metadata, holdout=1.0)


def test_cli_report_uses_the_models_holdout_and_seed(chinook_path, tmp_path, capsys):
    pytest.importorskip("hiveframe_validate.report")
    model, synth_db, report = tmp_path / "model", tmp_path / "synth.sqlite", tmp_path / "report"
    assert main(["fit", str(chinook_path), "-o", str(model), "--holdout", "0.25", "--seed", "1", "-q"]) == 0
    assert "kept out of training" in capsys.readouterr().out
    assert main(["sample", str(model), "-o", str(synth_db), "-q"]) == 0
    assert main(["report", str(chinook_path), str(synth_db), "-o", str(report), "--model", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    assert "quality report: " in out
    doc = json.loads((report / "report.json").read_text())
    assert doc["settings"]["holdout"] is True and doc["settings"]["model_seed"] == 1
    privacy = next(r for r in doc["results"] if r["validator"] == "privacy")["details"]["tables"]
    assert privacy["Track"]["protocol"] == "holdout" and privacy["Customer"]["protocol"] == "split real halves"
    assert "membership_inference" in privacy["Track"]
    assert "model seed 1" in (report / "report.html").read_text()
