"""Import of SDV multi-table metadata JSON. (being written)"""
