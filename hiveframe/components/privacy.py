"""Privacy wrappers: make a generator's training (and its preprocessing) private."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from hiveframe.components.base import Component

if TYPE_CHECKING:
    from hiveframe.components.generators import TableGenerator


@attrs.define(kw_only=True, eq=False)
class PrivacyWrapper(Component):
    """Wraps a table generator so that what it learns carries a privacy guarantee."""

    kind: ClassVar[str] = "privacy_wrapper"

    def wrap(self, generator: TableGenerator) -> TableGenerator:
        self.check_available()
        return self._call("wrap", self._wrap, generator)

    def report(self) -> dict[str, Any]:
        """What was spent (epsilon, delta, budget split); stored in the model manifest."""
        return {}

    def _wrap(self, generator: TableGenerator) -> TableGenerator:
        raise NotImplementedError
