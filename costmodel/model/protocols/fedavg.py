"""FedAvg (McMahan et al., AISTATS 2017), the baseline: c clients train E epochs in parallel.

Per round the server sends the global model to the c selected clients, each downloads it, trains
``E`` local epochs on its ``n`` samples and uploads it, all at once over the shared server link
(``k = c`` concurrent transfers), and the server averages the c models. The round waits for the
slowest client: ``mean + (s*s_n*kappa_c + cv_t*t_train(n))*z_c`` (its size spread, skewed by
``kappa_c``, and the jitter of equal visits; :mod:`costmodel.model`). FedAvg has no setup.
"""

from __future__ import annotations

import sympy as sp

from costmodel.model import blocks as b
from costmodel.model.order_statistic import BlomZ
from costmodel.model.protocols.base import AlgorithmCost, RoundParts
from costmodel.model.quantities import sym

__all__ = ["COST", "parallel_round"]


def parallel_round(*, proximal: bool = False) -> RoundParts:
    """The round of c clients training in parallel on their ``n`` samples (FedAvg; with a
    ``proximal`` term in every local step, FedProx)."""
    c, n, s_n = sym("clients_per_round"), sym("samples_per_client"), sym("samples_per_client_sd")
    train = b.training_seconds(n, s_n, proximal=proximal)
    w = b.model_message_bytes()
    slope = b.training_seconds_per_sample(proximal=proximal)
    zero = sp.S.Zero
    return RoundParts(
        download=b.transfer_seconds(w, b.shared_bandwidth(sym("downlink_bits_per_s"), c)),
        upload=b.transfer_seconds(w, b.shared_bandwidth(sym("uplink_bits_per_s"), c), upload=True),
        chain=sp.S.One,
        passes=sp.S.One,
        train=train,
        train_original=train,
        straggler=(slope * s_n * sym("client_load_spread") + sym("train_time_cv") * train) * BlomZ(c),
        rescheduling=zero, broadcast=zero, mediator_upload=zero,
        aggregation=b.aggregation_seconds(c),
        visits=c, samples=n, mediators=zero,
    )


COST = AlgorithmCost(name="fedavg", title="FedAvg", citation="McMahan et al., AISTATS 2017", role="baseline",
                     parts=parallel_round, setup=dict, color="#0072B2", marker="s")
