"""(being written)"""
READERS: list = []
WRITERS: list = []
