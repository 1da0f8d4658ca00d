"""hiveframe_privacy: PII replacement and differential privacy for hiveframe."""

__version__ = "0.1.0"
