"""Built-in linkage models: how many children each parent row gets.

``conditional`` (the default) is a *distributional regression tree*: a CART tree grown with the
Poisson deviance on the encoded parent attributes, whose leaves keep the empirical distribution of
the counts of the training parents that fall in them. Why not a (zero-inflated / hurdle) negative
binomial or Poisson-lognormal regression? Children counts of real databases are rarely shaped like
any parametric family: they have hard caps (AirBnB's 50 sessions per user), exact 1:1 links, gaps
and repeating patterns (Chinook's invoices have 1, 2, 4, 6, 9 or 14 lines), and a zero mass that
depends on the parent (users who signed up before 2014 have no sessions at all). A tree conditions on
the parent where the data says it matters, and the leaf histograms reproduce zeros, caps, minimums,
maximums and 1:1 links exactly because they never put mass on a count the data did not show.

With ``calibrate=True`` the drawn counts are then coupled to the relationship's marginal distribution
by rank (stratified draws from the marginal, given to parents in the order of their conditional
draws): the marginal is kept even when the synthetic parents' attributes drift from the real ones,
while parents the tree predicts to have more children still get more.

``empirical`` draws each parent's count from the relationship's histogram, ignoring the parent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.linkage import LinkageModel

if TYPE_CHECKING:
    import pyarrow as pa


class _Histogram:
    """An empirical distribution of counts: sorted support and cumulative probabilities."""

    def __init__(self, values: np.ndarray, cum: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.int64)
        self.cum = np.asarray(cum, dtype=np.float64)

    @classmethod
    def of(cls, counts: np.ndarray) -> _Histogram:
        if len(counts) == 0:
            return cls(np.array([0]), np.array([1.0]))
        values, freq = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
        cum = np.cumsum(freq) / freq.sum()
        cum[-1] = 1.0
        return cls(values, cum)

    def quantile(self, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.cum, u, side="right")
        return self.values[np.minimum(idx, len(self.values) - 1)]

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.quantile(rng.random(n))

    def stratified(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws, one from each of n equal-probability strata, in random order.

        Systematic sampling: one random offset shared by every stratum, so the n values follow the
        histogram to within 1/n (their CDF never strays further), while different offsets still
        give different totals.
        """
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        u = (rng.permutation(n) + rng.random()) / n
        return self.quantile(u)


@attrs.define(kw_only=True, eq=False)
class EmpiricalLinkage(LinkageModel):
    """Each parent's count drawn from the relationship's own histogram (ignores parent attributes)."""

    name: ClassVar[str] = "empirical"
    #: stratified draws keep the histogram more exactly than independent ones.
    stratified: bool = True
    _hist: _Histogram | None = attrs.field(default=None, init=False)

    def _fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None) -> None:
        self._hist = _Histogram.of(counts)

    def _sample(self, parents: pa.Table, *, seed: int | None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        assert self._hist is not None
        n = parents.num_rows
        return self._hist.stratified(n, rng) if self.stratified else self._hist.draw(n, rng)

    def _get_state(self) -> ComponentState:
        assert self._hist is not None
        return ComponentState(arrays={"values": self._hist.values, "cum": self._hist.cum})

    def _set_state(self, state: ComponentState) -> None:
        self._hist = _Histogram(state.arrays["values"], state.arrays["cum"])


@attrs.define(kw_only=True, eq=False)
class ConditionalLinkage(LinkageModel):
    """Children counts conditioned on parent attributes: a Poisson regression tree with histogram leaves.

    ``min_leaf`` 0 means automatic: ``max(5, parents // 40)`` parents per leaf, so a leaf's histogram
    describes a group of parents and never one parent's own count.
    """

    name: ClassVar[str] = "conditional"
    max_depth: int = 4
    min_leaf: int = 0
    calibrate: bool = True
    max_categories: int = 200
    _encoder: dict | None = attrs.field(default=None, init=False)
    _tree: dict[str, np.ndarray] | None = attrs.field(default=None, init=False)
    _leaves: list[_Histogram] = attrs.field(factory=list, init=False)
    _marginal: _Histogram | None = attrs.field(default=None, init=False)

    def _fit(self, parents: pa.Table, counts: np.ndarray, *, seed: int | None) -> None:
        from hiveframe.pipeline.features import FeatureEncoder

        encoder = FeatureEncoder(mode="target", max_categories=self.max_categories)
        x = encoder.fit_transform(parents, target=counts.astype(float))
        self._encoder = encoder.to_json()
        n = len(counts)
        min_leaf = self.min_leaf or max(5, n // 40)
        tree, leaf_rows = _grow_tree(x, counts.astype(float), max_depth=self.max_depth, min_leaf=min_leaf)
        self._tree = tree
        self._leaves = [_Histogram.of(counts[rows]) for rows in leaf_rows]
        self._marginal = _Histogram.of(counts)

    def _sample(self, parents: pa.Table, *, seed: int | None) -> np.ndarray:
        from hiveframe.pipeline.features import FeatureEncoder

        assert self._tree is not None and self._encoder is not None and self._marginal is not None
        rng = np.random.default_rng(seed)
        n = parents.num_rows
        x = FeatureEncoder.from_json(self._encoder).transform(parents)
        leaf = _route(self._tree, x)
        draws = np.zeros(n, dtype=np.int64)
        for k, hist in enumerate(self._leaves):
            rows = np.nonzero(leaf == k)[0]
            if len(rows):
                draws[rows] = hist.draw(len(rows), rng)
        if not self.calibrate or n == 0:
            return draws
        # rank coupling: marginal values, handed out in the order of the conditional draws
        # (ties broken by the leaf's mean, so a parent from a sparse leaf loses a tie)
        target = np.sort(self._marginal.stratified(n, rng))
        means = np.array([float(np.diff(np.concatenate([[0.0], h.cum])) @ h.values) for h in self._leaves])
        order = np.lexsort((rng.random(n), means[leaf] if len(means) else np.zeros(n), draws))
        out = np.empty(n, dtype=np.int64)
        out[order] = target
        return out

    def _get_state(self) -> ComponentState:
        assert self._tree is not None and self._marginal is not None
        arrays = {f"tree_{k}": v for k, v in self._tree.items()}
        sizes = np.array([len(h.values) for h in self._leaves], dtype=np.int64)
        arrays["leaf_sizes"] = sizes
        arrays["leaf_values"] = (np.concatenate([h.values for h in self._leaves])
                                 if self._leaves else np.zeros(0, np.int64))
        arrays["leaf_cum"] = (np.concatenate([h.cum for h in self._leaves])
                              if self._leaves else np.zeros(0))
        arrays["marginal_values"] = self._marginal.values
        arrays["marginal_cum"] = self._marginal.cum
        return ComponentState(values={"encoder": self._encoder}, arrays=arrays)

    def _set_state(self, state: ComponentState) -> None:
        a = state.arrays
        self._encoder = state.values["encoder"]
        self._tree = {k[5:]: v for k, v in a.items() if k.startswith("tree_")}
        ends = np.cumsum(a["leaf_sizes"])
        starts = ends - a["leaf_sizes"]
        self._leaves = [_Histogram(a["leaf_values"][s:e], a["leaf_cum"][s:e]) for s, e in zip(starts, ends, strict=False)]
        self._marginal = _Histogram(a["marginal_values"], a["marginal_cum"])


# -- the tree --------------------------------------------------------------------------------------
def _xlogx_mean(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """S * log(S / n), with 0 where S == 0 (the part of the Poisson log-likelihood a split changes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s * np.log(np.where(s > 0, s, 1.0) / np.where(n > 0, n, 1.0))
    return np.where(s > 0, out, 0.0)


def _grow_tree(x: np.ndarray, y: np.ndarray, *, max_depth: int, min_leaf: int,
               min_gain: float = 5.0, bins: int = 32) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Grow a tree on the Poisson deviance. Returns flat arrays and the training rows of each leaf.

    A split must lower the deviance by ``2 * min_gain`` (about a 1% test after trying many
    thresholds), so noise does not carve the parents into leaves.
    """
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    leaf: list[int] = []
    leaf_rows: list[np.ndarray] = []

    def node(rows: np.ndarray, depth: int) -> int:
        me = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        leaf.append(-1)
        best = _best_split(x[rows], y[rows], min_leaf, bins) if depth < max_depth else None
        if best is None or best[2] < min_gain:
            leaf[me] = len(leaf_rows)
            leaf_rows.append(rows)
            return me
        f, t, _ = best
        go_left = x[rows, f] <= t
        feature[me], threshold[me] = f, t
        left[me] = node(rows[go_left], depth + 1)
        right[me] = node(rows[~go_left], depth + 1)
        return me

    node(np.arange(len(y)), 0)
    tree = {
        "feature": np.asarray(feature, dtype=np.int64),
        "threshold": np.asarray(threshold, dtype=np.float64),
        "left": np.asarray(left, dtype=np.int64),
        "right": np.asarray(right, dtype=np.int64),
        "leaf": np.asarray(leaf, dtype=np.int64),
    }
    return tree, leaf_rows


def _best_split(x: np.ndarray, y: np.ndarray, min_leaf: int, bins: int) -> tuple[int, float, float] | None:
    n = len(y)
    if n < 2 * min_leaf or x.shape[1] == 0 or np.all(y == y[0]):
        return None
    total = y.sum()
    base = _xlogx_mean(np.array([total]), np.array([n]))[0]
    best: tuple[int, float, float] | None = None
    for f in range(x.shape[1]):
        col = x[:, f]
        order = np.argsort(col, kind="stable")
        xs, cs = col[order], np.cumsum(y[order])
        cand = np.unique(np.quantile(xs, np.linspace(0, 1, bins + 2)[1:-1]))
        if len(cand) == 0:
            continue
        pos = np.searchsorted(xs, cand, side="right")  # rows going left
        ok = (pos >= min_leaf) & (pos <= n - min_leaf)
        if not ok.any():
            continue
        pos, cand = pos[ok], cand[ok]
        s_left = cs[pos - 1]
        gain = (_xlogx_mean(s_left, pos.astype(float)) + _xlogx_mean(total - s_left, (n - pos).astype(float))
                - base)
        k = int(np.argmax(gain))
        if best is None or gain[k] > best[2]:
            best = (f, float(cand[k]), float(gain[k]))
    return best


def _route(tree: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Leaf index of every row."""
    node = np.zeros(len(x), dtype=np.int64)
    feature, threshold, left, right = tree["feature"], tree["threshold"], tree["left"], tree["right"]
    for _ in range(len(feature)):
        inner = left[node] >= 0
        if not inner.any():
            break
        rows = np.nonzero(inner)[0]
        f = feature[node[rows]]
        go_left = x[rows, f] <= threshold[node[rows]]
        node[rows] = np.where(go_left, left[node[rows]], right[node[rows]])
    return tree["leaf"][node]


LINKAGE_MODELS: list = [ConditionalLinkage, EmpiricalLinkage]
