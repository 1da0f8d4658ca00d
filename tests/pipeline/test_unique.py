"""Columns unique in the real table stay unique at every scale; small tables get a suited generator."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hiveframe.pipeline import Synthesizer
from hiveframe.pipeline.unique import StyleModel, make_unique
from hiveframe.testing.datasets import load_dataset


def test_repeats_take_unused_real_values_first():
    pool = ["Rock", "Jazz", "Metal", "Blues"]
    out = make_unique(["Rock", "Rock", None, "Jazz", "Rock"], pool, np.random.default_rng(0))
    assert out[0] == "Rock" and out[2] is None and out[3] == "Jazz"
    assert sorted(v for v in out if v is not None) == sorted(["Rock", "Jazz", "Metal", "Blues"])


def test_beyond_the_real_values_new_ones_follow_their_style():
    rng = np.random.default_rng(1)
    pool = [f"{a}{b}-{rng.integers(100, 999)}" for a in "ABCDEFGH" for b in "KLMN"]
    out = make_unique(["AK-101"] * 100, pool, np.random.default_rng(2))
    assert len(set(out)) == 100 and set(pool) <= set(out)
    new = [v for v in out if v not in pool]
    assert len(new) == 100 - len(pool)
    assert sum(bool(re.fullmatch(r"[A-H][K-N]-\d{3}", v)) for v in new) >= 0.8 * len(new)


def test_a_pool_too_small_to_vary_still_gives_distinct_values():
    out = StyleModel(["MPEG audio file"]).new_values(3, {"MPEG audio file"}, np.random.default_rng(0))
    assert len(set(out)) == 3 and "MPEG audio file" not in out


@pytest.fixture(scope="module")
def lookups(shared_data):
    return load_dataset(shared_data, "chinook", tables=["Genre", "MediaType", "Artist"])


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_lookup_names_stay_unique_at_every_scale(lookups, scale, tmp_path):
    database, metadata = lookups
    synth = Synthesizer(metadata, seed=0).fit(database)
    out = synth.sample(scale=scale)
    for table in ("Genre", "MediaType", "Artist"):
        names = out[table].column("Name").to_pylist()
        assert len(set(names)) == len(names) == round(database[table].num_rows * scale), table
        if scale == 1.0:  # at the real size: exactly the real names
            assert set(names) == set(database[table].column("Name").to_pylist())
    synth.save(tmp_path / "m")
    again = Synthesizer.load(tmp_path / "m").sample(scale=scale)
    assert again["Genre"].column("Name").equals(out["Genre"].column("Name"))


def test_small_tables_get_the_copula_unless_the_user_insists(lookups):
    pytest.importorskip("torch")
    database, metadata = lookups
    fast = {"epochs": 1, "batch_size": 10, "threads": 1}
    tiny = {"small_table_rows": 30}  # Genre (25 rows) and MediaType (5) are small; Artist is named
    synth = Synthesizer(metadata, generator="ctgan", generator_params=fast, generators={"Artist": "gaussian_copula"},
                        **tiny).fit(database)
    assert {t: g.name for t, g in synth.table_generators.items()} == {
        "Genre": "gaussian_copula", "MediaType": "gaussian_copula", "Artist": "gaussian_copula"}
    assert synth.small_tables == ["Genre", "MediaType"]
    insisted = Synthesizer(metadata, generator="ctgan", generator_params=fast,
                           generators={"MediaType": "ctgan", "Artist": "gaussian_copula"},
                           table_params={"Genre": fast, "MediaType": fast}).fit(database)
    assert insisted.table_generators["MediaType"].name == "ctgan"  # named for the table
    assert insisted.table_generators["Genre"].name == "ctgan"  # its own parameters given
    assert insisted.small_tables == []
