"""Fixtures of the third-party plugin tests: the fake ``my_gen`` distribution and small census folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MY_GEN_SOURCE = (Path(__file__).parent / "_my_gen_source.py").read_text()


@pytest.fixture
def my_gen(fake_distribution):
    """``my_gen`` (``_my_gen_source.py``) installed as the fake distribution ``hiveframe-mygen`` 1.4.2."""
    return fake_distribution("hiveframe-mygen", {"mygen": "hiveframe_mygen.plugin"}, version="1.4.2",
                             modules={"hiveframe_mygen.plugin": MY_GEN_SOURCE})


@pytest.fixture(scope="session")
def census_folder(shared_data, tmp_path_factory) -> Callable[[int], Path]:
    """The first ``rows`` census rows as a one-table Parquet folder (fast, still real), one per size."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folders: dict[int, Path] = {}

    def folder(rows: int) -> Path:
        if rows not in folders:
            table = pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz").slice(0, rows)
            folders[rows] = tmp_path_factory.mktemp(f"census_{rows}")
            pq.write_table(table, folders[rows] / "census.parquet")
        return folders[rows]

    return folder
