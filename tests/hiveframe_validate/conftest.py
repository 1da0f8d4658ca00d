"""Fixtures for hiveframe_validate: small slices of the real datasets and planted defects."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("hiveframe_validate") is None:  # until the package is reinstalled with it
    sys.path.insert(0, str(ROOT / "plugins"))

pa = pytest.importorskip("pyarrow")
pytest.importorskip("sklearn")


def _read_csv(path: Path):
    import pyarrow.csv as csv

    return csv.read_csv(path)


@pytest.fixture(scope="session")
def census_full(shared_data):
    return _read_csv(shared_data / "census_adult" / "census.csv.gz")


@pytest.fixture(scope="session")
def census(census_full):
    """Three disjoint slices of Adult: the real (training) rows, a holdout, and a fresh sample."""
    rng = np.random.default_rng(7)
    perm = rng.permutation(census_full.num_rows)
    pick = lambda a, b: census_full.take(np.sort(perm[a:b]))  # noqa: E731
    return {"real": pick(0, 3000), "holdout": pick(3000, 6000), "fresh": pick(6000, 9000)}


@pytest.fixture(scope="session")
def census_meta(census):
    from hiveframe_validate._frame import infer_metadata

    return infer_metadata({"census": census["real"]})


def shuffle_column(table, column: str, seed: int = 0):
    """The same table with one column's values permuted: marginals kept, dependence destroyed."""
    rng = np.random.default_rng(seed)
    i = table.column_names.index(column)
    return table.set_column(i, column, table.column(column).take(rng.permutation(table.num_rows)))


def independent_columns(table, seed: int = 0):
    rng = np.random.default_rng(seed)
    return pa.table({c: table.column(c).take(rng.permutation(table.num_rows)) for c in table.column_names})


@pytest.fixture(scope="session")
def planted():
    """Defect makers: ``shuffle_column(table, column)`` and ``independent_columns(table)``."""
    from types import SimpleNamespace

    return SimpleNamespace(shuffle_column=shuffle_column, independent_columns=independent_columns)


@pytest.fixture(scope="session")
def berka(shared_data):
    """district -> account -> {loan, order}, and disp -> account, with their metadata."""
    from hiveframe_validate._frame import infer_metadata

    from hiveframe.metadata import ForeignKey

    folder = shared_data / "berka"
    schema = json.loads((folder / "schema.json").read_text())
    names = ["district", "account", "disp", "loan", "order"]
    tables = {n: _read_csv(folder / f"{n}.csv.gz") for n in names}
    tables["disp"] = tables["disp"].drop_columns(["client_id"])
    fks = [ForeignKey(f["child"], (f["column"],), f["parent"], (f["parent_column"],))
           for f in schema["foreign_keys"] if f["child"] in names and f["parent"] in names]
    meta = infer_metadata(tables, primary_keys={n: [schema["tables"][n]["pk"]] for n in names}, foreign_keys=fks)
    return tables, meta
