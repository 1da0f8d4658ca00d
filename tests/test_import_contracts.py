"""The import contracts in pyproject's [tool.importlinter] hold, and they do catch a broken layering.

The kernel imports no plugin, plugins do not import each other, and nobody imports another package's
private (underscore) modules. `lint-imports` runs on this checkout's sources (not whatever copy is
installed), so the README's test command, and with it .ci/run, enforces the contracts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: import-linter itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def lint_imports(cwd: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_every_import_contract_is_kept():
    done = lint_imports(ROOT, ROOT, ROOT / "plugins")
    assert "No module named 'importlinter'" not in done.stderr, "install the dev extra: pip install -e '.[dev]'"
    assert done.returncode == 0, done.stdout + done.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout, done.stdout


def test_the_contracts_catch_each_kind_of_violation(tmp_path):
    """The same contracts over a small tree that breaks each rule once: all three are reported broken."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    files = {package: "" for package in config["root_packages"]}
    files["hiveframe/_builtin/copula"] = ""
    files["hiveframe/cli"] = "import hiveframe_spark.sampling\n"  # the kernel imports a plugin
    files["hiveframe_spark/sampling"] = "import hiveframe_ctgan\n"  # a plugin imports another plugin
    files["hiveframe_ctgan/generators"] = "from hiveframe._builtin import copula\n"  # a private module
    for name, body in files.items():
        package = tmp_path / name.split("/")[0]
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
        if "/" in name:
            module = tmp_path / f"{name}.py"
            module.parent.mkdir(parents=True, exist_ok=True)
            (module.parent / "__init__.py").touch()
            module.write_text(body)
    lines = ["[tool.importlinter]", f"root_packages = {config['root_packages']!r}".replace("'", '"')]
    for contract in config["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {value!r}".replace("'", '"') for key, value in contract.items()]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    done = lint_imports(tmp_path, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Contracts: 0 kept, {len(config['contracts'])} broken." in done.stdout, done.stdout
    assert "hiveframe.cli -> hiveframe_spark.sampling" in done.stdout
    assert "hiveframe_ctgan.generators -> hiveframe._builtin" in done.stdout
