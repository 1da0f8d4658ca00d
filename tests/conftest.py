"""Shared test fixtures: paths to the real datasets beside the project and to the bundled demo, and a
small typed table for I/O round trips."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pyarrow as pa

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


def shop_table() -> pa.Table:
    """Three shops keyed by (region, shop_no), with a date, a float and a boolean column, each with a
    null: the typed table the I/O round-trip tests (builtin SQLite, polars) write and read back."""
    import datetime as dt

    import pyarrow as pa

    return pa.table({
        "region": ["north", "south", "north"],
        "shop_no": pa.array([1, 1, 2], pa.int64()),
        "opened": pa.array([dt.date(2001, 1, 31), None, dt.date(1999, 12, 1)]),
        "rating": [4.0, None, 3.5],
        "active": [True, False, None],
    })
