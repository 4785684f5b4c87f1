"""Every phase's cost per algorithm, composed along its protocol, and the round, setup and totals.

The phases of the vocabulary (:mod:`costmodel.contracts.vocabulary`) are priced for every registered
algorithm (:mod:`costmodel.model.protocols`) from its :class:`~costmodel.model.protocols.base.RoundParts`
and setup, in one place. Each phase's ``seconds`` is its share of the critical path, so the round
phases add up to the round time; ``bytes`` are all of the phase's messages in one round (or in the
setup); ``flops`` are training FLOPs. Phases an algorithm does not have cost zero.

* rescheduling, model_broadcast, mediator_upload, aggregation: the parts as they are;
* client_download, client_upload: ``chain*download`` (``chain*upload``) seconds, ``visits*W`` bytes;
* local_training: ``chain*train + straggler`` seconds, ``visits*E*samples*F`` FLOPs;
* model_broadcast and mediator_upload bytes: ``mediators*W`` each.

Totals: ``setup + R*round``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import sympy as sp

from costmodel.contracts.vocabulary import MODEL_PHASES, PHASE_SCOPE
from costmodel.model import blocks as b
from costmodel.model.protocols import PhaseCost, RoundParts, algorithm_cost, check_algorithm
from costmodel.model.quantities import sym

__all__ = [
    "communication_seconds",
    "compute_seconds",
    "phase_costs",
    "round_bytes",
    "round_parts",
    "round_seconds",
    "setup_bytes",
    "setup_seconds",
    "total_bytes",
    "total_seconds",
]

#: Transfer phases and compute phases of a round (their seconds add up to the round time).
_TRANSFER_PHASES = ("model_broadcast", "client_download", "client_upload", "mediator_upload")
_COMPUTE_PHASES = ("rescheduling", "local_training", "aggregation")


@functools.cache
def round_parts(algorithm: str) -> RoundParts:
    """The pieces of ``algorithm``'s round (:class:`~costmodel.model.protocols.base.RoundParts`)."""
    return algorithm_cost(algorithm).parts()


@functools.cache
def _phase_costs(algorithm: str) -> Mapping[str, PhaseCost]:
    parts = round_parts(algorithm)
    w = b.model_message_bytes()
    zero = sp.S.Zero
    costs = {phase: PhaseCost(zero, zero, zero) for phase in MODEL_PHASES}
    costs.update(algorithm_cost(algorithm).setup())
    costs.update({
        "rescheduling": PhaseCost(parts.rescheduling, zero, zero),
        "model_broadcast": PhaseCost(parts.broadcast, parts.mediators * w, zero),
        "client_download": PhaseCost(parts.chain * parts.download, parts.visits * w, zero),
        "local_training": PhaseCost(parts.chain * parts.train + parts.straggler, zero,
                                    parts.visits * sym("local_epochs") * parts.samples * sym("train_flops_per_sample")),
        "client_upload": PhaseCost(parts.chain * parts.upload, parts.visits * w, zero),
        "mediator_upload": PhaseCost(parts.mediator_upload, parts.mediators * w, zero),
        "aggregation": PhaseCost(parts.aggregation, zero, zero),
    })
    return MappingProxyType({phase: costs[phase] for phase in MODEL_PHASES})


def phase_costs(algorithm: str) -> Mapping[str, PhaseCost]:
    """Every phase of :data:`~costmodel.contracts.vocabulary.MODEL_PHASES` for ``algorithm``.

    Setup phases are paid once (:data:`~costmodel.contracts.vocabulary.PHASE_SCOPE`); round phases
    every round. See the module docstring for how each is composed.
    """
    return _phase_costs(check_algorithm(algorithm))


def _sum_phases(algorithm: str, scope: str, what: str) -> sp.Expr:
    costs = phase_costs(algorithm)
    return sp.Add(*(getattr(costs[phase], what) for phase in MODEL_PHASES if PHASE_SCOPE[phase] == scope))


@functools.cache
def round_seconds(algorithm: str) -> sp.Expr:
    """Round time: the sum of the round phases' critical-path seconds."""
    return _sum_phases(check_algorithm(algorithm), "round", "seconds")


@functools.cache
def round_bytes(algorithm: str) -> sp.Expr:
    """Bytes on the wire per round: FedAvg ``2*c*W``; Astraea ``2*W*(M + E_m*c)``."""
    return _sum_phases(check_algorithm(algorithm), "round", "bytes")


@functools.cache
def setup_seconds(algorithm: str) -> sp.Expr:
    """Setup time (once): Astraea's distribution report + augmentation plan + augmentation; 0 for
    an algorithm without setup."""
    return _sum_phases(check_algorithm(algorithm), "setup", "seconds")


@functools.cache
def setup_bytes(algorithm: str) -> sp.Expr:
    """Setup bytes: Astraea's N histogram reports ``N*(h + 8*K)``; 0 without setup."""
    return _sum_phases(check_algorithm(algorithm), "setup", "bytes")


def total_seconds(algorithm: str) -> sp.Expr:
    """``setup_seconds + R*round_seconds``."""
    return setup_seconds(algorithm) + sym("rounds") * round_seconds(algorithm)


def total_bytes(algorithm: str) -> sp.Expr:
    """``setup_bytes + R*round_bytes``."""
    return setup_bytes(algorithm) + sym("rounds") * round_bytes(algorithm)


@functools.cache
def communication_seconds(algorithm: str) -> sp.Expr:
    """Round time spent in transfer phases on the critical path (broadcast, downloads, uploads,
    mediator upload)."""
    costs = phase_costs(algorithm)
    return sp.Add(*(costs[p].seconds for p in _TRANSFER_PHASES))


@functools.cache
def compute_seconds(algorithm: str) -> sp.Expr:
    """Round time spent computing on the critical path (rescheduling, local training,
    aggregation): ``round_seconds - communication_seconds``."""
    costs = phase_costs(algorithm)
    return sp.Add(*(costs[p].seconds for p in _COMPUTE_PHASES))
