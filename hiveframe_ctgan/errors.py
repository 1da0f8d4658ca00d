"""Errors specific to the CTGAN plugin (all inside hiveframe's error tree)."""

from __future__ import annotations

from hiveframe.errors import PersistenceError


class CheckpointError(PersistenceError):
    """A training checkpoint in the work folder was written by another model or plugin version, or is
    unreadable. Training never silently resumes from a checkpoint it cannot trust."""
