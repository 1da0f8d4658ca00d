"""(being written)"""
LINKAGE_MODELS: list = []
