"""Entry module of hiveframe_spark: imports only hiveframe and the standard library."""
