"""FedAvg (McMahan et al., AISTATS 2017), the baseline: its order of events, for either engine.

Per round the server sends the global model to the c selected clients, each trains E local epochs in
parallel and returns its model, and the server averages the models weighted by the clients' sample
counts. Each client's download-train-upload is one :class:`~reference_impl.protocols.steps.Branch`: on the
virtual clock all clients start when the round starts, and the server aggregates when the slowest
client's upload has arrived. FedAvg has no setup phase, augments nothing and forms no groups.
:data:`PROTOCOL` registers it (:mod:`reference_impl.protocols`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl.config import RunConfig
from reference_impl.protocols.protocol import Protocol
from reference_impl.protocols.rescheduling import kl_to_uniform
from reference_impl.protocols.steps import Branch, ProtocolEngine, Visit

__all__ = ["PROTOCOL", "plan_augmentation", "plan_groups", "run_round", "setup", "setup_summary"]


def setup(engine: ProtocolEngine) -> float:
    """FedAvg needs no setup: the virtual clock starts its first round at 0 s."""
    return 0.0


def setup_summary(engine: ProtocolEngine) -> dict[str, Any]:
    """Nothing to add: FedAvg has no setup."""
    return {}


def plan_augmentation(config: RunConfig, class_sizes: np.ndarray) -> None:
    """FedAvg augments nothing."""
    return None


def plan_groups(config: RunConfig, histograms: np.ndarray) -> tuple[np.ndarray, ...]:
    """FedAvg's clients train on their own: no groups."""
    return ()


def run_round(engine: ProtocolEngine, *, round: int, start_s: float) -> tuple[float, float, float]:
    """One synchronization round; return (end time, mean KL of clients, mean KL of training groups)."""
    selected = engine.select_clients(round)
    histograms = engine.histograms(selected)
    branches = [Branch(name=f"client {k}", steps=(Visit(int(k)),)) for k in selected]
    vectors, ends = engine.run_branches(branches, round=round, start_s=start_s)
    weights = [float(h.sum()) for h in histograms]  # the clients' samples
    end_s = engine.aggregate(vectors, weights, round=round, start_s=max(ends))
    kl = float(np.mean(kl_to_uniform(histograms)))
    return end_s, kl, kl


#: FedAvg in the registry (:mod:`reference_impl.protocols`).
PROTOCOL = Protocol(name="fedavg", title="FedAvg", setup=setup, run_round=run_round, setup_summary=setup_summary,
                    plan_augmentation=plan_augmentation, plan_groups=plan_groups)
