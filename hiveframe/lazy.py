"""Lazy package attributes: ``import my_plugin`` stays light, names load their module on first use.

The design's "light import" rule (no torch, pyspark or polars at import) applied to a package's public
names, as hiveframe, ``hiveframe.testing`` and the Spark plugin do::

    # my_plugin/__init__.py
    from hiveframe.lazy import lazy_getattr

    _LAZY = {"MyGenerator": "my_plugin.generators"}
    __getattr__ = lazy_getattr(__name__, _LAZY)
    __all__ = [*_LAZY]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) when ``name`` is first used."""
    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
