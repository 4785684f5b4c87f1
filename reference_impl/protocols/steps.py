"""What a protocol hands an engine, and the operations it may call on one.

A protocol (:mod:`reference_impl.protocols.astraea`, :mod:`~reference_impl.protocols.fedavg`) states
the order of events of one algorithm. What runs in parallel on real devices it hands over as
:class:`Branch` es: a chain of steps that pass the model along, each a :class:`Hop` (a transfer that
stays on the server, to or from a virtual mediator) or a :class:`Visit` (a client downloads the model,
trains and uploads it). An engine runs the branches and measures each step as :class:`Event` s, which
it places on the virtual clock. The engine's side of the contract is :class:`ProtocolEngine`: the
in-process :class:`~reference_impl.engine.in_process.Engine` and the distributed server
(:mod:`reference_impl.distributed.server`) both provide it. This module imports neither, so protocols
depend on no engine and the engine finds protocols through the registry
(:mod:`reference_impl.protocols`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import typing
from typing import Any

import numpy as np

from reference_impl.config import RunConfig
from reference_impl.protocols.augmentation_plans import AugmentationPlan

__all__ = ["Branch", "Event", "Hop", "ProtocolEngine", "Visit"]


@dataclass(frozen=True)
class Event:
    """One measured event of a branch, not yet placed on the clock (a trace row without round and start)."""

    phase: str
    entity: str
    duration_s: float
    bytes: int = 0
    flops: float = 0.0
    samples: int = 0
    steps: int = 0


@dataclass(frozen=True)
class Hop:
    """A model transfer that stays on the server: to or from a (virtual) mediator (``phase`` and ``entity``)."""

    phase: str
    entity: str


@dataclass(frozen=True)
class Visit:
    """Client ``client`` downloads the model, trains ``E`` local epochs and uploads it (its ``visit``-th visit)."""

    client: int
    visit: int = 0


@dataclass(frozen=True, kw_only=True)
class Branch:
    """Steps that pass the model along one after another, starting from the global model.

    The branches of a round run in parallel on real devices and all start at the round's dispatch
    time; ``name`` ("mediator 3", "client 17") names the branch in error messages.
    """

    name: str
    steps: tuple[Hop | Visit, ...]


class ProtocolEngine(typing.Protocol):
    """The operations and state a protocol uses; each records or returns measured durations.

    ``recorder`` is the run's :class:`~reference_impl.engine.trace.TraceRecorder` and ``clock`` the
    run's timer (seconds). Protocols may also keep their own per-run state on the engine (Astraea's
    plan and sample counts, read back by its ``setup_summary``).
    """

    config: RunConfig
    recorder: Any
    clock: Callable[[], float]

    def histograms(self, clients: Sequence[int]) -> np.ndarray:
        """Label histograms (clients x K) of the clients' current data."""

    def select_clients(self, round_index: int) -> np.ndarray:
        """The c clients of a round."""

    def report(self, clients: Sequence[int]) -> list[tuple[float, int, np.ndarray]]:
        """Each client sends its label histogram; per client (duration, bytes, counts received)."""

    def augment(self, clients: Sequence[int], *, plan: AugmentationPlan,
                class_sizes: np.ndarray) -> list[tuple[float, int, int]]:
        """Every client applies ``plan``; per client (duration, samples augmented, samples removed)."""

    def run_branches(self, branches: Sequence[Branch], *, round: int, start_s: float) -> tuple[list[Any], list[float]]:
        """Run the parallel ``branches`` from the global model; return their final models and end times."""

    def aggregate(self, vectors: Sequence[Any], weights: Sequence[float], *, round: int, start_s: float) -> float:
        """Average ``vectors`` into the global model; return the end time."""
