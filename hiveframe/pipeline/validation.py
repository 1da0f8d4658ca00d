"""The validator loop: every validator scores the synthetic data under one :class:`ValidationContext`.

It lives in the kernel so that any report plugin, and any validator from any plugin, meet in one way:
validators are looked up by registered name, receive the run's settings as a documented context
(never by inspecting their fields or setting private attributes), and a validator that fails is
recorded as failed while the others still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hiveframe.components.validators import ValidationContext, Validator
from hiveframe.errors import PluginError

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Metadata
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

ValidatorSpec = "str | Validator | type[Validator]"

def make_validators(host: PluginHost, validators: Sequence[str | Validator | type[Validator]] | None = None
                    ) -> list[Validator]:
    """Instances of the validators asked for, by registered name, class or instance; default: every
    available validator, in registration order."""
    names: Sequence[str | Validator | type[Validator]]
    names = host.names("validator", available_only=True) if validators is None else validators
    return [spec if isinstance(spec, Validator) else host.create("validator", spec) for spec in names]

def run_validators(validators: Sequence[Validator], real: Mapping[str, pa.Table], synthetic: Mapping[str, pa.Table],
                   metadata: Metadata, context: ValidationContext | None = None) -> list[dict[str, Any]]:
    """One entry per validator: its :class:`ValidationResult` as a dict plus ``plugin`` and ``seconds``.

    A validator raising a :class:`~hiveframe.errors.PluginError` (anything it raises that is not a
    configuration or data error) is recorded with status ``fail`` and the error; the others still run.
    """
    context = context or ValidationContext()
    results: list[dict[str, Any]] = []
    for validator in validators:
        started = time.perf_counter()
        log.info("running validator %s", validator.name)
        try:
            entry = validator.validate(real, synthetic, metadata, context).to_dict()
        except PluginError as exc:
            log.warning("validator %s failed: %s", validator.name, exc)
            entry = {"validator": validator.name, "scores": {}, "status": "fail",
                     "summary": f"the validator failed: {exc}", "details": {"error": str(exc)}}
        entry["plugin"] = type(validator).plugin
        entry["seconds"] = round(time.perf_counter() - started, 3)
        results.append(entry)
    return results
