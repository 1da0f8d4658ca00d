"""The VGM transformer and its Dirichlet-process mixture (hiveframe_ctgan._vgm, .transformers)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Span
from hiveframe.metadata import Column, ColumnKind
from hiveframe.testing.conformance import check_transformer
from hiveframe_ctgan._vgm import fit_dp_mixture
from hiveframe_ctgan.transformers import VGMTransformer

TRUE_WEIGHTS = np.array([0.6, 0.3, 0.1])
TRUE_MEANS = np.array([-5.0, 3.0, 10.0])
TRUE_STDS = np.array([1.0, 0.5, 2.0])


def three_modes(n: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = rng.choice(3, size=n, p=TRUE_WEIGHTS)
    return rng.normal(TRUE_MEANS[k], TRUE_STDS[k])


def num(name: str = "x", dtype: str = "double") -> Column:
    return Column(name, ColumnKind.NUMERICAL, dtype)


def mixture_cdf(weights: np.ndarray, means: np.ndarray, stds: np.ndarray, grid: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    return (weights[None, :] * norm.cdf((grid[:, None] - means[None, :]) / stds[None, :])).sum(axis=1)


# -- the mixture -------------------------------------------------------------------------------------
def test_recovers_well_separated_modes_and_prunes_the_rest():
    mix = fit_dp_mixture(three_modes(), max_components=10)
    assert len(mix.means) == 3  # 10 components to start with, 7 pruned
    order = np.argsort(mix.means)
    np.testing.assert_allclose(mix.means[order], TRUE_MEANS, atol=0.1)
    np.testing.assert_allclose(mix.stds[order], TRUE_STDS, rtol=0.1)
    np.testing.assert_allclose(mix.weights[order], TRUE_WEIGHTS, atol=0.02)
    assert mix.converged


def test_merge_moves_raise_the_evidence_bound():
    x = three_modes()
    plain = fit_dp_mixture(x, merges=False, max_iter=100)
    merged = fit_dp_mixture(x, merges=True, max_iter=100)
    assert merged.elbo > plain.elbo
    assert len(merged.means) <= len(plain.means)


def test_spike_and_slab_keeps_the_rare_slab():
    """A zero-inflated column (like capital_loss) must not collapse into one wide mode."""
    rng = np.random.default_rng(1)
    x = np.where(rng.random(20_000) < 0.95, 0.0, rng.normal(1900, 250, 20_000))
    mix = fit_dp_mixture(x)
    assert len(mix.means) >= 2
    assert np.min(np.abs(mix.means)) < 1.0 and np.max(mix.means) > 1500


def test_constant_and_empty_inputs_give_one_mode():
    for x in (np.full(50, 3.5), np.zeros(0)):
        mix = fit_dp_mixture(x)
        assert len(mix.means) == 1 and np.isfinite(mix.stds).all()


@pytest.mark.filterwarnings("ignore:.*did not converge")
def test_modes_agree_with_scikit_learn():
    """Our mixture and sklearn's DP mixture describe the same distribution on multi-modal data."""
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    x = three_modes(3000, seed=3)
    ours = fit_dp_mixture(x, max_components=10, weight_concentration=1e-3)
    ref = sklearn_mixture.BayesianGaussianMixture(
        n_components=10, weight_concentration_prior_type="dirichlet_process", weight_concentration_prior=1e-3,
        max_iter=200, random_state=0).fit(x[:, None])
    keep = ref.weights_ > 0.005
    ref_w = ref.weights_[keep] / ref.weights_[keep].sum()
    ref_m = ref.means_.ravel()[keep]
    ref_s = np.sqrt(ref.covariances_.ravel()[keep])
    grid = np.linspace(x.min(), x.max(), 400)
    gap = np.abs(mixture_cdf(ours.weights, ours.means, ours.stds, grid) - mixture_cdf(ref_w, ref_m, ref_s, grid))
    assert gap.max() < 0.02
    # every heavy sklearn mode has one of ours close by (sklearn may split a bump, never miss one)
    for w, m, s in zip(ref_w, ref_m, ref_s, strict=True):
        if w > 0.05:
            assert np.min(np.abs(ours.means - m)) < 1.5 * s
    # and both put the same mass around each true mode
    for mu in TRUE_MEANS:
        ours_mass = ours.weights[np.abs(ours.means - mu) < 2].sum()
        ref_mass = ref_w[np.abs(ref_m - mu) < 2].sum()
        assert abs(ours_mass - ref_mass) < 0.03


# -- the transformer ---------------------------------------------------------------------------------
def test_encoding_is_alpha_then_mode_onehot_and_reverses_exactly():
    x = three_modes(3000)
    t = VGMTransformer()
    t.fit(pa.array(x), num(), seed=0)
    assert t.output_spans == [Span(1, "scalar"), Span(3, "onehot")]
    enc = t.transform(pa.array(x))
    assert enc.shape == (3000, 4)
    assert np.allclose(enc[:, 1:].sum(axis=1), 1.0)
    _, means, stds = t.modes
    k = enc[:, 1:].argmax(axis=1)
    np.testing.assert_allclose(enc[:, 0], (x - means[k]) / (4 * stds[k]))
    assert np.abs(enc[:, 0]).max() < 1.5
    np.testing.assert_allclose(t.reverse(enc).to_numpy(), x, rtol=0, atol=1e-9)


def test_modes_are_sampled_from_responsibilities_unless_told_to_take_the_best():
    # two overlapping modes: values in the middle are split between them when sampling
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 1500), rng.normal(2.5, 1, 1500)])
    sampled, best = VGMTransformer(), VGMTransformer(sample_modes=False)
    for t in (sampled, best):
        t.fit(pa.array(x), num(), seed=0)
    if sampled.n_modes < 2:
        pytest.skip("the mixture merged the overlapping modes")
    middle = pa.array(np.full(2000, x.mean()))
    assert len(np.unique(sampled.transform(middle)[:, 1:].argmax(axis=1))) > 1
    assert len(np.unique(best.transform(middle)[:, 1:].argmax(axis=1))) == 1
    # sampling is seeded: the same transformer encodes the same values the same way
    np.testing.assert_array_equal(sampled.transform(middle), sampled.transform(middle))


def test_fits_on_a_bounded_subsample(monkeypatch):
    import hiveframe_ctgan._vgm as vgm

    seen = []
    real = vgm.fit_dp_mixture

    def spy(values, **kw):
        seen.append(len(values))
        return real(values, **kw)

    monkeypatch.setattr(vgm, "fit_dp_mixture", spy)
    t = VGMTransformer(max_fit_rows=2000)
    x = pa.array(three_modes(20_000))
    t.fit(x, num(), seed=0)
    assert seen == [2000]
    assert t.transform(x).shape[0] == 20_000


def test_integers_with_nulls_round_trip_to_integers():
    values = pa.array([1, 5, None, 7, 100, 5, 5, None] * 50, type=pa.int32())
    t = VGMTransformer()
    t.fit(values, num("i", "int32"), seed=0)
    spans = t.output_spans
    assert spans[1].width == t.n_modes + 1  # the null mode
    enc = t.transform(values)
    nulls = np.asarray(values.is_null())
    assert (enc[nulls, -1] == 1).all() and (enc[~nulls, -1] == 0).all()
    back = t.reverse(enc)
    assert back.type == pa.int32() and back.equals(values)


@pytest.mark.parametrize("values, column", [
    (pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i * 7 % 400) for i in range(300)] + [None]),
     Column("d", ColumnKind.DATETIME, "date32[day]")),
    (pa.array([dt.datetime(2014, 1, 1, 5, 3, 2) + dt.timedelta(seconds=i * 7919) for i in range(300)],
              type=pa.timestamp("us")),
     Column("t", ColumnKind.DATETIME, "timestamp[us]")),
    (pa.array(["2014-01-02", None, "2014-03-04", "2015-07-30"] * 20),
     Column("s", ColumnKind.DATETIME, "string", datetime_format="%Y-%m-%d")),
])
def test_datetimes_round_trip_to_their_type(values, column):
    t = VGMTransformer()
    t.fit(values, column, seed=0)
    back = t.reverse(t.transform(values))
    assert back.type == values.type
    assert back.equals(values)


def test_one_value_column():
    values = pa.array([3.5] * 40)
    t = VGMTransformer()
    t.fit(values, num(), seed=0)
    assert t.n_modes == 1
    enc = t.transform(values)
    assert np.isfinite(enc).all()
    assert t.reverse(enc).equals(values)
    # anything the generator outputs decodes to that value
    assert set(t.reverse(np.array([[0.9, 1.0], [-0.7, 1.0]])).to_pylist()) == {3.5}


@pytest.mark.parametrize("values", [pa.nulls(30), pa.array([None] * 30, type=pa.float64())])
def test_all_null_column(values):
    t = VGMTransformer()
    t.fit(values, num(), seed=0)
    enc = t.transform(values)
    assert np.isfinite(enc).all() and (enc[:, -1] == 1).all()
    back = t.reverse(np.array([[0.3, 0.0, 1.0], [0.1, 1.0, 0.0]]))
    assert back.null_count == 2  # every output is null: no value was ever seen


def test_reverse_clips_to_the_observed_range():
    values = pa.array(np.linspace(0, 10, 200))
    t = VGMTransformer()
    t.fit(values, num(), seed=0)
    wild = np.zeros((2, 1 + t.n_modes))
    wild[:, 1] = 1
    wild[:, 0] = [50.0, -50.0]
    back = t.reverse(wild).to_numpy()
    assert back.min() >= 0 and back.max() <= 10


def test_rejects_bad_parameters():
    from hiveframe.errors import ConfigError

    with pytest.raises(ConfigError, match="max_modes"):
        VGMTransformer(max_modes=0)


def test_conforms_to_the_transformer_contract():
    values = pa.array(np.round(three_modes(500), 3).tolist() + [None])
    check_transformer(VGMTransformer, values=values, column=num())
