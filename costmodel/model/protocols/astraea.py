"""Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021): the algorithm whose overhead is priced.

Setup, once: every client reports its label histogram (``N`` reports of ``h + 8*K`` bytes, at once
over the shared server link), the server plans the augmentation (``t_plan0 + t_plan*K``), and every
client augments its own data in parallel (the slowest of N bounds it). With the plan ``'none'``
(``plans_augmentation = 0``) the last two do not happen.

Per round: rescheduling forms ``M = ceiling(c/gamma)`` mediators over the round's c clients; the
server sends the model to each mediator (a server-side message, no link); each mediator passes the
model through its ``g = Min(gamma, c)`` clients one after another, ``E_m`` times (the chain: each
visit a download, ``E`` local epochs on ``n*(1 + a - r)`` samples and an upload, over the server
link shared by the M mediators transferring at once); the mediators return their models and the
server averages M of them. The round waits for the slowest mediator: its chain is ``E_m*g`` visits
whose size spread adds up over ``g`` clients (spread ``kappa``) and whose jitter over ``E_m*g``
visits (:mod:`costmodel.model`).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from costmodel.model import blocks as b
from costmodel.model.events import statement
from costmodel.model.order_statistic import BlomZ
from costmodel.model.protocols.base import AlgorithmCost, PhaseCost, RoundParts
from costmodel.model.quantities import sym

__all__ = ["COST"]


def _parts() -> RoundParts:
    m, g = b.mediators(), b.mediator_clients()
    e_m = sym("mediator_epochs")
    w = b.model_message_bytes()
    in_server = b.transfer_seconds(w, sp.oo)
    samples, spread = b.effective_samples(), b.effective_samples_sd()
    train = b.training_seconds(samples, spread)
    slope = b.training_seconds_per_sample()
    return RoundParts(
        download=b.transfer_seconds(w, b.shared_bandwidth(sym("downlink_bits_per_s"), m)),
        upload=b.transfer_seconds(w, b.shared_bandwidth(sym("uplink_bits_per_s"), m), upload=True),
        chain=e_m * g,
        passes=e_m,
        train=train,
        train_original=b.training_seconds(sym("samples_per_client"), sym("samples_per_client_sd")),
        straggler=(e_m * sp.sqrt(g) * slope * spread * sym("mediator_load_spread")
                   + sp.sqrt(e_m * g) * sym("train_time_cv") * train) * BlomZ(m),
        rescheduling=b.rescheduling_seconds(),
        broadcast=in_server,
        mediator_upload=in_server,
        aggregation=b.aggregation_seconds(m),
        visits=e_m * sym("clients_per_round"), samples=samples, mediators=m,
    )


def _setup() -> Mapping[str, PhaseCost]:
    n_total, report = sym("clients_total"), b.report_message_bytes()
    planned = sym("plans_augmentation")      # 0: plan 'none', no plan and no augmentation step
    zero = sp.S.Zero
    return {
        "distribution_report": PhaseCost(
            b.transfer_seconds(report, b.shared_bandwidth(sym("uplink_bits_per_s"), n_total)), n_total * report, zero),
        "augmentation_plan": PhaseCost(planned * statement("augmentation_plan").at(num_classes=sym("classes")),
                                       zero, zero),
        "augmentation": PhaseCost(planned * b.augmentation_seconds(), zero, zero),
    }


COST = AlgorithmCost(name="astraea", title="Astraea", citation="Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021",
                     role="subject", parts=_parts, setup=_setup, color="#D55E00", marker="o")
