"""hiveframe_autoregressive: first-party plugin with the ``autoregressive`` table generator.

Each column becomes one or two discrete tokens; a small network predicts every token from the tokens
of the columns before it, trained over random column orders (TabularARGN, arXiv 2501.12012), so any
set of columns can be fixed when sampling. See ``docs/autoregressive.md``.
"""

__version__ = "0.1.0"
