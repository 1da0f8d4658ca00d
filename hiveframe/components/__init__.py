"""Component contracts: one abstract class per family. Plugins subclass these."""

from hiveframe.components.base import Component, ComponentState
from hiveframe.components.generators import FitPart, TableGenerator, TrainingCallback
from hiveframe.components.io import Database, Reader, Writer
from hiveframe.components.linkage import LinkageModel
from hiveframe.components.noise import NoiseSource, secret_token
from hiveframe.components.privacy import PrivacyAccount, PrivacyWrapper, PrivateSteps, PrivateTraining
from hiveframe.components.sequences import SequenceGenerator
from hiveframe.components.transformers import Span, Transformer
from hiveframe.components.validators import (
    FilterOutcome,
    QAFilter,
    ValidationContext,
    ValidationResult,
    Validator,
)

#: registration hook name -> component kind, in the order ``hiveframe plugins`` lists them.
FAMILIES: dict[str, str] = {
    "hiveframe_register_readers": Reader.kind,
    "hiveframe_register_writers": Writer.kind,
    "hiveframe_register_transformers": Transformer.kind,
    "hiveframe_register_linkage_models": LinkageModel.kind,
    "hiveframe_register_table_generators": TableGenerator.kind,
    "hiveframe_register_privacy_wrappers": PrivacyWrapper.kind,
    "hiveframe_register_validators": Validator.kind,
}

BASES: dict[str, type[Component]] = {
    cls.kind: cls
    for cls in (Reader, Writer, Transformer, LinkageModel, TableGenerator, PrivacyWrapper, Validator)
}

__all__ = [
    "BASES", "FAMILIES", "Component", "ComponentState", "Database", "FitPart", "LinkageModel", "NoiseSource", "PrivacyAccount",
    "PrivacyWrapper", "PrivateSteps", "PrivateTraining",
    "Reader", "SequenceGenerator", "Span", "TableGenerator", "TrainingCallback", "Transformer", "ValidationContext",
    "ValidationResult", "Validator", "Writer", "secret_token", "FilterOutcome", "QAFilter",
]
