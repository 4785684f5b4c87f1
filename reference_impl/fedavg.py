"""FedAvg (McMahan et al., AISTATS 2017), the baseline, on the shared engine.

Per round the server sends the global model to the c selected clients, each trains E local epochs in
parallel and returns its model, and the server averages the models weighted by the clients' sample
counts. On the virtual clock all clients start when the round starts; the server aggregates when the
slowest client's upload has arrived. FedAvg has no setup phase.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_impl.engine import Engine
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
    vectors, weights, ends = [], [], []
    for k in selected:
        entity = f"client:{k}"
        local, t = engine.transfer(engine.global_vector, round=round, phase="client_download", entity=entity, start_s=start_s)
        local, t = engine.train_visit(local, client=int(k), round=round, visit=0, start_s=t)
        local, t = engine.transfer(local, round=round, phase="client_upload", entity=entity, start_s=t)
        vectors.append(local)
        weights.append(float(engine.client_y[k].shape[0]))
        ends.append(t)
    end_s = engine.aggregate(vectors, weights, round=round, start_s=max(ends))
    kl = float(np.mean(kl_to_uniform(engine.histograms(selected))))
    return end_s, kl, kl
