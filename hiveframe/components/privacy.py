"""Privacy wrappers and the public privacy seam: how a generator trains under differential privacy.

Three pieces, so that a third party can write a DP generator or a DP wrapper against the kernel alone:

* :class:`PrivateTraining` -- what a private fit receives: the cleaned real rows (to be touched only
  through the handle's mechanisms), a *surrogate* table built from noisy released statistics (fit every
  encoder and marginal on it), the :class:`PrivacyAccount` the fit spends, the :class:`NoiseSource`
  every DP draw comes from, DP-SGD plans (:meth:`PrivateTraining.plan`) and one-shot Gaussian releases
  (:meth:`PrivateTraining.release`);
* ``TableGenerator.supports_dp`` and ``TableGenerator.fit_private(..., private=...)`` (in
  :mod:`hiveframe.components.generators`);
* :class:`PrivacyWrapper`, whose ``differentially_private`` wrappers also answer what the relational
  engine asks (:meth:`PrivacyWrapper.begin`, :meth:`~PrivacyWrapper.table_budget`,
  :meth:`~PrivacyWrapper.linkage_model`, :meth:`~PrivacyWrapper.noisy_share`,
  :meth:`~PrivacyWrapper.forest`, :meth:`~PrivacyWrapper.key_format`,
  :meth:`~PrivacyWrapper.set_null_handling`), so the engine never reaches into a plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs

from hiveframe.components.base import Component

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from hiveframe.components.generators import TableGenerator
    from hiveframe.components.linkage import LinkageModel
    from hiveframe.components.noise import NoiseSource
    from hiveframe.metadata import Metadata, Table


@runtime_checkable
class PrivacyAccount(Protocol):
    """The budget a private fit spends: one table's view of the database's accountant."""

    table: str
    #: epsilon of the whole guarantee (per privacy unit), not what this table may spend alone.
    epsilon: float

    def epsilon_spent(self) -> float:
        """Epsilon composed so far over every mechanism of the database (per privacy unit)."""

    def delta_spent(self) -> float:
        """Delta spent so far."""

    def rows(self) -> int:
        """The table's released (noisy) row count: released once, at first use."""


@runtime_checkable
class PrivateSteps(Protocol):
    """One DP-SGD run planned by :meth:`PrivateTraining.plan` (Poisson sampling, clipping, noise)."""

    steps_per_epoch: int
    total_steps: int

    def can_step(self) -> bool:
        """Whether one more private step stays within the budget (check before each step)."""

    def sample(self) -> np.ndarray:
        """Row indices of the next step, shape ``(units, group)`` (-1 pads a short group).

        The Poisson sample is drawn from the wrapper's secret noise source, never from ``seed``.
        """

    def gradient(self, loss_fn: Callable[..., Any], params: Mapping[str, Any], inputs: tuple[Any, ...], *,
                 in_dims: tuple[Any, ...] | None = None) -> dict[str, Any]:
        """The noisy clipped mean gradient of one step (per-unit ``loss_fn(params, *unit_inputs)``).

        The gradient noise comes from the wrapper's secret noise source; the mean divides by the
        expected units of a step computed from the noisy row count. ``loss_fn`` may instead be the
        per-unit gradients in factored form: an object with ``unit_norms()`` (each unit's exact gradient
        norm) and ``weighted_sum(weights)`` (the units' gradients scaled and summed, by parameter
        name); ``inputs`` are then ignored.
        """

    def epoch_info(self) -> dict[str, Any]:
        """What an epoch callback reports: ``epsilon`` spent so far, ``delta``, ``budget_exhausted``."""


@runtime_checkable
class PrivateTraining(Protocol):
    """What ``TableGenerator.fit_private`` receives (made by a differentially private wrapper).

    A private fit must learn everything it saves about marginals from :attr:`surrogate` and touch
    :attr:`data` only through :meth:`plan` (DP-SGD) or :meth:`release` (a Gaussian release of a
    statistic whose per-row sensitivity it states). Every random draw of a mechanism comes from
    :attr:`noise` (never from ``seed``, which governs only non-private randomness).
    """

    #: the real rows cleaned into the released domains: only for the mechanisms below.
    data: pa.Table
    #: rows that follow the noisy released marginals (no real row among them).
    surrogate: pa.Table
    #: the noisy released statistics the surrogate was built from.
    statistics: Any
    budget: PrivacyAccount
    noise: NoiseSource
    max_grad_norm: float
    noise_multiplier: float | None
    micro_batch_size: int | None
    learning_rate: float | None
    pac: int | None
    seed: int

    @property
    def rows(self) -> int:
        """The released (noisy) row count: what a generator may report about the table's size."""

    def plan(self, *, batch_size: int, epochs: int, steps_per_batch: int = 1, group: int = 1) -> PrivateSteps:
        """A DP-SGD run of ``epochs`` passes with expected ``batch_size`` rows per step."""

    def unit_plan(self, *, batch_size: int, epochs: int, units: int, noisy_units: float) -> PrivateSteps:
        """A DP-SGD run whose privacy unit owns several rows (a parent with its whole sequence).

        ``sample()[:, 0]`` gives the Poisson-sampled units ``0 .. units - 1`` (rate ``batch_size /
        noisy_units``, a released count); ``gradient`` takes factored gradients with one entry per sampled
        unit (the sum over all its rows), each clipped to ``max_grad_norm`` as a whole.
        """

    def release(self, values: np.ndarray, *, sensitivity: float, label: str,
                mechanism: str) -> tuple[np.ndarray, float]:
        """``values`` plus Gaussian noise spending what is left of the table's training budget.

        ``sensitivity`` is the L2 change of ``values`` when one row is added or removed; the wrapper
        scales it to its privacy unit (an entity owning several rows). Returns the noisy values and
        the noise's standard deviation. Call it once per fit.
        """


@attrs.define(kw_only=True, eq=False)
class PrivacyWrapper(Component):
    """Wraps a table generator so that what it learns carries a privacy guarantee.

    A wrapper with ``differentially_private = True`` also makes private everything the relational
    engine learns outside the generators: the engine calls :meth:`begin` once, then the other
    methods below, and nothing else.
    """

    kind: ClassVar[str] = "privacy_wrapper"
    #: whether this wrapper gives a differential-privacy guarantee (and answers the engine's questions).
    differentially_private: ClassVar[bool] = False

    def wrap(self, generator: TableGenerator) -> TableGenerator:
        self.check_available()
        return self._call("wrap", self._wrap, generator)

    def report(self) -> dict[str, Any]:
        """What was spent (epsilon, delta, budget split); stored in the model manifest."""
        return {}

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        raise NotImplementedError

    def rows_left_out(self) -> dict[str, int]:
        """Per table, real rows left out of the last fit (e.g. beyond a per-parent cap): exact, so shown
        to whoever runs the fit and never saved in the model."""
        return {}

    # -- what the relational engine asks a differentially private wrapper --------------------------
    def begin(self, metadata: Metadata, database: Any, *, generator_for: Callable[[Table], TableGenerator],
              metadata_detected: bool = False) -> Any:
        """Plan the whole database's budget before any release; returns the database to learn from.

        The returned database may leave rows out (children beyond a per-parent cap); the wrapper's
        report says how many.
        """
        raise NotImplementedError(f"privacy wrapper {self.name!r} is not differentially private")

    def table_budget(self, table: str) -> PrivacyAccount:
        """The account of ``table`` (planned by :meth:`begin`)."""
        raise NotImplementedError

    def linkage_model(self, table: str, fk_index: int) -> LinkageModel:
        """A children-per-parent model for foreign key ``fk_index`` (into ``table``), spending its budget."""
        raise NotImplementedError

    def noisy_share(self, table: str, count: float, total: float, *, label: str) -> float:
        """``count / total`` from a noisy ``count`` (``total`` already released)."""
        raise NotImplementedError

    def forest(self, table: str, parent: np.ndarray, rows: int) -> Any:
        """A self-reference model (:class:`hiveframe.pipeline.forest.ForestModel`) from noisy counts."""
        raise NotImplementedError

    def key_format(self, arrow_type: pa.DataType) -> dict[str, Any]:
        """A key format that owes nothing to the real keys."""
        raise NotImplementedError

    def set_null_handling(self, table: str, mode: str) -> None:
        """``"mean"``: nulls of the table's columns become the released mean or most common category."""
        raise NotImplementedError
