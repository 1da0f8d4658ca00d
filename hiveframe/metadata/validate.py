"""Checks of metadata and of data against metadata. (being written)"""

from __future__ import annotations

from hiveframe.errors import Problem
from hiveframe.metadata.model import Metadata


def metadata_problems(metadata: Metadata) -> list[Problem]:
    return []
