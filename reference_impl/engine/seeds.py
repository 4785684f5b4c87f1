"""The random streams of a run, each derived from its seed: client selection and the augmentation draws.

Both engines and the workload planning (:mod:`reference_impl.workload`) draw from these, so a run and
its plan agree on which clients a round selects and on every client's augmentation draw.
"""

from __future__ import annotations

import numpy as np

from reference_impl.config import RunConfig

__all__ = ["augmentation_rng", "derive_seed", "selected_clients"]


def derive_seed(*parts: int) -> int:
    """A 32-bit seed for the stream named by ``parts`` (``numpy.random.SeedSequence`` of them)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def selected_clients(config: RunConfig, round_index: int) -> np.ndarray:
    """The c clients of a round: uniformly at random without replacement, the same for every algorithm."""
    rng = np.random.default_rng(derive_seed(config.seed, round_index, 0xC1))
    return np.sort(rng.choice(config.clients, size=config.clients_per_round, replace=False))


def augmentation_rng(config: RunConfig, client: int) -> np.random.Generator:
    """The generator of client ``client``'s draw of the augmentation plan (seeded by seed and client alone)."""
    return np.random.default_rng(derive_seed(config.seed, client, 0xA6))
