"""Numpy side of the CTGAN/TVAE generators: the encoded-matrix layout, the conditional-vector sampler
and the cheap fidelity score used for early stopping. No torch here.

Layout. The networks see the encoded matrix with its columns permuted once, at preprocessing, into
``[scalars | narrow one-hot segments | wide one-hot segments]``. Every per-span operation then works
on contiguous blocks: one ``tanh`` on the scalar block, one segmented softmax over all one-hot
segments, and learned embeddings for the wide segments (categories above ``embedding_threshold``),
without per-column Python loops or scatter copies in the training step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiveframe.metadata.model import ColumnKind

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components.encoding import TableEncoder
    from hiveframe.metadata import Column

CONTINUOUS_KINDS = (ColumnKind.NUMERICAL, ColumnKind.DATETIME)


def embedding_dim(categories: int) -> int:
    """Width of a learned embedding for a column with ``categories`` values (a common rule of thumb)."""
    return int(min(50, max(2, round(1.6 * categories ** 0.56))))


@dataclass
class Segment:
    """One one-hot block of the permuted matrix."""

    start: int
    width: int
    column: int  # index of the column in the encoder
    discrete: bool  # a categorical column's block (eligible for the conditional vector)
    wide: bool  # embedded (width above the embedding threshold)

    def to_json(self) -> list[Any]:
        return [self.start, self.width, self.column, self.discrete, self.wide]

    @classmethod
    def from_json(cls, v: Sequence[Any]) -> Segment:
        return cls(int(v[0]), int(v[1]), int(v[2]), bool(v[3]), bool(v[4]))


@dataclass
class Layout:
    """Where each block of the encoded matrix lives after the permutation, and how scalars are scaled."""

    width: int
    perm: np.ndarray  # permuted[:, j] = encoded[:, perm[j]]
    n_scalar: int
    segments: list[Segment]
    shift: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per scalar: x' = (x - shift) / scale
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    # -- derived ---------------------------------------------------------------------------------
    @property
    def narrow_end(self) -> int:
        """End of the block that is fed to networks as is (scalars and narrow segments)."""
        wide = [s.start for s in self.segments if s.wide]
        return min(wide) if wide else self.width

    @property
    def wide_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.wide]

    @property
    def discrete_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.discrete]

    @property
    def embedded_width(self) -> int:
        """Width of a row once its wide segments are replaced by their embeddings."""
        return self.narrow_end + sum(embedding_dim(s.width) for s in self.wide_segments)

    def positions(self) -> np.ndarray:
        """For each encoded column, its position in the permuted matrix (the inverse of ``perm``)."""
        out = np.empty(self.width, dtype=np.int64)
        out[self.perm] = np.arange(self.width)
        return out

    def segment_ids(self) -> np.ndarray:
        """For each one-hot position (``n_scalar`` onwards), the index of its segment."""
        return np.repeat(np.arange(len(self.segments)), [s.width for s in self.segments]).astype(np.int64)

    # -- apply -----------------------------------------------------------------------------------
    def forward(self, encoded: np.ndarray) -> np.ndarray:
        out = encoded[:, self.perm].astype(np.float32)
        if self.n_scalar:
            out[:, : self.n_scalar] = (out[:, : self.n_scalar] - self.shift) / self.scale
        return out

    def backward(self, matrix: np.ndarray) -> np.ndarray:
        m = np.asarray(matrix, dtype=np.float64)
        out = np.empty_like(m)
        out[:, self.perm] = m
        if self.n_scalar:  # the scalars, unscaled, overwrite their raw copies
            out[:, self.perm[: self.n_scalar]] = m[:, : self.n_scalar] * self.scale + self.shift
        return out

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "perm": self.perm.tolist(), "n_scalar": self.n_scalar,
                "segments": [s.to_json() for s in self.segments], "shift": self.shift.tolist(),
                "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Layout:
        return cls(int(v["width"]), np.asarray(v["perm"], dtype=np.int64), int(v["n_scalar"]),
                   [Segment.from_json(s) for s in v["segments"]], np.asarray(v["shift"], dtype=np.float64),
                   np.asarray(v["scale"], dtype=np.float64))


def _plan(encoder: TableEncoder, embedding_threshold: int) -> tuple[Layout, list[int], list[bool]]:
    """The permutation and segments of an encoder's output (scalars not yet scaled), with the
    original position of every scalar and whether it is a VGM scalar (already in [-1, 1])."""
    from hiveframe_ctgan.transformers import VGMTransformer

    scalars: list[int] = []
    bounded: list[bool] = []
    blocks: list[tuple[int, int, int, bool]] = []  # original start, width, column, discrete
    pos = 0
    for ci, (column, transformer) in enumerate(zip(encoder.columns, encoder.transformers, strict=True)):
        for span in transformer.output_spans:
            if span.activation == "scalar":
                for j in range(span.width):
                    scalars.append(pos + j)
                    bounded.append(isinstance(transformer, VGMTransformer))
            else:
                blocks.append((pos, span.width, ci, column.kind not in CONTINUOUS_KINDS))
            pos += span.width
    narrow = [b for b in blocks if b[1] <= embedding_threshold]
    wide = [b for b in blocks if b[1] > embedding_threshold]
    perm = list(scalars)
    segments: list[Segment] = []
    for start, width, ci, discrete in narrow + wide:
        segments.append(Segment(len(perm), width, ci, discrete, width > embedding_threshold))
        perm.extend(range(start, start + width))
    layout = Layout(pos, np.asarray(perm, dtype=np.int64), len(scalars), segments, np.zeros(len(scalars)),
                    np.ones(len(scalars)))
    return layout, scalars, bounded


def _scaling(values: np.ndarray) -> tuple[float, float]:
    """Shift and scale that map a scalar column's observed range onto [-1, 1]."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    return (hi + lo) / 2, ((hi - lo) / 2 if hi > lo else 1.0)


def build_layout(encoder: TableEncoder, encoded: np.ndarray, embedding_threshold: int) -> Layout:
    """Permutation and scalar scaling for an encoder fitted on ``encoded`` (the training matrix)."""
    layout, scalars, bounded = _plan(encoder, embedding_threshold)
    for i, (p, vgm) in enumerate(zip(scalars, bounded, strict=True)):
        if vgm or not len(encoded):
            continue  # mode-normalised values already live in [-1, 1]
        layout.shift[i], layout.scale[i] = _scaling(encoded[:, p])
    return layout


def encode_permuted(encoder: TableEncoder, data: pa.Table, embedding_threshold: int,
                    rows: np.ndarray | None = None) -> tuple[Layout, np.ndarray, list[np.ndarray]]:
    """``build_layout`` and ``Layout.forward`` in one pass, without the float64 matrix in between.

    Returns the layout (scaling from every row of ``data``, as :func:`build_layout` would), the
    permuted float32 matrix of ``rows`` (all rows when None) and the category codes of those rows in
    every discrete segment (what :func:`discrete_codes` would read back). One-hot columns are written
    straight from their category codes (a hash lookup in Arrow), so no dense float64 block is built
    for them: on AirBnB sessions (38k rows, 330 encoded columns) this is most of the preprocessing.
    The matrix is the same, bit for bit, as ``build_layout`` + ``forward`` + row selection.
    """
    layout, scalars, bounded = _plan(encoder, embedding_threshold)
    n = data.num_rows if rows is None else len(rows)
    inverse = layout.positions()
    scalar_index = {p: i for i, p in enumerate(scalars)}
    out = np.zeros((n, layout.width), dtype=np.float32)
    codes_of: dict[int, np.ndarray] = {}  # permuted segment start -> codes
    pos = 0
    for column, transformer in zip(encoder.columns, encoder.transformers, strict=True):
        width = transformer.output_width
        values = data.column(column.name)
        codes = _onehot_codes(transformer, values)
        if codes is not None:
            start = int(inverse[pos])
            if rows is not None:
                codes = codes[rows]
            out[np.arange(n), start + codes] = 1.0
            codes_of[start] = codes
            pos += width
            continue
        # every row, then the selection: the VGM draws each row's mode from one random stream
        full = transformer.transform(values)
        block = full if rows is None else full[rows]
        for j in range(width):
            p = pos + j
            target = int(inverse[p])
            i = scalar_index.get(p)
            if i is None or bounded[i]:
                out[:, target] = block[:, j]
                continue
            if len(full):
                layout.shift[i], layout.scale[i] = _scaling(full[:, j])
            out[:, target] = (block[:, j].astype(np.float32) - layout.shift[i]) / layout.scale[i]
        pos += width
    codes = [codes_of[s.start] if s.start in codes_of else out[:, s.start : s.start + s.width].argmax(axis=1)
             for s in layout.discrete_segments]
    return layout, out, codes


def _onehot_codes(transformer: Any, values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Category codes of the builtin one-hot transformer, or None where it must encode itself (another
    transformer, or values it would refuse, which it then reports)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from hiveframe.arrow import as_array
    from hiveframe.baseline import OneHotTransformer

    if type(transformer) is not OneHotTransformer or len(transformer.output_spans) != 1:
        return None
    try:
        arr = as_array(values)
        domain = pa.array(transformer.categories)
        if domain.type != arr.type:
            domain = domain.cast(arr.type)
        index = pc.index_in(arr, value_set=domain, skip_nulls=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if index.null_count:
        return None
    return np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.int64)


# -- conditional vector ------------------------------------------------------------------------------
class CondSampler:
    """Training-by-sampling (Xu et al. 2019, section 4.3), vectorised.

    A condition is one category of one discrete column, numbered globally (``offsets[d] + k``); the
    number of categories ``n_cats`` stands for "no condition". For training, a column is drawn
    uniformly, a category with probability proportional to log(1 + frequency), and a real row holding
    that category uniformly; all three draws are done for the whole batch with array operations (a
    ``searchsorted`` in one cumulative table built over every column, and a lookup in the row indices
    sorted by category).
    """

    def __init__(self, counts: Sequence[np.ndarray], codes: Sequence[np.ndarray] | None = None, *,
                 log_frequency: bool = True, n_rows: int | None = None) -> None:
        self.widths = np.array([len(c) for c in counts], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).astype(np.int64)
        self.n_cats = int(self.offsets[-1])
        self.counts = [np.asarray(c, dtype=np.float64) for c in counts]
        self._log_cum = self._cumulative([np.log1p(c) if log_frequency else c for c in self.counts])
        self._freq_cum = self._cumulative(self.counts)
        # the training rows; given explicitly for a table with no discrete column (no codes to count)
        self.n_rows = 0 if n_rows is None else int(n_rows)
        if codes is not None:
            self.n_rows = len(codes[0]) if len(codes) else self.n_rows
            rows, starts = [], []
            for d, code in enumerate(codes):
                order = np.argsort(code, kind="stable")
                rows.append(order)
                starts.append(np.searchsorted(code[order], np.arange(self.widths[d])) + d * self.n_rows)
            self._rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
            self._cat_start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
            self._cat_count = np.concatenate([c.astype(np.int64) for c in self.counts]) if starts \
                else np.zeros(0, dtype=np.int64)

    @staticmethod
    def _cumulative(weights: Sequence[np.ndarray]) -> np.ndarray:
        """One increasing table: column d occupies (d, d + 1], so ``d + u`` finds a category of d."""
        parts = []
        for d, w in enumerate(weights):
            total = w.sum()
            p = w / total if total > 0 else np.full(len(w), 1.0 / max(1, len(w)))
            c = np.cumsum(p)
            c[-1] = 1.0
            parts.append(d + c)
        return np.concatenate(parts) if parts else np.zeros(0)

    @property
    def n_columns(self) -> int:
        return len(self.widths)

    def _draw(self, cum: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
        cols = rng.integers(self.n_columns, size=size)
        cats = np.searchsorted(cum, cols + rng.random(size), side="right")
        return np.minimum(cats, self.offsets[cols + 1] - 1)

    def sample_train(self, size: int, rng: np.random.Generator, p_none: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Conditions (log-frequency) and matching real rows, for one batch."""
        if self.n_columns == 0:
            return np.full(size, self.n_cats, dtype=np.int64), rng.integers(self.n_rows, size=size)
        cats = self._draw(self._log_cum, size, rng)
        pick = np.floor(rng.random(size) * self._cat_count[cats]).astype(np.int64)
        rows = self._rows[self._cat_start[cats] + pick]
        if p_none > 0:
            none = rng.random(size) < p_none
            cats = np.where(none, self.n_cats, cats)
            rows = np.where(none, rng.integers(self.n_rows, size=size), rows)
        return cats.astype(np.int64), rows.astype(np.int64)

    def sample_original(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Conditions drawn with the data's own frequencies (for generation without conditions)."""
        if self.n_columns == 0:
            return np.full(size, self.n_cats, dtype=np.int64)
        return self._draw(self._freq_cum, size, rng).astype(np.int64)


# -- fidelity score for early stopping ---------------------------------------------------------------
class FidelityScorer:
    """A cheap stand-in for the SDMetrics quality score, used as CTGAN's validation signal.

    Every column is reduced to at most ``bins`` codes learnt from held-out real rows (quantile bins for
    numbers and datetimes, the most frequent categories plus "other" for the rest, nulls as their own
    code). The score averages ``1 - total variation distance`` between real and generated code
    frequencies, over single columns (shapes) and over column pairs (trends), like SDMetrics' column
    shapes and column pair trends. It costs a few ``bincount`` calls, so it can run every epoch.
    """

    def __init__(self, real: pa.Table, columns: Sequence[Column], *, bins: int = 10, max_categories: int = 30,
                 max_pairs: int = 150, seed: int = 0) -> None:
        self.columns = list(columns)
        self._coders = []
        self._real: list[np.ndarray] = []
        self.sizes: list[int] = []
        for column in self.columns:
            coder = _Coder(real.column(column.name), column, bins, max_categories)
            self._coders.append(coder)
            self._real.append(coder.codes(real.column(column.name)))
            self.sizes.append(coder.size)
        pairs = [(i, j) for i in range(len(self.columns)) for j in range(i + 1, len(self.columns))]
        if len(pairs) > max_pairs:
            rng = np.random.default_rng(seed)
            pairs = [pairs[k] for k in sorted(rng.choice(len(pairs), max_pairs, replace=False))]
        self.pairs = pairs
        self._real_marg = [self._freq(c, s) for c, s in zip(self._real, self.sizes, strict=True)]
        self._real_pair = [self._freq(self._real[i] * self.sizes[j] + self._real[j], self.sizes[i] * self.sizes[j])
                           for i, j in pairs]

    @staticmethod
    def _freq(codes: np.ndarray, size: int) -> np.ndarray:
        f = np.bincount(codes, minlength=size).astype(np.float64)
        return f / max(1.0, f.sum())

    def score(self, synthetic: Mapping[str, pa.Array]) -> float:
        codes = [c.codes(synthetic[col.name]) for c, col in zip(self._coders, self.columns, strict=True)]
        if not codes:
            return 1.0
        shapes = [1 - 0.5 * np.abs(self._freq(c, s) - r).sum() for c, s, r in zip(codes, self.sizes, self._real_marg, strict=True)]
        trends = [1 - 0.5 * np.abs(self._freq(codes[i] * self.sizes[j] + codes[j], self.sizes[i] * self.sizes[j]) - r).sum()
                  for (i, j), r in zip(self.pairs, self._real_pair, strict=True)]
        if not trends:
            return float(np.mean(shapes))
        return float(0.5 * np.mean(shapes) + 0.5 * np.mean(trends))


class _Coder:
    """Maps one column's values to small integer codes (see :class:`FidelityScorer`)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, column: Column, bins: int, max_categories: int) -> None:
        import pyarrow.compute as pc

        self.column = column
        x = self._numbers(values)
        self.numeric = x is not None
        if x is not None:
            finite = x[np.isfinite(x)]
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1))) if finite.size else np.zeros(2)
            self.edges = edges[1:-1]
            self.size = len(self.edges) + 2  # bins, then null
        else:
            counts = pc.value_counts(values.drop_null() if hasattr(values, "drop_null") else values)
            freq = np.asarray(counts.field(1).to_numpy())
            order = np.argsort(-freq, kind="stable")[:max_categories]
            self.top = counts.field(0).take(order)
            self.size = len(self.top) + 2  # categories, other, null

    def _numbers(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        from hiveframe.arrow import as_array, temporal_ints

        arr = as_array(values)
        t = arr.type
        try:
            if pa.types.is_timestamp(t) or pa.types.is_date(t):
                arr = temporal_ints(arr)
            elif (pa.types.is_string(t) or pa.types.is_large_string(t)) and self.column.kind is ColumnKind.DATETIME:
                fmt = self.column.datetime_format
                ts = pc.strptime(arr, format=fmt, unit="us", error_is_null=True) if fmt else arr.cast(pa.timestamp("us"))
                arr = temporal_ints(ts)
            elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
                return None
            return np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None

    def codes(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        import pyarrow.compute as pc

        if self.numeric:
            x = self._numbers(values)
            if x is None:
                return np.full(len(values), self.size - 1, dtype=np.int64)
            code = np.searchsorted(self.edges, x, side="right")
            return np.where(np.isfinite(x), code, self.size - 1).astype(np.int64)
        index = pc.index_in(values, value_set=self.top)
        idx = np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.float64)
        nulls = np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
        code = np.where(np.isnan(idx), self.size - 2, np.nan_to_num(idx)).astype(np.int64)
        return np.where(nulls, self.size - 1, code)


# -- exact null dependencies -----------------------------------------------------------------------
#: a category/null pattern this unlikely to be pure by chance (if nulls were independent of the category)
#: is taken as a rule of the data
NULL_RULE_MAX_CHANCE = 1e-6


@dataclass
class NullRule:
    """Whether a continuous column is null is fixed by the category of a discrete column.

    Relational data is full of these (AirBnB's ``date_first_booking`` is null exactly when
    ``country_destination`` is ``NDF``; a shipping date is null exactly for pending orders). A GAN
    learns such a dependence only after many steps (at 50 epochs on 8,000 AirBnB users neither this
    CTGAN nor the reference has learnt it), and a generated row that breaks it is plainly wrong, so
    the dependence found in the training rows is applied to every generated row instead.
    """

    target: int  # encoder index of the continuous (VGM) column
    source: int  # encoder index of the discrete column
    #: per category of ``source``: 1 always null, 0 never null, -1 not seen in training (left as generated)
    null: np.ndarray

    def to_json(self) -> list[Any]:
        return [self.target, self.source, self.null.astype(int).tolist()]

    @classmethod
    def from_json(cls, v: Sequence[Any]) -> NullRule:
        return cls(int(v[0]), int(v[1]), np.asarray(v[2], dtype=np.int8))


def log_chance_pure(counts: np.ndarray, rate: float) -> float:
    """log P(every category holds only nulls or only values) if each row were null with probability
    ``rate`` independently of its category (categories with ``counts`` rows)."""
    n = np.asarray(counts, dtype=np.float64)
    n = n[n > 0]
    if not 0.0 < rate < 1.0:
        return 0.0
    return float(np.logaddexp(n * math.log(rate), n * math.log1p(-rate)).sum())


def find_null_rules(nulls: Mapping[int, np.ndarray], codes: Mapping[int, tuple[np.ndarray, int]], *,
                    max_chance: float = NULL_RULE_MAX_CHANCE) -> list[NullRule]:
    """The exact null dependencies of the training rows.

    ``nulls`` maps a continuous column to its null indicator per row, ``codes`` a discrete column to
    (category code per row, number of categories). A rule needs every category seen to be all null or
    never null, with a pattern too unlikely to be chance (see :func:`log_chance_pure`); near-unique
    columns never qualify (one row per category is always "pure", at no cost). Of several qualifying
    columns, the least likely by chance is kept.
    """
    rules: list[NullRule] = []
    limit = math.log(max_chance)
    for target, is_null in nulls.items():
        is_null = np.asarray(is_null, dtype=bool)
        n = len(is_null)
        k = int(is_null.sum())
        if n == 0 or k in (0, n):
            continue
        best: tuple[float, int, np.ndarray] | None = None
        for source, (code, width) in codes.items():
            total = np.bincount(code, minlength=width)
            null_count = np.bincount(code, weights=is_null, minlength=width)
            seen = total > 0
            if not np.all((null_count[seen] == 0) | (null_count[seen] == total[seen])):
                continue
            chance = log_chance_pure(total, k / n)
            if chance < limit and (best is None or chance < best[0]):
                best = (chance, source, np.where(seen, (null_count > 0).astype(np.int8), np.int8(-1)))
        if best is not None:
            rules.append(NullRule(int(target), best[1], best[2].astype(np.int8)))
    return rules


@dataclass
class NullRulePlace:
    """Where a rule's columns sit in the permuted matrix (derived from the layout, not saved)."""

    rule: NullRule
    source: Segment  # the discrete column's one-hot segment
    target: Segment  # the continuous column's mode one-hot, its null slot last
    alpha: int  # the continuous column's scalar (mode-normalised, unscaled)
    weights: np.ndarray  # the continuous column's mode weights


def apply_null_rules(matrix: np.ndarray, places: Sequence[NullRulePlace], rng: np.random.Generator) -> np.ndarray:
    """Make generated rows (a permuted matrix, changed in place and returned) obey the null rules.

    A row whose category says "null" gets the null slot. A row whose category says "a value" but
    that the generator made null gets a value drawn from the column's fitted mixture (mode by weight,
    ``alpha`` from the mode's own normal, ``N(0, 1/4)``). Applying the rules twice changes nothing.
    """
    for place in places:
        src, tgt = place.source, place.target
        k = tgt.width - 1  # modes; the null slot is the last
        code = matrix[:, src.start : src.start + src.width].argmax(axis=1)
        want = place.rule.null[np.minimum(code, len(place.rule.null) - 1)]
        block = matrix[:, tgt.start : tgt.start + tgt.width]
        is_null = block.argmax(axis=1) == k
        to_null = np.flatnonzero((want == 1) & ~is_null)
        to_value = np.flatnonzero((want == 0) & is_null)
        if len(to_null):
            block[to_null] = 0.0
            block[to_null, k] = 1.0
            matrix[to_null, place.alpha] = 0.0
        if len(to_value):
            w = place.weights / place.weights.sum()
            modes = rng.choice(k, size=len(to_value), p=w)
            block[to_value] = 0.0
            block[to_value, modes] = 1.0
            matrix[to_value, place.alpha] = np.clip(rng.normal(0.0, 0.25, len(to_value)), -1.0, 1.0)
    return matrix


def discrete_codes(matrix: np.ndarray, segments: Sequence[Segment]) -> list[np.ndarray]:
    """Category index of every row in each discrete segment of a permuted (hard one-hot) matrix."""
    return [matrix[:, s.start : s.start + s.width].argmax(axis=1) for s in segments]


def steps_per_epoch(rows: int, batch_size: int) -> int:
    return max(1, math.ceil(rows / batch_size) if rows < batch_size else rows // batch_size)
