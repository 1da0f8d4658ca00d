"""A third-party DP generator, written against the public privacy seam only (``_my_dp_gen_source.py``),
installed as a (fake) distribution: it passes the conformance kit's private rules and trains under ``dp``
in code and on the command line; a generator without ``supports_dp`` is refused unless ``allow_non_dp``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hiveframe.errors import ConfigError
from hiveframe.testing.conformance import check_table_generator

SOURCE = (Path(__file__).parent / "_my_dp_gen_source.py").read_text()


@pytest.fixture
def my_dp_gen(fake_distribution, my_gen):
    """The DP generator's distribution, beside ``my_gen``'s (which it depends on)."""
    return fake_distribution("hiveframe-mydpgen", {"mydpgen": "hiveframe_mydpgen.plugin"}, version="0.3.0",
                             modules={"hiveframe_mydpgen.plugin": SOURCE}, requires=["hiveframe-mygen"])


@pytest.fixture(scope="module")
def census_small(census_folder) -> Path:
    """The first 3,000 census rows as a one-table Parquet folder."""
    return census_folder(3000)


@pytest.fixture(scope="module")
def census_metadata(census_small, tmp_path_factory) -> Path:
    """Declared metadata (written once, as a user would after reviewing `hiveframe detect`)."""

    from hiveframe import detect
    from hiveframe.components import Database

    path = tmp_path_factory.mktemp("meta") / "metadata.json"
    detect(Database({"census": pq.read_table(census_small / "census.parquet")})).to_json(path)
    return path


def test_passes_the_private_rules_of_the_conformance_kit(my_dp_gen, hiveframe_host_factory):
    host = hiveframe_host_factory()
    report = check_table_generator(host.component_class("table_generator", "my_dp_gen"), host=host)
    assert "supports_dp: implements _fit_private" in report.passed
    assert "trains under the 'dp' wrapper within its epsilon" in report.passed
    assert "a private fit keeps no value of a single row (canary)" in report.passed


def test_trains_under_dp_in_code(my_dp_gen, hiveframe_host_factory, census_small, census_metadata, tmp_path):
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    metadata = Metadata.from_json(census_metadata)
    synth = Synthesizer(metadata, generator="my_dp_gen", dp={"epsilon": 1.0}, seed=3, host=hiveframe_host_factory())
    synth.fit(census_small)
    report = synth.privacy_report()["dp"]
    table = report["tables"]["census"]
    assert table["private"] is True and table["generator"] == "my_dp_gen"
    assert 0 < report["epsilon_spent"] <= 1.0 + 1e-9 and report["privacy_unit"] == "census entity"
    assert table["training"]["mechanism"] == "gaussian (clipped sums of rescaled numbers)"
    assert any(r["release"] == "my_dp_gen: clipped sums" for r in table["releases"])
    out = synth.sample(scale=0.1, seed=4)["census"]
    assert abs(out.num_rows - 300) < 50 and out.num_columns == 15
    path = synth.save(tmp_path / "model")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["versions"]["mydpgen"] == "0.3.0"
    assert manifest["privacy"]["dp"]["tables"]["census"]["private"] is True


def test_trains_under_dp_on_the_command_line(my_dp_gen, census_small, census_metadata, tmp_path, capsys):
    from hiveframe.cli import main

    model = tmp_path / "model"
    assert main(["fit", str(census_small), "-o", str(model), "--generator", "my_dp_gen", "--metadata",
                 str(census_metadata), "--dp", "epsilon=1", "-q"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("differential privacy: epsilon ") and "per census entity (budget 1)" in last


def test_a_generator_without_supports_dp_is_refused(my_gen, hiveframe_host_factory, census_small, census_metadata):
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    metadata = Metadata.from_json(census_metadata)
    with pytest.raises(ConfigError) as err:
        Synthesizer(metadata, generator="my_gen", dp={"epsilon": 1.0}, host=hiveframe_host_factory()).fit(census_small)
    assert "cannot train with differential privacy" in str(err.value) and "allow_non_dp" in str(err.value)


def test_allow_non_dp_is_recorded_in_the_manifest(my_gen, hiveframe_host_factory, census_small, census_metadata,
                                                  tmp_path):
    from hiveframe_privacy.dp import NonPrivateWarning

    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

    metadata = Metadata.from_json(census_metadata)
    synth = Synthesizer(metadata, generator="my_gen", dp={"epsilon": 1.0, "allow_non_dp": True},
                        host=hiveframe_host_factory())
    with pytest.warns(NonPrivateWarning):
        synth.fit(census_small)
    manifest = json.loads((synth.save(tmp_path / "m") / "manifest.json").read_text())
    dp = manifest["privacy"]["dp"]
    assert dp["non_private_tables"] == ["census"] and dp["guarantee"].startswith("NO differential privacy")
    assert dp["tables"]["census"]["reason"] == "allow_non_dp"


def test_a_child_table_of_a_non_conditional_dp_generator_gets_no_context(my_dp_gen, hiveframe_host_factory):
    """The DP wrapper answers ``conditional`` for the generator it wraps: a generator that takes no
    context is given none, even where the metadata declares context columns (the engine once read the
    wrapper's class attribute, a property object, always true)."""
    import numpy as np
    import pyarrow as pa

    from hiveframe.pipeline import Synthesizer
    from tests.conftest import users_sessions_metadata

    rng = np.random.default_rng(0)
    users = pa.table({"user_id": pa.array(np.arange(300), pa.int64()),
                      "plan": pa.array(rng.choice(["free", "pro"], 300))})
    owner = rng.integers(0, 300, 1200)
    sessions = pa.table({"user_id": pa.array(owner, pa.int64()),
                         "device": pa.array(np.where(owner % 2 == 0, "phone", "laptop")),
                         "at": pa.array(np.datetime64("2024-01-01") + rng.integers(0, 10**6, 1200).astype("timedelta64[s]"),
                                        pa.timestamp("us"))})
    synth = Synthesizer(users_sessions_metadata(context_columns=("plan",)), generator="my_dp_gen", dp={"epsilon": 1.0}, seed=0,
                        host=hiveframe_host_factory()).fit({"users": users, "sessions": sessions})
    assert synth.table_generators["sessions"].conditional is False
    assert synth.describe()["sessions"]["context"] == []
    assert synth.sample(seed=1)["sessions"].num_rows > 0
