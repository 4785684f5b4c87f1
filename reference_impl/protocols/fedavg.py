"""FedAvg (McMahan et al., AISTATS 2017), the baseline: its order of events, for either engine.

Per round the server sends the global model to the c selected clients, each trains E local epochs in
parallel and returns its model, and the server averages the models weighted by the clients' sample
counts. Each client's download-train-upload is one :class:`~reference_impl.engine.Branch`: on the
virtual clock all clients start when the round starts, and the server aggregates when the slowest
client's upload has arrived. FedAvg has no setup phase.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl.engine import Branch, Engine, Visit
from reference_impl.rescheduling import kl_to_uniform

__all__ = ["run_round", "setup", "setup_summary"]


def setup(engine: Engine) -> float:
    """FedAvg needs no setup: the virtual clock starts its first round at 0 s."""
    return 0.0


def setup_summary(engine: Engine) -> dict[str, Any]:
    return {}


def run_round(engine: Engine, *, round: int, start_s: float) -> tuple[float, float, float]:
    """One synchronization round; return (end time, mean KL of clients, mean KL of training groups)."""
    selected = engine.select_clients(round)
    histograms = engine.histograms(selected)
    branches = [Branch(name=f"client {k}", steps=(Visit(int(k)),)) for k in selected]
    vectors, ends = engine.run_branches(branches, round=round, start_s=start_s)
    weights = [float(h.sum()) for h in histograms]  # the clients' samples
    end_s = engine.aggregate(vectors, weights, round=round, start_s=max(ends))
    kl = float(np.mean(kl_to_uniform(histograms)))
    return end_s, kl, kl
