"""The builtin components as classes, for plugins and users that build on them.

A plugin may subclass a builtin transformer (CTGAN's mode-specific transformer extends
:class:`BuiltinTransformer`) or compose the Gaussian copula (the privacy plugin's DP copula); code that
only needs a component by name asks the host instead (``host.create("table_generator",
"gaussian_copula")``). The implementations live in the kernel's private ``hiveframe._builtin`` package.

>>> from hiveframe.baseline import GaussianCopula
>>> GaussianCopula.name
'gaussian_copula'
"""

from __future__ import annotations

from hiveframe._builtin.copula import GaussianCopula
from hiveframe._builtin.transformers import (
    BuiltinTransformer,
    DatetimeTransformer,
    FloatTransformer,
    OneHotTransformer,
)

__all__ = ["BuiltinTransformer", "DatetimeTransformer", "FloatTransformer", "GaussianCopula", "OneHotTransformer"]
