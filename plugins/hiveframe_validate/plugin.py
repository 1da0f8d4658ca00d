"""Entry module of hiveframe_validate: imports only hiveframe and the standard library."""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl

__version__ = "0.1.0"


@hookimpl
def hiveframe_register_validators():
    """Announce the validators; the module holding them loads only numpy, attrs and hiveframe."""
    from hiveframe_validate.validators import VALIDATORS

    return VALIDATORS
