"""hiveframe_ctgan: first-party hiveframe plugin. (being written)"""

__version__ = "0.1.0"
