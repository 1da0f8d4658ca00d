"""(being written)"""
TRANSFORMERS: list = []
