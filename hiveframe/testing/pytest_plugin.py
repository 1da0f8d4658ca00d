"""pytest plugin shipped with hiveframe (fixtures for plugin authors). (being written)"""
