"""Developer sessions: tests, lint, demo, bench.

Sessions run in the current environment (install it with the README's command first): creating a
fresh virtualenv per session would reinstall torch and pyspark each time, which buys nothing here.
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
