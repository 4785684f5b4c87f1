"""FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020): a second baseline.

FedAvg's order of events (:mod:`reference_impl.protocols.fedavg`: the c clients train in parallel from
the global model and the server averages them by sample counts) with a proximal term
``mu/2*||w - w_t||^2`` in every local step's loss, ``w_t`` the round's global model, the weights each
visit starts from (:func:`reference_impl.engine.training.train_local`). ``RunConfig.mu`` is the
coefficient (> 0). :data:`PROTOCOL` registers it (:mod:`reference_impl.protocols`).
"""

from __future__ import annotations

import dataclasses

from reference_impl.protocols.fedavg import PROTOCOL as FEDAVG
from reference_impl.protocols.protocol import Protocol

__all__ = ["PROTOCOL"]

#: FedProx in the registry: FedAvg's rounds, with a proximal term in every local step.
PROTOCOL: Protocol = dataclasses.replace(FEDAVG, name="fedprox", title="FedProx", proximal=True)
