"""Shared helpers for hiveframe benchmarks: data, timing, SDMetrics quality, train-on-synthetic AUC.

Every benchmark compares hiveframe with a peer on the same data and machine, in one run. The
helpers here keep those comparisons identical across benchmarks:

* :func:`load_census` - census_adult with a fixed, seeded 80/20 split (39,074 train rows), as Arrow
  tables plus hiveframe and SDV metadata;
* :func:`median_time` - run a callable N times, return the median wall time and the last result;
* :func:`quality_report` - SDMetrics' single-table QualityReport (overall score and its properties);
* :func:`tstr_auc` - train a gradient-boosted classifier on one table, test on the real hold-out.

Benchmarks print figures (they are scripts, not library code) and write JSON to
``benchmarks/results/``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from hiveframe.metadata import Table

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPLIT_SEED = 0
TEST_FRACTION = 0.2


def shared_data() -> Path:
    """The real datasets: ``$HIVEFRAME_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    path = Path(os.environ.get("HIVEFRAME_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        raise SystemExit(f"real datasets expected at {path} (set HIVEFRAME_SHARED_DATA)")
    return path


# -- data ----------------------------------------------------------------------------------------------
@dataclass
class Split:
    """A table split once, the same way in every benchmark."""

    name: str
    train: pa.Table
    test: pa.Table
    table: Table  # hiveframe metadata of the table
    target: str | None = None
    positive: Any = None

    def sdv_metadata(self) -> dict[str, Any]:
        """Single-table SDV metadata (dict form) for the same columns."""
        return sdv_metadata_dict(self.table)


def load_census(*, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION) -> Split:
    """census_adult with a fixed 80/20 split: 39,074 train and 9,768 test rows for the default seed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = pacsv.read_csv(shared_data() / "census_adult" / "census.csv.gz")
    n = data.num_rows
    n_test = int(round(n * test_fraction))
    perm = np.random.default_rng(seed).permutation(n)
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    train, test = data.take(pa.array(train_idx)), data.take(pa.array(test_idx))
    return Split("census", train, test, arrow_table_metadata("census", data), target="income", positive=">50K")


def arrow_table_metadata(name: str, data: pa.Table, *, categorical: tuple[str, ...] = ()) -> Table:
    """hiveframe metadata for a flat table: integers/floats numerical, dates datetime, bools boolean,
    everything else (and ``categorical``) categorical."""
    import pyarrow as pa

    from hiveframe.metadata import Column, ColumnKind, Table

    columns = []
    for f in data.schema:
        if f.name in categorical:
            kind = ColumnKind.CATEGORICAL
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            kind = ColumnKind.NUMERICAL
        elif pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
            kind = ColumnKind.DATETIME
        elif pa.types.is_boolean(f.type):
            kind = ColumnKind.BOOLEAN
        else:
            kind = ColumnKind.CATEGORICAL
        columns.append(Column(f.name, kind, dtype=str(f.type), nullable=data.column(f.name).null_count > 0))
    return Table(name=name, columns=tuple(columns))


def sdv_metadata_dict(table: Table) -> dict[str, Any]:
    """SDV/SDMetrics single-table metadata for a hiveframe table."""
    from hiveframe.metadata import ColumnKind

    sdtypes = {ColumnKind.NUMERICAL: "numerical", ColumnKind.CATEGORICAL: "categorical",
               ColumnKind.BOOLEAN: "boolean", ColumnKind.DATETIME: "datetime", ColumnKind.TEXT: "categorical",
               ColumnKind.ID: "id", ColumnKind.PII: "pii"}
    columns: dict[str, Any] = {}
    for c in table.columns:
        columns[c.name] = {"sdtype": sdtypes[c.kind]}  # SDV 2 dropped `computer_representation`
    return {"columns": columns}


# -- timing --------------------------------------------------------------------------------------------
@dataclass
class Timing:
    median: float
    times: list[float]


def median_time(fn: Callable[[], T], repeats: int = 3) -> tuple[Timing, T]:
    """Call ``fn`` ``repeats`` times; the median wall time and the last call's result."""
    times: list[float] = []
    result: Any = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), times), result


# -- quality -------------------------------------------------------------------------------------------
def quality_report(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, Any]:
    """SDMetrics QualityReport: ``{"score": overall, "properties": {name: score}}``."""
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic[list(real.columns)], metadata, verbose=False)
    props = report.get_properties()
    return {"score": float(report.get_score()),
            "properties": {str(r["Property"]): float(r["Score"]) for _, r in props.iterrows()}}


def tstr_auc(train: pd.DataFrame, test: pd.DataFrame, *, target: str, positive: Any, seed: int = 0) -> float:
    """ROC AUC on ``test`` of a HistGradientBoostingClassifier trained on ``train`` (train on
    synthetic, test on real; with real ``train`` it is the baseline)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = [c for c in test.columns if c != target]
    both = pd.concat([train[features], test[features]], axis=0, ignore_index=True)
    for col in features:
        if not pd.api.types.is_numeric_dtype(both[col]):
            both[col] = both[col].astype("string").fillna("<null>").astype("category")
    x_train, x_test = both.iloc[: len(train)], both.iloc[len(train):]
    y_train = (train[target].astype(str) == str(positive)).to_numpy()
    y_test = (test[target].astype(str) == str(positive)).to_numpy()
    if y_train.min() == y_train.max():
        return 0.5  # the synthetic data holds one class only: no better than chance
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    model.fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


# -- reporting -----------------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    import importlib.metadata as md

    def version(dist: str) -> str | None:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                       if k in os.environ},
        "versions": {d: version(d) for d in ("hiveframe", "numpy", "scipy", "pyarrow", "pandas", "sdv",
                                             "sdmetrics", "scikit-learn")},
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def finish(results: dict[str, Any], name: str, summarize: Callable[[dict[str, Any]], str]) -> Path:
    """Record the load average after the run, write ``results`` to ``results/<name>.json`` and print
    ``summarize(results)`` (which may quote that load) and where the figures went."""
    results["load_average_after"] = list(os.getloadavg())
    path = write_json(name, results)
    print(summarize(results))
    print(f"\nwritten to {path}")
    return path


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def param_argument(text: str) -> tuple[str, Any]:
    """An argparse type for ``NAME=VALUE`` with a JSON value (a bare word stays a string)."""
    import argparse

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value
