"""Tiny data and tiny networks for the CTGAN/TVAE tests (each fit takes well under a second)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.metadata import Column, ColumnKind, Table

TINY_CTGAN = dict(epochs=2, batch_size=50, pac=5, embedding_dim=8, generator_dim=(16, 16),
                  discriminator_dim=(16,), validation_fraction=0.0)
TINY_TVAE = dict(epochs=2, batch_size=50, embedding_dim=8, compress_dims=(16,), decompress_dims=(16,),
                 validation_fraction=0.0)


def tiny(kind: str, **overrides):
    from hiveframe_ctgan.generators import CTGANGenerator, TVAEGenerator

    if kind == "ctgan":
        return CTGANGenerator(**{**TINY_CTGAN, **overrides})
    return TVAEGenerator(**{**TINY_TVAE, **overrides})


def mixed_table(n: int = 300, seed: int = 0) -> tuple[pa.Table, Table]:
    """Numbers (bimodal, integers with nulls), categories (one rare), booleans, dates."""
    rng = np.random.default_rng(seed)
    bimodal = np.where(rng.random(n) < 0.6, rng.normal(0, 1, n), rng.normal(10, 1, n))
    counts = rng.poisson(3, n)
    data = pa.table({
        "amount": pa.array(bimodal),
        "count": pa.array([None if r < 0.1 else int(v) for r, v in zip(rng.random(n), counts, strict=True)], type=pa.int64()),
        "color": pa.array(rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]).tolist()),
        "member": pa.array(rng.random(n) < 0.3),
        "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)]),
    })
    table = Table("things", (
        Column("amount", ColumnKind.NUMERICAL, "double"),
        Column("count", ColumnKind.NUMERICAL, "int64"),
        Column("color", ColumnKind.CATEGORICAL, "string"),
        Column("member", ColumnKind.BOOLEAN, "bool"),
        Column("day", ColumnKind.DATETIME, "date32[day]"),
    ))
    return data, table


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks gain nothing from threads, and on a shared 2-core machine a second OpenMP thread
    that waits for a busy core makes every small op slower by orders of magnitude."""
    try:
        import torch
    except ImportError:  # the torch-free tests (VGM, layout) still run
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mixed() -> tuple[pa.Table, Table]:
    return mixed_table()
