"""FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020), a second baseline.

FedAvg's round (:func:`~costmodel.model.protocols.fedavg.parallel_round`) with a proximal term
``mu/2*||w - w_t||^2`` in every local step's loss, ``w_t`` the round's global model: its gradient
``mu*(w - w_t)`` is added to every parameter's gradient at every optimizer step, so a step costs
``P*t_prox`` more (the local-training statement's proximal term, :mod:`costmodel.model.events`). The
cost does not depend on ``mu``'s value, only on the term being there. Bytes are FedAvg's.
"""

from __future__ import annotations

import functools

from costmodel.model.protocols.base import AlgorithmCost
from costmodel.model.protocols.fedavg import parallel_round

__all__ = ["COST"]

COST = AlgorithmCost(name="fedprox", title="FedProx", citation="Li et al., MLSys 2020", role="baseline",
                     parts=functools.partial(parallel_round, proximal=True), setup=dict, color="#009E73",
                     marker="^")
