"""Fake installed distributions: test plugin discovery through ``importlib.metadata`` for real.

A :class:`FakeDistribution` writes a ``<name>-<version>.dist-info`` folder (``METADATA`` and
``entry_points.txt``) and, optionally, the plugin's modules into a fresh temporary folder, and puts that
folder on ``sys.path``. ``importlib.metadata.entry_points(group="hiveframe")`` then lists the entry
points exactly as for a package installed with pip, so the test goes through the same code path a
user's plugin does. Leaving the ``with`` block (or calling :meth:`uninstall`) removes the folder, the
``sys.path`` entry and the modules it wrote from ``sys.modules``, so nothing leaks into the next test.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["FakeDistribution", "fake_distribution"]


class FakeDistribution:
    """A distribution that ``importlib.metadata`` believes is installed, while it is active.

    ``entry_points`` maps entry point names to their values (``"my_pkg.plugin"`` or
    ``"my_pkg.plugin:PLUGIN"``) in ``group``. ``modules`` maps dotted module names to their source
    text; parent packages get an empty ``__init__.py`` unless given. ``requires`` lists
    ``Requires-Dist`` strings (``'torch>=2; extra == "gpu"'``), which the plugin host reads to tell a
    user which extra to install when an import fails.
    """

    def __init__(
        self,
        name: str,
        entry_points: Mapping[str, str],
        *,
        version: str = "0.0.1",
        modules: Mapping[str, str] | None = None,
        requires: Iterable[str] = (),
        group: str = "hiveframe",
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"not a valid distribution name: {name!r}")
        self.name = name
        self.version = version
        self.entry_points = dict(entry_points)
        self.modules = dict(modules or {})
        self.requires = list(requires)
        self.group = group
        self.root: Path | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def install(self) -> FakeDistribution:
        if self.root is not None:
            raise RuntimeError(f"fake distribution {self.name!r} is already installed")
        root = Path(tempfile.mkdtemp(prefix=f"hiveframe-fake-{self.name}-"))
        self.root = root
        self._write_dist_info(root)
        self._write_modules(root)
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        return self

    def uninstall(self) -> None:
        root, self.root = self.root, None
        if root is None:
            return
        while str(root) in sys.path:
            sys.path.remove(str(root))
        tops = {m.split(".")[0] for m in self.modules}
        for mod_name in list(sys.modules):
            if mod_name.split(".")[0] in tops:
                del sys.modules[mod_name]
        shutil.rmtree(root, ignore_errors=True)
        importlib.invalidate_caches()

    def __enter__(self) -> FakeDistribution:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- views -----------------------------------------------------------------------------------
    @property
    def distribution(self) -> importlib.metadata.Distribution:
        """The distribution as ``importlib.metadata`` sees it."""
        if self.root is None:
            raise RuntimeError(f"fake distribution {self.name!r} is not installed")
        return importlib.metadata.Distribution.at(self._dist_info(self.root))

    # -- writing ---------------------------------------------------------------------------------
    def _dist_info(self, root: Path) -> Path:
        return root / f"{re.sub(r'[-.]+', '_', self.name)}-{self.version}.dist-info"

    def _write_dist_info(self, root: Path) -> None:
        info = self._dist_info(root)
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        extras: list[str] = []
        for req in self.requires:
            lines.append(f"Requires-Dist: {req}")
            found = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", req)
            if found and found.group(1) not in extras:
                extras.append(found.group(1))
        lines += [f"Provides-Extra: {e}" for e in extras]
        (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        eps = [f"[{self.group}]"] + [f"{k} = {v}" for k, v in self.entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(eps) + "\n", encoding="utf-8")
        (info / "top_level.txt").write_text(
            "\n".join(sorted({m.split(".")[0] for m in self.modules})) + "\n", encoding="utf-8")

    def _write_modules(self, root: Path) -> None:
        packages = {m.rsplit(".", 1)[0] for m in self.modules if "." in m}
        for pkg in list(packages):  # every ancestor is a package too
            parts = pkg.split(".")
            packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
        for dotted in sorted(packages | set(self.modules)):
            if not all(part.isidentifier() for part in dotted.split(".")):
                raise ValueError(f"not a valid module name: {dotted!r}")
            source = textwrap.dedent(self.modules.get(dotted, ""))
            rel = Path(*dotted.split("."))
            path = root / rel / "__init__.py" if dotted in packages else root / rel.with_suffix(".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")


#: The same class under a function-like name (as the pytest fixture is called); not yet installed, so
#: use it as a context manager:
#:
#: >>> with fake_distribution("my-plugin", {"my_gen": "my_plugin"}, modules={"my_plugin": SOURCE}):
#: ...     host = PluginHost()   # discovers plugin "my_gen" through importlib.metadata
fake_distribution = FakeDistribution
