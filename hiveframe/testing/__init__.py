"""Testing helpers for hiveframe and for plugin authors.

* :func:`fake_distribution` makes ``importlib.metadata`` see an installed distribution with entry points
  in the ``hiveframe`` group, so a :class:`~hiveframe.plugins.PluginHost` discovers a plugin exactly as
  it would after ``pip install``.
* :mod:`hiveframe.testing.conformance` holds one ``check_*`` function per component kind that
  exercises its contract (shapes, dtypes, determinism, state round trip, error wrapping, parameters).
* :mod:`hiveframe.testing.pytest_plugin` (loaded by pytest automatically when hiveframe is installed)
  provides the ``hiveframe_host``, ``hiveframe_host_factory`` and ``fake_distribution`` fixtures.
* :mod:`hiveframe.testing.leaks` reads what a saved model holds (its bytes, its JSON strings), to check
  that no real value sits in it.
* :func:`load_dataset` loads one of the real example databases (``../shared/data`` beside a checkout) as
  ``(Database, Metadata)`` with the keys the dataset states, the one loader tests and benchmarks share.

Importing this package is light (standard library only); the checks import pyarrow when they run.
"""

from __future__ import annotations

from hiveframe.lazy import lazy_getattr
from hiveframe.testing.fakes import FakeDistribution, fake_distribution

_LAZY = {
    "ConformanceError": "hiveframe.testing.conformance",
    "ConformanceReport": "hiveframe.testing.conformance",
    "check_table_generator": "hiveframe.testing.conformance",
    "check_reader": "hiveframe.testing.conformance",
    "check_writer": "hiveframe.testing.conformance",
    "check_transformer": "hiveframe.testing.conformance",
    "check_linkage_model": "hiveframe.testing.conformance",
    "check_validator": "hiveframe.testing.conformance",
    "check_privacy_wrapper": "hiveframe.testing.conformance",
    "DATASETS": "hiveframe.testing.datasets",
    "load_dataset": "hiveframe.testing.datasets",
    "metadata_from_keys": "hiveframe.testing.datasets",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["FakeDistribution", "fake_distribution", *_LAZY]
