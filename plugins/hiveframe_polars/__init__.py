"""hiveframe_polars: first-party hiveframe plugin that reads and writes through polars.

``polars`` reads polars DataFrames/LazyFrames (alone or in a mapping), ``polars_folder`` reads
folders of parquet/csv/jsonl files with polars' parsers, and the ``polars_folder`` writer writes
parquet or csv with polars. Type decisions are shared with the builtin readers
(:mod:`hiveframe.arrow`), so ``polars_folder`` and ``folder`` give the same Database.
"""

__version__ = "0.1.0"
