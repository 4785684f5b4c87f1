"""The papers' own cost formulas, kept as expressions to set against the model.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) states the time per round as FedAvg ``E*T``
against Astraea ``E_m*gamma*E*T`` (``T`` one local epoch; augmentation and rescheduling called
negligible), and the traffic per round as FedAvg ``2*c*|w|`` against Astraea
``2*|w|*(ceiling(c/gamma) + c)``, which lacks the ``E_m`` of the model's
``2*|w|*(ceiling(c/gamma) + E_m*c)``: every client receives and returns the model E_m times a round.
The papers compare Astraea with FedAvg only, so these exist for those two.
"""

from __future__ import annotations

import sympy as sp

from costmodel.errors import InputError
from costmodel.model import blocks as b
from costmodel.model.quantities import sym

__all__ = ["PAPER_ALGORITHMS", "paper_round_bytes", "paper_round_seconds", "paper_time_ratio"]

#: The algorithms the papers give formulas for.
PAPER_ALGORITHMS: tuple[str, ...] = ("astraea", "fedavg")


def _check(algorithm: str) -> str:
    if algorithm not in PAPER_ALGORITHMS:
        raise InputError(f"'algorithm' must be one of {', '.join(PAPER_ALGORITHMS)}, the algorithms the papers "
                         f"give formulas for (got {algorithm!r}).")
    return algorithm


def paper_round_seconds(algorithm: str) -> sp.Expr:
    """The papers' time per round: FedAvg ``E*T``, Astraea ``E_m*gamma*E*T``, with ``T`` one local
    epoch on the original data, ``T = t_train(n)/E``."""
    e = sym("local_epochs")
    epoch = b.training_seconds(sym("samples_per_client")) / e
    if _check(algorithm) == "fedavg":
        return e * epoch
    return sym("mediator_epochs") * sym("mediator_size") * e * epoch


def paper_time_ratio() -> sp.Expr:
    """The papers' Astraea/FedAvg time per round: ``E_m*gamma``."""
    return sym("mediator_epochs") * sym("mediator_size")


def paper_round_bytes(algorithm: str) -> sp.Expr:
    """The papers' traffic per round: FedAvg ``2*c*|w|``; Astraea ``2*|w|*(ceiling(c/gamma) + c)``
    (no E_m, although every client receives and returns the model E_m times per round)."""
    w = b.model_message_bytes()
    c = sym("clients_per_round")
    if _check(algorithm) == "fedavg":
        return 2 * c * w
    return 2 * w * (b.mediators() + c)
