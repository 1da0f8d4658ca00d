"""Training-step cost of the ``autoregressive`` generator on census_adult: the plain formula against the
fast loss, in float32 and in bfloat16.

    python -m benchmarks.bench_ar_training --threads 1 --steps 30 --rounds 5
    python -m benchmarks.bench_ar_training --steps 3 --rounds 1          # smoke run (writes *_smoke.json)

The network, batch and column orders are those a census fit uses (the generator's tokens and layout,
512 rows per step, ``fixed_order_share`` 0.8). Each round runs ``--steps`` Adam steps of every variant
in turn on the same batches: ``plain`` is :func:`loss_of` (the straightforward formula, float32, the
loss training used before), ``fast_float32`` and ``fast_bfloat16`` are :class:`FastLoss` in each
precision. Time is the thread's CPU time per step (``time.thread_time``): the machine is shared, and
CPU time is what other jobs disturb least. Figures are the median over rounds of each round's median
step. Writes ``benchmarks/results/ar_training[_smoke].json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import numpy as np

from benchmarks.bench_ctgan import census_case
from benchmarks.common import environment, markdown_table, write_json

VARIANTS = ("plain", "fast_float32", "fast_bfloat16")
SMOKE_BELOW_STEPS = 10


def census_layout(threads: int) -> tuple[Any, np.ndarray]:
    """The layout and tokens of census_adult's train split, as the generator makes them (one epoch fit)."""
    from hiveframe_autoregressive.generators import AutoregressiveGenerator

    case = census_case()
    gen = AutoregressiveGenerator(epochs=1, threads=threads)
    gen.fit(case.train, case.table, seed=0)
    return gen._layout, gen._encode(case.train, gen._codecs, gen._ctx_codecs)


def step_times(layout: Any, tokens: np.ndarray, variant: str, steps: int, seed: int) -> list[float]:
    """CPU seconds of each of ``steps`` Adam steps of ``variant`` on batches drawn from ``seed``."""
    import torch
    from hiveframe_autoregressive import _model

    device = torch.device("cpu")
    net = _model.Network(layout, 8, 128, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    dtype = torch.bfloat16 if variant == "fast_bfloat16" else torch.float32
    fast = _model.FastLoss(layout, dtype, device)
    identity = torch.arange(layout.n_columns)
    x = torch.as_tensor(tokens)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        idx = torch.as_tensor(rng.choice(len(tokens), 512, replace=False))
        ranks = torch.as_tensor(_model.draw_ranks(rng, 512, layout.n_columns, 0.8))
        start = time.thread_time()
        if variant == "plain":
            loss = _model.loss_of(net, x[idx], _model.known_masks(layout, ranks))
        else:
            loss = fast(net, x[idx], ranks, (ranks == identity).all(1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        out.append(time.thread_time() - start)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="Adam steps per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the variants alternating in each")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch
    from hiveframe_autoregressive import _model

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "command": "python -m benchmarks.bench_ar_training " + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": environment(), "load_average_before": list(os.getloadavg()), "args": vars(args),
        "auto_precision": str(_model.resolve_precision("auto", torch.device("cpu"))).removeprefix("torch."),
    }
    layout, tokens = census_layout(args.threads)
    results["tokens"] = {"rows": int(len(tokens)), "targets": layout.n_targets, "values": int(sum(layout.vocab))}
    rounds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for variant in VARIANTS:
            times = step_times(layout, tokens, variant, args.steps, seed=100 + r)
            rounds[variant].append(float(np.median(times[1:] if len(times) > 1 else times)))
    results["step_seconds"] = rounds
    results["load_average_after"] = list(os.getloadavg())
    path = write_json("ar_training_smoke" if args.steps < SMOKE_BELOW_STEPS else "ar_training", results)
    print(summarize(results))
    print(f"\nwritten to {path}")
    return results


def summarize(results: dict[str, Any]) -> str:
    rounds = results["step_seconds"]
    plain = float(np.median(rounds["plain"]))
    rows = []
    for variant in VARIANTS:
        median = float(np.median(rounds[variant]))
        rows.append([variant, f"{median * 1e3:.1f}", f"{min(rounds[variant]) * 1e3:.1f}",
                     f"{max(rounds[variant]) * 1e3:.1f}", f"{plain / median:.2f}"])
    table = markdown_table(["loss", "median ms/step", "min", "max", "speed-up over plain"], rows)
    load = results["load_average_before"][0], results["load_average_after"][0]
    return (f"{table}\n\n`{results['command']}`; CPU time per step, {results['args']['rounds']} rounds of "
            f"{results['args']['steps']} steps, {results['args']['threads']} torch thread(s); precision "
            f"`auto` here is {results['auto_precision']}; load average {load[0]:.2f} -> {load[1]:.2f}.")


if __name__ == "__main__":
    main()
