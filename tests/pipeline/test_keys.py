"""Key formats: generated keys keep the real key's type and look, and stay unique."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from hiveframe.pipeline import keys


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_integer_keys_count_up_from_the_real_minimum() -> None:
    fmt = keys.learn_format(pa.array([576, 3818, 704, 12]))
    assert fmt == {"kind": "int", "start": 12}
    out = keys.generate(fmt, 5, rng())
    assert list(out) == [12, 13, 14, 15, 16]
    # per group (the non-key part of a composite key): a counter per group
    grouped = keys.generate(fmt, 5, rng(), group=np.array([3, 1, 3, 1, 3]))
    assert list(grouped) == [12, 12, 13, 13, 14]


def test_ten_character_lowercase_alphanumeric_ids() -> None:
    r = np.random.default_rng(1)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    real = ["".join(r.choice(alphabet, 10)) for _ in range(2000)]
    fmt = keys.learn_format(pa.array(real))
    assert fmt["kind"] == "template"
    out = keys.generate(fmt, 5000, rng())
    assert len(set(out)) == 5000
    assert all(re.fullmatch(r"[a-z0-9]{10}", v) for v in out)
    assert not set(out) & set(real) or len(set(out) & set(real)) < 3


def test_prefix_and_number_keys_become_counters() -> None:
    fmt = keys.learn_format(pa.array([f"g{i}" for i in range(1736)]))
    assert fmt["kind"] == "counter"
    out = keys.generate(fmt, 5208, rng())  # more than the real ones: still unique, same look
    assert len(set(out)) == 5208 and all(re.fullmatch(r"g\d+", v) for v in out)
    padded = keys.learn_format(pa.array(["CUST-0007", "CUST-0102", "CUST-0003"]))
    assert keys.generate(padded, 2, rng()) == ["CUST-0003", "CUST-0004"]


def test_structured_string_keys_keep_their_shape() -> None:
    real = ["i100_02_7i", "i100_21_0i", "i98_88_4i", "i1003_04_5i", "i99_65_0i"] * 3
    fmt = keys.learn_format(pa.array(real))
    out = keys.generate(fmt, 50, rng(), unique=False)
    assert all(re.fullmatch(r"i\d{2,4}_\d\d_\di", v) for v in out)


def test_concatenated_keys_are_detected_and_rebuilt() -> None:
    table = pa.table({"pk": ["a1_b1", "a2_b7"], "x": ["a1", "a2"], "y": ["b1", "b7"]})
    fmt = keys.detect_concat(table, "pk", ["x", "y"])
    assert fmt == {"kind": "concat", "columns": ["x", "y"], "sep": "_"}
    out = keys.generate(fmt, 1, rng(), columns={"x": pa.array(["q"]), "y": pa.array(["r"])})
    assert out.to_pylist() == ["q_r"]
    assert keys.detect_concat(pa.table({"pk": ["z", "w"], "x": ["a", "b"]}), "pk", ["x"]) is None


def test_keys_that_start_with_their_parent_key() -> None:
    molecules = pa.array(["i100_02_7i", "i98_88_4i"])
    atoms = pa.array(["i100_02_7_1i", "i100_02_7_10_1i", "i98_88_4_2i"])
    fks = pa.array(["i100_02_7i", "i100_02_7i", "i98_88_4i"])
    fmt = keys.detect_prefixed(atoms, fks, molecules)
    assert fmt is not None and fmt["strip"] == 1
    out = keys.generate(fmt, 4, rng(), parent_keys=pa.array(["i5_55_5i"] * 4))
    assert len(set(out)) == 4 and all(v.startswith("i5_55_5_") and v.endswith("i") for v in out)
    assert keys.detect_prefixed(pa.array(["x1", "y2"]), pa.array(["a", "b"]), pa.array(["a", "b"])) is None


def test_to_arrow_keeps_the_real_type() -> None:
    assert keys.to_arrow(np.arange(3), pa.int32()).type == pa.int32()
    assert keys.to_arrow(["a"], pa.large_string()).type == pa.large_string()
