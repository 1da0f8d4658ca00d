"""Shared test fixtures: paths to the real datasets beside the project and to the bundled demo."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` from the repository root (present on every developer machine and in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real datasets expected at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def chinook_path() -> Path:
    """The bundled Chinook SQLite database."""
    return ROOT / "hiveframe" / "demo_data" / "chinook.sqlite"
