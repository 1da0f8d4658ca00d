"""hiveframe_validate: first-party hiveframe plugin that scores synthetic data against real data.

Validators (column and pair fidelity, detection, utility, relational integrity, quality checks and
privacy) are registered through ``hiveframe_register_validators``; :func:`hiveframe_validate.report.
write_report` runs them and writes one self-contained HTML report plus ``report.json``.
Importing this package is light: numpy and scikit-learn load only when a validator runs.
"""

__version__ = "0.1.0"
