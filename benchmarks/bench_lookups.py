"""Distinct-name shares of lookup tables in synthetic Chinook and Berka (issue 17: believable lookups).

For each lookup table's name column: distinct synthetic values / synthetic rows (1.0: every name unique,
as in the real table), at scale 1 and 2, with the default generator.

    python -m benchmarks.bench_lookups [--data ../shared/data] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os

#: (dataset, table, column): columns whose values are all distinct in the real table.
COLUMNS = [("chinook", "MediaType", "Name"), ("chinook", "Genre", "Name"), ("chinook", "Artist", "Name"),
           ("chinook", "Playlist", "Name"), ("berka", "district", "A2")]


def measure(data: str, seed: int, scales: tuple[float, ...] = (1.0, 2.0)) -> list[dict]:
    from hiveframe.pipeline import Synthesizer
    from hiveframe.testing.datasets import load_dataset

    out = []
    for dataset in dict.fromkeys(d for d, _, _ in COLUMNS):
        database, metadata = load_dataset(data, dataset)
        synth = Synthesizer(metadata, seed=seed).fit(database)
        for scale in scales:
            sample = synth.sample(scale=scale, seed=seed)
            for d, table, column in COLUMNS:
                if d != dataset:
                    continue
                real = database[table].column(column).drop_null().to_pylist()
                values = sample[table].column(column).drop_null().to_pylist()
                out.append({"dataset": dataset, "table": table, "column": column, "scale": scale,
                            "real_distinct_share": round(len(set(real)) / max(len(real), 1), 3),
                            "rows": len(values), "distinct": len(set(values)),
                            "distinct_share": round(len(set(values)) / max(len(values), 1), 3),
                            "generator": synth.table_generators[table].name})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for row in measure(args.data, args.seed):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
