"""Self-references become forests with the real depth and fan-out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from hiveframe.pipeline.forest import ForestModel, depths


def chinook_like() -> tuple[np.ndarray, pa.Table]:
    parent = np.array([-1, 0, 1, 1, 1, 0, 5, 5])
    titles = ["General Manager", "Sales Manager", "Agent", "Agent", "Agent", "IT Manager", "IT Staff", "IT Staff"]
    return parent, pa.table({"title": titles})


def test_depths_of_a_forest_and_of_a_cycle() -> None:
    parent, _ = chinook_like()
    assert depths(parent).tolist() == [0, 1, 2, 2, 2, 1, 2, 2]
    assert depths(np.array([1, 0, -1])).tolist() == [0, 0, 0]  # a cycle counts as roots


def test_sampled_forest_is_valid_with_realistic_depth() -> None:
    parent, content = chinook_like()
    model = ForestModel().fit(parent, content)
    for n in (4, 8, 24, 200):
        rows = content.take(pa.array(np.arange(n) % 8))
        out = model.sample(rows, np.random.default_rng(n))
        d = depths(out)
        assert (out < n).all() and (out != np.arange(n)).all()
        assert (d >= 0).all() and d.max() <= 3  # no cycle, depth like the real one
        assert 1 <= (out < 0).sum() <= max(1, round(n / 8) + 1)
        top = np.array(rows.column("title").to_pylist())[out < 0]
        assert "General Manager" in set(top)  # the content that sits on top stays on top


def test_state_round_trip() -> None:
    parent, content = chinook_like()
    model = ForestModel().fit(parent, content)
    values, arrays = model.to_state()
    again = ForestModel.from_state(values, arrays)
    assert np.array_equal(model.sample(content, np.random.default_rng(1)),
                          again.sample(content, np.random.default_rng(1)))
