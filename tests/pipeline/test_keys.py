"""Key formats: generated keys keep the real key's type and look, and stay unique."""

from __future__ import annotations

import json
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
    r = np.random.default_rng(2)
    real = [f"i{r.integers(10, 9999)}_{r.integers(0, 99):02d}_{r.integers(0, 9)}i" for _ in range(300)]
    fmt = keys.learn_format(pa.array(real))
    out = keys.generate(fmt, 50, rng(), unique=False)
    assert all(re.fullmatch(r"i\d{2,4}_\d\d_\di", v) for v in out)


def test_a_rare_value_shape_is_never_stored_character_by_character() -> None:
    """Regression: a unique phone number among other keys was kept, character by character, as its own
    template, and came out of the synthetic data."""
    common = [f"c{i:05d}x" for i in range(200)]
    rare = ["+1-415-555-0134", "SSN078051120", "Zed9Q"]
    fmt = keys.learn_format(pa.array(common + rare))
    saved = json.dumps(fmt)
    assert "415" not in saved and "078" not in saved and "Zed" not in saved
    out = keys.generate(fmt, 5000, rng(), unique=False)
    assert not set(out) & set(rare)
    assert all(re.fullmatch(r"c\d{5}x", v) for v in out)  # the rare shapes are gone


def test_rare_characters_at_a_position_become_their_class() -> None:
    # 40 keys start with 'a', one with 'Q': 'Q' at position 0 is generalised to any upper-case letter
    real = [f"a{i:03d}" for i in range(40)] + ["Q123"]
    fmt = keys.learn_format(pa.array([*real, "zz"]))  # two shapes: not a counter
    chars, weights = fmt["templates"][0]["positions"][0]
    share = dict(zip(chars, weights, strict=True))
    assert share["a"] > 0.9 and "Q" in share and len([c for c in share if c.isupper()]) == 26
    assert max(w for c, w in share.items() if c.isupper()) < 0.01


def test_few_distinct_values_give_a_generic_shape() -> None:
    # a value repeated on many rows is still one value: five repeats of three ids keep no shape of them
    real = ["x9-77", "x9-78", "y1-00"] * 5
    fmt = keys.learn_format(pa.array(real))
    assert fmt["kind"] == "template" and len(fmt["templates"]) == 1
    positions = fmt["templates"][0]["positions"]
    assert [p[0] for p in positions if len(p[0]) == 1] == ["-"]  # the separator is the only constant
    assert all(len(p[0]) == 36 for p in positions if p[0] != "-")


def test_rare_counter_affixes_are_dropped() -> None:
    real = [f"CUST-{i:04d}" for i in range(50)] + ["VIP-0099"]
    fmt = keys.learn_format(pa.array(real))
    assert fmt["kind"] == "counter" and [a[:2] for a in fmt["affixes"]] == [["CUST-", ""]]


def test_surrogate_keys_for_pii_key_columns() -> None:
    email = keys.surrogate_format("email", pa.string())
    out = keys.generate(email, 3, rng())
    assert out == ["user1@example.invalid", "user2@example.invalid", "user3@example.invalid"]
    assert keys.generate(keys.surrogate_format("phone", pa.string()), 2, rng()) == ["phone-1", "phone-2"]
    assert keys.surrogate_format("national_id", pa.int64()) == {"kind": "int", "start": 1}


def test_concatenated_keys_are_detected_and_rebuilt() -> None:
    table = pa.table({"pk": ["a1_b1", "a2_b7"], "x": ["a1", "a2"], "y": ["b1", "b7"]})
    fmt = keys.detect_concat(table, "pk", ["x", "y"])
    assert fmt == {"kind": "concat", "columns": ["x", "y"], "sep": "_"}
    out = keys.generate(fmt, 1, rng(), columns={"x": pa.array(["q"]), "y": pa.array(["r"])})
    assert out.to_pylist() == ["q_r"]
    assert keys.detect_concat(pa.table({"pk": ["z", "w"], "x": ["a", "b"]}), "pk", ["x"]) is None


def test_keys_that_start_with_their_parent_key() -> None:
    molecules = pa.array(["i100_02_7i", "i98_88_4i"])
    # tails '_1i'... '_12i': each shape and character is shared by enough distinct tails to be kept
    atoms = pa.array([f"{m[:-1]}_{j}i" for m in ("i100_02_7i", "i98_88_4i") for j in range(1, 13)])
    fks = pa.array([m for m in ("i100_02_7i", "i98_88_4i") for _ in range(1, 13)])
    fmt = keys.detect_prefixed(atoms, fks, molecules)
    assert fmt is not None and fmt["strip"] == 1
    out = keys.generate(fmt, 4, rng(), parent_keys=pa.array(["i5_55_5i"] * 4))
    assert len(set(out)) == 4 and all(v.startswith("i5_55_5_") and v.endswith("i") for v in out)
    assert keys.detect_prefixed(pa.array(["x1", "y2"]), pa.array(["a", "b"]), pa.array(["a", "b"])) is None


def test_to_arrow_keeps_the_real_type() -> None:
    assert keys.to_arrow(np.arange(3), pa.int32()).type == pa.int32()
    assert keys.to_arrow(["a"], pa.large_string()).type == pa.large_string()
