"""Astraea's overhead over a baseline, in the four categories practitioners ask about.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) minus a baseline (FedAvg, McMahan et al.,
AISTATS 2017, by default), per round, in setup and in total, in the categories of
:data:`~costmodel.contracts.vocabulary.CATEGORIES`. Per round, with the two algorithms' round parts
(:class:`~costmodel.model.protocols.base.RoundParts`) ``a`` and ``f``:

* ``training_compute = a.passes*a.train - f.passes*f.train``: the device compute one client adds
  (Astraea: E_m passes over the augmented data instead of one pass over the original data);
* ``coordination = (a.chain - a.passes)*a.train - (f.chain - f.passes)*f.train`` (the other clients'
  visits a chain waits for: ``(g - 1)*E_m*T_A``) ``+ a.rescheduling - f.rescheduling`` ``+ a.straggler
  - f.straggler`` (slowest mediator against slowest client) ``+ a.aggregation - f.aggregation``;
* ``communication = (a.broadcast + a.chain*(a.download + a.upload) + a.mediator_upload) - (the same of
  f)``; bytes: the difference of the round bytes;
* ``data_augmentation = 0`` per round; in setup it is all of the setup difference (report, plan,
  augmentation), bytes are the reports ``N*(h + 8*K)``, plus ``storage_bytes`` per client.

The categories sum exactly to the difference of the round times (and of the setup and total ones):
``round = rescheduling + broadcast + chain*(download + train + upload) + straggler + mediator_upload
+ aggregation`` for either algorithm. Totals: ``setup + R*round``.
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
from costmodel.model.protocols import BASELINES, SUBJECT, check_algorithm
from costmodel.model.quantities import sym

__all__ = ["OverheadCost", "overhead"]


@dataclass(frozen=True)
class OverheadCost:
    """One overhead category: seconds, bytes on the wire, and extra storage bytes per client."""

    seconds: sp.Expr
    bytes: sp.Expr
    storage_bytes: sp.Expr


@functools.cache
def _round_overhead(baseline: str) -> Mapping[str, OverheadCost]:
    a, f = round_parts(SUBJECT), round_parts(baseline)
    zero = sp.S.Zero
    training = a.passes * a.train - f.passes * f.train
    coordination = ((a.chain - a.passes) * a.train - (f.chain - f.passes) * f.train
                    + (a.rescheduling - f.rescheduling) + (a.straggler - f.straggler)
                    + (a.aggregation - f.aggregation))
    communication = ((a.broadcast + a.chain * (a.download + a.upload) + a.mediator_upload)
                     - (f.broadcast + f.chain * (f.download + f.upload) + f.mediator_upload))
    return MappingProxyType({
        "training_compute": OverheadCost(training, zero, zero),
        "data_augmentation": OverheadCost(zero, zero, zero),
        "communication": OverheadCost(communication, round_bytes(SUBJECT) - round_bytes(baseline), zero),
        "coordination": OverheadCost(coordination, zero, zero),
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
    ``4*n*a*V``) sits in ``data_augmentation`` for the setup and total scopes.
    """
    baseline = check_algorithm(baseline, label="baseline", choices=BASELINES)
    if scope == "round":
        return _round_overhead(baseline)
    if scope == "setup":
        return _setup_overhead(baseline)
    if scope == "total":
        return _total_overhead(baseline)
    raise InputError(f"'scope' must be one of {', '.join(OVERHEAD_SCOPES)} (got {scope!r}).")
