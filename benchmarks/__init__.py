"""Benchmarks: hiveframe against its peers, same data and machine, one run each (python -m benchmarks.NAME)."""
