"""What an algorithm's cost module declares: the pieces of its round and the cost of its setup.

An algorithm of the cost model (Astraea, Duan et al., ICCD 2019 and IEEE TPDS 32(1), 2021; FedAvg,
McMahan et al., AISTATS 2017; ...) is one module of :mod:`costmodel.model.protocols` that builds an
:class:`AlgorithmCost` from the building blocks (:mod:`costmodel.model.blocks`). Every phase cost,
total and overhead category is composed from these pieces in one place
(:mod:`costmodel.model.phase_costs`, :mod:`costmodel.model.overhead`), so an algorithm states only
what differs: how its clients are reached and in what order, how many models it averages, and what
it does before the first round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp

__all__ = ["ROLES", "AlgorithmCost", "PhaseCost", "RoundParts"]

#: ``subject``: the algorithm whose overhead the tool reports (Astraea); ``baseline``: what it is
#: compared against.
ROLES: tuple[str, ...] = ("subject", "baseline")


@dataclass(frozen=True)
class PhaseCost:
    """The cost of one phase: critical-path seconds, bytes on the wire, FLOPs (sympy expressions)."""

    seconds: sp.Expr
    bytes: sp.Expr
    flops: sp.Expr


@dataclass(frozen=True, kw_only=True)
class RoundParts:
    """The pieces one round is built from, for the phases and the overhead categories alike.

    Attributes
    ----------
    download, upload : sympy.Expr
        One client download and upload on the critical path (seconds).
    chain : sympy.Expr
        Client visits in series on the critical path (1 for parallel clients, ``E_m*g`` in a chain).
    passes : sympy.Expr
        Of those, the visits one client makes (1 for FedAvg, ``E_m`` for Astraea); the others are
        other clients' visits waited for in series (coordination, not the device's own compute).
    train : sympy.Expr
        One visit's training seconds at the mean sample count it trains on.
    train_original : sympy.Expr
        The same visit on the client's original data only (what it would train on without an
        augmentation plan); ``chain*(train - train_original)`` is the recurring cost of augmentation.
    straggler : sympy.Expr
        Order-statistic excess of the slowest branch (client or chain) over the mean one (seconds).
    rescheduling, broadcast, mediator_upload, aggregation : sympy.Expr
        Seconds of those phases (0 where the algorithm has none).
    visits : sympy.Expr
        Client visits per round, over all branches (each a download, a training and an upload).
    samples : sympy.Expr
        Samples one visit trains on per local epoch.
    mediators : sympy.Expr
        Server-side model messages each way (the mediators of Astraea; 0 for FedAvg).
    """

    download: sp.Expr
    upload: sp.Expr
    chain: sp.Expr
    passes: sp.Expr
    train: sp.Expr
    train_original: sp.Expr
    straggler: sp.Expr
    rescheduling: sp.Expr
    broadcast: sp.Expr
    mediator_upload: sp.Expr
    aggregation: sp.Expr
    visits: sp.Expr
    samples: sp.Expr
    mediators: sp.Expr


@dataclass(frozen=True, kw_only=True)
class AlgorithmCost:
    """One algorithm of the cost model.

    Attributes
    ----------
    name : str
        Project-wide name (trace column ``algorithm``, ``--algorithm``), e.g. ``"fedavg"``.
    title : str
        For tables and figures, e.g. ``"FedAvg"``.
    citation : str
        Where the algorithm is defined.
    role : str
        One of :data:`ROLES`.
    parts : callable
        Returns the :class:`RoundParts` of one round (called once, cached by the registry).
    setup : callable
        Returns the setup phases it has, ``{phase: PhaseCost}`` (empty: no setup).
    color, marker : str
        Its style in figures.
    """

    name: str
    title: str
    citation: str
    role: str
    parts: Callable[[], RoundParts]
    setup: Callable[[], Mapping[str, PhaseCost]]
    color: str
    marker: str
