"""Errors specific to the autoregressive plugin (all inside hiveframe's error tree)."""

from __future__ import annotations

from hiveframe.errors import PersistenceError


class CheckpointError(PersistenceError):
    """A training checkpoint in the work folder was written by another model, other data or another
    plugin version, or is unreadable: training never resumes from a checkpoint it cannot trust."""
