"""Astraea's overhead over a baseline, in the four categories practitioners ask about.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) minus a baseline (FedAvg, McMahan et al.,
AISTATS 2017, by default), per round, in setup and in total, in the categories of
:data:`~costmodel.contracts.vocabulary.CATEGORIES`.

The rule: attribute by cause
----------------------------
Every algorithm's round is ``rescheduling + broadcast + chain*(download + train + upload) + straggler
+ mediator_upload + aggregation`` (:class:`~costmodel.model.protocols.base.RoundParts`; ``chain``
visits in series on the critical path, ``passes`` of them the one client's own). Each term of it is
given to the category of what causes it (:data:`ATTRIBUTION_RULE`), for either algorithm alike:

* **training compute** ``passes*T_own``: a client's own training on its own (original) data, E_m
  passes in Astraea, one in FedAvg (``T_own`` = ``train_original``);
* **data augmentation** ``chain*(T - T_own)``: every visit on the critical path trains on the samples
  the plan added (and not on those it removed), every round: the recurring cost of augmentation;
* **communication** ``passes*(download + upload) + broadcast + mediator_upload``: a client's own
  transfers and the server's model messages;
* **coordination and synchronization** ``(chain - passes)*(download + T_own + upload) + rescheduling
  + straggler + aggregation``: the other clients' whole visits a chain waits for in series, forming
  the mediators, waiting for the slowest branch, averaging.

The overhead in a category is Astraea's minus the baseline's. The four sum exactly to the
difference of the round times (``chain*T = chain*T_own + chain*(T - T_own)`` and the visit's
transfers are split the same way as its training). Bytes are all communication: the difference of
the round bytes. Setup: all of it is data augmentation (distribution report, plan, augmenting;
bytes = the reports), plus the net ``storage_bytes`` per client. Totals: ``setup + R*round``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp

from costmodel.contracts.vocabulary import CATEGORIES, OVERHEAD_SCOPES
from costmodel.errors import InputError
from costmodel.model import blocks as b
from costmodel.model.phase_costs import round_bytes, round_parts, setup_bytes, setup_seconds
from costmodel.model.protocols import BASELINES, SUBJECT, RoundParts, check_algorithm
from costmodel.model.quantities import sym

__all__ = ["ATTRIBUTION_RULE", "OverheadCost", "attributed_round", "overhead"]


@dataclass(frozen=True)
class OverheadCost:
    """One overhead category: seconds, bytes on the wire, and extra storage bytes per client."""

    seconds: sp.Expr
    bytes: sp.Expr
    storage_bytes: sp.Expr


#: The rule, term by term: (category, the part of an algorithm's round it gets, why). Stated once; the
#: model page prints it and :func:`attributed_round` implements it.
ATTRIBUTION_RULE: tuple[tuple[str, str, str], ...] = (
    ("training_compute", "passes*T_own", "a client's own training on its own data"),
    ("data_augmentation", "chain*(T - T_own)", "every visit in series trains on the samples the plan added"),
    ("communication", "passes*(download + upload) + broadcast + mediator_upload",
     "a client's own transfers and the server's model messages"),
    ("coordination", "(chain - passes)*(download + T_own + upload) + rescheduling + straggler + aggregation",
     "the other clients' visits waited for in series, forming mediators, the slowest branch, averaging"),
)


def attributed_round(parts: RoundParts) -> dict[str, sp.Expr]:
    """One algorithm's round seconds split by :data:`ATTRIBUTION_RULE` (they sum to its round)."""
    own, others = parts.passes, parts.chain - parts.passes
    visit_transfers = parts.download + parts.upload
    return {
        "training_compute": own * parts.train_original,
        "data_augmentation": parts.chain * (parts.train - parts.train_original),
        "communication": own * visit_transfers + parts.broadcast + parts.mediator_upload,
        "coordination": (others * (visit_transfers + parts.train_original) + parts.rescheduling + parts.straggler
                         + parts.aggregation),
    }


@functools.cache
def _round_overhead(baseline: str) -> Mapping[str, OverheadCost]:
    subject, base = attributed_round(round_parts(SUBJECT)), attributed_round(round_parts(baseline))
    zero = sp.S.Zero
    extra_bytes = round_bytes(SUBJECT) - round_bytes(baseline)
    return MappingProxyType({
        category: OverheadCost(subject[category] - base[category],
                               extra_bytes if category == "communication" else zero, zero)
        for category in CATEGORIES
    })


@functools.cache
def _setup_overhead(baseline: str) -> Mapping[str, OverheadCost]:
    zero = sp.S.Zero
    costs = {category: OverheadCost(zero, zero, zero) for category in CATEGORIES}
    costs["data_augmentation"] = OverheadCost(setup_seconds(SUBJECT) - setup_seconds(baseline),
                                              setup_bytes(SUBJECT) - setup_bytes(baseline),
                                              b.storage_bytes_per_client())
    return MappingProxyType(costs)


@functools.cache
def _total_overhead(baseline: str) -> Mapping[str, OverheadCost]:
    per_round, setup = _round_overhead(baseline), _setup_overhead(baseline)
    rounds = sym("rounds")
    return MappingProxyType({
        category: OverheadCost(setup[category].seconds + rounds * per_round[category].seconds,
                               setup[category].bytes + rounds * per_round[category].bytes,
                               setup[category].storage_bytes)
        for category in CATEGORIES
    })


def overhead(scope: str = "round", baseline: str = BASELINES[0]) -> Mapping[str, OverheadCost]:
    """Astraea minus ``baseline`` in the four categories, for ``scope`` ``'round'``, ``'setup'`` or
    ``'total'``.

    The categories' seconds (and bytes) sum exactly to the difference of the two algorithms'
    seconds (bytes) of that scope (see the module docstring). ``storage_bytes`` (per client,
    ``4*n*(a - r)*V``, net) sits in ``data_augmentation`` for the setup and total scopes.
    """
    baseline = check_algorithm(baseline, label="baseline", choices=BASELINES)
    if scope == "round":
        return _round_overhead(baseline)
    if scope == "setup":
        return _setup_overhead(baseline)
    if scope == "total":
        return _total_overhead(baseline)
    raise InputError(f"'scope' must be one of {', '.join(OVERHEAD_SCOPES)} (got {scope!r}).")
