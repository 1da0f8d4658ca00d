"""The DP noise source: secret by default, replayable only when a test asks for it."""

import numpy as np

from hiveframe.components import NoiseSource, secret_token


def test_two_secret_sources_draw_different_noise():
    a, b = NoiseSource(), NoiseSource()
    assert a.secret and b.secret
    assert not np.array_equal(a.numpy().normal(size=8), b.numpy().normal(size=8))
    assert a.torch().initial_seed() != b.torch().initial_seed()


def test_each_generator_of_one_source_has_its_own_stream():
    source = NoiseSource()
    assert not np.array_equal(source.numpy().normal(size=8), source.numpy().normal(size=8))


def test_fixed_source_replays_and_says_it_is_not_private():
    a, b = NoiseSource.fixed(7), NoiseSource.fixed(7)
    assert not a.secret
    assert np.array_equal(a.numpy().normal(size=8), b.numpy().normal(size=8))
    assert a.torch().initial_seed() == b.torch().initial_seed()
    assert "FIXED" in a.describe() and "secret" in NoiseSource().describe()


def test_secret_tokens_differ():
    assert secret_token() != secret_token() and len(secret_token(32)) == 32
