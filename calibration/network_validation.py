"""Validate the cost model on distributed runs over real shaped links (issue: real communication).

The in-process held-out validation (:mod:`calibration.validate`) has no links. Here the distributed
engine (:func:`reference_impl.distributed.launcher.run_distributed`) runs Astraea and FedAvg as separate
processes in network namespaces whose links are shaped with the kernel's token-bucket filter, one
process per client device, and the cost model predicts the same runs from their scenario with the
links' rates. Compared:

* per message: the measured client download and upload times (network and (de)serialization, timed
  on the server's clock) against the model's transfer time
  ``t_msg + t_ser*W + latency + 8*(W + h_net)/(eta*b)``;
* per round: the real wall-clock round time (``wall_s``) and the virtual-clock round time
  (``round_s``, the protocol's critical path over the measured durations) against
  ``round_seconds``.

The server's own link is not shaped in the emulation, so scenarios take ``server_bits_per_s = inf``.
This machine has two cores: clients that train at the same moment share them, which stretches the
wall time of FedAvg's parallel training but not its virtual-clock time. That is why both are shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from calibration.scenario import scenario_from_workload
from costmodel.analysis.predict import predict_phases, predict_rounds
from costmodel.contracts.calibration_file import Calibration
from reference_impl.config import RunConfig
from reference_impl.distributed.launcher import run_distributed
from reference_impl.workload import plan_workload

__all__ = ["NetworkPoint", "default_network_points", "validate_network"]


@dataclass(frozen=True, kw_only=True)
class NetworkPoint:
    """One distributed run to validate: a configuration and its links' rates."""

    label: str
    config: Any  # reference_impl.config.RunConfig (imported lazily: this module loads without torch)
    uplink_bits_per_s: float
    downlink_bits_per_s: float


def default_network_points() -> tuple[NetworkPoint, ...]:
    """Both algorithms, the EMNIST CNN, at two asymmetric rates no link fit used (3/12 and 10/40 Mbit/s)."""
    base = RunConfig(dataset="emnist-shape", samples=12 * 60, model="tpds", clients=12, clients_per_round=6,
                     gamma=3, rounds=3, batch_size=20, evaluate=False, seed=11)
    return tuple(NetworkPoint(label=f"{algorithm} {up / 1e6:g}/{down / 1e6:g} Mbit/s",
                              config=replace(base, algorithm=algorithm), uplink_bits_per_s=up,
                              downlink_bits_per_s=down)
                 for up, down in ((3e6, 12e6), (10e6, 40e6)) for algorithm in ("astraea", "fedavg"))


def _ape(predicted: float, measured: float) -> float:
    return 100.0 * abs(predicted - measured) / measured


def validate_network(calibration: Calibration, points: Sequence[NetworkPoint] | None = None, *,
                     timeout_s: float = 60.0, progress: bool = True) -> pd.DataFrame:
    """Run every point over emulated links and compare it with the model's prediction.

    Returns one row per point and quantity (``client_download``, ``client_upload`` per message;
    ``round (wall)``, ``round (virtual)``), with columns ``label, algorithm, uplink_bits_per_s,
    downlink_bits_per_s, quantity, n, measured_s, noise_percent, predicted_s, ape_percent``.
    """

    rows: list[dict[str, Any]] = []
    coefficients = dict(calibration.coefficients)
    for point in tqdm(points or default_network_points(), desc="emulated runs", unit="run", disable=not progress):
        config = point.config
        outcome = run_distributed(config, network="emulated", workers=config.clients,
                                  uplink_bits_per_s=point.uplink_bits_per_s,
                                  downlink_bits_per_s=point.downlink_bits_per_s, timeout_s=timeout_s)
        trace, rounds, summary = outcome.trace, outcome.rounds, dict(outcome.summary)
        summary.setdefault("sample_values", math.prod(summary["sample_shape"]))
        scenario = scenario_from_workload(plan_workload(config), summary).replace(
            uplink_bits_per_s=point.uplink_bits_per_s, downlink_bits_per_s=point.downlink_bits_per_s,
            server_bits_per_s=math.inf)
        phases = predict_phases(scenario, coefficients).query("algorithm == @config.algorithm").set_index("phase")
        predicted_round = float(predict_rounds(scenario, coefficients)
                                .query("algorithm == @config.algorithm")["round_seconds"].iloc[0])
        chain = (config.mediator_epochs * min(config.gamma, config.clients_per_round)
                 if config.algorithm == "astraea" else 1)
        common = dict(label=point.label, algorithm=config.algorithm, uplink_bits_per_s=point.uplink_bits_per_s,
                      downlink_bits_per_s=point.downlink_bits_per_s)
        for phase in ("client_download", "client_upload"):
            measured = trace.query("phase == @phase")["duration_s"].to_numpy()
            # a phase's seconds are its share of the critical path: E_m*g messages in a mediator's chain
            per_message = float(phases.loc[phase, "seconds"]) / chain
            rows.append(dict(common, quantity=phase, n=len(measured), measured_s=float(measured.mean()),
                             noise_percent=100.0 * float(measured.std() / measured.mean()),
                             predicted_s=per_message, ape_percent=_ape(per_message, float(measured.mean()))))
        for quantity, column in (("round (wall)", "wall_s"), ("round (virtual)", "round_s")):
            measured = rounds[column].to_numpy()
            rows.append(dict(common, quantity=quantity, n=len(measured), measured_s=float(measured.mean()),
                             noise_percent=100.0 * float(measured.std() / measured.mean()),
                             predicted_s=predicted_round, ape_percent=_ape(predicted_round, float(measured.mean()))))
    return pd.DataFrame(rows)
