"""(being written)"""
GENERATORS: list = []
