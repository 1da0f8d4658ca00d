"""Fixtures of the metadata tests: the real datasets, read once per session with the builtin readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hiveframe.components import Database


@pytest.fixture(scope="session")
def datasets(shared_data: Path):
    """name -> (Database, schema.json truth), read lazily (``PluginHost().read``) and cached."""
    from hiveframe import PluginHost

    host = PluginHost(load_entry_points=False)
    cache: dict[str, tuple[Database, dict]] = {}

    def get(name: str) -> tuple[Database, dict]:
        if name not in cache:
            folder = shared_data / name
            source = next(folder.glob("*.sqlite"), folder)
            cache[name] = (host.read(source), json.loads((folder / "schema.json").read_text()))
        return cache[name]

    return get
