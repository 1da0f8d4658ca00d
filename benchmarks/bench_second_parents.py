"""Second parents: do a second parent's generated children look like its real ones?

    python -m benchmarks.bench_second_parents                   # Chinook and Berka, 5 sampling seeds
    python -m benchmarks.bench_second_parents --seeds 1 --datasets berka

A table with two parents is generated from one (the driver); the other parent's keys are assigned
afterwards, by degree (the linkage model's children per parent) and by content. The same fitted
synthesizer samples with three assignments of the second parent's keys, everything else equal:

- ``random``: by degree only (the assignment model replaced by one that sees no columns);
- ``gaussian``: the earlier model (ridge prediction of the child row, Gaussian score);
- ``likelihood``: the level-likelihood model (:class:`hiveframe.pipeline.assign.AssignmentModel`).

Figures per second parent (Chinook ``Track`` under ``InvoiceLine``, Berka ``client`` under ``disp``),
means over the sampling seeds: the parent's detection accuracy with its children's aggregates (the
``bench_relational`` measure; 0.5 means indistinguishable), the same on the parent's own columns
alone (what no key assignment can change), and the pair similarity between the parent's columns and
its children's (SDMetrics-style column-pair trends over the joined child-parent rows: 1 - |Pearson
difference| / 2 for two numbers, contingency similarity with numbers in 10 equal-width bins otherwise;
1 means identical). Writes ``benchmarks/results/second_parents.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Any

import numpy as np

from benchmarks.common import environment, finish, markdown_table, shared_data

#: dataset -> (child table, foreign key to the second parent)
CASES = {
    "chinook": ("InvoiceLine", "InvoiceLine.TrackId->Track"),
    "berka": ("disp", "disp.client_id->client"),
}
ARMS = ("random", "gaussian", "likelihood")


def analysed(md: Any, table: str) -> list[str]:
    """A table's columns that describe it (no keys, ids or free text)."""
    from hiveframe.metadata import ColumnKind

    t = md.table(table)
    keys = set(t.primary_key) | md.foreign_key_columns(table)
    skip = (ColumnKind.ID, ColumnKind.PII, ColumnKind.TEXT)
    return [c.name for c in t.columns if c.name not in keys and c.kind not in skip]


def _values(column: Any) -> tuple[np.ndarray, bool]:
    """(values, numeric): numbers as floats (NaN for null), anything else as strings."""
    from hiveframe.pipeline.features import numeric_values

    nums = numeric_values(column)
    if nums is not None:
        return nums, True
    return np.asarray([str(v) for v in column.to_pylist()], dtype=object), False


def _codes(
    real: np.ndarray, synthetic: np.ndarray, numeric: bool, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    if numeric:
        ok = real[~np.isnan(real)]
        lo, hi = (float(ok.min()), float(ok.max())) if len(ok) else (0.0, 1.0)
        edges = np.linspace(lo, hi, bins + 1)[1:-1]
        return tuple(
            np.where(np.isnan(x), -1, np.searchsorted(edges, x, side="right")) for x in (real, synthetic)
        )
    _, inv = np.unique(np.r_[real, synthetic], return_inverse=True)
    return inv[: len(real)], inv[len(real) :]


def contingency_similarity(
    a_real: np.ndarray, b_real: np.ndarray, a_syn: np.ndarray, b_syn: np.ndarray
) -> float:
    """1 - total variation distance between the joint frequencies of two coded columns."""
    keys = np.r_[a_real * 1_000_003 + b_real, a_syn * 1_000_003 + b_syn]
    _, inv = np.unique(keys, return_inverse=True)
    real = np.bincount(inv[: len(a_real)], minlength=inv.max() + 1) / max(1, len(a_real))
    syn = np.bincount(inv[len(a_real) :], minlength=inv.max() + 1) / max(1, len(a_syn))
    return float(1.0 - 0.5 * np.abs(real - syn).sum())


def joined(md: Any, db: Any, child: str, fk_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The child's and its second parent's analysed columns, one row per child with a parent."""
    from hiveframe.metadata.relations import resolve

    fk = next(f for f in md.foreign_keys if f.name == fk_name)
    idx, _ = resolve(db[child], fk.child_columns, db[fk.parent_table], fk.parent_columns)
    ok = np.flatnonzero(idx >= 0)
    kids = {c: db[child].column(c).take(ok) for c in analysed(md, child)}
    parents = {c: db[fk.parent_table].column(c).take(idx[ok]) for c in analysed(md, fk.parent_table)}
    return kids, parents


def pair_similarity(md: Any, real: Any, synthetic: Any, child: str, fk_name: str) -> dict[str, float]:
    """Column-pair trend score of every (parent column, child column) pair over the joined rows."""
    kr, pr = joined(md, real, child, fk_name)
    ks, ps = joined(md, synthetic, child, fk_name)
    out = {}
    for p in pr:
        for c in kr:
            (p_r, p_num), (p_s, _) = _values(pr[p]), _values(ps[p])
            (c_r, c_num), (c_s, _) = _values(kr[c]), _values(ks[c])
            if p_num and c_num:
                out[f"{p}~{c}"] = 1.0 - abs(_pearson(p_r, c_r) - _pearson(p_s, c_s)) / 2.0
                continue
            a_r, a_s = _codes(p_r, p_s, p_num)
            b_r, b_s = _codes(c_r, c_s, c_num)
            out[f"{p}~{c}"] = contingency_similarity(a_r, b_r, a_s, b_s)
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def fit_capturing(md: Any, db: Any, child: str, parent: str, seed: int) -> tuple[Any, Any]:
    """The fitted synthesizer, and what its fit gave the second parent's assignment model (rows, parents,
    each row's parent), to fit the Gaussian model on the same input."""
    import hiveframe.pipeline.assign as assign_module
    from hiveframe.pipeline import Synthesizer

    seen: list[Any] = []
    original = assign_module.AssignmentModel.fit

    def spy(self: Any, rows: Any, parents: Any, parent_idx: Any, **kw: Any) -> Any:
        seen.append((rows, parents, np.asarray(parent_idx)))
        return original(self, rows, parents, parent_idx, **kw)

    assign_module.AssignmentModel.fit = spy  # type: ignore[method-assign]
    try:
        synth = Synthesizer(md, seed=seed).fit(db)
    finally:
        assign_module.AssignmentModel.fit = original  # type: ignore[method-assign]
    mine = [s for s in seen if len(s[2]) == db[child].num_rows and s[1].num_rows == db[parent].num_rows]
    return synth, mine[0]


def set_assignment(synth: Any, fk_name: str, model: Any) -> Any:
    """Put ``model`` in place of the second parent's assignment model; returns the one it replaced."""
    md = synth.metadata
    fk_index = next(i for i, f in enumerate(md.foreign_keys) if f.name == fk_name)
    child = md.foreign_keys[fk_index].child_table
    rel = next(r for r in synth.engine.plan.tables[child].relations if r.fk_index == fk_index)
    old, rel.assign = rel.assign, model
    return old


def run_case(db: Any, md: Any, child: str, fk_name: str, seeds: int, seed: int) -> dict[str, Any]:
    """Every figure for one second parent (the foreign key ``fk_name`` of table ``child``)."""
    from benchmarks.bench_relational import detection_accuracy
    from hiveframe.pipeline.assign import AssignmentModel, GaussianAssignment

    parent = next(f for f in md.foreign_keys if f.name == fk_name).parent_table
    out: dict[str, Any] = {"child": child, "foreign_key": fk_name, "parent": parent, "arms": {}}
    synth, (view, parents, idx) = fit_capturing(md, db, child, parent, seed)
    models = {
        "random": AssignmentModel(),  # sees no columns: every parent alike
        "gaussian": GaussianAssignment().fit(view, parents, idx, rng=np.random.default_rng(seed)),
        "likelihood": set_assignment(synth, fk_name, None),
    }
    model = models["likelihood"]
    out["weights"] = {  # per (child column, parent column): what the fit found telling
        f"{model.row_specs[c]['name']} | {model.parent_specs[j]['name']}": round(float(w), 3)
        for w, (c, j, _) in zip(model.weights, model._tables(), strict=True)
        if w > 0
    }
    for arm in ARMS:
        set_assignment(synth, fk_name, models[arm])
        runs = []
        for k in range(seeds):
            syn = synth.sample(seed=seed + 1 + k)
            pairs = pair_similarity(md, db, syn, child, fk_name)
            runs.append(
                {
                    "detection_with_children": detection_accuracy(md, db, syn, parent, seed + k),
                    "detection_own_columns": detection_accuracy(
                        md, childless(md, db, parent), childless(md, syn, parent), parent, seed + k
                    ),
                    "pair_similarity": float(np.mean(list(pairs.values()))) if pairs else float("nan"),
                    "pairs": pairs,
                }
            )
        entry: dict[str, Any] = {"runs": runs}
        for key in ("detection_with_children", "detection_own_columns", "pair_similarity"):
            vals = np.array([r[key] for r in runs], dtype=float)
            entry[key] = float(vals.mean())
            entry[key + "_sd"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out["arms"][arm] = entry
        print(f"done: {parent} under {child} / {arm}", flush=True)
    return out


def childless(md: Any, db: Any, parent: str) -> Any:
    """The database with the parent's child tables emptied: its detection sees its own columns only."""
    from hiveframe.components import Database

    children = {fk.child_table for fk in md.children_of(parent)}
    return Database({t: db[t].slice(0, 0) if t in children else db[t] for t in db.names})


def summarize(results: dict[str, Any]) -> str:
    rows = []
    for name, case in results["datasets"].items():
        for arm, r in case["arms"].items():
            rows.append(
                [
                    f"{name}: {case['parent']} under {case['child']}",
                    arm,
                    f"{r['detection_with_children']:.3f} ± {r['detection_with_children_sd']:.3f}",
                    f"{r['detection_own_columns']:.3f} ± {r['detection_own_columns_sd']:.3f}",
                    f"{r['pair_similarity']:.3f} ± {r['pair_similarity_sd']:.3f}",
                ]
            )
    load = results.get("load_average_after") or results["environment"].get("load_average")
    lines = [
        f"`{results['command']}`; {results['settings']['seeds']} sampling seed(s), mean ± sd; "
        f"load average before {', '.join(f'{x:.2f}' for x in results['environment']['load_average'])}"
        + (f", after {', '.join(f'{x:.2f}' for x in load)}" if load else ""),
        "",
        markdown_table(
            [
                "second parent",
                "assignment",
                "detection with children's aggregates",
                "detection, own columns only",
                "parent-child pair similarity",
            ],
            rows,
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", type=int, default=5, help="sampling seeds per assignment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--name", default="second_parents", help="results file name (benchmarks/results/NAME.json)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    from hiveframe.testing import load_dataset

    results: dict[str, Any] = {
        "command": "python -m benchmarks.bench_second_parents "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": vars(args),
        "environment": environment(),
        "datasets": {},
    }
    results["environment"]["load_average"] = list(os.getloadavg())
    for name in args.datasets:
        db, md = load_dataset(shared_data(), name)
        results["datasets"][name] = run_case(db, md, *CASES[name], args.seeds, args.seed)
    finish(results, args.name, summarize)
    return results


if __name__ == "__main__":
    main()
