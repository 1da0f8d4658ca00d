"""hiveframe CTGAN vs the reference ctgan 0.12.1, same data, same machine, one run.

    python -m benchmarks.bench_ctgan                      # census, 300 epochs (the issue's setting)
    python -m benchmarks.bench_ctgan --epochs 3           # smoke run
    python -m benchmarks.bench_ctgan --time-budget 300    # best each can do in 5 minutes of fitting
    python -m benchmarks.bench_ctgan --dataset airbnb-users
    python -m benchmarks.bench_ctgan --dataset airbnb-sessions   # child table given parent context

Equal-epochs mode trains both for ``--epochs`` epochs with the same network sizes (generator and
critic 256x256, batch 500, pac 10, learning rates 2e-4); hiveframe's early stopping is switched off
(``patience=None``) so both train every epoch on every training row; ctgan samples from its last
weights, hiveframe from its default moving average of the generator's weights (``ema_decay``).
Time-budget mode gives each library the same
wall clock for the whole fit: hiveframe trains with ``max_seconds`` and its default early stopping;
ctgan, which has no time limit, gets as many epochs as fit in the budget at its measured speed.

Figures: preprocessing seconds, seconds per epoch, total fit seconds, sampling rows per second,
SDMetrics quality (synthetic vs real training rows), detection accuracy (a gradient-boosted classifier
telling real held-out rows from synthetic ones, trained on one half of each and scored on the other
halves: 0.5 is indistinguishable) and train-on-synthetic-test-on-real AUC for the target. Each run is
added, keyed by dataset and mode, to ``benchmarks/results/ctgan.json`` (``ctgan_smoke.json`` below 50
epochs), and a markdown table with the issue's goals is printed; ``summarize`` renders every recorded
run for ``python -m benchmarks``.

Threads: ``--threads`` sets torch's intra-op threads for both libraries. On a 2-core machine that is
running anything else, two threads make every small op wait for a descheduled OpenMP thread (measured
here: 20-50x slower per training step for both libraries), so compare at ``--threads 1`` unless the
machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import (
    environment,
    load_census,
    markdown_table,
    median_time,
    quality_report,
    shared_data,
    tstr_auc,
    write_json,
)

REFERENCE_VERSION = "0.12.1"
#: runs with fewer epochs are smoke runs (``ctgan_smoke.json``, left out of RESULTS.md)
SMOKE_BELOW_EPOCHS = 50
NETWORK = dict(batch_size=500, generator_dim=(256, 256), discriminator_dim=(256, 256), pac=10,
               embedding_dim=128, generator_lr=2e-4, discriminator_lr=2e-4, generator_decay=1e-6,
               discriminator_decay=1e-6, discriminator_steps=1)


# -- data ---------------------------------------------------------------------------------------------
class Case:
    """One benchmark table: training rows, held-out rows, metadata, target, optional parent context."""

    def __init__(self, name: str, train, test, table, target: str | None, positive: Any,
                 context: tuple[str, ...] = ()) -> None:
        self.name, self.train, self.test, self.table = name, train, test, table
        self.target, self.positive, self.context = target, positive, context


def census_case() -> Case:
    split = load_census()
    return Case("census", split.train, split.test, split.table, split.target, split.positive)


def _split(data, seed: int = 0, test_fraction: float = 0.2):
    import pyarrow as pa

    n = data.num_rows
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return data.take(pa.array(np.sort(perm[n_test:]))), data.take(pa.array(np.sort(perm[:n_test])))


def _airbnb_users():
    import pyarrow.csv as pacsv

    opts = pacsv.ConvertOptions(column_types={"signup_flow": "string"})
    return pacsv.read_csv(shared_data() / "airbnb" / "users.csv.gz", convert_options=opts)


def airbnb_users_case() -> Case:
    from benchmarks.common import arrow_table_metadata

    users = _airbnb_users().drop_columns(["id"])
    train, test = _split(users)
    table = arrow_table_metadata("users", users, categorical=("signup_flow",))
    return Case("airbnb-users", train, test, table, "country_destination", "NDF")


def airbnb_sessions_case() -> Case:
    """sessions joined with a few parent (users) columns, which hiveframe uses as context."""
    import pyarrow.csv as pacsv

    from benchmarks.common import arrow_table_metadata

    users = _airbnb_users().select(["id", "gender", "age", "signup_method", "country_destination"])
    users = users.rename_columns(["user_id", "user_gender", "user_age", "user_signup_method", "user_country"])
    sessions = pacsv.read_csv(shared_data() / "airbnb" / "sessions.csv.gz")
    joined = sessions.join(users, "user_id", join_type="left outer").drop_columns(["user_id"])
    train, test = _split(joined)
    table = arrow_table_metadata("sessions", joined)
    context = ("user_gender", "user_age", "user_signup_method", "user_country")
    return Case("airbnb-sessions", train, test, table, None, None, context)


CASES = {"census": census_case, "airbnb-users": airbnb_users_case, "airbnb-sessions": airbnb_sessions_case}


def sdv_metadata(table) -> dict[str, Any]:
    from benchmarks.common import sdv_metadata_dict

    return sdv_metadata_dict(table)


def to_pandas(t):
    return t.to_pandas()


# -- metrics ------------------------------------------------------------------------------------------
def detection_accuracy(real, synthetic, *, seed: int = 0) -> float:
    """Classifier two-sample test, split half: fit on half the real + half the synthetic rows, accuracy
    on the other halves (0.5: the classifier cannot tell them apart)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    n = min(len(real), len(synthetic))
    rng = np.random.default_rng(seed)
    real = real.iloc[rng.permutation(len(real))[:n]].reset_index(drop=True)
    synthetic = synthetic[list(real.columns)].iloc[rng.permutation(len(synthetic))[:n]].reset_index(drop=True)
    both = pd.concat([real, synthetic], ignore_index=True)
    for col in both.columns:
        if not pd.api.types.is_numeric_dtype(both[col]):
            both[col] = both[col].astype("string").fillna("<null>").astype("category")
    y = np.r_[np.ones(n), np.zeros(n)]
    half = np.zeros(2 * n, dtype=bool)
    half[rng.permutation(n)[: n // 2]] = True
    half[n + rng.permutation(n)[: n // 2]] = True
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    model.fit(both[half], y[half])
    return float((model.predict(both[~half]) == y[~half]).mean())


def numeric_dates(df):
    """Datetimes as float seconds (classifiers treat them as numbers, not as categories); cast to
    nanoseconds first, so that a ``datetime64[s]`` column is not divided by 1e9 once too often."""
    import pandas as pd

    df = df.copy()
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            ns = df[col].astype("datetime64[ns]")
            df[col] = ns.astype("int64").where(ns.notna()) / 1e9
    return df


def evaluate(case: Case, synthetic_pd, real_train_pd, real_test_pd) -> dict[str, Any]:
    meta = sdv_metadata(case.table)
    out: dict[str, Any] = {}
    quality = quality_report(real_train_pd, synthetic_pd, meta)
    out["quality"] = quality["score"]
    out["quality_properties"] = quality["properties"]
    out["detection"] = detection_accuracy(numeric_dates(real_test_pd), numeric_dates(synthetic_pd))
    if case.target:
        out["tstr_auc"] = tstr_auc(numeric_dates(synthetic_pd), numeric_dates(real_test_pd), target=case.target,
                                   positive=case.positive)
    return out


# -- hiveframe --------------------------------------------------------------------------------------------
def run_hiveframe(case: Case, epochs: int, repeats: int, seed: int, budget: float | None, verbose: bool) -> dict:
    from hiveframe_ctgan.generators import CTGANGenerator

    params: dict[str, Any] = dict(NETWORK, epochs=epochs, patience=None, verbose=verbose)
    if budget is not None:
        params.update(epochs=100_000, patience=30, max_seconds=budget)
    gen = CTGANGenerator(**params)
    start = time.perf_counter()
    gen.fit(case.train, case.table, context_columns=case.context, seed=seed)
    fit_seconds = time.perf_counter() - start
    info = gen.fit_info
    if budget is not None and fit_seconds > budget:
        logging.getLogger(__name__).warning("hiveframe fit took %.1f s for a %.1f s budget", fit_seconds, budget)
    n = case.test.num_rows if case.context else case.train.num_rows
    context = case.test.select(list(case.context)) if case.context else None

    def sample():
        if context is not None:
            return gen.sample(context=context, seed=seed + 1)
        return gen.sample(n, seed=seed + 1)

    timing, synthetic = median_time(sample, repeats)
    if context is not None:  # evaluate the joined rows: real parent context + generated child columns
        for name in case.context:
            synthetic = synthetic.append_column(name, context.column(name))
        synthetic = synthetic.select(case.table.column_names)
    epochs_trained = info["epochs_trained"]
    return {
        "preprocess_seconds": info["preprocess_seconds"],
        "fit_seconds": fit_seconds,
        "train_seconds": info["train_seconds"],
        "seconds_per_epoch": info["train_seconds"] / max(1, epochs_trained),
        "validation_seconds_per_epoch": info["validation_seconds"] / max(1, epochs_trained),
        "epochs": epochs_trained,
        "best_epoch": info["best_epoch"],
        "train_rows": info["train_rows"],
        "validation_rows": info["validation_rows"],
        "sample_rows": n,
        "sample_seconds": timing.median,
        "sample_rows_per_second": n / timing.median,
        "synthetic": synthetic,
    }


class Stopwatch:
    """Adds up the time spent in some methods while a block runs (patches the classes, then restores)."""

    def __init__(self, *targets: tuple[type, str]) -> None:
        self.targets = targets
        self.seconds = 0.0
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> Stopwatch:
        for cls, name in self.targets:
            original = getattr(cls, name)
            self._saved.append((cls, name, original))

            def timed(*a, __original=original, **kw):
                t0 = time.perf_counter()
                try:
                    return __original(*a, **kw)
                finally:
                    self.seconds += time.perf_counter() - t0

            setattr(cls, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)


# -- reference ctgan --------------------------------------------------------------------------------------
def _reference_frame(case: Case):
    """The training rows as ctgan wants them: pandas, datetimes as float seconds, discrete column list."""
    import pandas as pd

    from hiveframe.metadata import ColumnKind

    df = case.train.to_pandas()
    discrete, dates = [], []
    for c in case.table.columns:
        if c.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN, ColumnKind.TEXT):
            discrete.append(c.name)
            if c.kind is ColumnKind.BOOLEAN:
                df[c.name] = df[c.name].astype("string")
        elif c.kind is ColumnKind.DATETIME:
            dates.append(c.name)
            df[c.name] = pd.to_datetime(df[c.name]).astype("int64").where(df[c.name].notna()) / 1e9
    return df, discrete, dates


def run_reference(case: Case, epochs: int, repeats: int, seed: int, budget: float | None) -> dict:
    import ctgan
    import pandas as pd
    import torch
    from ctgan import CTGAN
    from ctgan.data_transformer import DataTransformer

    if ctgan.__version__ != REFERENCE_VERSION:
        print(f"warning: ctgan {ctgan.__version__} installed, the reference is {REFERENCE_VERSION}", file=sys.stderr)
    df, discrete, dates = _reference_frame(case)
    torch.manual_seed(seed)  # the reference seeds globally; benchmark code may
    model, fit_seconds, preprocess, epochs = _timed_fit(
        lambda e: CTGAN(epochs=e, **NETWORK), lambda m: m.fit(df, discrete),
        ((DataTransformer, "fit"), (DataTransformer, "transform")), epochs, budget)
    n = case.train.num_rows if not case.context else case.test.num_rows
    timing, synthetic = median_time(lambda: model.sample(n), repeats)
    for name in dates:
        synthetic[name] = pd.to_datetime(synthetic[name] * 1e9, errors="coerce")
    return _reference_figures(fit_seconds, preprocess, epochs, n, timing, synthetic)


def run_reference_sdv(case: Case, epochs: int, repeats: int, seed: int, budget: float | None) -> dict:
    """ctgan through SDV's CTGANSynthesizer (RDT preprocessing: nulls, datetimes), for the AirBnB tables,
    which raw ctgan refuses (nulls in continuous columns)."""
    import torch
    from ctgan.data_transformer import DataTransformer
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer

    from benchmarks.common import sdv_metadata_dict

    real = _real_pandas(case, case.train)
    metadata = Metadata.load_from_dict({"tables": {case.name: sdv_metadata_dict(case.table)}})
    net = dict(NETWORK)
    torch.manual_seed(seed)
    synthesizer, fit_seconds, preprocess, epochs = _timed_fit(
        lambda e: CTGANSynthesizer(metadata, epochs=e, **net), lambda m: m.fit({case.name: real}),
        ((CTGANSynthesizer, "preprocess"), (DataTransformer, "fit"), (DataTransformer, "transform")),
        epochs, budget)
    n = case.test.num_rows if case.context else case.train.num_rows

    def sample():
        out = synthesizer.sample(n)
        return out[case.name] if isinstance(out, dict) else out

    timing, synthetic = median_time(sample, repeats)
    return {"implementation": "sdv.single_table.CTGANSynthesizer (ctgan + RDT)",
            **_reference_figures(fit_seconds, preprocess, epochs, n, timing, synthetic)}


def _timed_fit(make: Callable[[int], Any], fit: Callable[[Any], Any], watched: tuple[tuple[type, str], ...],
               epochs: int, budget: float | None) -> tuple[Any, float, float, int]:
    """Fit ``make(epochs)`` with ``fit``, timed, and the time spent in ``watched`` (preprocessing) apart.

    With a time budget, one epoch is measured first and the model gets as many epochs as the budget
    holds. Returns the fitted model, fit seconds, preprocessing seconds and epochs.
    """
    if budget is not None:  # measure one epoch, then give it as many epochs as the budget holds
        with Stopwatch(*watched) as probe_prep:
            t0 = time.perf_counter()
            fit(make(1))
            probe = time.perf_counter() - t0
        epochs = max(1, int((budget - probe_prep.seconds) / max(probe - probe_prep.seconds, 1e-6)))
    model = make(epochs)
    with Stopwatch(*watched) as prep:
        start = time.perf_counter()
        fit(model)
        fit_seconds = time.perf_counter() - start
    return model, fit_seconds, prep.seconds, epochs


def _reference_figures(fit_seconds: float, preprocess: float, epochs: int, n: int, timing: Any,
                       synthetic: Any) -> dict[str, Any]:
    return {
        "preprocess_seconds": preprocess,
        "fit_seconds": fit_seconds,
        "seconds_per_epoch": (fit_seconds - preprocess) / epochs,
        "epochs": epochs,
        "sample_rows": n,
        "sample_seconds": timing.median,
        "sample_rows_per_second": n / timing.median,
        "synthetic_pd": synthetic,
    }


def _hiveframe_pandas(case: Case, synthetic) -> Any:
    import pandas as pd

    from hiveframe.metadata import ColumnKind

    df = synthetic.to_pandas()
    for c in case.table.columns:
        if c.kind is ColumnKind.DATETIME:
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[ns]")
    return df


def _real_pandas(case: Case, t) -> Any:
    import pandas as pd

    from hiveframe.metadata import ColumnKind

    df = t.to_pandas()
    for c in case.table.columns:
        if c.kind is ColumnKind.DATETIME:  # nanoseconds: SDV 2.0 turns a datetime64[s] column into
            # 1970-01-01 00:00:01 on every synthetic row (AirBnB's timestamp_first_active)
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[ns]")
        if c.kind is ColumnKind.BOOLEAN:
            df[c.name] = df[c.name].astype("string")
    return df


# -- main ---------------------------------------------------------------------------------------------
ROWS = [
    ("preprocessing (s)", "preprocess_seconds", "ratio_low"),
    ("seconds per epoch", "seconds_per_epoch", "ratio_low"),
    ("total fit (s)", "fit_seconds", "ratio_low"),
    ("epochs trained", "epochs", None),
    ("sampling (rows/s)", "sample_rows_per_second", "ratio_high"),
    ("SDMetrics quality", "quality", "higher"),
    ("detection accuracy", "detection", "lower"),
    ("TSTR AUC", "tstr_auc", "higher"),
]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5, help="sampling timings (median of this many calls)")
    parser.add_argument("--dataset", choices=sorted(CASES), default="census")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="give each library this wall clock for fitting instead of equal epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-reference", action="store_true", help="run hiveframe only")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    case = CASES[args.dataset]()
    real_train_pd, real_test_pd = _real_pandas(case, case.train), _real_pandas(case, case.test)
    results: dict[str, Any] = {"environment": environment(), "args": vars(args), "dataset": case.name,
                               "train_rows": case.train.num_rows, "test_rows": case.test.num_rows,
                               "torch_threads": torch.get_num_threads(), "network": NETWORK}
    if case.target:
        results["real_tstr_auc"] = tstr_auc(numeric_dates(real_train_pd), numeric_dates(real_test_pd),
                                            target=case.target, positive=case.positive)
    results["real_detection"] = detection_accuracy(numeric_dates(real_test_pd), numeric_dates(real_train_pd))

    hf = run_hiveframe(case, args.epochs, args.repeats, args.seed, args.time_budget, args.verbose)
    hf.update(evaluate(case, _hiveframe_pandas(case, hf.pop("synthetic")), real_train_pd, real_test_pd))
    results["hiveframe"] = hf
    if not args.skip_reference:
        runner = run_reference if case.name == "census" else run_reference_sdv
        ref = runner(case, args.epochs, args.repeats, args.seed, args.time_budget)
        ref.update(evaluate(case, ref.pop("synthetic_pd"), real_train_pd, real_test_pd))
        results["ctgan"] = ref
        results["ratios"] = {
            "fit_time": hf["fit_seconds"] / ref["fit_seconds"],
            "preprocessing": hf["preprocess_seconds"] / ref["preprocess_seconds"],
            "seconds_per_epoch": hf["seconds_per_epoch"] / ref["seconds_per_epoch"],
            "sampling_speed": hf["sample_rows_per_second"] / ref["sample_rows_per_second"],
        }
    mode = f"time budget {args.time_budget:.0f} s" if args.time_budget else f"{args.epochs} epochs"
    results["mode"] = mode
    results["command"] = "python -m benchmarks.bench_ctgan " + " ".join(argv if argv is not None else sys.argv[1:])
    smoke = not args.time_budget and args.epochs < SMOKE_BELOW_EPOCHS
    results["seed"] = args.seed
    key = f"{case.name} {mode}" + (f" seed {args.seed}" if args.seed else "")
    path = record(results, key, smoke=smoke)
    print("\n" + summarize_run(results))
    print(f"\nwritten to {path}")
    return results


def record(results: dict[str, Any], key: str, *, smoke: bool):
    """Add this run to ``results/ctgan.json`` (or ``ctgan_smoke.json``), one entry per dataset and mode,
    so that ``python -m benchmarks`` shows every configuration measured under one heading."""
    import json

    from benchmarks.common import RESULTS

    name = "ctgan_smoke" if smoke else "ctgan"
    path = RESULTS / f"{name}.json"
    runs: dict[str, Any] = {}
    if path.is_file():
        try:
            runs = json.loads(path.read_text(encoding="utf-8")).get("runs", {})
        except (OSError, ValueError):
            runs = {}
    runs[key] = json.loads(json.dumps(results, default=str))
    return write_json(name, {"runs": runs})


GOALS = {  # the goals, as ratio bounds hiveframe / reference
    "fit_seconds": ("<=", 1 / 3), "preprocess_seconds": ("<=", 1 / 5), "sample_rows_per_second": (">=", 1.0),
    "quality": (">=", 1.0), "detection": ("<=", 1.0), "tstr_auc": (">=", 1.0),
}


def summarize_run(results: dict[str, Any]) -> str:
    hf, ref = results["hiveframe"], results.get("ctgan")
    headers = ["figure", "hiveframe ctgan"] + ([f"ctgan {REFERENCE_VERSION}", "ratio", "goal"] if ref else [])
    rows = []
    for label, key, how in ROWS:
        if key not in hf:
            continue
        row: list[Any] = [label, hf[key]]
        if ref:
            ref_value = ref.get(key)
            ratio = None if how is None or not ref_value else hf[key] / ref_value
            goal = ""
            budget_mode = bool(results.get("args", {}).get("time_budget"))
            if key in GOALS and ratio is not None and not (budget_mode and key == "fit_seconds"):
                op, bound = GOALS[key]
                met = ratio <= bound + 1e-12 if op == "<=" else ratio >= bound - 1e-12
                goal = f"{'met' if met else 'missed'} (ratio {op} {bound:.3g})"
            elif budget_mode and key == "fit_seconds":
                goal = "(both ran to the budget or stopped early)"
            row += [ref_value, "" if ratio is None else float(ratio), goal]
        rows.append(row)
    env = results.get("environment", {})
    head = (f"**{results['dataset']}**, {results['train_rows']} train rows, {results.get('mode', '')}, "
            f"torch threads {results.get('torch_threads')}, load average at start {env.get('load_average')}")
    notes = []
    if "real_tstr_auc" in results:
        notes.append(f"TSTR AUC trained on real rows: {results['real_tstr_auc']:.3f}")
    notes.append(f"detection accuracy real vs real: {results['real_detection']:.3f}")
    if ref and ref.get("implementation"):
        notes.append(f"reference run through {ref['implementation']}")
    if hf.get("validation_rows"):
        notes.append(f"hiveframe trains on {hf['train_rows']} rows and validates on {hf['validation_rows']}")
    cmd = f"`{results['command']}`" if results.get("command") else ""
    return "\n".join([head + (f" ({cmd})" if cmd else ""), "", markdown_table(headers, rows), "",
                      "; ".join(notes) + "."])


def summarize_seeds(runs: list[dict[str, Any]]) -> str:
    """One table over the runs of one dataset and mode with different seeds: each seed's figure and
    the median, per implementation, and the ratio the goal is judged on.

    Speed figures are paired: both libraries ran in the same process, one after the other, so a run's
    ratio cancels how busy the shared machine was during that run, and the ratio shown is the median
    of the per-run ratios. Quality figures are not paired (seed N of one library shares no random
    draw with seed N of the other), so their ratio is the ratio of the two medians.
    """
    import statistics

    runs = sorted(runs, key=lambda r: r.get("seed", 0))
    seeds = [r.get("seed", 0) for r in runs]
    both = all("ctgan" in r for r in runs)
    headers = ["figure", "hiveframe per seed", "hiveframe median"] + (
        [f"ctgan {REFERENCE_VERSION} per seed", "ctgan median", "ratio", "goal"] if both else [])
    rows = []
    for label, key, how in ROWS:
        if not all(key in r["hiveframe"] for r in runs):
            continue
        ours = [r["hiveframe"][key] for r in runs]
        row: list[Any] = [label, " / ".join(_short(v) for v in ours), float(statistics.median(ours))]
        if both:
            theirs = [r["ctgan"].get(key) for r in runs]
            if any(v is None for v in theirs):
                continue
            if how is None:
                ratio = None
            elif how.startswith("ratio"):  # speed: median of the per-run ratios
                ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
            else:  # quality: ratio of the medians
                ratio = statistics.median(ours) / statistics.median(theirs)
            goal = ""
            if key in GOALS and ratio is not None:
                op, bound = GOALS[key]
                met = ratio <= bound + 1e-12 if op == "<=" else ratio >= bound - 1e-12
                goal = f"{'met' if met else 'missed'} (ratio {op} {bound:.3g})"
            row += [" / ".join(_short(v) for v in theirs), float(statistics.median(theirs)),
                    "" if ratio is None else float(ratio), goal]
        rows.append(row)
    first = runs[0]
    head = (f"**{first['dataset']}, {first.get('mode', '')}, over seeds {', '.join(map(str, seeds))}** "
            f"(one run per seed, each with its own command above; same train/test split, the seed changes "
            f"only the models' randomness; each run's load average at start is in its heading above)")
    note = ("Ratio: for speed figures, the median of the per-run ratios (both libraries ran in the same "
            "run, so each ratio cancels that run's machine load); for quality figures, the ratio of the "
            "medians (seeds are not shared between the libraries).") if both else ""
    return "\n".join([head, "", markdown_table(headers, rows)] + (["", note] if note else []))


def _short(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) and abs(v) < 100 else (f"{v:.1f}" if isinstance(v, float) else str(v))


def summarize(data: dict[str, Any]) -> str:
    """Markdown for benchmarks/RESULTS.md (called by ``python -m benchmarks``)."""
    runs = data.get("runs", {"run": data} if "hiveframe" in data else {})
    parts = [summarize_run(r) for r in runs.values()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs.values():
        groups.setdefault((r.get("dataset", ""), r.get("mode", "")), []).append(r)
    parts += [summarize_seeds(g) for g in groups.values() if len(g) > 1]
    return "\n\n".join(parts) or "no runs recorded"


if __name__ == "__main__":
    main()
