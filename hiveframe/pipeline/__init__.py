"""The pipeline: compose, fit, sample, save and load a synthesizer."""

from hiveframe.pipeline.io import as_database, read, write
from hiveframe.pipeline.synthesizer import Synthesizer

__all__ = ["Synthesizer", "as_database", "read", "write"]
