"""Secondary foreign keys: which parent each generated row points to, when the row has several.

One relationship (the driver) creates a table's rows; every other foreign key is filled here. Each
secondary parent first gets a target number of children from its own linkage model (so popular
parents stay popular: the degree distribution is the linkage model's), then rows are matched to those
parent *slots* by content: an :class:`AssignmentModel` says, from a parent's attributes, how likely a
row is as one of its children (the level distribution of real children of parents like it, per child
column; numbers compared in quantile bands), so that each parent's children look like its real ones.

Matching is a capacity-constrained sampling: for a batch of rows, candidates are drawn in proportion
to each parent's remaining slots, and each row takes the candidate with the best score (its log
likelihood under that parent) plus Gumbel noise, which samples P(parent | row) proportional to slots x
likelihood. Rows that lose a slot to an earlier row of the batch try again. Constraints: a row may have
to stay within the group of its driver parent (same molecule for a bond's two atoms, see
``row_group``), a (driver, secondary) pair may have to be unique (composite keys, link tables), and a
row may not point to its own driver parent when the real data never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.pipeline.features import (
    FeatureEncoder,
    _index,
    is_identity,
    numeric_values,
    ridge,
    string_values,
)

if TYPE_CHECKING:
    import pyarrow as pa


class AssignmentModel:
    """How likely a child row is under each candidate parent, from the real children of parents like it.

    Every column becomes a few levels (frequent categories, other, null; numbers in quantile bands, so
    that bands are compared, not raw values). For each child column c and parent column j, the real
    pairs give the distribution of c's levels among the children of the parents at each level of j
    (smoothed toward c's overall distribution): the child-value profile of real parents like the
    candidate. A row's score against a parent is the weighted sum of log P(c = row's level | parent's
    level of j) / P(c = row's level) over the pairs (c, j): its log likelihood ratio under that parent.
    The weights are fitted on held-out pairs (parents the tables did not see) as the conditional
    likelihood of the true parent among candidates drawn as :func:`assign` draws them: a pair that
    tells nothing gets 0 (it would only add noise), and parent columns that say the same thing (a
    track's length and its size) are not counted twice.

    ``encode_rows`` (one-hot levels) and ``profiles`` (the weighted log ratios per child level) are what
    :func:`assign` takes: a row's score against a parent is their dot product.
    """

    def __init__(self, *, max_categories: int = 12, bands: int = 8, prior: float = 10.0,
                 max_parent_columns: int = 16, max_row_columns: int = 16) -> None:
        self.max_categories = max_categories
        self.bands = bands
        self.prior = prior
        self.max_parent_columns = max_parent_columns
        self.max_row_columns = max_row_columns
        self.row_specs: list[dict[str, Any]] = []
        self.parent_specs: list[dict[str, Any]] = []
        self.ratios = np.zeros(0)  # per (child column, parent column): log P(child level | parent level) / P
        self.weights = np.zeros(0)  # per (child column, parent column): how much that ratio counts

    @property
    def width(self) -> int:
        return sum(_levels(s) for s in self.row_specs)

    def fit(self, rows: pa.Table, parents: pa.Table, parent_idx: np.ndarray, *, rng: np.random.Generator,
            max_rows: int = 20000) -> AssignmentModel:
        parent_idx = np.asarray(parent_idx, dtype=np.int64)
        keep = np.nonzero(parent_idx >= 0)[0]
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(keep, size=max_rows, replace=False))
        sub = rows.take(keep) if rows.num_columns else rows
        self.row_specs = [s for s in (_level_spec(sub, c, self.max_categories, self.bands)
                                      for c in sub.column_names) if s is not None][: self.max_row_columns]
        self.parent_specs = [s for s in (_level_spec(parents, c, self.max_categories, self.bands)
                                         for c in parents.column_names) if s is not None][: self.max_parent_columns]
        if not self.row_specs or not self.parent_specs or len(keep) < 2:
            self.row_specs, self.parent_specs = [], []  # nothing to learn from: every parent alike
            self.ratios, self.weights = np.zeros(0), np.zeros(0)
            return self
        child = _codes(sub, self.row_specs)
        par = _codes(parents, self.parent_specs)
        owner = parent_idx[keep]
        # the weights come from parents the tables never saw: tables from one half, weights from the other
        half = rng.random(parents.num_rows) < 0.5
        held = half[owner]
        if held.sum() >= 20 and (~held).sum() >= 20:
            self._fit_tables(child[~held], par[owner[~held]])
            self.weights = self._fit_weights(child[held], par, owner[held], rng)
        else:
            self.weights = np.full(len(self.row_specs) * len(self.parent_specs), 1.0 / len(self.parent_specs))
        self._fit_tables(child, par[owner])
        return self

    def _fit_tables(self, child: np.ndarray, par: np.ndarray) -> None:
        """Per (child column, parent column): log P(child level | parent level) / P(child level), with
        the child level's counts among the children of the parents at each level smoothed toward its
        overall share (``prior`` pseudo-children)."""
        ratios = []
        n = len(child)
        for c, cs in enumerate(self.row_specs):
            v = _levels(cs)
            base = (np.bincount(child[:, c], minlength=v) + 0.5) / (n + 0.5 * v)
            for j, ps in enumerate(self.parent_specs):
                lv = _levels(ps)
                counts = np.bincount(par[:, j] * v + child[:, c], minlength=lv * v).reshape(lv, v).astype(float)
                cond = (counts + self.prior * base) / (counts.sum(axis=1, keepdims=True) + self.prior)
                ratios.append((np.log(cond) - np.log(base)).ravel())
        self.ratios = np.concatenate(ratios)

    def _tables(self) -> list[tuple[int, int, np.ndarray]]:
        """(child column, parent column, table of log ratios (parent levels, child levels)) for every pair."""
        out, at = [], 0
        for c, cs in enumerate(self.row_specs):
            v = _levels(cs)
            for j, ps in enumerate(self.parent_specs):
                lv = _levels(ps)
                out.append((c, j, self.ratios[at:at + lv * v].reshape(lv, v)))
                at += lv * v
        return out

    def _fit_weights(self, child: np.ndarray, par: np.ndarray, owner: np.ndarray, rng: np.random.Generator,
                     decoys: int = 31, budget: int = 20_000_000) -> np.ndarray:
        """A weight per (child column, parent column): those at which the true parent is most likely among
        parents drawn as :func:`assign` draws candidates (in proportion to their children). A pair that
        tells nothing gets 0, and parent columns that say the same thing are not counted twice."""
        from scipy.optimize import minimize

        tables = self._tables()
        max_rows = max(200, min(4000, budget // ((decoys + 1) * len(tables))))
        if len(owner) > max_rows:
            pick = rng.choice(len(owner), size=max_rows, replace=False)
            child, owner = child[pick], owner[pick]
        degree = np.bincount(owner, minlength=len(par)).astype(float)
        others = rng.choice(len(par), size=(len(owner), decoys), p=degree / degree.sum())
        cand = np.concatenate([owner[:, None], others], axis=1)
        feats = np.empty(cand.shape + (len(tables),), dtype=np.float32)  # (rows, candidates, pairs)
        for t, (c, j, table) in enumerate(tables):
            feats[:, :, t] = table[par[cand, j], child[:, c][:, None]]
        feats -= feats.mean(axis=1, keepdims=True)
        penalty = 1e-3

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = feats @ w.astype(np.float32)
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            ll = float(np.log(p[:, 0] + 1e-30).mean())
            grad = (feats[:, 0, :] - np.einsum("bk,bkc->bc", p, feats)).mean(axis=0).astype(float)
            return -ll + penalty * float(w @ w), -grad + 2 * penalty * w

        res = minimize(loss, np.full(len(tables), 1.0 / len(self.parent_specs)), jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 5.0)] * len(tables), options={"maxiter": 200})
        return np.asarray(res.x, dtype=float)

    def encode_rows(self, rows: pa.Table) -> np.ndarray:
        if not self.row_specs:
            return np.zeros((rows.num_rows, 0))
        return _onehot(_codes(rows, self.row_specs), self.row_specs)

    def profiles(self, parents: pa.Table) -> np.ndarray:
        if not self.row_specs:
            return np.zeros((parents.num_rows, 0))
        par = _codes(parents, self.parent_specs)
        widths = np.array([_levels(s) for s in self.row_specs], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(widths)[:-1]]
        out = np.zeros((parents.num_rows, int(widths.sum())))
        for w, (c, j, table) in zip(self.weights, self._tables(), strict=True):
            if w > 0:
                out[:, offsets[c]:offsets[c] + widths[c]] += w * table[par[:, j]]
        return out

    # -- state -----------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"kind": "levels", "row_specs": self.row_specs, "parent_specs": self.parent_specs,
                 "max_categories": self.max_categories, "bands": self.bands,
                 "prior": self.prior},
                {"ratios": self.ratios, "weights": self.weights})

    @classmethod
    def from_state(cls, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> AssignmentModel | GaussianAssignment:
        if values.get("kind") != "levels":  # saved before the level model
            return GaussianAssignment.from_state(values, arrays)
        model = cls(max_categories=int(values["max_categories"]), bands=int(values["bands"]),
                    prior=float(values["prior"]))
        model.row_specs = [dict(s) for s in values["row_specs"]]
        model.parent_specs = [dict(s) for s in values["parent_specs"]]
        model.ratios = np.asarray(arrays["ratios"], dtype=float)
        model.weights = np.asarray(arrays["weights"], dtype=float)
        return model


class GaussianAssignment:
    """The model before :class:`AssignmentModel`: a ridge prediction of the child's encoded row from the
    parent's and a Gaussian around it. Kept so that synthesizers saved with it still sample (and as the
    benchmark's reference); numbers are compared raw and categories through one shared Gaussian, which
    is why it gave way."""

    def __init__(self) -> None:
        self.row_encoder = FeatureEncoder()
        self.parent_encoder = FeatureEncoder()
        self.weights = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.inv_sd = np.zeros(0)

    def fit(self, rows: pa.Table, parents: pa.Table, parent_idx: np.ndarray, *, rng: np.random.Generator,
            max_rows: int = 20000) -> GaussianAssignment:
        keep = np.nonzero(parent_idx >= 0)[0]
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(keep, size=max_rows, replace=False))
        y = self.row_encoder.fit_transform(rows.take(keep))
        x = self.parent_encoder.fit_transform(parents)[parent_idx[keep]]
        if y.shape[1] == 0 or len(keep) < 2:
            self.weights = np.zeros((x.shape[1], y.shape[1]))
            self.intercept = y.mean(axis=0) if len(y) else np.zeros(y.shape[1])
            self.inv_sd = np.ones(y.shape[1])
            return self
        self.weights, self.intercept = ridge(x, y, alpha=1.0)
        var = (y - (x @ self.weights + self.intercept)).var(axis=0)
        self.inv_sd = 1.0 / np.sqrt(np.maximum(var, np.maximum(0.02 * y.var(axis=0), 1e-4)))
        return self

    def encode_rows(self, rows: pa.Table) -> np.ndarray:
        x = self.row_encoder.transform(rows) * self.inv_sd
        return np.concatenate([x, np.ones((len(x), 1))], axis=1) if x.shape[1] else x

    def profiles(self, parents: pa.Table) -> np.ndarray:
        p = (self.parent_encoder.transform(parents) @ self.weights + self.intercept) * self.inv_sd
        # -|p - r|^2 / 2 = r.p - |p|^2 / 2 - |r|^2 / 2, and the last term is the same for every parent
        return np.concatenate([p, -0.5 * (p * p).sum(axis=1, keepdims=True)], axis=1) if p.shape[1] else p

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"row_encoder": self.row_encoder.to_json(), "parent_encoder": self.parent_encoder.to_json()},
                {"weights": self.weights, "intercept": self.intercept, "inv_sd": self.inv_sd})

    @classmethod
    def from_state(cls, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> GaussianAssignment:
        model = cls()
        model.row_encoder = FeatureEncoder.from_json(values["row_encoder"])
        model.parent_encoder = FeatureEncoder.from_json(values["parent_encoder"])
        model.weights = np.asarray(arrays["weights"], dtype=float).reshape(
            model.parent_encoder.width, model.row_encoder.width)
        model.intercept = np.asarray(arrays["intercept"], dtype=float)
        model.inv_sd = np.asarray(arrays["inv_sd"], dtype=float)
        return model


def _level_spec(table: pa.Table, name: str, max_categories: int, bands: int) -> dict[str, Any] | None:
    """How one column becomes levels; None for a column that identifies rows (a name, a code)."""
    import pyarrow.compute as pc

    col = table.column(name)
    nums = numeric_values(col)
    if nums is not None:
        ok = nums[~np.isnan(nums)]
        distinct = np.unique(ok)
        if len(distinct) <= bands:  # few values: each its own level (cut halfway between them)
            edges = (distinct[1:] + distinct[:-1]) / 2.0
        else:
            edges = np.unique(np.quantile(ok, np.linspace(0, 1, bands + 1)[1:-1]))
        return {"name": name, "type": "num", "edges": [float(e) for e in edges]}
    strings = string_values(col)
    counts = pc.value_counts(strings.drop_null())
    values = counts.field("values").to_pylist()
    freq = counts.field("counts").to_numpy()
    if is_identity(len(values), len(strings) - strings.null_count):
        return None
    order = np.argsort(-freq, kind="stable")
    return {"name": name, "type": "cat", "categories": [values[i] for i in order[:max_categories]]}


def _levels(spec: dict[str, Any]) -> int:
    """Levels of a spec: bands or categories, then other (categories only) and null."""
    return len(spec["edges"]) + 2 if spec["type"] == "num" else len(spec["categories"]) + 2


def _codes(table: pa.Table, specs: list[dict[str, Any]]) -> np.ndarray:
    """Level of every row in every spec's column (n, len(specs)); a missing column is all null."""
    import pyarrow as pa

    n = table.num_rows
    out = np.zeros((n, len(specs)), dtype=np.int64)
    for j, spec in enumerate(specs):
        null = _levels(spec) - 1
        col = table.column(spec["name"]) if spec["name"] in table.column_names else pa.nulls(n)
        if spec["type"] == "num":
            nums = numeric_values(col)
            if nums is None:
                nums = np.full(n, np.nan)
            code = np.searchsorted(np.asarray(spec["edges"], dtype=float), nums, side="left")
            out[:, j] = np.where(np.isnan(nums), null, code)
        else:
            strings = string_values(col) if not pa.types.is_null(col.type) else pa.nulls(n, pa.string())
            idx = _index(strings, spec["categories"])
            out[:, j] = np.where(idx == -2, null, np.where(idx < 0, null - 1, idx))
    return out


def _onehot(codes: np.ndarray, specs: list[dict[str, Any]]) -> np.ndarray:
    widths = np.array([_levels(s) for s in specs], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(widths)[:-1]]
    out = np.zeros((len(codes), int(widths.sum())))
    rows = np.repeat(np.arange(len(codes)), len(specs))
    out[rows, (codes + offsets[None, :]).ravel()] = 1.0
    return out


def adjust_counts(counts: np.ndarray, total: int, rng: np.random.Generator, *, low: int = 0,
                  high: int | None = None, fine: bool = False, largest_first: bool = False) -> np.ndarray:
    """Change a few counts so they sum to ``total``, keeping each within [low, high] while possible.

    A parent is picked in proportion to its squared count (a big parent absorbs a change best) and
    takes as much of the change as its bounds allow: as few parents as possible change, and each
    changed parent moves the distribution's CDF by only 1/n, however far it moves. ``fine``: one step at a time,
    parents picked in proportion to their count (for many small corrections, e.g. per group).
    ``largest_first``: always the largest parent that can still move (the top of a heavy tail, where
    the distribution is thinnest).
    """
    counts = np.asarray(counts, dtype=np.int64).copy()
    if len(counts) == 0:
        return counts
    hi = np.iinfo(np.int64).max // 4 if high is None else int(high)
    for relax in (False, True):
        lo_bound, hi_bound = (low, hi) if not relax else (0, np.iinfo(np.int64).max // 4)
        for _ in range(10 * len(counts) + 100):
            diff = int(total - counts.sum())
            if diff == 0:
                return counts
            if diff > 0:
                room = hi_bound - counts
                w = np.where(room > 0, (counts + 0.1) ** (1 if fine else 2), 0.0)
            else:
                room = counts - lo_bound
                w = np.where(room > 0, counts.astype(float) ** (1 if fine else 2), 0.0)
            if w.sum() <= 0:
                break
            k = int(np.argmax(np.where(room > 0, counts, -1))) if largest_first else int(
                rng.choice(len(counts), p=w / w.sum()))
            step = 1 if fine else min(abs(diff), int(room[k]))
            counts[k] += step if diff > 0 else -step
    return counts


def bigraphic(degrees: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
    """Degrees for the parents that unique (owner, parent) pairs can realize, changed as little as needed.

    Owner o has ``multiplicity[o]`` rows, each to go to a different parent. By the Gale-Ryser theorem
    such an assignment exists iff, with the degrees sorted in decreasing order, the j largest sum to
    at most sum_o min(multiplicity[o], j) for every j. A parent over its bound gives the excess to the
    next ones (the same total; what no parent can take is dropped, which only happens when the total
    itself is impossible). Without this, the rows no parent can take spill onto parents drawn to have
    none (a playlist drawn empty would get tracks).
    """
    degrees = np.asarray(degrees, dtype=np.int64)
    mult = np.asarray(multiplicity, dtype=np.int64)
    m = len(degrees)
    if m == 0 or len(mult) == 0:
        return degrees.copy()
    hist = np.bincount(np.minimum(mult, m), minlength=m + 1)
    at_least = np.cumsum(hist[::-1])[::-1]  # owners with at least j rows, j = 0..m
    bound = np.cumsum(at_least[1:])  # bound[j-1] = sum_o min(mult_o, j)
    order = np.argsort(-degrees, kind="stable")
    d = degrees[order].copy()
    prefix, excess = 0, 0
    for j in range(m):
        room = int(bound[j]) - prefix
        if d[j] > room:
            excess += int(d[j]) - room
            d[j] = room
        elif excess:
            cap = room if j == 0 else min(room, int(d[j - 1]))  # stays sorted, so the bound stays valid
            add = min(excess, cap - int(d[j]))
            d[j] += add
            excess -= add
        prefix += int(d[j])
    out = np.empty_like(degrees)
    out[order] = d
    return out


def assign(
    rows: np.ndarray,
    profiles: np.ndarray,
    capacity: np.ndarray,
    rng: np.random.Generator,
    *,
    row_group: np.ndarray | None = None,
    parent_group: np.ndarray | None = None,
    hard_group: bool = False,
    pair_owner: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    candidates: int = 64,
    batch: int = 512,
    sequential_parents: int = 256,
) -> np.ndarray:
    """Parent index for every row (rows: encoded rows (n, d); profiles: (m, d); capacity: (m,)).

    A row's score against a parent is ``rows[r] @ profiles[p]``: its log likelihood under that parent,
    up to a term that is the same for every parent.

    ``row_group``/``parent_group``: a row with group g >= 0 takes a parent of group g while any has
    slots left (after that: any parent of its group if ``hard_group``, else any parent).
    ``pair_owner``: the driver parent of each row; (owner, parent) pairs are kept unique.
    ``exclude``: a parent each row must not take (-1: none).
    With unique pairs, at most ``sequential_parents`` parents and a parent that must take at least
    half of all owners (a playlist holding most tracks), owners are served one at a time instead
    (:func:`_assign_by_owner`): a Python loop per owner, kept to the instances random candidates miss.
    """
    n, m = len(rows), len(capacity)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return out
    if (pair_owner is not None and parent_group is None and m <= sequential_parents
            and _tight(capacity, pair_owner)):
        out = _assign_by_owner(rows, profiles, capacity, rng, pair_owner, exclude)
        if (np.bincount(out, minlength=m) > capacity).any():  # missed: the strict order never does
            out = _assign_by_owner(rows, profiles, capacity, rng, pair_owner, exclude, strict=True)
        return out
    remaining = np.asarray(capacity, dtype=np.float64).copy()
    used = _PairSet(int(pair_owner.max()) + 1 if pair_owner is not None and len(pair_owner) else 0, m)
    groups = _Groups(parent_group, m) if parent_group is not None and row_group is not None else None
    tries = np.zeros(n, dtype=np.int64)
    pending = rng.permutation(n)
    if pair_owner is not None:
        # owners with the most rows first (as in Havel-Hakimi): they need the most distinct parents,
        # which are only sure to be free early on
        mult = np.bincount(np.maximum(pair_owner, 0))[np.maximum(pair_owner, 0)]
        pending = pending[np.argsort(-mult[pending], kind="stable")]
    size = batch
    stuck: list[int] = []
    direct = pair_owner is not None and used.dense  # a row that lost twice looks at every parent
    while len(pending):
        nxt: list[np.ndarray] = []
        for start in range(0, len(pending), size):
            b = pending[start:start + size]
            cand, overflow = _candidates(b, remaining, capacity, rng, candidates, groups,
                                         row_group[b] if row_group is not None else None, hard_group)
            score = _scores(rows[b], profiles, cand)
            score += rng.gumbel(size=score.shape)
            score[remaining[cand] <= 0] -= 1e6  # a full parent only when nothing else is offered
            if exclude is not None:
                score[cand == exclude[b][:, None]] = -np.inf
            if pair_owner is not None:
                score[used.contains(pair_owner[b][:, None] * m + cand)] = -np.inf
            best = np.argmax(score, axis=1)
            choice = cand[np.arange(len(b)), best]
            ok = np.isfinite(score[np.arange(len(b)), best])
            # each parent takes as many rows of the batch as it has slots left; a row whose candidates
            # came from an exhausted pool (``overflow``) may go over
            order = np.argsort(choice, kind="stable")
            ranks = np.empty(len(b), dtype=np.int64)
            sc = choice[order]
            first = np.r_[0, np.nonzero(sc[1:] != sc[:-1])[0] + 1]
            ranks[order] = np.arange(len(b)) - np.repeat(first, np.diff(np.r_[first, len(b)]))
            accept = ok & ((ranks < np.ceil(remaining[choice])) | overflow)
            if pair_owner is not None:  # one row per (owner, parent) pair, also within the batch
                codes = pair_owner[b] * m + choice
                idx = np.nonzero(accept)[0]
                _, first_of = np.unique(codes[idx], return_index=True)
                keep = np.zeros(len(idx), dtype=bool)
                keep[first_of] = True
                keep &= ~used.contains(codes[idx])
                accept[idx[~keep]] = False
                used.add(codes[idx[keep]])
            out[b[accept]] = choice[accept]
            np.subtract.at(remaining, choice[accept], 1.0)
            tries[b[~accept]] += 1
            if direct:
                for r in b[~accept & (tries[b] >= 2)]:
                    p_r = _direct(int(r), rows, profiles, remaining, used, pair_owner, exclude, row_group,
                                  parent_group, hard_group, rng)
                    if p_r < 0:  # no free parent left for it: only a swap can place it
                        tries[r] = 21
                        continue
                    out[r] = p_r
                    remaining[p_r] -= 1
                    used.add(np.array([int(pair_owner[r]) * m + p_r]))
                    accept[np.nonzero(b == r)[0]] = True
            stuck.extend(b[~accept & (tries[b] > 20)].tolist())
            nxt.append(b[~accept & (tries[b] <= 20)])
        pending = np.concatenate(nxt) if nxt else np.zeros(0, dtype=np.int64)
        size = max(4, size // 4)  # fewer rows per batch: fewer clashes over the last slots
    keep_in = None  # a hard group confines the repairs too
    if hard_group and row_group is not None and parent_group is not None:
        keep_in = (row_group, parent_group)
    for r in stuck:  # every parent with slots left already has a row of this owner: swap with a row
        if not _swap(r, out, remaining, used, pair_owner, exclude, m, rng, keep_in):
            out[r] = _any_free(r, m, used, pair_owner, exclude, remaining, rng, keep_in)
            if pair_owner is not None:
                used.add(np.array([int(pair_owner[r]) * m + int(out[r])]))
            remaining[out[r]] -= 1
    return out


def _tight(capacity: np.ndarray, owner: np.ndarray) -> bool:
    """Whether some parent needs a row from at least half of the owners."""
    owners = len(np.unique(owner[owner >= 0]))
    return bool(len(capacity) and owners and float(np.max(capacity)) >= 0.5 * owners)


def _assign_by_owner(rows: np.ndarray, profiles: np.ndarray, capacity: np.ndarray, rng: np.random.Generator,
                     owner: np.ndarray, exclude: np.ndarray | None, *, strict: bool = False) -> np.ndarray:
    """Unique (owner, parent) pairs with few parents, one owner at a time, as in Havel-Hakimi.

    Owners with the most rows go first. A parent with as many slots left as there are owners left
    must take one row of every one of them, so it is taken first; the owner's other rows go to the
    parents with free slots that fit them best (likelihood x slots, with Gumbel noise, as in the
    batch draw). When the degrees are realizable (see :func:`bigraphic`) this meets them on tight
    instances where random candidates keep missing the few parents a row may take.
    ``strict``: every owner takes the parents with the most slots left (Ryser's construction, which
    meets any realizable degrees); content then only decides which row goes to which of them.
    """
    n, m = len(rows), len(capacity)
    out = np.full(n, -1, dtype=np.int64)
    remaining = np.asarray(capacity, dtype=np.int64).copy()
    valid = owner >= 0
    order = np.argsort(owner[valid], kind="stable")
    row_ids = np.nonzero(valid)[0][order]
    owners, starts, sizes = np.unique(owner[row_ids], return_index=True, return_counts=True)
    by_size = np.argsort(-sizes + rng.random(len(sizes)) * 0.5, kind="stable")  # ties in random order
    owners_left = len(owners)
    for i in by_size:
        mine = row_ids[starts[i]:starts[i] + sizes[i]]
        c = len(mine)
        free = remaining > 0
        if exclude is not None:
            for r in mine:
                if exclude[r] >= 0:
                    free[exclude[r]] = False
        forced = np.nonzero(free & (remaining >= owners_left))[0]
        forced = forced[np.argsort(-remaining[forced], kind="stable")][:c]
        score = np.log(np.maximum(remaining, 1)).astype(float) + rng.gumbel(size=m)
        if strict:
            score = remaining + rng.random(m) * 0.5  # the most slots left, ties at random
        if rows.shape[1]:
            fit = rows[mine] @ profiles.T  # (rows of this owner, parents)
            if not strict:
                score += fit.max(axis=0)
        else:
            fit = np.zeros((c, m))
        score[~free] = -np.inf
        score[forced] = np.inf
        k = min(c, int(free.sum()))
        chosen = np.argsort(-score, kind="stable")[:k]
        # rows to the chosen parents: best pairs first
        pair = fit[:, chosen] + rng.gumbel(size=(c, len(chosen)))
        for _ in range(len(chosen)):
            r_i, p_i = np.unravel_index(int(np.argmax(pair)), pair.shape)
            out[mine[r_i]] = chosen[p_i]
            pair[r_i, :] = -np.inf
            pair[:, p_i] = -np.inf
        remaining[chosen] -= 1
        owners_left -= 1
        for r in mine[out[mine] < 0]:  # more rows than parents with slots left: any parent it lacks
            held = set(out[mine][out[mine] >= 0].tolist())
            options = [p for p in np.argsort(-remaining, kind="stable") if p not in held
                       and (exclude is None or p != exclude[r])]
            out[r] = int(options[0]) if options else int(rng.integers(m))
            remaining[out[r]] -= 1
    return out


def _swap(r: int, out: np.ndarray, remaining: np.ndarray, used: _PairSet, owner: np.ndarray | None,
          exclude: np.ndarray | None, m: int, rng: np.random.Generator,
          keep_in: tuple[np.ndarray, np.ndarray] | None = None, tries: int = 32) -> bool:
    """Give row r the parent p2 of some placed row r2, which moves to a parent p that still has a slot.

    Vectorized over every placed row: r2 qualifies when its owner differs from r's, r's owner does
    not hold p2 yet, and r2's owner does not hold p yet; up to ``tries`` free parents p are tried.
    """
    if owner is None:
        return False
    free_mask = remaining > 0
    placed_mask = out >= 0
    if keep_in is not None and keep_in[0][r] >= 0:
        g = keep_in[0][r]
        free_mask &= keep_in[1] == g
        placed_mask &= keep_in[0] == g
    free = np.nonzero(free_mask)[0]
    placed = np.nonzero(placed_mask)[0]
    if not len(free) or not len(placed):
        return False
    o = int(owner[r])
    mine = out[(owner == o) & (out >= 0)]  # parents r's owner already holds
    p2_all = out[placed]
    ok = (owner[placed] != o) & ~np.isin(p2_all, mine)
    if exclude is not None:
        ok &= p2_all != exclude[r]
    movable = placed[ok]
    if not len(movable):
        return False
    linked = out >= 0
    for p in rng.permutation(free)[:tries]:
        holders = owner[linked & (out == p)]  # owners already linked to p
        good = ~np.isin(owner[movable], holders)
        if exclude is not None:
            good &= exclude[movable] != p
        hits = movable[good]
        if not len(hits):
            continue
        r2 = int(hits[rng.integers(len(hits))])
        o2, p2 = int(owner[r2]), int(out[r2])
        used.discard(o2 * m + p2)
        used.add(np.array([o2 * m + int(p), o * m + p2]))
        out[r2], out[r] = int(p), p2
        remaining[p] -= 1
        return True
    return False


class _PairSet:
    """The (owner, parent) pairs taken so far, as codes ``owner * m + parent``.

    A dense bitmap while owners x parents stays small (then one owner's parents are a slice), a sorted
    array beyond that; both answer membership for a whole array of codes at once.
    """

    def __init__(self, owners: int, m: int, dense_limit: int = 20_000_000) -> None:
        self.m = m
        self.dense = owners * m <= dense_limit
        self.bits = np.zeros(owners * m if self.dense else 0, dtype=bool)
        self.codes = np.zeros(0, dtype=np.int64)

    def contains(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.int64)
        if self.dense:
            return self.bits[codes] if len(self.bits) else np.zeros(codes.shape, dtype=bool)
        if len(self.codes) == 0:
            return np.zeros(codes.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self.codes, codes), len(self.codes) - 1)
        return self.codes[pos] == codes

    def add(self, codes: np.ndarray) -> None:
        if self.dense:
            self.bits[codes] = True
        else:
            self.codes = np.union1d(self.codes, codes)

    def discard(self, code: int) -> None:
        if self.dense:
            self.bits[code] = False
        else:
            pos = int(np.searchsorted(self.codes, code))
            if pos < len(self.codes) and self.codes[pos] == code:
                self.codes = np.delete(self.codes, pos)

    def held(self, owner: int) -> np.ndarray:
        """Per parent, whether ``owner`` holds it already (dense only)."""
        return self.bits[owner * self.m:(owner + 1) * self.m]


def _direct(r: int, rows: np.ndarray, profiles: np.ndarray, remaining: np.ndarray, used: _PairSet,
            owner: np.ndarray, exclude: np.ndarray | None, row_group: np.ndarray | None,
            parent_group: np.ndarray | None, hard_group: bool, rng: np.random.Generator) -> int:
    """Row r's parent among *every* parent it may take (-1: none), with the batch draw's odds.

    For rows that lost their candidates twice: with unique (owner, parent) pairs and few parents, the
    parents a row may still take can be so few that random candidates keep missing them.
    """
    valid = (remaining > 0) & ~used.held(int(owner[r]))
    if exclude is not None and exclude[r] >= 0:
        valid[exclude[r]] = False
    if row_group is not None and parent_group is not None and row_group[r] >= 0:
        inside = valid & (parent_group == row_group[r])
        if inside.any():
            valid = inside
        elif hard_group:
            return -1
    idx = np.nonzero(valid)[0]
    if not len(idx):
        return -1
    score = np.log(remaining[idx]) + rng.gumbel(size=len(idx))
    if rows.shape[1]:
        score += profiles[idx] @ rows[r]
    return int(idx[np.argmax(score)])


class _Groups:
    """Parents sorted by group, for drawing candidates inside a row's group."""

    def __init__(self, parent_group: np.ndarray, m: int) -> None:
        self.order = np.argsort(parent_group, kind="stable")
        sorted_groups = parent_group[self.order]
        self.ids, self.start = np.unique(sorted_groups, return_index=True)
        self.end = np.r_[self.start[1:], m]

    def span(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.searchsorted(self.ids, groups)
        pos_c = np.minimum(pos, len(self.ids) - 1)
        found = (groups >= 0) & (len(self.ids) > 0) & (self.ids[pos_c] == groups)
        return found, self.start[pos_c], self.end[pos_c]


def _draw(weights: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
          lo: np.ndarray | None = None, hi: np.ndarray | None = None, order: np.ndarray | None = None) -> np.ndarray:
    """Indices drawn in proportion to ``weights`` (optionally within [lo, hi) of ``order``)."""
    w = weights if order is None else weights[order]
    cum = np.concatenate([[0.0], np.cumsum(w)])
    if lo is None:
        u = rng.random(size) * cum[-1]
        idx = np.searchsorted(cum, u, side="right") - 1
    else:
        base, span = cum[lo], cum[hi] - cum[lo]
        u = base[:, None] + rng.random(size) * span[:, None]
        idx = np.searchsorted(cum, u, side="right") - 1
        idx = np.clip(idx, lo[:, None], hi[:, None] - 1)
    idx = np.clip(idx, 0, len(w) - 1)
    return idx if order is None else order[idx]


def _candidates(b: np.ndarray, remaining: np.ndarray, capacity: np.ndarray, rng: np.random.Generator,
                k: int, groups: _Groups | None, row_groups: np.ndarray | None,
                hard: bool) -> tuple[np.ndarray, np.ndarray]:
    """Candidates per row, and whether they come from an exhausted pool (then slots may overflow)."""
    free = np.maximum(remaining, 0.0)
    overflow = np.zeros(len(b), dtype=bool)
    if free.sum() <= 0:
        free = np.asarray(capacity, dtype=float) + 1.0
        overflow[:] = True
    cand = _draw(free, (len(b), k), rng)
    if groups is None or row_groups is None:
        return cand, overflow
    found, lo, hi = groups.span(row_groups)
    if not found.any():
        return cand, overflow
    cum = np.concatenate([[0.0], np.cumsum(free[groups.order])])
    room = cum[hi] - cum[lo]
    inside = found & (room > 0)
    if inside.any():
        rows = np.nonzero(inside)[0]
        cand[rows] = _draw(free, (len(rows), k), rng, lo[rows], hi[rows], groups.order)
    if hard:  # the group is full: exceed its slots rather than leave it
        rows = np.nonzero(found & (room <= 0))[0]
        if len(rows):
            ones = np.ones(len(free))
            cand[rows] = _draw(ones, (len(rows), k), rng, lo[rows], hi[rows], groups.order)
            overflow[rows] = True
    return cand, overflow


def _scores(rows: np.ndarray, profiles: np.ndarray, cand: np.ndarray) -> np.ndarray:
    if rows.shape[1] == 0:
        return np.zeros(cand.shape)
    return np.einsum("bd,bkd->bk", rows, profiles[cand])


def _any_free(r: int, m: int, used: _PairSet, owner: np.ndarray | None, exclude: np.ndarray | None,
              remaining: np.ndarray, rng: np.random.Generator,
              keep_in: tuple[np.ndarray, np.ndarray] | None = None) -> int:
    key = -remaining + rng.random(m) * 0.5
    if keep_in is not None and keep_in[0][r] >= 0:
        key = key + np.where(keep_in[1] == keep_in[0][r], 0.0, 1e9)  # the row's group first
    for p in np.argsort(key, kind="stable"):
        if exclude is not None and p == exclude[r]:
            continue
        if owner is None or not used.contains(np.array([int(owner[r]) * m + int(p)]))[0]:
            return int(p)
    return int(rng.integers(m))
