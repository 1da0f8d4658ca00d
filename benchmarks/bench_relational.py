"""hiveframe's relational engine against SDV's HMASynthesizer, in one run on the same machine.

    python -m benchmarks.bench_relational                 # everything (HMA sampling takes minutes)
    python -m benchmarks.bench_relational --skip-sdv      # hiveframe only
    python -m benchmarks.bench_relational --smoke         # a quick check of every code path
    python -m benchmarks.bench_relational --skip-sdv --datasets berka biodegradability --generator autoregressive \
        --params epochs=30 threads=1 --repeats 1 --no-scales --out relational_autoregressive

Side by side on the schemas HMA accepts (AirBnB; the 4-table Berka subset account, disp, loan,
order): fit and sample time (medians over ``--repeats``; HMA over ``--sdv-repeats``), children per
parent similarity per relationship (1 - KS statistic), and a detection accuracy per table: a
gradient-boosted classifier tells real rows from synthetic ones, each row enriched with its number
of children and the means of its children's columns per relationship (as in the SyntheRela
benchmark; key, id and free-text columns left out), trained on one half and scored on the other;
0.5 means indistinguishable. hiveframe
alone on the schemas HMA refuses (all of Berka, Chinook, Biodegradability), plus referential
integrity and the lowest similarity at scales 0.5, 1 and 3.

Both libraries get the same data and the same keys (from each dataset's schema.json, and Chinook's
declared keys, by ``hiveframe.testing.load_dataset``); each gets its native input (Arrow for hiveframe, pandas for SDV);
conversions for scoring are not timed. Prints a markdown table and writes every figure to
``benchmarks/results/relational.json``.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any

import numpy as np

from benchmarks.common import (
    environment,
    markdown_table,
    median_time,
    param_argument,
    shared_data,
    write_json,
)

HMA_DATASETS = ("airbnb", "berka4")
ALONE_DATASETS = ("berka", "chinook", "biodegradability")
SCALES = (0.5, 1.0, 3.0)


# -- data ------------------------------------------------------------------------------------------
BERKA4 = ("account", "disp", "loan", "order")


def load_dataset(name: str) -> tuple[Any, Any]:
    """(Database, Metadata) of a real dataset; ``berka4`` is HMA's 4-table Berka subset."""
    from hiveframe.components import Database
    from hiveframe.testing import load_dataset as load
    from hiveframe.testing import metadata_from_keys

    if name != "berka4":
        return load(shared_data(), name)
    db, md = load(shared_data(), "berka", tables=BERKA4)
    # keys to tables left out are not relationships here
    tables = {**db.tables, "disp": db["disp"].drop(["client_id"])}
    return Database(tables), metadata_from_keys(tables, {t.name: t.primary_key for t in md.tables}, md.foreign_keys)


def limit_rows(db: Any, md: Any, roots: int, seed: int = 0) -> Any:
    """A referentially intact slice: ``roots`` rows of each root table and their descendants."""
    import pyarrow as pa

    from hiveframe.components import Database
    from hiveframe.metadata.relations import resolve

    rng = np.random.default_rng(seed)
    tables = dict(db.tables)
    for name in md.topological_order():
        data = tables[name]
        parents = [fk for fk in md.parents_of(name) if not fk.is_self_reference]
        if not parents:
            keep = np.sort(rng.choice(data.num_rows, size=min(roots, data.num_rows), replace=False))
            tables[name] = data.take(pa.array(keep))
            continue
        mask = np.ones(data.num_rows, dtype=bool)
        for fk in parents:
            idx, _ = resolve(data, fk.child_columns, tables[fk.parent_table], fk.parent_columns)
            nulls = np.asarray(data.column(fk.child_columns[0]).is_null().to_numpy(zero_copy_only=False))
            mask &= (idx >= 0) | nulls
        tables[name] = data.filter(pa.array(mask))
    return Database(tables)


# -- SDV -------------------------------------------------------------------------------------------
def sdv_metadata(md: Any) -> dict[str, Any]:
    from hiveframe.metadata import ColumnKind

    sdtypes = {ColumnKind.NUMERICAL: "numerical", ColumnKind.CATEGORICAL: "categorical",
               ColumnKind.BOOLEAN: "boolean", ColumnKind.DATETIME: "datetime", ColumnKind.TEXT: "categorical",
               ColumnKind.ID: "id", ColumnKind.PII: "categorical"}
    tables = {}
    for t in md.tables:
        cols = {c.name: {"sdtype": sdtypes[c.kind]} for c in t.columns}
        entry: dict[str, Any] = {"columns": cols}
        if len(t.primary_key) == 1:
            entry["primary_key"] = t.primary_key[0]
        tables[t.name] = entry
    rels = [{"parent_table_name": fk.parent_table, "parent_primary_key": fk.parent_columns[0],
             "child_table_name": fk.child_table, "child_foreign_key": fk.child_columns[0]}
            for fk in md.foreign_keys]
    return {"tables": tables, "relationships": rels}


def to_pandas(db: Any) -> dict[str, Any]:
    import pyarrow as pa

    out = {}
    for name in db.names:
        t = db[name]
        for i, f in enumerate(t.schema):
            if pa.types.is_date(f.type):
                t = t.set_column(i, f.name, t.column(i).cast(pa.timestamp("s")))
        out[name] = t.to_pandas()
    return out


def from_pandas(frames: dict[str, Any], real: Any) -> Any:
    import pyarrow as pa

    from hiveframe.components import Database

    tables = {}
    for name, frame in frames.items():
        t = pa.Table.from_pandas(frame, preserve_index=False)
        schema = real[name].schema
        arrays = []
        for f in schema:
            col = t.column(f.name)
            try:
                col = col.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
            arrays.append(col)
        tables[name] = pa.table(arrays, names=schema.names)
    return Database(tables)


# -- measures --------------------------------------------------------------------------------------
def enriched(md: Any, db: Any, table: str, encoders: dict[str, Any] | None = None,
             reference: Any = None) -> Any:
    """A table's own columns plus, per child relationship, the child count and child-column means.

    Child columns are encoded the same way for real and synthetic data: encoders are fitted on
    ``reference`` (the real database) and kept in ``encoders``.
    """
    import pyarrow as pa

    from hiveframe.metadata import ColumnKind
    from hiveframe.metadata.relations import resolve
    from hiveframe.pipeline.features import FeatureEncoder

    t = md.table(table)
    keys = set(t.primary_key) | md.foreign_key_columns(table)
    skip = (ColumnKind.ID, ColumnKind.PII, ColumnKind.TEXT)  # free text is a generator's matter, like ids
    own = [c.name for c in t.columns if c.name not in keys and c.kind not in skip]
    data = db[table]
    arrays = {c: data.column(c) for c in own}
    for fk in md.children_of(table):
        if fk.is_self_reference:
            continue
        child = db[fk.child_table]
        ct = md.table(fk.child_table)
        idx, _ = resolve(child, fk.child_columns, data, fk.parent_columns)
        ok = idx >= 0
        counts = np.bincount(idx[ok], minlength=data.num_rows).astype(float)
        prefix = f"{fk.child_table}.{fk.child_columns[0]}"
        arrays[f"{prefix}#n"] = pa.array(counts)
        ckeys = set(ct.primary_key) | md.foreign_key_columns(fk.child_table)
        for c in ct.columns:
            if c.name in ckeys or c.kind in skip:
                continue
            key = f"{fk.name}/{c.name}"
            if encoders is not None and key not in encoders:
                source = (reference if reference is not None else db)[fk.child_table]
                encoders[key] = FeatureEncoder(max_categories=5).fit(source.select([c.name]))
            enc = encoders[key] if encoders is not None else FeatureEncoder(max_categories=5).fit(
                child.select([c.name]))
            x = enc.transform(child.select([c.name]))[ok]
            for j in range(x.shape[1]):
                sums = np.bincount(idx[ok], weights=np.nan_to_num(x[:, j]), minlength=data.num_rows)
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
                arrays[f"{prefix}.{c.name}#{j}"] = pa.array(means)
    return pa.table(arrays) if arrays else pa.table({"_": pa.array(np.zeros(data.num_rows))})


def detection_accuracy(md: Any, real: Any, synthetic: Any, table: str, seed: int = 0) -> float:
    """Held-out accuracy of a classifier telling real from synthetic (enriched) rows; 0.5 is ideal."""
    import pyarrow as pa
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hiveframe.pipeline.features import FeatureEncoder

    encoders: dict[str, Any] = {}
    a = enriched(md, real, table, encoders, real)
    b = enriched(md, synthetic, table, encoders, real)
    n = min(a.num_rows, b.num_rows)
    if n < 10:
        return float("nan")
    rng = np.random.default_rng(seed)
    a = a.take(pa.array(np.sort(rng.choice(a.num_rows, n, replace=False))))
    b = b.take(pa.array(np.sort(rng.choice(b.num_rows, n, replace=False))))
    b = b.select(a.column_names)
    for i, f in enumerate(a.schema):
        if b.schema.field(i).type != f.type:
            try:
                b = b.set_column(i, f.name, b.column(i).cast(f.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                b = b.set_column(i, f.name, b.column(i).cast(pa.string()))
                a = a.set_column(i, f.name, a.column(i).cast(pa.string()))
    both = pa.concat_tables([a, b])
    x = FeatureEncoder(max_categories=20).fit_transform(both)
    y = np.r_[np.ones(n), np.zeros(n)]
    order = rng.permutation(2 * n)
    half = n
    train, test = order[:half], order[half:]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    clf.fit(x[train], y[train])
    return float((clf.predict(x[test]) == y[test]).mean())


def evaluate(md: Any, real: Any, synthetic: Any, seed: int = 0) -> dict[str, Any]:
    from hiveframe.pipeline.checks import cardinality_similarity, integrity_problems

    card = cardinality_similarity(md, real, synthetic)
    det = {t: detection_accuracy(md, real, synthetic, t, seed) for t in md.table_names}
    finite = [v for v in det.values() if v == v]
    return {
        "rows": {t: synthetic[t].num_rows for t in synthetic.names},
        "integrity_problems": [p.render() for p in integrity_problems(md, synthetic)],
        "cardinality": card,
        "cardinality_min": min(card.values()) if card else None,
        "cardinality_mean": float(np.mean(list(card.values()))) if card else None,
        "detection": det,
        "detection_max": max(finite) if finite else None,
    }


# -- runs ------------------------------------------------------------------------------------------
def run_hiveframe(db: Any, md: Any, repeats: int, seed: int, generator: str,
                  params: dict[str, Any] | None = None, scales: bool = True) -> dict[str, Any]:
    """``params``: the generator's parameters for every table; ``scales=False`` skips the scale checks."""
    from hiveframe.pipeline import Synthesizer

    fit_time, synth = median_time(
        lambda: Synthesizer(md, generator=generator, generator_params=params or None, seed=seed).fit(db), repeats)
    sample_time, synthetic = median_time(lambda: synth.sample(scale=1.0, seed=seed + 1), repeats)
    out = {"fit_s": fit_time.median, "fit_times": fit_time.times, "sample_s": sample_time.median,
           "sample_times": sample_time.times, "engine": synth.describe()}
    out.update(evaluate(md, db, synthetic, seed))
    checks = {}
    for scale in SCALES if scales else ():
        syn = synth.sample(scale=scale, seed=seed + 2)
        checks[str(scale)] = evaluate_light(md, db, syn)
    out["scales"] = checks
    return out


def evaluate_light(md: Any, real: Any, synthetic: Any) -> dict[str, Any]:
    from hiveframe.pipeline.checks import cardinality_bounds, cardinality_similarity, integrity_problems

    card = cardinality_similarity(md, real, synthetic)
    return {"integrity_problems": len(integrity_problems(md, synthetic)),
            "cardinality_min": min(card.values()) if card else None, "cardinality": card,
            "cardinality_bound": cardinality_bounds(md, real, synthetic),
            "parent_rows": {fk.name: synthetic[fk.parent_table].num_rows for fk in md.foreign_keys}}


def run_hma(db: Any, md: Any, repeats: int, seed: int) -> dict[str, Any]:
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    frames = to_pandas(db)
    sdv_md = Metadata.load_from_dict(sdv_metadata(md))

    def fit() -> Any:
        synth = HMASynthesizer(sdv_md, verbose=False)
        synth.fit(frames)
        return synth

    fit_time, synth = median_time(fit, repeats)
    # SDV 2.0: the size of one root table sets the scale of the whole database
    roots = [t for t in md.table_names if not [fk for fk in md.parents_of(t) if not fk.is_self_reference]]
    main = max(roots, key=lambda t: db[t].num_rows)
    sample_time, frames_out = median_time(
        lambda: synth.sample(num_rows=db[main].num_rows, main_table_name=main), repeats)
    synthetic = from_pandas(frames_out, db)
    out = {"fit_s": fit_time.median, "fit_times": fit_time.times, "sample_s": sample_time.median,
           "sample_times": sample_time.times}
    out.update(evaluate(md, db, synthetic, seed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats for hiveframe timings (median)")
    parser.add_argument("--sdv-repeats", type=int, default=1, help="repeats for HMA timings (minutes each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator", default="gaussian_copula")
    parser.add_argument("--skip-sdv", action="store_true", help="hiveframe only")
    parser.add_argument("--datasets", nargs="*", default=None,
                        help=f"subset of {HMA_DATASETS + ALONE_DATASETS}")
    parser.add_argument("--params", nargs="*", default=[], type=param_argument, metavar="NAME=VALUE",
                        help="generator parameters for every table, JSON values (epochs=30 threads=1)")
    parser.add_argument("--no-scales", action="store_true", help="skip the integrity checks at scales 0.5, 1, 3")
    parser.add_argument("--out", default=None, help="results file name under benchmarks/results/")
    parser.add_argument("--smoke", action="store_true",
                        help="quick check: 1 repeat, HMA on a 300-root slice, results to relational_smoke.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    names = args.datasets or list(HMA_DATASETS + ALONE_DATASETS)
    repeats = 1 if args.smoke else args.repeats
    results: dict[str, Any] = {"environment": environment(), "settings": vars(args), "datasets": {}}
    rows = []
    for name in names:
        db, md = load_dataset(name)
        entry: dict[str, Any] = {"tables": {t: db[t].num_rows for t in db.names}}
        entry["hiveframe"] = run_hiveframe(db, md, repeats, args.seed, args.generator, dict(args.params),
                                           scales=not args.no_scales)
        if name in HMA_DATASETS and not args.skip_sdv:
            sdv_db = limit_rows(db, md, 300, args.seed) if args.smoke else db
            if args.smoke:
                entry["hma_note"] = "smoke run: HMA on a 300-root slice, not comparable"
            try:
                entry["hma"] = run_hma(sdv_db, md, 1 if args.smoke else args.sdv_repeats, args.seed)
            except Exception as exc:  # noqa: BLE001 - report, keep the hiveframe figures
                entry["hma"] = {"error": f"{type(exc).__name__}: {exc}"}
        results["datasets"][name] = entry
        for system in ("hiveframe", "hma"):
            r = entry.get(system)
            if not r or "error" in r:
                if r:
                    rows.append([name, system, "error", "", "", "", "", r["error"][:60]])
                continue
            scales = r.get("scales", {})
            scale_min = min((s["cardinality_min"] or 1.0) for s in scales.values()) if scales else None
            rows.append([name, system, r["fit_s"], r["sample_s"], r["cardinality_min"],
                         r["cardinality_mean"], r["detection_max"],
                         f"{len(r['integrity_problems'])}" + (f" (scales min card {scale_min:.3f})"
                                                              if scale_min is not None else "")])
        print(f"done: {name}", flush=True)
    path = write_json(args.out or ("relational_smoke" if args.smoke else "relational"), results)
    print(summarize(results))
    print(f"\nwritten: {path}")
    return 0


def summarize(results: dict[str, Any]) -> str:
    """The markdown RESULTS.md shows for this benchmark (also printed at the end of a run)."""
    rows = []
    for name, entry in results["datasets"].items():
        for system in ("hiveframe", "hma"):
            r = entry.get(system)
            if not r:
                continue
            if "error" in r:
                rows.append([name, system, "error", "", "", "", "", r["error"][:60]])
                continue
            scales = r.get("scales", {})
            scale_min = min((s["cardinality_min"] or 1.0) for s in scales.values()) if scales else None
            integrity = f"{len(r['integrity_problems'])} problems"
            if scale_min is not None:
                integrity += f"; at scales {', '.join(scales)}: min cardinality {scale_min:.3f}"
            rows.append([name, system, r["fit_s"], r["sample_s"], r["cardinality_min"], r["cardinality_mean"],
                         r["detection_max"], integrity])
    settings = results.get("settings", {})
    lines = [
        f"Settings: hiveframe generator `{settings.get('generator')}`, hiveframe timings median of "
        f"{settings.get('repeats')}, HMA timings from {settings.get('sdv_repeats')} run(s). Cardinality: "
        "1 - KS of the children-per-parent distributions (min and mean over relationships). Detection: "
        "split-half classifier accuracy on parent rows enriched with child counts and child-column means "
        "(0.5 = indistinguishable), worst table.",
        "",
        markdown_table(["dataset", "system", "fit s", "sample s", "card. min", "card. mean",
                        "detection (worst table)", "integrity"], rows),
        "",
        "Detection accuracy per table:",
        "",
    ]
    for name, entry in results["datasets"].items():
        for system in ("hiveframe", "hma"):
            r = entry.get(system)
            if r and "detection" in r:
                lines.append(f"- {name} / {system}: " + ", ".join(f"{t} {v:.3f}" for t, v in r["detection"].items()))
    low = []
    for name, entry in results["datasets"].items():
        for scale, ev in entry.get("hiveframe", {}).get("scales", {}).items():
            bounds, parents = ev.get("cardinality_bound", {}), ev.get("parent_rows", {})
            for rel, value in ev.get("cardinality", {}).items():
                if value < 0.9:
                    bound = f"{bounds[rel]:.3f}" if rel in bounds else "?"
                    low.append(f"- {name} at scale {scale}: {rel} {value:.3f} with {parents.get(rel, '?')} "
                               f"generated parent rows; the best any {parents.get(rel, '?')} parents can reach: {bound}")
    if low:
        lines += ["", "Relationships below 0.9 at some scale (hiveframe), with the highest 1 - KS that any set "
                  "of that many parents can reach while sharing the children the scale gives them, at most one "
                  "per row of the other parent in a link table (`hiveframe.pipeline.checks.cardinality_bounds`, "
                  "exact):", ""] + low
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
