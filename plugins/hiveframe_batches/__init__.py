"""hiveframe_batches: first-party plugin with the ``batches`` table generator.

A wide table is split into column batches (clustered by association, or given), each learnt by its own
copy of any table generator, trained in parallel worker processes, and chained by anchor columns so
that dependences across batches survive. See ``docs/batches.md``.
"""

__version__ = "0.1.0"
