"""Secret noise and neighbouring datasets: what a saved DP model reveals, attacked on census_adult.

* Secret noise: two fits with the same seed release different noise; the stored seed does not replay
  it (the attack that recovered exact row counts from the old models fails); the entropy is nowhere in
  the model; a fixed test source is marked NOT private.
* Neighbouring datasets D and D + one canary row (the same metadata, declared):
  - with one fixed noise source, the two saved models are identical except at the places the
    manifest's ``released_values`` lists as DP releases;
  - replaying D's noisy releases into the fit of D + canary (the coupling of the DP proof) gives a
    byte-identical model: a DP model is a function of its releases alone;
  - both checks fail on the old behaviour (exact distinct-value counts in the ledger, a delta from
    the exact row count, a sampling rate from the exact row count), reproduced here by patching.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hiveframe_privacy import dpsgd
from hiveframe_privacy.accountant import default_delta
from hiveframe_privacy.budget import TableBudget
from hiveframe_privacy.dp import DPWrapper, PrivateTraining

from hiveframe.components import NoiseSource
from hiveframe.pipeline.plan import derive_seed
from hiveframe.pipeline.synthesizer import Synthesizer

ROWS = 1537
TINY_TVAE = {"compress_dims": [16], "decompress_dims": [16], "embedding_dim": 8, "batch_size": 100, "epochs": 1,
             "checkpoint_every": None}
TINY_CTGAN = {"generator_dim": [16], "discriminator_dim": [16], "embedding_dim": 8, "batch_size": 100, "pac": 1,
              "epochs": 1, "checkpoint_every": None}
TINY_AUTOREGRESSIVE = {"embedding_dim": 4, "hidden": 16, "batch_size": 100, "epochs": 1, "patience": None,
                       "checkpoint_every": None}
GENERATORS = {"gaussian_copula": {}, "tvae": TINY_TVAE, "ctgan": TINY_CTGAN, "autoregressive": TINY_AUTOREGRESSIVE}


@pytest.fixture(scope="module")
def census(shared_data) -> tuple[pa.Table, pa.Table, Any]:
    """D (census rows), D + one canary row (new categories, extreme numbers), and D's metadata."""
    import hiveframe
    from hiveframe import detect

    d = hiveframe.read(shared_data / "census_adult")["census"].slice(0, ROWS)
    canary = {c: d.column(c)[5].as_py() for c in d.column_names}
    canary.update(workclass="Canary-Guild", native_country="Atlantis", age=97, capital_gain=99_999)
    neighbour = pa.concat_tables([d, pa.Table.from_pylist([canary], schema=d.schema)])
    return d, neighbour, detect({"census": d})


def _fit(metadata: Any, data: pa.Table, generator: str, path: Path, *, noise: NoiseSource | None,
         seed: int = 0) -> Path:
    dp: dict[str, Any] = {"epsilon": 1.0}
    if noise is not None:
        dp["noise"] = noise
    synth = Synthesizer(metadata, generator=generator, generator_params=GENERATORS[generator], dp=dp, seed=seed)
    synth.fit({"census": data})
    return synth.save(path)


# -- reading a model folder --------------------------------------------------------------------------
def _pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _leaves(obj: Any, parts: list[str]) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            yield from _leaves(v, parts + [str(k)])
    elif isinstance(obj, list) and obj:
        for i, v in enumerate(obj):
            yield from _leaves(v, parts + [str(i)])
    else:
        yield _pointer(parts), obj


def _content(path: Path) -> dict[str, Any]:
    """Every value of a model file, by JSON pointer (npz: by array name; other files: the bytes)."""
    if path.suffix == ".json":
        return dict(_leaves(json.loads(path.read_text()), []))
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return {"/" + k: arrays[k] for k in arrays.files}
    return {"": path.read_bytes()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def differences(a: Path, b: Path) -> list[tuple[str, str]]:
    """(file, pointer) of every value that differs between two model folders (or exists in one only)."""
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    out = [(f, "<file exists in one model only>") for f in sorted(files_a ^ files_b)]
    for f in sorted(files_a & files_b):
        ca, cb = _content(a / f), _content(b / f)
        out += [(f, k) for k in sorted(set(ca) | set(cb)) if k not in ca or k not in cb or not _same(ca[k], cb[k])]
    return out


def release_places(model: Path) -> list[tuple[str, str]]:
    """(file glob, pointer glob) of every place the manifest lists as holding DP-released values."""
    manifest = json.loads((model / "manifest.json").read_text())
    listed = manifest["privacy"]["dp"]["released_values"]
    components = model / "components"
    places: list[tuple[str, str]] = [
        # checksums of the files compared here one by one
        ("manifest.json", "/files/*"), ("manifest.json", "/manifest_digest"),
    ]
    for table, entries in listed.items():
        dp_files = [p for p in components.rglob("*.json")
                    if json.loads(p.read_text()).get("name") == "dp_protected"
                    and json.loads(p.read_text())["state"].get("__table_name__") == table]
        assert len(dp_files) <= 1, dp_files  # none: a table without columns to learn (a link table)
        dp_file = dp_files[0].relative_to(model).as_posix() if dp_files else "<none>"
        inner = json.loads(dp_files[0].read_text())["nested"]["inner"] if dp_files else "<none>"
        for entry in entries:
            place, at = entry["place"], entry["at"]
            if place == "manifest":
                places.append(("manifest.json", at))
            elif place == "relational plan":
                places.append(("relational.json", at))
            elif place == "dp component":
                places.append((dp_file, at))
            elif place == "table report":
                table_ptr = _pointer(["privacy", "dp", "tables", table])
                places += [("manifest.json", table_ptr + at), (dp_file, "/state/report" + at)]
            elif place == "inner generator":
                places.append((f"components/{inner}.*", at))
            elif place == "linkage models":
                plan = json.loads((model / "relational.json").read_text())
                names = [r["linkage"] for r in plan["tables"][table]["relations"] if r.get("linkage")]
                places += [(f"components/{plan['components'][n]}.*", at) for n in names]
            else:
                raise AssertionError(f"unknown place {place!r} in released_values")
    return places


def unlisted_differences(a: Path, b: Path) -> list[tuple[str, str]]:
    places = release_places(a)
    assert places == release_places(b)
    return [(f, k) for f, k in differences(a, b)
            if not any(fnmatchcase(f, fp) and (fnmatchcase(k, kp) or fnmatchcase(k, kp + "/*")) for fp, kp in places)]


# -- replaying releases: the coupling of the DP proof --------------------------------------------------
class ReleaseTape:
    """Records every noisy release of a fit (Gaussian statistics and moments, DP-SGD gradients) and
    plays them back, in order, into a later fit.

    A thresholded histogram over the values seen is one value longer when the canary brings a new
    category (last before the null bin, in order of appearance): it is played back with a noisy count
    of 0 for it, below any threshold (the coupling fails only with the threshold's probability delta).
    """

    def __init__(self) -> None:
        self.noise: list[np.ndarray] = []
        self.gradients: list[tuple[dict[str, Any], dict[str, float]]] = []
        self.replaying = False

    @contextmanager
    def active(self, monkeypatch: pytest.MonkeyPatch, *, replay: bool) -> Iterator[ReleaseTape]:
        tape = self
        tape.replaying = replay
        noise_at, grad_at = iter(list(tape.noise)), iter(list(tape.gradients))
        real_noise, real_gradient = TableBudget.gaussian_noise, dpsgd.private_gradient

        def gaussian_noise(budget: TableBudget, values: np.ndarray, std: float) -> np.ndarray:
            if not replay:
                out = real_noise(budget, values, std)
                tape.noise.append(out.copy())
                return out
            recorded = next(noise_at)
            values = np.asarray(values)
            extra = values.size - recorded.size
            assert values.ndim == recorded.ndim == 1 or extra == 0, "only histograms over values seen may grow"
            assert 0 <= extra <= 2, (values.shape, recorded.shape)
            return np.concatenate([recorded[:-1], np.zeros(extra), recorded[-1:]]) if extra else recorded.copy()

        def private_gradient(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, float]]:
            if not replay:
                grads, stats = real_gradient(*args, **kwargs)
                tape.gradients.append(({k: v.clone() for k, v in grads.items()}, dict(stats)))
                return grads, stats
            grads, stats = next(grad_at)
            return {k: v.clone() for k, v in grads.items()}, dict(stats)

        monkeypatch.setattr(TableBudget, "gaussian_noise", gaussian_noise)
        monkeypatch.setattr(dpsgd, "private_gradient", private_gradient)
        try:
            yield tape
        finally:
            monkeypatch.setattr(TableBudget, "gaussian_noise", real_noise)
            monkeypatch.setattr(dpsgd, "private_gradient", real_gradient)
        if replay:
            assert next(noise_at, None) is None and next(grad_at, None) is None, "the fits released differently"


def _replayed_pair(census, generator: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    d, neighbour, md = census
    tape = ReleaseTape()
    with tape.active(monkeypatch, replay=False):
        a = _fit(md, d, generator, root / "d", noise=NoiseSource.fixed(0))
    assert tape.noise and (tape.gradients or generator == "gaussian_copula")
    with tape.active(monkeypatch, replay=True):
        b = _fit(md, neighbour, generator, root / "d_plus_canary", noise=NoiseSource.fixed(0))
    return a, b


# -- the old behaviour, to show that the checks catch it ---------------------------------------------
def _old_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger kept the number of distinct real values of a column without a declared domain."""
    monkeypatch.setattr(TableBudget, "record_released", lambda self, count: None)


def _old_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default delta was computed from the exact row count (of the root tables, per entity)."""
    real = DPWrapper.begin

    def begin(self: DPWrapper, metadata: Any, database: Any, **kwargs: Any) -> Any:
        roots = [t.name for t in metadata.tables
                 if not any(not fk.is_self_reference for fk in metadata.parents_of(t.name))]
        self.delta = default_delta(sum(database[r].num_rows for r in roots))
        return real(self, metadata, database, **kwargs)

    monkeypatch.setattr(DPWrapper, "begin", begin)


def _old_sampling_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """DP-SGD's sampling rate was batch / (exact row count)."""
    monkeypatch.setattr(PrivateTraining, "rows", property(lambda self: self.data.num_rows))


# -- neighbouring datasets -----------------------------------------------------------------------------
@pytest.mark.parametrize("generator", list(GENERATORS))
def test_neighbouring_models_differ_only_in_listed_releases(census, generator, tmp_path):
    d, neighbour, md = census
    a = _fit(md, d, generator, tmp_path / "d", noise=NoiseSource.fixed(0))
    b = _fit(md, neighbour, generator, tmp_path / "d_plus_canary", noise=NoiseSource.fixed(0))
    diffs = differences(a, b)
    # the same noise in both fits: the released row count moves by exactly the one row added
    rows = [json.loads((m / "manifest.json").read_text())["tables"]["census"]["rows"] for m in (a, b)]
    assert rows[1] == rows[0] + 1 and rows[0] not in (ROWS, ROWS + 1)
    assert ("manifest.json", "/tables/census/rows") in diffs
    assert unlisted_differences(a, b) == []


@pytest.mark.parametrize("generator", list(GENERATORS))
def test_a_dp_model_is_a_function_of_its_releases(census, generator, tmp_path, monkeypatch):
    a, b = _replayed_pair(census, generator, tmp_path, monkeypatch)
    assert differences(a, b) == []  # byte for byte: the canary changed nothing but the releases


@pytest.mark.parametrize(("generator", "old", "where"), [
    ("gaussian_copula", _old_ledger, "/releases/"),
    ("gaussian_copula", _old_delta, "/delta"),
    ("tvae", _old_sampling_rate, "/training/sampling_rate"),
])
def test_the_checks_catch_the_old_exact_values(census, generator, old, where, tmp_path, monkeypatch):
    old(monkeypatch)
    a, b = _replayed_pair(census, generator, tmp_path, monkeypatch)
    assert any(where in k for _, k in differences(a, b)), differences(a, b)
    if old is _old_delta:
        # the ledger's counts and the sampling rate are listed places (computed from releases now):
        # only the replay tells a noisy-derived value from an exact one there; the delta is not listed
        d, neighbour, md = census
        a2 = _fit(md, d, generator, tmp_path / "fixed_d", noise=NoiseSource.fixed(0))
        b2 = _fit(md, neighbour, generator, tmp_path / "fixed_d_plus_canary", noise=NoiseSource.fixed(0))
        assert any(where in k for _, k in unlisted_differences(a2, b2))


# -- secret noise ----------------------------------------------------------------------------------------
def _numbers(model: Path) -> dict[str, Any]:
    return {f"{p.relative_to(model).as_posix()}{k}": v for p in sorted(model.rglob("*")) if p.is_file()
            for k, v in _content(p).items()}


def _row_count_attack(model: Path) -> float:
    """What the old code allowed: replay the row count's noise from the stored seed and subtract it."""
    manifest = json.loads((model / "manifest.json").read_text())
    report = manifest["privacy"]["dp"]["tables"]["census"]
    noise = np.random.default_rng(derive_seed(int(manifest["seed"]), 0, "rows")).normal(
        0.0, report["preprocessing_noise_multiplier"])
    return manifest["tables"]["census"]["rows"] - noise


def test_the_stored_seed_does_not_replay_the_noise(census, tmp_path, monkeypatch):
    d, _, md = census
    models = [_fit(md, d, "gaussian_copula", tmp_path / f"m{i}", noise=None) for i in range(3)]
    errors = [abs(_row_count_attack(m) - ROWS) for m in models]
    assert max(errors) > 1.0, errors  # the attack misses by the size of the noise
    assert not all(round(_row_count_attack(m)) == ROWS for m in models)
    # control: when the noise does follow the seed (the old code), the same attack gets the exact count
    monkeypatch.setattr(NoiseSource, "numpy", lambda self: np.random.default_rng(derive_seed(0, 0, "rows")))
    old = _fit(md, d, "gaussian_copula", tmp_path / "old", noise=None)
    assert round(_row_count_attack(old)) == ROWS


def test_two_fits_with_the_same_seed_release_different_noise(census, tmp_path):
    d, _, md = census
    copulas = [_fit(md, d, "gaussian_copula", tmp_path / f"c{i}", noise=None, seed=7) for i in range(3)]
    rows = {json.loads((m / "manifest.json").read_text())["tables"]["census"]["rows"] for m in copulas}
    assert len(rows) > 1  # the noisy row count (equal in all three only by a ~1e-5 chance)
    first, second = (_numbers(m) for m in copulas[:2])
    moments = [k for k in first if k.endswith("generator.inner.npz/corr")]
    assert moments and not np.array_equal(first[moments[0]], second[moments[0]])  # the copula's moments
    histograms = [k for k in first if k.endswith(("/lo", "/hi", "/knots_x", "/knots_u")) and ".inner.npz" in k]
    assert any(not np.array_equal(first[k], second[k]) for k in histograms)  # marginals from noisy histograms
    nets = [_numbers(_fit(md, d, "tvae", tmp_path / f"t{i}", noise=None, seed=7)) for i in range(2)]
    weights = [k for k in nets[0] if "/net/" in k]
    assert weights and all(not np.array_equal(nets[0][k], nets[1][k]) for k in weights)  # DP-SGD weights


def test_the_noise_source_is_never_saved(census, tmp_path, noise_sources_made):
    d, _, md = census
    made = noise_sources_made
    model = _fit(md, d, "gaussian_copula", tmp_path / "m", noise=None)
    entropies = [s._root.entropy for s in made if s.secret]
    assert entropies
    shown = {form for e in entropies for form in (str(e), hex(e)[2:], f"{e:x}")}
    for p in model.rglob("*"):
        if p.is_file():
            text = p.read_bytes().decode("latin-1")
            assert not any(form in text for form in shown), f"{p} holds the noise's entropy"
            if p.suffix == ".npz":  # nor as 32-bit words of the seed
                words = {int(w) for e in entropies for w in np.random.SeedSequence(e).generate_state(4)}
                with np.load(p) as arrays:
                    assert not any(np.isin(list(words), arrays[k]).any() for k in arrays.files
                                   if arrays[k].dtype.kind in "iu")
    manifest = json.loads((model / "manifest.json").read_text())
    assert "noise" not in manifest["config"]["dp"]
    assert manifest["privacy"]["dp"]["noise"].startswith("secret")


def test_a_fixed_noise_source_is_marked_not_private(census, tmp_path):
    d, _, md = census
    model = _fit(md, d, "gaussian_copula", tmp_path / "m", noise=NoiseSource.fixed(3))
    dp = json.loads((model / "manifest.json").read_text())["privacy"]["dp"]
    assert dp["noise"].startswith("FIXED")
    assert dp["guarantee"].startswith("NOT differentially private")
    assert not math.isnan(dp["epsilon_spent"])


# -- a relational database: the engine's releases (linkage histograms, null shares, parent counts) ---------
@pytest.fixture(scope="module")
def chinook(chinook_path) -> tuple[dict[str, pa.Table], dict[str, pa.Table], Any]:
    """Chinook, and Chinook plus one canary root entity: a new artist with one album.

    Under per-entity DP the neighbouring databases differ by one root entity with everything below it.
    (A canary invoice line is a poor neighbour here: its track hangs below the MediaType and Genre
    roots, whose caps leave most tracks, and so most invoice lines, out of training.)
    """
    from hiveframe import detect
    from hiveframe.plugins import PluginHost

    db = dict(PluginHost().read(str(chinook_path)).tables)
    artists, albums = db["Artist"], db["Album"]
    artist = {"ArtistId": 999_999, "Name": "Canary Quartet"}
    album = {"AlbumId": 999_999, "Title": "Canary Songs", "ArtistId": 999_999}
    neighbour = {**db, "Artist": pa.concat_tables([artists, pa.Table.from_pylist([artist], schema=artists.schema)]),
                 "Album": pa.concat_tables([albums, pa.Table.from_pylist([album], schema=albums.schema)])}
    return db, neighbour, detect(db)


def _fit_db(metadata: Any, db: dict[str, pa.Table], path: Path) -> Path:
    synth = Synthesizer(metadata, dp={"epsilon": 1.0, "noise": NoiseSource.fixed(0)}, seed=0, pii=False)
    synth.fit(db)
    return synth.save(path)


def test_relational_neighbours_differ_only_in_listed_releases(chinook, tmp_path, monkeypatch):
    db, neighbour, md = chinook
    a, b = _fit_db(md, db, tmp_path / "d"), _fit_db(md, neighbour, tmp_path / "d_plus_canary")
    changed = differences(a, b)
    assert ("manifest.json", "/tables/Artist/rows") in changed and ("manifest.json", "/tables/Album/rows") in changed
    assert unlisted_differences(a, b) == []
    tape = ReleaseTape()
    with tape.active(monkeypatch, replay=False):
        a = _fit_db(md, db, tmp_path / "record")
    with tape.active(monkeypatch, replay=True):
        b = _fit_db(md, neighbour, tmp_path / "replay")
    assert differences(a, b) == []


def test_sampling_a_saved_dp_model_stays_reproducible(census, tmp_path):
    """Secret noise is for fitting only: ``seed`` still governs sampling a saved model."""
    d, _, md = census
    model = _fit(md, d, "gaussian_copula", tmp_path / "m", noise=None)
    first, second = (Synthesizer.load(model).sample(seed=11)["census"] for _ in range(2))
    assert first.num_rows > 0 and first.equals(second)
    assert not first.equals(Synthesizer.load(model).sample(seed=12)["census"])
