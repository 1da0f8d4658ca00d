"""Shared test fixtures: paths to the real datasets beside the project and to the bundled demo, a small
typed table for I/O round trips and the users/sessions schema of the sequence tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.metadata import Column, Metadata

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


def users_sessions_metadata(*session_columns: Column, context_columns: tuple[str, ...] | None = None) -> Metadata:
    """Users (``user_id``, ``plan``) and their sessions (``user_id``, ``device``, ``at``, then
    ``session_columns``), one foreign key: the schema of the sequence tests (the engine's seam and the
    autoregressive generator)."""
    from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table

    users = Table("users", (Column("user_id", ColumnKind.ID, dtype="int64"),
                            Column("plan", ColumnKind.CATEGORICAL, dtype="string")), ("user_id",))
    sessions = Table("sessions", (Column("user_id", ColumnKind.ID, dtype="int64"),
                                  Column("device", ColumnKind.CATEGORICAL, dtype="string"),
                                  Column("at", ColumnKind.DATETIME, dtype="timestamp[us]"), *session_columns))
    return Metadata(tables=(users, sessions), foreign_keys=(
        ForeignKey("sessions", ("user_id",), "users", ("user_id",), context_columns=context_columns),))


@pytest.fixture
def noise_sources_made(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every ``NoiseSource`` created during the test, in order (to find a secret source's entropy)."""
    from hiveframe.components import NoiseSource

    made: list[NoiseSource] = []
    real_init = NoiseSource.__init__

    def init(self: NoiseSource, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(NoiseSource, "__init__", init)
    return made
