"""Entry module of hiveframe_polars: imports only hiveframe and the standard library."""
