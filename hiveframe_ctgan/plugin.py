"""Entry module of hiveframe_ctgan: imports only hiveframe and the standard library.

The component modules (numpy, attrs) load when the host asks for the components; torch loads only
when a generator is fitted or sampled.
"""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl
from hiveframe_ctgan import __version__  # noqa: F401 - reported by the host


@hookimpl
def hiveframe_register_transformers():
    from hiveframe_ctgan.transformers import TRANSFORMERS

    return TRANSFORMERS


@hookimpl
def hiveframe_register_table_generators():
    from hiveframe_ctgan.generators import GENERATORS

    return GENERATORS
