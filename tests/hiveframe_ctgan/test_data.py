"""Layout, conditional-vector sampler and validation score (hiveframe_ctgan._data)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components.encoding import TableEncoder
from hiveframe_ctgan._data import (
    CondSampler,
    FidelityScorer,
    NullRule,
    NullRulePlace,
    Segment,
    apply_null_rules,
    build_layout,
    discrete_codes,
    encode_permuted,
    find_null_rules,
    log_chance_pure,
)

from .conftest import mixed_table, tiny


def fitted_layout(threshold: int = 50):
    data, table = mixed_table(400)
    gen = tiny("ctgan")
    enc = TableEncoder(gen._default_transformer).fit(data, list(table.columns), seed=0)
    encoded = enc.transform(data)
    return enc, encoded, build_layout(enc, encoded, threshold), data, table


def test_layout_puts_scalars_first_and_is_invertible():
    enc, encoded, layout, _, _ = fitted_layout()
    x = layout.forward(encoded)
    n_vgm = 3  # amount, count, day
    assert layout.n_scalar == n_vgm
    assert [s.discrete for s in layout.segments] == [False, False, True, True, False]  # modes, cats, bool, modes
    assert sum(s.width for s in layout.segments) + layout.n_scalar == layout.width == encoded.shape[1]
    for s in layout.segments:  # each segment is a one-hot block of the permuted matrix
        np.testing.assert_allclose(x[:, s.start:s.start + s.width].sum(axis=1), 1.0)
    np.testing.assert_allclose(layout.backward(x), encoded, atol=1e-6)
    back = enc.reverse(layout.backward(x))
    assert back["color"].equals(pa.chunked_array([mixed_table(400)[0].column("color").combine_chunks()]).combine_chunks())


def test_wide_segments_go_last():
    _, encoded, layout, _, _ = fitted_layout(threshold=2)
    wide = [s for s in layout.segments if s.wide]
    assert wide and min(s.start for s in wide) == layout.narrow_end
    assert all(s.width > 2 for s in wide)


def test_training_by_sampling_uses_log_frequencies_and_matching_rows():
    rng = np.random.default_rng(0)
    codes_a = rng.choice(3, size=5000, p=[0.9, 0.09, 0.01])
    codes_b = rng.choice(2, size=5000, p=[0.5, 0.5])
    counts = [np.bincount(codes_a, minlength=3), np.bincount(codes_b, minlength=2)]
    sampler = CondSampler(counts, [codes_a, codes_b])
    cats, rows = sampler.sample_train(200_000, np.random.default_rng(1))
    # the column is uniform, the category log-frequency weighted within it
    col_a = cats < 3
    assert abs(col_a.mean() - 0.5) < 0.01
    expected = np.log1p(counts[0]) / np.log1p(counts[0]).sum()
    got = np.bincount(cats[col_a], minlength=3) / col_a.sum()
    np.testing.assert_allclose(got, expected, atol=0.01)
    # every row drawn holds the category of its condition
    assert (codes_a[rows[col_a]] == cats[col_a]).all()
    assert (codes_b[rows[~col_a]] == cats[~col_a] - 3).all()


def test_original_frequencies_for_generation_and_no_condition_rows():
    counts = [np.array([80, 20, 0])]
    sampler = CondSampler(counts, [np.repeat([0, 1], [80, 20])])
    cats = sampler.sample_original(100_000, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(cats, minlength=3) / 1e5, [0.8, 0.2, 0.0], atol=0.01)
    none, _ = sampler.sample_train(10_000, np.random.default_rng(0), p_none=0.5)
    assert abs((none == sampler.n_cats).mean() - 0.5) < 0.03
    empty = CondSampler([], [])
    assert (empty.sample_original(5, np.random.default_rng(0)) == 0).all()


def test_discrete_codes_read_the_argmax():
    _, encoded, layout, data, _ = fitted_layout()
    x = layout.forward(encoded)
    color_seg = layout.discrete_segments[0]
    codes = discrete_codes(x, [color_seg])[0]
    assert codes.shape == (400,) and codes.max() < color_seg.width


@pytest.mark.parametrize("threshold", [50, 2])
def test_direct_encoding_equals_layout_then_forward(threshold):
    """``encode_permuted`` (the fit's fast path) gives the same bits as encode, build_layout, forward,
    take rows and argmax, with VGM, one-hot (narrow and embedded) and overridden scalar columns."""
    from hiveframe._builtin.transformers import CategoricalFrequencyTransformer, FloatTransformer

    data, table = mixed_table(400)
    gen = tiny("ctgan")
    overrides = {"amount": FloatTransformer(), "member": CategoricalFrequencyTransformer()}
    enc = TableEncoder(gen._default_transformer, overrides=overrides).fit(data, list(table.columns), seed=0)
    encoded = enc.transform(data)
    layout = build_layout(enc, encoded, threshold)
    x = layout.forward(encoded)
    assert layout.n_scalar == 4 and layout.scale[layout.scale != 1].size  # a scaled scalar is covered
    rows = np.sort(np.random.default_rng(0).permutation(400)[:300])
    for subset in (None, rows):
        fast_layout, fast, codes = encode_permuted(enc, data, threshold, rows=subset)
        want = x if subset is None else x[subset]
        assert fast.dtype == np.float32
        np.testing.assert_array_equal(fast, want)
        assert fast_layout.to_json() == layout.to_json()
        for got, expected in zip(codes, discrete_codes(want, layout.discrete_segments), strict=True):
            np.testing.assert_array_equal(got, expected)


def test_fidelity_score_ranks_real_above_shuffled():
    data, table = mixed_table(1000)
    real, holdout = data.slice(0, 500), data.slice(500)
    scorer = FidelityScorer(real, table.columns)
    same = scorer.score({c: holdout.column(c).combine_chunks() for c in table.column_names})
    rng = np.random.default_rng(0)
    shuffled = {c: holdout.column(c).combine_chunks().take(pa.array(rng.permutation(500))) for c in table.column_names}
    broken = dict(shuffled, color=pa.array(["red"] * 500))
    assert 0.85 < same <= 1.0
    assert scorer.score(shuffled) < same  # shapes kept, pair trends lost
    assert scorer.score(broken) < scorer.score(shuffled)


# -- exact null dependencies ---------------------------------------------------------------------------
def test_a_category_that_fixes_nulls_gives_a_rule_and_chance_patterns_do_not():
    rng = np.random.default_rng(0)
    n = 600
    kind = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    booked = kind == 0
    unique = np.arange(n)  # one row per category: always "pure", never evidence
    noise = rng.choice(4, n)
    nulls = {0: ~booked, 1: rng.random(n) < 0.3}
    codes = {5: (kind, 3), 6: (unique, n), 7: (noise, 4)}
    rules = find_null_rules(nulls, codes)
    assert len(rules) == 1
    rule = rules[0]
    assert (rule.target, rule.source) == (0, 5)
    assert rule.null.tolist() == [0, 1, 1]
    assert NullRule.from_json(rule.to_json()).null.tolist() == [0, 1, 1]
    # a category unseen in training is left to the generator
    seen = find_null_rules({0: ~booked}, {5: (kind, 4)})[0]
    assert seen.null.tolist() == [0, 1, 1, -1]


def test_few_rows_are_not_evidence_enough():
    # 3 rows: a pure pattern has a fair chance of arising by itself
    assert find_null_rules({0: np.array([True, False, False])}, {1: (np.array([0, 1, 1]), 2)}) == []
    assert log_chance_pure(np.array([1, 1, 1]), 0.5) == 0.0  # one row per category costs nothing
    assert log_chance_pure(np.array([100, 100]), 0.5) < np.log(1e-50)
    assert log_chance_pure(np.array([10]), 0.0) == 0.0


def test_applying_rules_fixes_rows_both_ways_and_is_idempotent():
    # permuted matrix: [alpha | 2 modes + null slot | 3 categories]
    source, target = Segment(4, 3, 1, True, False), Segment(1, 3, 0, False, False)
    place = NullRulePlace(NullRule(0, 1, np.array([0, 1, -1], dtype=np.int8)), source, target, 0, np.array([0.7, 0.3]))
    rows = [
        [0.5, 0.9, 0.1, 0.0, 0.0, 1.0, 0.0],  # category 1 (null) but a value: made null
        [0.0, 0.0, 0.1, 0.9, 1.0, 0.0, 0.0],  # category 0 (value) but null: gets a value
        [0.3, 0.1, 0.9, 0.0, 1.0, 0.0, 0.0],  # category 0 with a value: untouched
        [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0],  # unseen category 2: untouched
    ]
    m = np.array(rows, dtype=np.float32)
    out = apply_null_rules(m.copy(), [place], np.random.default_rng(0))
    null = out[:, 1:4].argmax(axis=1) == 2
    assert null.tolist() == [True, False, False, True]
    assert out[0, 0] == 0.0
    assert -1.0 <= out[1, 0] <= 1.0 and out[1, 1:4].sum() == 1.0
    np.testing.assert_array_equal(out[2:], m[2:])
    again = apply_null_rules(out.copy(), [place], np.random.default_rng(1))
    np.testing.assert_array_equal(again, out)
