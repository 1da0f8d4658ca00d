"""PII attacks: how many real PII values come out of a fit, or can be recovered from its saved model.

    python -m benchmarks.bench_pii                 # the three attacks, 300 rows
    python -m benchmarks.bench_pii --rows 1000

Three attacks, each on a table made here (real-looking values from faker with a fixed seed):

* **id-like columns**: a ``customers`` table whose ``phone``, ``mobile``, ``ssn``, ``card`` (Luhn),
  ``iban`` and ``email`` (``user{i}@corp.com``) are unique, so that a detector may take them for ids;
  metadata detected from the data, no DP. Reported per column: the share of synthetic values that are
  real ones, and whether any real value occurs in any byte of the saved model.
* **realistic emails**: a unique ``email`` column of faker addresses with digits
  (``first.last123@gmail.com``): the share of synthetic emails that are real, and the share whose
  local part (before ``@``) is a real local part (recombined fragments).
* **fake-pool replay**: the saved model's fake pools (no DP) and its stored seed. The attacker replays
  faker's draws from the seed: a draw that is missing from the pool was skipped because it was a real
  value. Reported: how many real values the replay recovers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_json
from hiveframe.metadata.rules import luhn_digit
from hiveframe.testing.leaks import model_bytes, model_strings

ID_LIKE = ("phone", "mobile", "ssn", "card", "iban", "email")


def customers(n: int, seed: int = 0) -> Any:
    """A table of real-looking PII, every PII column unique (id-like) but first names and cities."""
    import pyarrow as pa
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)

    def unique(make) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        while len(out) < n:
            v = make()
            if v not in seen:
                seen.add(v)
                out.append(v)
        return out

    def card() -> str:
        body = "4" + "".join(str(d) for d in rng.integers(0, 10, 14))
        return body + luhn_digit(body)

    return pa.table({
        "customer_id": pa.array(np.arange(1, n + 1), pa.int64()),
        "phone": unique(lambda: f"+1-{rng.integers(200, 999)}-{rng.integers(200, 999)}-{rng.integers(0, 9999):04d}"),
        "mobile": unique(lambda: f"07{rng.integers(100, 999)}{rng.integers(100000, 999999)}"),
        "ssn": unique(lambda: f"{rng.integers(100, 665)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}"),
        "card": unique(card),
        "iban": unique(lambda: fake.iban()),
        "email": [f"user{i}@corp.com" for i in range(n)],
        "first_name": [fake.first_name() for _ in range(n)],
        "city": unique(lambda: fake.city()),
        "amount": pa.array(rng.gamma(2.0, 50.0, n)),
    })


def realistic_emails(n: int, seed: int = 0) -> Any:
    import pyarrow as pa
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    domains = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "gmx.net"]
    emails: list[str] = []
    seen: set[str] = set()
    while len(emails) < n:
        first, last = fake.first_name().lower(), fake.last_name().lower()
        e = f"{first}.{last}{rng.integers(1, 999)}@{domains[rng.integers(len(domains))]}"
        if e not in seen:
            seen.add(e)
            emails.append(e)
    return pa.table({"email": emails, "amount": pa.array(rng.gamma(2.0, 50.0, n))})


def _fit(data: Any, table: str, seed: int, tmp: Path) -> tuple[Any, Any, Path]:
    from hiveframe import detect
    from hiveframe.components import Database
    from hiveframe.pipeline import Synthesizer

    db = Database({table: data})
    md = detect(db)
    synth = Synthesizer(md, seed=seed).fit(db)
    out = synth.sample(seed=seed + 1)[table]
    model = synth.save(tmp / f"model_{table}")
    return md, out, model


def _in_model(real: set[str], blob: bytes, model: Path, *, whole: bool) -> int:
    """Real values in the model: anywhere in its bytes, or (names, cities, which fakes may contain as a
    word: 'Lake Jameshaven') as a whole JSON string."""
    if whole:
        return len(real & model_strings(model))
    return sum(v.encode() in blob for v in real)


def attack_id_like(n: int, seed: int, tmp: Path) -> dict[str, Any]:
    data = customers(n, seed)
    md, out, model = _fit(data, "customers", seed, tmp)
    blob = model_bytes(model)
    result: dict[str, Any] = {}
    for col in (*ID_LIKE, "first_name", "city"):
        real = {str(v) for v in data.column(col).to_pylist()}
        synth = [str(v) for v in out.column(col).to_pylist() if v is not None]
        column = md.table("customers").column(col)
        result[col] = {
            "detected_kind": column.kind.value + (f" ({column.pii_kind.value})" if column.pii_kind else ""),
            "real_share_in_output": round(sum(v in real for v in synth) / max(1, len(synth)), 4),
            "real_values_in_model": _in_model(real, blob, model, whole=col in ("first_name", "city")),
        }
    return result


def attack_emails(n: int, seed: int, tmp: Path) -> dict[str, Any]:
    data = realistic_emails(n, seed)
    md, out, model = _fit(data, "users", seed, tmp)
    real = set(data.column("email").to_pylist())
    local = {e.split("@")[0] for e in real}
    synth = [v for v in out.column("email").to_pylist() if v is not None]
    column = md.table("users").column("email")
    return {
        "detected_kind": column.kind.value + (f" ({column.pii_kind.value})" if column.pii_kind else ""),
        "real_share_in_output": round(sum(v in real for v in synth) / max(1, len(synth)), 4),
        "real_local_part_share": round(sum(v.split("@")[0] in local for v in synth) / max(1, len(synth)), 4),
        "real_values_in_model": _in_model(real, model_bytes(model), model, whole=False),
    }


def _pool_entries(model: Path) -> list[tuple[str, dict[str, Any]]]:
    """The PII plan of every table in a saved model (column name -> entry with its pools)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(model.rglob("*.json")):
        text = json.loads(path.read_text())

        def walk(obj: Any) -> None:
            if isinstance(obj, dict):
                if "plan" in obj and isinstance(obj["plan"], dict):
                    for col, entry in obj["plan"].items():
                        if isinstance(entry, dict) and entry.get("pools") and col not in {c for c, _ in found}:
                            found.append((col, entry))
                for v in obj.values():
                    walk(v)
            elif isinstance(obj, list):
                for v in obj:
                    walk(v)

        walk(text)
    return found


def replay_pools(model: Path) -> tuple[set[str], float]:
    """The attack on seed-drawn pools: replay faker from the stored seed, report the skipped draws.

    It assumes the pre-fix construction (pools drawn from ``SeedSequence([table seed, 17])``, the table
    seed derived from the manifest's seed as the engine derives it, columns in plan order, each
    locale's pool filled in turn, real values skipped) and knows only the saved model (one table).
    """
    from hiveframe_privacy.fakes import FakeSource

    from hiveframe.metadata import PIIKind
    from hiveframe.pipeline.plan import derive_seed

    manifest = json.loads((model / "manifest.json").read_text())
    seed = derive_seed(int(manifest.get("seed", 0) or 0), 0, "generator")
    recovered: set[str] = set()
    replayed = total = 0
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    fakes = FakeSource("en_US")
    for _col, entry in _pool_entries(model):
        kind = PIIKind(entry["pii_kind"])
        for loc, pool in entry["pools"].items():
            # pools keep the order of the draws: a replay in step with the pool skips only real values
            i, seen, tries = 0, set(), 0
            while i < len(pool) and tries < len(pool) * 40:
                tries += 1
                value = fakes.value(kind, int(rng.integers(0, 2**62)), loc)
                key = value.strip().casefold()
                if value == pool[i]:
                    seen.add(key)
                    i += 1
                elif key not in seen:
                    recovered.add(value)
            replayed += i
            total += len(pool)
    return recovered, replayed / max(1, total)


def attack_pool_replay(n: int, seed: int, tmp: Path) -> dict[str, Any]:
    data = customers(n, seed).select(["customer_id", "first_name", "city", "amount"])
    md, _out, model = _fit(data, "people", seed, tmp)
    real = {str(v) for c in ("first_name", "city") for v in data.column(c).to_pylist()}
    recovered, replayed = replay_pools(model)
    hits = len(recovered & real)
    # once the replay no longer reproduces the pool, its "skipped" draws are just faker values: the
    # hits are then chance matches (faker and the data share first names), precision tells them apart
    return {"distinct_real_values": len(real), "pool_share_replayed": round(replayed, 4),
            "replayed_candidates": len(recovered), "real_values_recovered": hits,
            "precision": round(hits / max(1, len(recovered)), 4)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="pii")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "rows": args.rows,
            "id_like_columns": attack_id_like(args.rows, args.seed, Path(tmp)),
            "realistic_emails": attack_emails(args.rows, args.seed, Path(tmp)),
            "fake_pool_replay": attack_pool_replay(args.rows, args.seed, Path(tmp)),
        }
    write_json(args.out, results)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
