"""Model directories: round trips, and every way a model on disk can be wrong, each refused cleanly."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import hiveframe
from hiveframe.components import ComponentState
from hiveframe.errors import PersistenceError
from hiveframe.hookspecs import hookimpl
from hiveframe.persistence import (
    FORMAT_VERSION,
    MANIFEST,
    component_key,
    load_component,
    read_manifest,
    save_component,
    write_manifest,
)
from hiveframe.testing.conformance import sample_metadata, sample_table
from hiveframe.testing.reference import EmpiricalLinkage, IdentityTransformer, ResampleGenerator


def reference_plugin() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        hiveframe_register_table_generators=hookimpl(lambda: [ResampleGenerator]),
        hiveframe_register_transformers=hookimpl(lambda: [IdentityTransformer]),
        hiveframe_register_linkage_models=hookimpl(lambda: [EmpiricalLinkage]),
    )


@pytest.fixture
def host(hiveframe_host_factory):
    return hiveframe_host_factory(plugins={"reference": reference_plugin()})


@pytest.fixture
def fitted():
    data = sample_table(60, seed=4)
    gen = ResampleGenerator(transformers={"income": IdentityTransformer()})
    gen.transformers["income"].fit(data.column("income"), sample_metadata(data).column("income"))
    return gen.fit(data, sample_metadata(data), seed=1)


def make_model(directory: Path, component, *, versions=None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save_component(directory, "tables/people/generator", component)
    write_manifest(directory, {"versions": versions or {"builtin": hiveframe.__version__}, "seed": 3})
    return directory


def resign(directory: Path, change) -> None:
    """Edit a manifest and recompute its digest, as a crafted (not accidentally edited) model would."""
    path = directory / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.pop("manifest_digest")
    change(manifest)
    body = json.dumps(manifest, indent=2, sort_keys=True)
    manifest["manifest_digest"] = hashlib.sha256(body.encode()).hexdigest()
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


# -- round trips ----------------------------------------------------------------------------------
def test_component_round_trip_with_nested_transformers(tmp_path, host, fitted):
    save_component(tmp_path, "gen", fitted)
    record = json.loads((tmp_path / "components" / "gen.json").read_text())
    assert record["kind"] == "table_generator" and record["name"] == "reference_resample"
    assert record["nested"] == {"transformers": {"income": "gen.transformers.income"}}
    assert (tmp_path / "components" / "gen.transformers.income.json").is_file()
    with np.load(tmp_path / "components" / "gen.npz", allow_pickle=False) as npz:
        assert npz.files and all(npz[k].dtype != object for k in npz.files)

    loaded = load_component(tmp_path, "gen", host)
    assert isinstance(loaded, ResampleGenerator)
    assert isinstance(loaded.transformers["income"], IdentityTransformer)
    assert loaded.transformers["income"]._mean == pytest.approx(fitted.transformers["income"]._mean)
    assert loaded.fitted_table == fitted.fitted_table
    assert loaded.sample(25, seed=9).equals(fitted.sample(25, seed=9))


def test_model_directory_round_trip(tmp_path, host, fitted):
    model = make_model(tmp_path / "model", fitted)
    manifest = read_manifest(model, installed_versions=host.versions())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["seed"] == 3
    assert set(manifest["files"]) == {
        "components/tables/people/generator.json", "components/tables/people/generator.npz",
        "components/tables/people/generator.transformers.income.json"}
    loaded = load_component(model, "tables/people/generator", host)
    assert loaded.sample(10, seed=1).equals(fitted.sample(10, seed=1))


def test_synthesizer_round_trip(tmp_path, hiveframe_host):
    from hiveframe.pipeline import Synthesizer

    data = {"people": sample_table(150, seed=2)}
    synth = Synthesizer(seed=5, host=hiveframe_host).fit(data)
    path = synth.save(tmp_path / "model")
    assert (path / MANIFEST).is_file() and (path / "metadata.json").is_file()
    again = Synthesizer.load(path, host=hiveframe_host)
    assert again.metadata == synth.metadata
    a, b = synth.sample(seed=11), again.sample(seed=11)
    assert a["people"].equals(b["people"])


def test_component_keys_are_filesystem_safe():
    assert component_key("tables", "Invoice Line", "generator").startswith("tables/Invoice_Line-")
    assert component_key("tables", "plain") == "tables/plain"
    assert component_key("a/b") != component_key("a_b")


# -- refused models -------------------------------------------------------------------------------
def test_missing_directory(tmp_path, host):
    with pytest.raises(PersistenceError, match="does not exist") as err:
        read_manifest(tmp_path / "nowhere", installed_versions=host.versions())
    assert "hiveframe fit" in str(err.value)


def test_directory_that_is_not_a_model(tmp_path, host):
    (tmp_path / "stuff.txt").write_text("hello")
    with pytest.raises(PersistenceError, match="is not a hiveframe model"):
        read_manifest(tmp_path, installed_versions=host.versions())


def test_corrupt_manifest(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    (model / MANIFEST).write_text("{not json")
    with pytest.raises(PersistenceError, match="corrupt"):
        read_manifest(model, installed_versions=host.versions())


def test_tampered_manifest(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    manifest = json.loads((model / MANIFEST).read_text())
    manifest["seed"] = 4
    (model / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    with pytest.raises(PersistenceError, match="modified after the model was saved") as err:
        read_manifest(model, installed_versions=host.versions())
    assert "refit" in str(err.value)


def test_modified_component_file(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    path = model / "components" / "tables" / "people" / "generator.json"
    record = json.loads(path.read_text())
    record["params"]["match_context"] = False
    path.write_text(json.dumps(record))
    with pytest.raises(PersistenceError, match=r"'components/tables/people/generator.json'.*modified or is corrupt"):
        read_manifest(model, installed_versions=host.versions())


def test_missing_and_added_component_files(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    extra = model / "components" / "tables" / "people" / "sneaky.json"
    extra.write_text("{}")
    with pytest.raises(PersistenceError, match="added after the model was saved"):
        read_manifest(model, installed_versions=host.versions())
    extra.unlink()
    (model / "components" / "tables" / "people" / "generator.npz").unlink()
    with pytest.raises(PersistenceError, match="is missing"):
        read_manifest(model, installed_versions=host.versions())


def test_model_from_another_format_version(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    resign(model, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(PersistenceError, match=f"format version {FORMAT_VERSION + 1} cannot be read") as err:
        read_manifest(model, installed_versions=host.versions())
    assert "refit" in str(err.value)


def test_model_from_another_hiveframe_version(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted, versions={"builtin": "0.99.0"})
    with pytest.raises(PersistenceError, match=r"saved with builtin 0\.99\.0; installed is") as err:
        read_manifest(model, installed_versions=host.versions())
    assert "0.99.x" in str(err.value)


def test_model_saved_with_a_plugin_that_is_not_installed(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted, versions={"builtin": hiveframe.__version__, "acme": "1.2.0"})
    with pytest.raises(PersistenceError, match="saved with plugin 'acme' 1.2.0, which is not installed"):
        read_manifest(model, installed_versions=host.versions())


def test_model_saved_with_a_blocked_plugin(tmp_path, hiveframe_host_factory, fitted):
    plugin = reference_plugin()
    model = make_model(tmp_path / "m", fitted,
                       versions={"builtin": hiveframe.__version__, "reference": None})
    blocked = hiveframe_host_factory(plugins={"reference": plugin}, block=["reference"])
    with pytest.raises(PersistenceError, match="not installed or is blocked"):
        read_manifest(model, installed_versions=blocked.versions())


def test_manifest_listing_a_file_outside_the_model(tmp_path, host, fitted):
    model = make_model(tmp_path / "m", fitted)
    resign(model, lambda m: m["files"].update({"../outside.json": "0" * 64}))
    with pytest.raises(PersistenceError, match="outside the model"):
        read_manifest(model, installed_versions=host.versions())


# -- loading never runs code ----------------------------------------------------------------------
def test_component_naming_an_unregistered_component_fails_cleanly(tmp_path, host):
    (tmp_path / "components").mkdir()
    evil = {"kind": "table_generator", "name": "hf_evil_module_xyz", "plugin": "hf_evil_module_xyz",
            "params": {}, "nested": {}, "state": {}, "arrays": []}
    (tmp_path / "components" / "gen.json").write_text(json.dumps(evil))
    with pytest.raises(PersistenceError) as err:
        load_component(tmp_path, "gen", host)
    assert "table generator 'hf_evil_module_xyz' from plugin 'hf_evil_module_xyz'" in str(err.value)
    assert "not registered" in str(err.value)
    assert "hf_evil_module_xyz" not in sys.modules


def test_component_naming_a_python_path_is_not_imported(tmp_path, host):
    (tmp_path / "components").mkdir()
    record = {"kind": "table_generator", "name": "os.system", "params": {}, "nested": {}, "state": {},
              "arrays": []}
    (tmp_path / "components" / "gen.json").write_text(json.dumps(record))
    with pytest.raises(PersistenceError, match="not registered"):
        load_component(tmp_path, "gen", host)


def test_component_file_without_kind(tmp_path, host):
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "gen.json").write_text(json.dumps({"params": {}}))
    with pytest.raises(PersistenceError, match="does not name a component"):
        load_component(tmp_path, "gen", host)


def test_component_with_parameters_the_class_no_longer_has(tmp_path, host, fitted):
    save_component(tmp_path, "gen", fitted)
    path = tmp_path / "components" / "gen.json"
    record = json.loads(path.read_text())
    record["params"]["renamed_parameter"] = 1
    path.write_text(json.dumps(record))
    with pytest.raises(PersistenceError, match="cannot be rebuilt from its saved parameters"):
        load_component(tmp_path, "gen", host)


def test_pickled_arrays_are_refused(tmp_path, host, fitted):
    save_component(tmp_path, "gen", fitted)
    npz = tmp_path / "components" / "gen.npz"
    with np.load(npz, allow_pickle=False) as arrays:
        names = list(arrays.files)
    np.savez(npz, **{name: np.array([{"payload": 1}], dtype=object) for name in names})
    with pytest.raises(PersistenceError, match="cannot be read"):
        load_component(tmp_path, "gen", host)


def test_unsafe_component_keys_are_refused(tmp_path, host):
    with pytest.raises(PersistenceError, match="unsafe component key"):
        load_component(tmp_path, "../../etc/passwd", host)


def test_object_arrays_are_never_saved(tmp_path):
    class Weird(ResampleGenerator):
        def _get_state(self):
            return ComponentState(arrays={"bad": np.array(["a", None], dtype=object)})

    data = sample_table(10)
    gen = Weird().fit(data, sample_metadata(data))
    with pytest.raises(PersistenceError, match="dtype object"):
        save_component(tmp_path, "gen", gen)


# -- every path a model names stays inside it -----------------------------------------------------
@pytest.fixture
def saved_model(tmp_path, hiveframe_host):
    from hiveframe.pipeline import Synthesizer

    synth = Synthesizer(seed=5, host=hiveframe_host).fit({"people": sample_table(80, seed=2)})
    return synth.save(tmp_path / "model")


def load_error(model: Path, host) -> PersistenceError:
    from hiveframe.pipeline import Synthesizer

    with pytest.raises(PersistenceError) as err:
        Synthesizer.load(model, host=host)
    assert err.value.hint
    return err.value


def set_relational(field: str, value: str):
    return lambda m: m["relational"].update({field: value})


@pytest.mark.parametrize("field", ["plan", "arrays"])
@pytest.mark.parametrize("value", ["/etc/passwd", "../relational.json", "components/../../x", "", "a\\b"])
def test_relational_files_outside_the_model_are_refused(saved_model, hiveframe_host, field, value):
    (saved_model.parent / "relational.json").write_text((saved_model / "relational.json").read_text())
    resign(saved_model, set_relational(field, value))
    error = load_error(saved_model, hiveframe_host)
    assert repr(value) in str(error) and ("outside the model" in str(error) or "invalid" in str(error))


def test_relational_file_no_digest_covers_is_refused(saved_model, hiveframe_host):
    (saved_model / "plan2.json").write_text((saved_model / "relational.json").read_text())
    resign(saved_model, set_relational("plan", "plan2.json"))
    assert "does not list" in str(load_error(saved_model, hiveframe_host))


def test_component_keys_in_manifest_and_plan_stay_inside(saved_model, hiveframe_host):
    resign(saved_model, lambda m: m["tables"]["people"].update({"generator": "/etc/passwd"}))
    assert "unsafe component key '/etc/passwd'" in str(load_error(saved_model, hiveframe_host))


def test_component_keys_in_the_relational_plan_stay_inside(saved_model, hiveframe_host):
    plan = saved_model / "relational.json"
    values = json.loads(plan.read_text())
    values["components"] = {"people": "../../../etc/hosts"}
    plan.write_text(json.dumps(values))
    digest = hashlib.sha256(plan.read_bytes()).hexdigest()
    resign(saved_model, lambda m: m["files"].update({"relational.json": digest}))
    assert "unsafe component key '../../../etc/hosts'" in str(load_error(saved_model, hiveframe_host))


@pytest.mark.parametrize("link", ["relational.npz", "components/tables", "metadata.json"])
def test_symlinks_in_a_model_are_refused(saved_model, hiveframe_host, link):
    path = saved_model / link
    outside = saved_model.parent / ("outside-" + path.name)
    path.rename(outside)
    path.symlink_to(outside)  # same bytes, so only the link itself can give it away
    error = load_error(saved_model, hiveframe_host)
    assert "symbolic link" in str(error) and link in str(error)


def test_a_model_folder_with_other_files_is_not_replaced(saved_model, hiveframe_host):
    from hiveframe.pipeline import Synthesizer

    synth = Synthesizer.load(saved_model, host=hiveframe_host)
    (saved_model / "notes.txt").write_text("mine")
    with pytest.raises(PersistenceError, match="notes.txt") as err:
        synth.save(saved_model)
    assert err.value.hint and (saved_model / "notes.txt").read_text() == "mine"
    (saved_model / "notes.txt").unlink()
    synth.save(saved_model)  # its own model: replaced whole
    assert sorted(p.name for p in saved_model.parent.iterdir()) == ["model"]


def test_unsafe_table_names_make_safe_keys_and_checkpoint_folders(tmp_path, hiveframe_host, monkeypatch):
    from hiveframe.pipeline import Synthesizer

    for name in ("..", ".", ".hidden", "", "../esc", "/abs"):
        key = component_key(name)
        assert "/" not in key and not key.startswith(".") and key
    seen = []
    fit_table = hiveframe_host.hooks.fit_table
    monkeypatch.setattr(hiveframe_host.hooks, "fit_table", lambda **kw: seen.append(kw["workdir"]) or fit_table(**kw))
    names = ["../esc", "/abs", ".."]
    synth = Synthesizer(seed=1, host=hiveframe_host).fit(
        {name: sample_table(40, seed=i) for i, name in enumerate(names)}, workdir=tmp_path / "work")
    assert len(seen) == 3 and all(path.parent == tmp_path / "work" for path in seen)
    model = synth.save(tmp_path / "model")
    assert Synthesizer.load(model, host=hiveframe_host).sample(seed=2).names == names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing escaped beside it


def test_a_save_that_fails_keeps_the_old_model_and_no_staging(saved_model, hiveframe_host, monkeypatch):
    from hiveframe.pipeline import Synthesizer, store

    before = {p.relative_to(saved_model): p.read_bytes() for p in saved_model.rglob("*") if p.is_file()}
    synth = Synthesizer.load(saved_model, host=hiveframe_host)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_manifest", disk_full)
    with pytest.raises(PersistenceError, match="No space left on device") as err:
        synth.save(saved_model)
    assert err.value.hint
    assert {p.relative_to(saved_model): p.read_bytes() for p in saved_model.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in saved_model.parent.iterdir()) == ["model"]
