"""What a saved model holds, for checks that no real value sits in it; shared by the PII leak tests
and ``benchmarks/bench_pii.py``.

- :func:`model_bytes`: every file of a model folder, concatenated (search it for a value's bytes).
- :func:`model_strings`: every string (keys and values) of the model's JSON files, for values that
  may legitimately appear inside a longer string but never as a whole one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["model_bytes", "model_strings"]


def model_bytes(model: Path) -> bytes:
    """The bytes of every file below ``model``, in a stable order."""
    return b"\n".join(p.read_bytes() for p in sorted(model.rglob("*")) if p.is_file())


def model_strings(model: Path) -> set[str]:
    """Every string, dictionary keys included, in the JSON files below ``model``."""
    out: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, str):
            out.add(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(k)
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    for path in model.rglob("*.json"):
        walk(json.loads(path.read_text()))
    return out
