"""Every benchmark runs as ``python -m benchmarks.<name>``: its ``__main__`` guard must come last."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# every module but the package file and the helpers the benchmarks share
MODULES = sorted(p for p in BENCHMARKS.glob("*.py") if p.name not in ("__init__.py", "common.py", "census_split.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_main_guard_is_the_last_statement(path):
    """bench_privacy once defined a helper of main() below its guard: the run finished its work and
    then died with a NameError before writing its results."""
    body = ast.parse(path.read_text()).body
    guards = [i for i, node in enumerate(body) if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    assert guards == [len(body) - 1], f"{path.name}: the `if __name__ == '__main__'` block must be last"
