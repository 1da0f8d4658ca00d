"""Entry module of hiveframe_ctgan: imports only hiveframe and the standard library."""
