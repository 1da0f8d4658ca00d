"""Testing helpers for hiveframe and for plugin authors. (being written)"""
