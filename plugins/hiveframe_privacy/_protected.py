"""What the privacy wrappers' generators share: each is made by a wrapper around the user's generator."""

from __future__ import annotations

from typing import ClassVar

import attrs

from hiveframe.components import TableGenerator


@attrs.define(kw_only=True, eq=False)
class ProtectedGenerator(TableGenerator):
    """A table generator a privacy wrapper made around ``inner``, the generator the user chose (which
    may itself be protected: PII replacement around differential privacy)."""

    user_facing: ClassVar[bool] = False  # made by a wrapper, never chosen by name
    extra: ClassVar[str | None] = "privacy"

    inner: TableGenerator
