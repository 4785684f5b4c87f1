"""Flower runs against the model on Flower: the framework-free model plus Flower's profile, predicted from the
configuration alone.

Each Flower run (``astraea-cost run --engine flower``) is predicted as the in-process validation
predicts a run (:func:`~calibration.scenario.scenario_from_workload` of the planned configuration, the
run's architecture figures, nothing it measured) at its links' rates (the server's link unshaped),
with the framework's costs on top (:mod:`costmodel.analysis.framework`, every SuperNode on this one
host, which the run shared with the other sessions it sampled, ``host_background_groups``:
conditions of the run, like its link rates). Compared, per run (one row each):

===================  ===================================================================  ======
quantity             measured (mean of the run) vs predicted                              unit
===================  ===================================================================  ======
round (virtual)      the trace's round time (the protocol's critical path over its        s
                     measured durations) vs ``round_seconds``
round (wall)         the ServerApp's wall clock per round (``wall_s``) vs ``round_seconds``   s
round_bytes          bytes per round (Flower's message bytes of every transfer) vs        B
                     ``round_bytes``
client_download      one visit's download (push to training start) vs ``transfer +      s
                     d(k) + framing``, without the round's straggler
client_upload        one visit's upload (training end to the reply) vs ``transfer +      s
                     t_fw_out`` with the upload seen at the next object-pull retry
distribution_report  the slowest client's report vs the phase's seconds (Astraea)         s
setup_bytes          the reports' bytes vs ``setup_bytes`` (Astraea)                      B
===================  ===================================================================  ======
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from calibration.framework_fit import (FlowerRun, branches, host_load, message_residuals, pull_schedule,
                                       seen_at_function)
from calibration.scenario import scenario_from_workload
from costmodel.analysis.framework import predict_phases_on, predict_rounds_on
from costmodel.contracts.calibration_file import Calibration
from costmodel.contracts.framework_profile import FrameworkProfile
from reference_impl.config import RunConfig
from reference_impl.workload import plan_workload

__all__ = ["QUANTITIES", "compare_flower_runs", "summarize_flower_validation"]

#: The compared quantities, in the table's order, and their units.
QUANTITIES: dict[str, str] = {"round (virtual)": "s", "round (wall)": "s", "round_bytes": "B", "client_download": "s",
                              "client_upload": "s", "distribution_report": "s", "setup_bytes": "B"}


def _ape(predicted: float, measured: float) -> float:
    return 100.0 * abs(predicted - measured) / measured if measured else math.nan


def _scenario(run: FlowerRun):
    config = RunConfig(**{k: v for k, v in run.record.config.items() if k in RunConfig.__dataclass_fields__})
    summary = dict(run.record.summary)
    summary.setdefault("sample_values", math.prod(summary["sample_shape"]))
    up, down = run.rates
    return config, scenario_from_workload(plan_workload(config), summary).replace(
        uplink_bits_per_s=up, downlink_bits_per_s=down, server_bits_per_s=math.inf)


def compare_flower_runs(runs: Sequence[FlowerRun], calibration: Calibration, profile: FrameworkProfile
                        ) -> pd.DataFrame:
    """Measured against predicted for every run and quantity (module docstring).

    Columns: ``run_id, label, algorithm, uplink_bits_per_s, downlink_bits_per_s, quantity, unit, n,
    measured, noise_percent, predicted, ape_percent``.
    """
    coefficients = dict(calibration.coefficients)
    rows: list[dict[str, Any]] = []
    for run in runs:
        config, scenario = _scenario(run)
        algorithm = config.algorithm
        host = dict(one_host=True, host_load=host_load(run))
        rounds = predict_rounds_on(profile, scenario, coefficients, algorithms=(algorithm,), **host).iloc[0]
        phases = predict_phases_on(profile, scenario, coefficients, algorithms=(algorithm,), **host).set_index("phase")
        up, down = run.rates
        rate = "loopback" if math.isinf(down) else f"{up / 1e6:g}/{down / 1e6:g} Mbit/s"
        common = dict(run_id=run.record.run_id, label=f"{algorithm} {rate}", algorithm=algorithm,
                      uplink_bits_per_s=up, downlink_bits_per_s=down)

        def add(quantity: str, values: Sequence[float], predicted: float) -> None:
            values = np.asarray(values, dtype=float)
            mean = float(values.mean())
            noise = 100.0 * float(values.std() / mean) if len(values) > 1 and mean else math.nan
            rows.append(dict(common, quantity=quantity, unit=QUANTITIES[quantity], n=len(values), measured=mean,
                             noise_percent=noise, predicted=float(predicted), ape_percent=_ape(predicted, mean)))

        table = pd.DataFrame(run.record.summary["rounds"])
        add("round (virtual)", table["round_s"], rounds["round_seconds"])
        add("round (wall)", table["wall_s"], rounds["round_seconds"])
        add("round_bytes", table["bytes"], rounds["round_bytes"])
        messages = message_residuals(run, calibration)
        c, eta = profile.coefficients, coefficients["link_efficiency"]
        stretch = max(1.0, branches(run.record.config) * (host["host_load"] + 1) / c["host_cores"])
        dispatch = c["dispatch_s"] + c["dispatch_cpu_s"] * stretch
        add("client_download", messages["download_s"],
            messages["base_download_s"].iloc[0] + 8 * c["download_framing_bytes"] / (eta * down) + dispatch)
        w = int(run.record.summary["model_message_bytes"])
        upload_s = 8 * (w + coefficients["message_overhead_bytes"] + c["upload_framing_bytes"]) / (eta * up)
        seen = float(seen_at_function()(upload_s=upload_s, **pull_schedule(run)))
        add("client_upload", messages["upload_s"], messages["base_upload_s"].iloc[0] + seen + c["return_s"])
        trace = run.record.trace
        reports = trace[trace["phase"] == "distribution_report"]
        if not reports.empty:
            add("distribution_report", [reports["duration_s"].max()], phases.loc["distribution_report", "seconds"])
            add("setup_bytes", [trace[trace["round"] < 0]["bytes"].sum()], rounds["setup_bytes"])
    return pd.DataFrame(rows)


def summarize_flower_validation(points: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: ``quantity, unit, runs, mape_percent, max_ape_percent, noise_percent`` (the mean
    coefficient of variation within runs), in :data:`QUANTITIES` order."""
    out = []
    for quantity, unit in QUANTITIES.items():
        part = points[points["quantity"] == quantity]
        if part.empty:
            continue
        out.append({"quantity": quantity, "unit": unit, "runs": int(len(part)),
                    "mape_percent": float(part["ape_percent"].mean()),
                    "max_ape_percent": float(part["ape_percent"].max()),
                    "noise_percent": float(part["noise_percent"].mean()) if part["noise_percent"].notna().any()
                    else math.nan})
    return pd.DataFrame(out)
