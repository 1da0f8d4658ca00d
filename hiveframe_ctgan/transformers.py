"""The VGM transformer: mode-specific normalisation of a numeric or datetime column (Xu et al. 2019).

Each column gets a variational Gaussian mixture with a Dirichlet-process weight prior (see
:mod:`hiveframe_ctgan._vgm`); a value ``x`` is encoded as ``[alpha, beta]`` where ``beta`` is the
one-hot of a mode ``k`` and ``alpha = (x - mu_k) / (4 sigma_k)``. The mode is *sampled* from the
value's posterior responsibilities, as the paper does: a value lying between two overlapping modes is
assigned to each in proportion, so the generator learns how the modes mix instead of a hard boundary.
``reverse`` uses the encoded mode, so ``reverse(transform(x)) == x`` whichever mode was drawn (alpha
is not clipped on the way in; the generator's tanh bounds its own outputs).

Reading the column (numbers, dates, timestamps, datetime strings), clipping to bounds, rounding like
the data and restoring the Arrow type are delegated to the builtin ``float`` and ``datetime``
transformers, so the conventions match the rest of hiveframe. Nulls become one more slot of the mode
one-hot (the *null mode*), so the generator chooses "null" with the same softmax it uses for modes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import attrs
import numpy as np

from hiveframe.components.base import ComponentState
from hiveframe.components.transformers import Span, Transformer
from hiveframe.errors import ConfigError
from hiveframe.metadata.model import ColumnKind

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.baseline import BuiltinTransformer
    from hiveframe.metadata import Column

log = logging.getLogger(__name__)


def _positive_int(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"vgm: {attribute.name} must be a positive integer, got {value!r}")


@attrs.define(kw_only=True, eq=False)
class VGMTransformer(Transformer):
    """Mode-specific normalisation with a Dirichlet-process Gaussian mixture (CTGAN's encoding).

    ``max_modes`` bounds the number of modes; modes whose expected weight is at most
    ``weight_threshold`` are pruned. The mixture is fitted on at most ``max_fit_rows`` values drawn at
    random, so its cost stops growing with the number of rows (1-D mixtures need no more).
    ``sample_modes=False`` encodes with the most likely mode instead of a posterior draw.
    """

    name: ClassVar[str] = "vgm"
    handles: ClassVar[tuple[ColumnKind, ...]] = (ColumnKind.NUMERICAL, ColumnKind.DATETIME)

    max_modes: int = attrs.field(default=10, validator=_positive_int)
    weight_threshold: float = 0.005
    weight_concentration: float = 1e-3
    max_fit_rows: int = attrs.field(default=10_000, validator=_positive_int)
    sample_modes: bool = True

    _base: BuiltinTransformer | None = attrs.field(default=None, init=False)
    _weights: np.ndarray = attrs.field(factory=lambda: np.ones(1), init=False)
    _means: np.ndarray = attrs.field(factory=lambda: np.zeros(1), init=False)
    _stds: np.ndarray = attrs.field(factory=lambda: np.ones(1), init=False)
    _has_nulls: bool = attrs.field(default=False, init=False)
    _seed: int = attrs.field(default=0, init=False)
    _null_typed: bool = attrs.field(default=False, init=False)

    # -- introspection -------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        return len(self._means)

    @property
    def has_null_mode(self) -> bool:
        """Whether the mode one-hot ends with the null slot."""
        return self._has_nulls

    @property
    def modes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, means, standard deviations) of the kept modes, in the encoded unit."""
        return self._weights.copy(), self._means.copy(), self._stds.copy()

    # -- contract --------------------------------------------------------------------------------
    def _fit(self, values: pa.Array | pa.ChunkedArray, column: Column, *, seed: int | None) -> None:
        import pyarrow as pa

        from hiveframe_ctgan._vgm import fit_dp_mixture

        self._base = _base_for(values, column)
        self._null_typed = pa.types.is_null(values.type)
        self._base.fit(values, column, seed=seed)
        x, nulls = self._numbers(values)
        self._has_nulls = bool(nulls.any()) or self._base.null_indicator
        self._seed = int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is not None else 0
        rng = np.random.default_rng(self._seed)
        observed = x[~nulls]
        if len(observed) > self.max_fit_rows:
            observed = observed[rng.choice(len(observed), self.max_fit_rows, replace=False)]
        mix = fit_dp_mixture(observed, max_components=self.max_modes, weight_threshold=self.weight_threshold,
                             weight_concentration=self.weight_concentration, rng=rng)
        self._weights, self._means, self._stds = mix.weights, mix.means, mix.stds
        log.debug("vgm %s: %d modes (%d iterations, converged=%s)", column.name, len(mix.means),
                  mix.iterations, mix.converged)

    def _numbers(self, values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        assert self._base is not None
        enc = self._base.transform(values)
        if self._base.null_indicator:
            return enc[:, 0], enc[:, -1] > 0.5
        return enc[:, 0], np.zeros(len(enc), dtype=bool)

    def _transform(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        x, nulls = self._numbers(values)
        k = self.n_modes
        if k == 1:
            modes = np.zeros(len(x), dtype=np.int64)
        else:
            z = (x[:, None] - self._means[None, :]) / self._stds[None, :]
            logits = np.log(self._weights)[None, :] - np.log(self._stds)[None, :] - 0.5 * z * z
            if self.sample_modes:  # Gumbel-max: an exact draw from the responsibilities
                u = np.random.default_rng(self._seed).random(logits.shape)
                logits = logits - np.log(-np.log(np.clip(u, 1e-300, 1.0)))
            modes = logits.argmax(axis=1)
        alpha = (x - self._means[modes]) / (4.0 * self._stds[modes])
        out = np.zeros((len(x), 1 + self._onehot_width()))
        out[:, 0] = np.where(nulls, 0.0, alpha)
        slot = np.where(nulls, k, modes) if self._has_nulls else modes
        out[np.arange(len(x)), 1 + slot] = 1.0
        return out

    def _reverse(self, encoded: np.ndarray) -> pa.Array:
        assert self._base is not None
        encoded = encoded.reshape(encoded.shape[0], 1 + self._onehot_width())
        alpha = np.nan_to_num(encoded[:, 0])
        slot = np.nan_to_num(encoded[:, 1:], nan=-np.inf).argmax(axis=1)
        k = self.n_modes
        nulls = slot >= k
        modes = np.minimum(slot, k - 1)
        x = alpha * 4.0 * self._stds[modes] + self._means[modes]
        if self._null_typed:  # an all-null column read without a type: nothing to decode
            import pyarrow as pa

            return pa.nulls(len(x))
        base_enc = np.column_stack([x, nulls.astype(np.float64)]) if self._base.null_indicator else x[:, None]
        out = self._base.reverse(base_enc)
        if nulls.any() and not self._base.null_indicator:
            import pyarrow as pa
            import pyarrow.compute as pc

            out = pc.if_else(pa.array(nulls), pa.nulls(len(out), type=out.type), out)
        return out

    def _onehot_width(self) -> int:
        return self.n_modes + (1 if self._has_nulls else 0)

    def _output_spans(self) -> list[Span]:
        return [Span(1, "scalar"), Span(self._onehot_width(), "onehot")]

    # -- state -----------------------------------------------------------------------------------
    def _get_state(self) -> ComponentState:
        assert self._base is not None
        state = ComponentState(
            values={"base": self._base.name, "has_nulls": self._has_nulls, "seed": self._seed,
                    "null_typed": self._null_typed},
            arrays={"weights": self._weights, "means": self._means, "stds": self._stds},
        )
        state.put_child("base_state", self._base.get_state())
        return state

    def _set_state(self, state: ComponentState) -> None:
        from hiveframe.baseline import DatetimeTransformer, FloatTransformer

        base_name = state.values["base"]
        self._base = DatetimeTransformer() if base_name == DatetimeTransformer.name else FloatTransformer()
        self._base.set_state(state.child("base_state"))
        self._has_nulls = bool(state.values["has_nulls"])
        self._seed = int(state.values.get("seed", 0))
        self._null_typed = bool(state.values.get("null_typed", False))
        self._weights = np.asarray(state.arrays["weights"], dtype=np.float64)
        self._means = np.asarray(state.arrays["means"], dtype=np.float64)
        self._stds = np.asarray(state.arrays["stds"], dtype=np.float64)


def _base_for(values: pa.Array | pa.ChunkedArray, column: Column) -> BuiltinTransformer:
    """The builtin reader/writer of the column's values: datetimes by type or kind, numbers otherwise."""
    import pyarrow as pa

    from hiveframe.baseline import DatetimeTransformer, FloatTransformer

    t = values.type
    temporal = pa.types.is_timestamp(t) or pa.types.is_date(t)
    text = pa.types.is_string(t) or pa.types.is_large_string(t)
    if temporal or (text and column.kind is ColumnKind.DATETIME):
        return DatetimeTransformer()
    return FloatTransformer()


TRANSFORMERS: list[type[Transformer]] = [VGMTransformer]
