"""hiveframe_polars: first-party hiveframe plugin. (being written)"""

__version__ = "0.1.0"
