"""Where differential-privacy mechanisms draw their randomness: a secret source, never the user's seed.

A DP guarantee holds only while the noise is unknown to whoever holds the output. If the noise were
drawn from the run's ``seed`` (which a model stores so that sampling is reproducible), anyone with the
model could replay the draws and subtract them, recovering the exact statistics. So every random draw
of a DP mechanism (Gaussian releases, noisy thresholds, Poisson sampling, DP-SGD noise) comes from a
:class:`NoiseSource`: by default fresh operating-system entropy, never derived from ``seed`` and never
saved. ``seed`` keeps governing every non-private draw.

:meth:`NoiseSource.fixed` exists for tests only (a neighbouring-dataset test needs the same noise in
two fits); it is marked ``secret=False`` and a model fitted with it records that it is not private.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np


class NoiseSource:
    """Hands out independent random generators for DP mechanisms.

    Each call to :meth:`numpy` or :meth:`torch` returns a generator seeded by a fresh child of one root
    entropy, so two mechanisms never share a stream. The root entropy lives only in memory.
    """

    def __init__(self, entropy: int | None = None, *, secret: bool = True) -> None:
        self._root = np.random.SeedSequence(entropy)  # entropy None: 128 bits from the OS
        self.secret = secret

    @classmethod
    def fixed(cls, entropy: int) -> NoiseSource:
        """A replayable source, for tests that need identical noise in two fits. Not private."""
        return cls(int(entropy), secret=False)

    def numpy(self) -> np.random.Generator:
        """A new numpy generator on a stream of its own."""
        return np.random.default_rng(self._root.spawn(1)[0])

    def torch(self, device: Any = "cpu") -> Any:
        """A new torch generator on ``device``, seeded from a stream of its own."""
        import torch

        child = self._root.spawn(1)[0]
        seed = int.from_bytes(child.generate_state(2, dtype=np.uint32).tobytes(), "little") >> 1  # 63 bits
        gen = torch.Generator(device=device)
        gen.manual_seed(seed)
        return gen

    def describe(self) -> str:
        """What a manifest records about the source (never its entropy)."""
        return "secret (OS entropy, not saved)" if self.secret else "FIXED (test only: the noise is replayable)"


def secret_token(nbytes: int = 16) -> bytes:
    """A secret salt or key for non-DP privacy uses (hash salts, fake-value pools); never saved."""
    return secrets.token_bytes(nbytes)
