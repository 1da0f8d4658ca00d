"""Developer sessions: tests, lint, demo, bench.

Sessions run in the current environment (install it with the README's command first): creating a
fresh virtualenv per session would reinstall torch and pyspark each time, which buys nothing here.
The one exception is ``peer``: mostlyai-engine needs versions (pandas 3, opacus 1.6, transformers)
that must not leak into hiveframe's environment, so it gets a virtualenv of its own.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (slow, Spark and browser suites included)."""
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.run("python", "-m", "ruff", "check", "hiveframe", "hiveframe_ctgan", "hiveframe_spark", "plugins",
                "tests", "benchmarks")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the bundled demo database."""
    session.run("hiveframe", "demo", "-o", "hiveframe-demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the peers (installs the benchmark-only peer packages first)."""
    session.run("python", "-m", "pip", "install", "-q", "-r", "benchmarks/requirements.txt")
    session.run("python", "-m", "benchmarks", *session.posargs)


PEER_CONSTRAINTS = "benchmarks/peer-constraints.txt"


@nox.session(venv_backend="venv")
def peer(session: nox.Session) -> None:
    """mostlyai-engine 2.7.3 on the census split, in its own virtualenv (CPU torch, pinned by constraints).

    Torch goes in first, so that the resolver keeps that build (the constraints file pins it again);
    ``nox -R -s peer`` reuses the virtualenv without reinstalling. Then ``benchmarks/peer_mostlyai.py``
    fits and samples and writes its rows to ``benchmarks/results/``.
    Score them beside hiveframe's generators with ``python -m benchmarks.bench_autoregressive
    --peer-results benchmarks/results/peer_mostlyai.json``.
    """
    session.install("-c", PEER_CONSTRAINTS, "torch==2.13.0")
    session.install("-c", PEER_CONSTRAINTS, "mostlyai-engine==2.7.3")
    # torchvision and torchaudio come from the registry built against CUDA torch: their native ops
    # fail to load beside the CPU build ("operator torchvision::nms does not exist"), and transformers
    # then fails to import. TabularARGN uses neither; without them transformers skips its image and
    # audio models.
    session.run_install("python", "-m", "pip", "uninstall", "-y", "torchvision", "torchaudio")
    session.run("python", "-c", "import torch; assert not torch.version.cuda, torch.__version__")
    session.run("python", "-m", "benchmarks.peer_mostlyai", *session.posargs)
