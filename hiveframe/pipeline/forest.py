"""Self-references (``Employee.ReportsTo``): a valid forest with the real depth and fan-out.

Learned: the share of roots (rows whose self-reference is null), the number of children of a node at
each depth, and a ridge regression of a row's depth on its content (a "General Manager" sits at the
top, "IT Staff" at the bottom). Generated: a forest grown breadth-first with fan-outs drawn per
depth, whose positions are handed to the rows in the order of their predicted depth. A forest has no
cycles by construction, and every reference points to a row of the same generated table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata.relations import depths
from hiveframe.pipeline.features import FeatureEncoder, ridge

if TYPE_CHECKING:
    import pyarrow as pa


class ForestModel:
    def __init__(self) -> None:
        self.root_rate = 1.0
        self.fanouts: list[list[int]] = []  # per depth: observed numbers of children
        self.encoder = FeatureEncoder()
        self.weights = np.zeros(0)
        self.intercept = 0.0
        self.noise = 0.0

    def fit(self, parent: np.ndarray, content: pa.Table) -> ForestModel:
        n = len(parent)
        d = depths(parent)
        self.root_rate = float((d == 0).mean()) if n else 1.0
        kids = np.bincount(parent[parent >= 0], minlength=n) if n else np.zeros(0, np.int64)
        self.fanouts = [kids[d == level].astype(int).tolist() for level in range(int(d.max()) + 1 if n else 0)]
        x = self.encoder.fit_transform(content)
        if n > 1 and x.shape[1]:
            w, b = ridge(x, d.astype(float), alpha=1.0)
            self.weights, self.intercept = w, float(b)
            self.noise = float(np.std(d - (x @ w + b)))
        else:
            self.weights, self.intercept, self.noise = np.zeros(x.shape[1]), float(d.mean() if n else 0), 0.0
        return self

    def sample(self, content: pa.Table, rng: np.random.Generator) -> np.ndarray:
        """Parent row index for each row (-1 for roots)."""
        n = content.num_rows
        parent = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return parent
        x = self.encoder.transform(content)
        score = (x @ self.weights + self.intercept) if x.shape[1] else np.full(n, self.intercept)
        score = score + rng.normal(0, max(self.noise, 1e-3) * 0.5, size=n)
        rows_by_position = np.argsort(score, kind="stable")
        pos_parent = self._grow(n, rng)
        parent_rows = np.where(pos_parent >= 0, rows_by_position[np.maximum(pos_parent, 0)], -1)
        parent[rows_by_position] = parent_rows
        return parent

    def _grow(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Parent position of each position 0..n-1, breadth-first (positions sorted by depth)."""
        roots = max(1, int(round(self.root_rate * n))) if self.fanouts else n
        roots = min(roots, n)
        pos_parent = np.full(n, -1, dtype=np.int64)
        level = np.zeros(n, dtype=np.int64)
        filled = roots
        head = 0
        while filled < n and head < filled:
            lv = int(level[head])
            options = self.fanouts[min(lv, len(self.fanouts) - 1)] if self.fanouts else [0]
            k = int(options[rng.integers(len(options))]) if options else 0
            k = min(k, n - filled)
            pos_parent[filled:filled + k] = head
            level[filled:filled + k] = lv + 1
            filled += k
            head += 1
        if filled < n:  # fan-outs ran dry: hang the rest under nodes of levels that have children
            weights = np.array([np.mean(self.fanouts[min(int(lv), len(self.fanouts) - 1)]) if self.fanouts
                                else 0.0 for lv in level[:filled]])
            if weights.sum() <= 0:
                weights = np.ones(filled)
            hosts = rng.choice(filled, size=n - filled, p=weights / weights.sum())
            pos_parent[filled:] = np.sort(hosts)
        return pos_parent

    # -- state -----------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"root_rate": self.root_rate, "fanouts": self.fanouts, "encoder": self.encoder.to_json(),
                 "intercept": self.intercept, "noise": self.noise}, {"weights": np.asarray(self.weights)})

    @classmethod
    def from_state(cls, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> ForestModel:
        model = cls()
        model.root_rate = float(values["root_rate"])
        model.fanouts = [list(map(int, f)) for f in values["fanouts"]]
        model.encoder = FeatureEncoder.from_json(values["encoder"])
        model.intercept = float(values["intercept"])
        model.noise = float(values["noise"])
        model.weights = np.asarray(arrays["weights"], dtype=float)
        return model
