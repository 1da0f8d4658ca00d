"""Categorical columns that another categorical column determines (a city and its country).

A Gaussian copula gives each category column one latent dimension, so it keeps only the strongest
linear direction of a dependence: it draws "Paris" with "Brazil" now and then, and a classifier
spots such rows at once. Where the data shows that one column (A) all but determines another (B),
B is better drawn from the observed conditional table P(B | A) after A is drawn. A may be a
parent's context column, so a child keeps a value its parent fixes (an invoice's billing country
and its customer's country).

Which pairs: the uncertainty coefficient U(B | A) = I(A; B) / H(B), with the mutual information
corrected for the bias of small samples (under independence it is about (|A| - 1)(|B| - 1) / 2n
nats). The correction makes a near-unique A (a city seen once per row in 59 rows) explain nothing,
so a small table is not memorized pair by pair; the same dependence in 412 rows is learned. Leads
and followers form chains without cycles (:func:`find_follows`), drawn in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column

#: the largest conditional table kept (|A| x |B| cells)
MAX_CELLS = 200_000


@dataclass
class Follow:
    """B drawn from P(B | A): the values of A and B (None: null) and their (|A|, |B|) joint probabilities."""

    lead: str
    column: str
    lead_values: list[Any]
    values: list[Any]
    probs: np.ndarray
    strength: float

    def to_json(self) -> dict[str, Any]:
        return {"lead": self.lead, "column": self.column, "lead_values": self.lead_values,
                "values": self.values, "strength": self.strength}

    @classmethod
    def from_json(cls, data: dict[str, Any], probs: np.ndarray) -> Follow:
        return cls(data["lead"], data["column"], list(data["lead_values"]), list(data["values"]),
                   np.asarray(probs, dtype=np.float64), float(data["strength"]))


def _codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Integer code per row and the distinct values (null is a value of its own, last)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(arr)
    dictionary = encoded.dictionary.to_pylist()
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    codes = np.where(nulls, len(dictionary), np.nan_to_num(idx, nan=0)).astype(np.int64)
    if nulls.any():
        dictionary.append(None)
    return codes, dictionary


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def find_follows(data: pa.Table, columns: list[Column], context: tuple[str, ...], *,
                 threshold: float) -> list[Follow]:
    """Follows in drawing order (every lead before its followers).

    A and B are linked when one determines the other with a bias-corrected uncertainty coefficient
    of at least ``threshold``; then A -> B is a candidate in both directions, ranked by U(B | A).
    Drawing B from P(B | A) in the weak direction (a billing city given its country) still yields
    only combinations the data showed, which the copula cannot promise. Candidates are taken
    strongest first (ties: a context lead, whose value is given, then the lead with more categories),
    as long as B has no lead yet, is not a context column, and no cycle forms; chains are allowed (a
    customer's country -> the billing country -> the billing city). Columns that follow nothing are
    drawn by the copula.
    """
    from hiveframe.metadata import ColumnKind

    n = data.num_rows
    if n < 20:
        return []
    names = [c.name for c in columns if c.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)]
    coded = {name: _codes(data.column(name)) for name in names}
    names = [name for name in names if len(coded[name][1]) >= 2]
    entropy = {name: _entropy(np.bincount(coded[name][0])) for name in names}
    candidates: list[tuple[float, int, int, str, str]] = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ka, kb = len(coded[a][1]), len(coded[b][1])
            if ka * kb > MAX_CELLS or (a in context and b in context):
                continue
            bias = (ka - 1) * (kb - 1) / (2.0 * n)
            joint = np.bincount(coded[a][0] * kb + coded[b][0], minlength=ka * kb)
            mutual = entropy[a] + entropy[b] - _entropy(joint)
            u = {}
            for x, y in ((a, b), (b, a)):  # U(x | y), or None with too few rows per cell to tell
                h = entropy[x]
                u[x] = (mutual - bias) / (h - bias) if h - bias > 0.25 * h else None
                if functional(coded[y][0], coded[x][0], len(coded[y][1]), len(coded[x][1])):
                    u[x] = 1.0
            for lead, follower in ((a, b), (b, a)):
                if follower in context or u[follower] is None and u[lead] is None:
                    continue
                strength = u[follower] if u[follower] is not None else 0.0
                if strength >= threshold or (u[lead] is not None and u[lead] >= threshold):
                    candidates.append((round(strength, 3), int(lead in context), len(coded[lead][1]), lead, follower))
    lead_of, strength_of, ordered = _choose_leads(candidates, lambda lead: lead)
    return [_follow(lead_of[x], x, coded, strength_of[x]) for x in ordered if x in lead_of]


def _choose_leads(candidates: list[tuple[Any, ...]], column_of: Any) -> tuple[dict[str, Any], dict[str, float], list[str]]:
    """Each follower's strongest lead (candidates are ``(strength, tie-break, tie-break, lead, follower)``),
    never closing a cycle, and the columns in an order where every lead comes before its followers.
    ``column_of`` names the column of a lead."""
    lead_of: dict[str, Any] = {}
    strength_of: dict[str, float] = {}
    for strength, _, _, lead, follower in sorted(candidates, key=lambda c: (-c[0], -c[1], -c[2], c[3], c[4])):
        if follower in lead_of:
            continue
        x = column_of(lead)  # no cycle: the follower must not be among the lead's own leads
        while x in lead_of and x != follower:
            x = column_of(lead_of[x])
        if x == follower:
            continue
        lead_of[follower] = lead
        strength_of[follower] = strength
    ordered: list[str] = []

    def visit(x: str) -> None:
        parent = column_of(lead_of[x]) if x in lead_of else None
        if parent is not None and parent in lead_of and parent not in ordered:
            visit(parent)
        if x not in ordered:
            ordered.append(x)

    for follower in sorted(lead_of):
        visit(follower)
    return lead_of, strength_of, ordered


def functional(a_codes: np.ndarray, b_codes: np.ndarray, ka: int, kb: int, *, max_p: float = 1e-4) -> bool:
    """Whether A determines B exactly, with evidence: the values of A seen more than once each come with
    one value of B, and under independence that would happen with probability below ``max_p``.

    The bias-corrected coefficient cannot see such a dependence when most values of A are rare (53
    cities among 59 customers), yet six repeated cities that each keep their country are already
    strong evidence: chance would keep them together with probability sum_b p_b^k per city.
    """
    joint = np.bincount(a_codes * kb + b_codes, minlength=ka * kb).reshape(ka, kb)
    totals = joint.sum(axis=1)
    repeated = totals >= 2
    if repeated.sum() < 2 or (joint[repeated] > 0).sum(axis=1).max() > 1:
        return False
    p = np.bincount(b_codes, minlength=kb) / len(b_codes)
    log_p = np.log(p[p > 0])
    # log sum_b p_b^t in log space: p_b^t underflows to 0 for a value of A seen hundreds of times
    log_chance = 0.0
    for t in totals[repeated]:
        terms = t * log_p
        top = float(terms.max())
        log_chance += top + float(np.log(np.exp(terms - top).sum()))
    return bool(log_chance < np.log(max_p))


def _follow(lead: str, column: str, coded: dict[str, tuple[np.ndarray, list[Any]]], strength: float) -> Follow:
    a_codes, a_values = coded[lead]
    b_codes, b_values = coded[column]
    joint = np.bincount(a_codes * len(b_values) + b_codes, minlength=len(a_values) * len(b_values))
    joint = joint.reshape(len(a_values), len(b_values)).astype(np.float64)
    return Follow(lead, column, a_values, b_values, joint / max(joint.sum(), 1.0), float(strength))


def apply_follows(follows: list[Follow], arrays: dict[str, pa.Array], context: pa.Table | None,
                  fixed: set[str], rng: np.random.Generator) -> None:
    """Redraw each follower from P(B | A) in ``arrays`` (in place); rows whose A was never seen keep B.

    ``fixed``: columns the caller pinned (conditions), never redrawn. When a follower is pinned and
    its lead is not, the lead is redrawn from P(A | B) instead (all rows with country "Spain" get
    Spanish cities).
    """
    for f in follows:
        if f.column in fixed:
            if f.lead in arrays and f.lead not in fixed:
                arrays[f.lead] = _draw_given(arrays[f.column], arrays[f.lead], f.values, f.lead_values, f.probs.T, rng)
            continue
        if f.column not in arrays:
            continue
        if f.lead in arrays:
            lead = arrays[f.lead]
        elif context is not None and f.lead in context.column_names:
            lead = context.column(f.lead)
        else:
            continue
        arrays[f.column] = _draw_given(lead, arrays[f.column], f.lead_values, f.values, f.probs, rng)


def _draw_given(given: pa.Array | pa.ChunkedArray, current: pa.Array, given_values: list[Any], values: list[Any],
                joint: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Per row, a value drawn from the row of ``joint`` that the given value selects (``current`` where
    the given value was never seen)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    given = given.combine_chunks() if isinstance(given, pa.ChunkedArray) else given
    current = current.combine_chunks() if isinstance(current, pa.ChunkedArray) else current
    value_set = pa.array(given_values, type=given.type)
    idx = pc.index_in(given, value_set=value_set, skip_nulls=False).to_numpy(zero_copy_only=False)
    idx = np.nan_to_num(idx.astype(np.float64), nan=-1.0).astype(np.int64)
    cum = np.cumsum(joint, axis=1)
    seen = (idx >= 0) & (cum[np.maximum(idx, 0), -1] > 0)
    draw = np.zeros(len(idx), dtype=np.int64)
    rows = np.flatnonzero(seen)
    rows = rows[np.argsort(idx[rows], kind="stable")]  # grouped by the given value
    u = rng.random(len(rows))
    keys, starts = np.unique(idx[rows], return_index=True)
    for k, a, b in zip(keys, starts, np.r_[starts[1:], len(rows)], strict=True):
        c = cum[k]
        draw[rows[a:b]] = np.minimum(np.searchsorted(c, u[a:b] * c[-1], side="right"), len(values) - 1)
    replacement = pa.array(values, type=current.type).take(pa.array(draw))
    return pc.if_else(pa.array(seen), replacement, current)


# -- null patterns -----------------------------------------------------------------------------------------
@dataclass
class NullFollow(Follow):
    """Whether B is null, drawn from P(B | A) after A is drawn: columns null together stay null together.

    The copula draws each column's null indicator (or a categorical's null category) on its own latent
    dimension, so three columns that the data shows null in exactly the same rows come out null
    together in only about nine rows out of ten. Where A all but determines whether B is null, B's
    nullness is drawn from the observed table instead. ``lead_is_null``: A is whether a column is
    null (any column with nulls), else A's values (a categorical's, null included). ``indicator``:
    B's nulls are a null indicator (``values`` is ``[False, True]``, True meaning null), else null is
    one of B's categories (``values`` are B's values, None for null).
    """

    lead_is_null: bool = False
    indicator: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "lead_is_null": self.lead_is_null, "indicator": self.indicator}

    @classmethod
    def from_json(cls, data: dict[str, Any], probs: np.ndarray) -> NullFollow:
        follow = Follow.from_json(data, probs)
        return cls(**vars(follow), lead_is_null=bool(data["lead_is_null"]), indicator=bool(data["indicator"]))


def _flag_codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """0 where a value is present, 1 where it is null."""
    return np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=np.int64), [False, True]


def _null_coefficients(flags: np.ndarray, codes: np.ndarray, k: int, *, max_p: float = 1e-4) -> np.ndarray:
    """Bias-corrected U(flag | lead) for every column of ``flags`` (n x m, 1.0 where null) at once, as
    :func:`find_follows` computes it for one pair: 1 where the lead determines the flag exactly with
    evidence (:func:`functional`), NaN where there are too few rows per cell to tell."""
    from scipy import sparse

    n, m = flags.shape
    onehot = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(k, n))
    nulls = np.asarray(onehot @ flags)  # k x m: null rows per lead value
    totals = np.bincount(codes, minlength=k).astype(np.float64)[:, None]

    def h(c: np.ndarray, t: np.ndarray) -> np.ndarray:  # entropy (nats) of a split of t rows into c and t - c
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(t > 0, c / np.maximum(t, 1), 0.0)
            terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
            terms += np.where(p < 1, -(1 - p) * np.log(np.where(p < 1, 1 - p, 1.0)), 0.0)
        return terms
    rate = nulls.sum(axis=0) / n
    hx = h(rate * n, np.full(m, float(n)))
    conditional = (totals / n * h(nulls, totals)).sum(axis=0)
    bias = (k - 1) / (2.0 * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(hx - bias > 0.25 * hx, (hx - conditional - bias) / (hx - bias), np.nan)
    # exact determination with evidence: repeated lead values each keep one flag value, and chance
    # (p^t + (1 - p)^t per value seen t times) would do that with probability below max_p
    repeated = totals[:, 0] >= 2
    if repeated.sum() >= 2:
        t = totals[repeated]
        pure = ((nulls[repeated] == 0) | (nulls[repeated] == t)).all(axis=0)
        with np.errstate(divide="ignore"):
            log_chance = np.logaddexp(t * np.log(np.maximum(rate, 1e-300)), t * np.log(np.maximum(1 - rate, 1e-300)))
        exact = pure & (log_chance.sum(axis=0) < np.log(max_p)) & (rate > 0) & (rate < 1)
        u = np.where(exact, 1.0, u)
    return u


def find_null_follows(data: pa.Table, columns: list[Column], context: tuple[str, ...], *, indicators: set[str],
                      exclude: set[str], threshold: float) -> list[NullFollow]:
    """Null follows in drawing order (every lead's own nullness before its followers').

    Followers: the table's own columns with nulls, either with a null indicator (``indicators``) or
    category-like with null as a category (categorical, boolean, free text; not in ``exclude``:
    categoricals already drawn whole from a :class:`Follow`). Leads: categorical columns (their values)
    and every column with nulls (whether it is null), context columns included. A follower takes its strongest lead whose values
    determine its nullness with a bias-corrected uncertainty coefficient of at least ``threshold``;
    chains are allowed (the application type -> the joint income's nullness -> the joint ratio's), cycles
    are not.
    """
    from hiveframe.metadata import ColumnKind

    n = data.num_rows
    if n < 20:
        return []
    categorical = {c.name for c in columns if c.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)
                   and c.name not in indicators}
    category_like = categorical | {c.name for c in columns if c.kind == ColumnKind.TEXT and c.name not in indicators}
    with_nulls = {c.name for c in columns if (c.name in indicators or c.name in category_like)
                  and 0 < data.column(c.name).null_count < n}
    # a lead: (column, whether it is its nullness) -> codes and values
    leads: dict[tuple[str, bool], tuple[np.ndarray, list[Any]]] = {}
    for c in columns:
        if c.name in with_nulls:
            leads[(c.name, True)] = _flag_codes(data.column(c.name))
        if c.name in categorical:
            codes, values = _codes(data.column(c.name))
            if 2 <= len(values) and len(values) * 2 <= MAX_CELLS:
                leads[(c.name, False)] = (codes, values)
    followers = [c.name for c in columns if c.name in with_nulls and c.name not in context and c.name not in exclude]
    candidates: list[tuple[float, int, int, tuple[str, bool], str]] = []
    if not followers:
        return []
    flags = np.column_stack([_flag_codes(data.column(f))[0] for f in followers]).astype(np.float64)
    for lead, (codes, values) in leads.items():
        for follower, u in zip(followers, _null_coefficients(flags, codes, len(values)), strict=True):
            if follower != lead[0] and u >= threshold:  # (NaN: too few rows per cell, never a lead)
                candidates.append((round(float(u), 3), int(lead[0] in context), len(values), lead, follower))
    lead_of, strength_of, ordered = _choose_leads(candidates, lambda lead: lead[0])
    out = []
    for follower in (x for x in ordered if x in lead_of):
        lead, lead_is_null = lead_of[follower]
        a_codes, a_values = leads[(lead, lead_is_null)]
        indicator = follower in indicators
        b_codes, b_values = (_flag_codes if indicator else _codes)(data.column(follower))
        joint = np.bincount(a_codes * len(b_values) + b_codes, minlength=len(a_values) * len(b_values))
        joint = joint.reshape(len(a_values), len(b_values)).astype(np.float64)
        out.append(NullFollow(lead, follower, a_values, b_values, joint / max(joint.sum(), 1.0),
                              strength_of[follower], lead_is_null=lead_is_null, indicator=indicator))
    return out


def apply_null_follows(follows: list[NullFollow], arrays: dict[str, pa.Array], flags: dict[str, np.ndarray],
                       context: pa.Table | None, fixed: set[str], rng: np.random.Generator) -> None:
    """Redraw each follower's nullness from P(B | A), in place.

    ``flags``: per column with a null indicator, whether each row is null (the caller masks the values
    afterwards). A categorical follower drawn non-null keeps its own value, or where that was null takes
    the value the table gave (a draw from P(B | A, B not null)). ``fixed`` columns (conditions) are
    never redrawn; rows whose lead value was never seen keep their draw.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for f in follows:
        if f.column in fixed:
            continue
        if f.lead_is_null and f.lead in flags:
            lead = pa.array(flags[f.lead])
        elif f.lead in arrays:
            lead = arrays[f.lead].is_null() if f.lead_is_null else arrays[f.lead]
        elif context is not None and f.lead in context.column_names:
            lead = context.column(f.lead).is_null() if f.lead_is_null else context.column(f.lead)
        else:
            continue
        if f.indicator:
            if f.column not in flags:
                continue
            drawn = _draw_given(lead, pa.array(flags[f.column]), f.lead_values, f.values, f.probs, rng)
            flags[f.column] = np.asarray(drawn.to_numpy(zero_copy_only=False), dtype=bool)
            continue
        if f.column not in arrays:
            continue
        current = arrays[f.column]
        current = current.combine_chunks() if isinstance(current, pa.ChunkedArray) else current
        drawn = _draw_given(lead, current, f.lead_values, f.values, f.probs, rng)
        # drawn null -> null; drawn present -> the row's own value, or the drawn one where that was null
        kept = pc.if_else(pc.is_null(current), drawn, current)
        arrays[f.column] = pc.if_else(pc.is_null(drawn), pa.nulls(len(current), type=current.type), kept)
