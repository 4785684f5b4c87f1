"""Validate the heterogeneous round against emulated devices: throttled workers on unequal links.

The distributed engine (:func:`reference_impl.distributed.launcher.run_distributed`) runs FedAvg and
Astraea with one process per client device in network namespaces; with ``devices`` each worker is
throttled to its speed factor (a cgroup v1 CPU quota, :mod:`reference_impl.network.cpu_throttle`)
and its link shaped to its own rates (tbf). The cost model predicts the same runs from their
scenario (:func:`calibration.scenario.scenario_from_workload`) with the devices as a client table
(:func:`costmodel.analysis.heterogeneous.predict_heterogeneous`: FedAvg's slowest of ``c`` exact,
Astraea's mediators by the shifted-log-normal fit; and the Monte Carlo). A CPU quota stretches wall
time, not the CPU time a thread consumes, so the measured quantity is the real wall-clock round
time ``wall_s``; its run-to-run noise is the spread of the rounds of one run, and the host's load
average is recorded before and after each run (a shared machine). The server's link is unshaped
(``server_bits_per_s = inf``).

Two predictions are compared. *Nominal*: each device at its quota's speed factor. *Effective*: each
device at the speed a throttled reference workload actually gets (:func:`effective_speeds`: the speed
probe of :mod:`calibration.speed_probe`, run back to back in a cgroup of that quota and timed on the
wall clock, against the calibration machine's usual probe time). The two differ because a quota of
1 ms per 10 ms period leaves the caches to the machine's other tenants for the other 9 ms, so the
same work costs more CPU time when throttled (measured: 44 ms of training unthrottled took 49-65 ms
of CPU time at speeds 0.4-0.1), and because a shared machine is slower than when it was calibrated.

``python -m calibration.heterogeneous_validation [--out FILE.csv]`` runs :func:`default_points`
(needs root). The points were fixed before any was measured and no choice was made on them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from calibration.scenario import scenario_from_workload
from costmodel.analysis.heterogeneous import predict_heterogeneous
from costmodel.contracts.calibration_file import Calibration, load_calibration
from costmodel.model.federation import ClientTable, Federation
from reference_impl.config import RunConfig
from calibration.speed_probe import probe_seconds
from reference_impl.distributed.launcher import run_distributed
from reference_impl.network.cpu_throttle import cpu_throttle
from reference_impl.workload import plan_workload

__all__ = ["DevicePoint", "default_points", "effective_speeds", "main", "validate_heterogeneous"]

#: Back-to-back repetitions of the speed probe per effective-speed measurement (~10 ms of CPU each).
PROBE_BURST = 8


@dataclass(frozen=True, kw_only=True)
class DevicePoint:
    """One emulated run: a configuration and one ``(speed, uplink, downlink)`` per client device."""

    label: str
    config: Any  # RunConfig
    devices: tuple[tuple[float, float, float], ...]


def default_points() -> tuple[DevicePoint, ...]:
    """Three heterogeneity settings x {FedAvg, Astraea}: 6 devices, all in every round, mediators of 3.

    * ``speeds``: speeds 0.4..0.1 of a core, equal 10/40 Mbit/s links;
    * ``links``: equal speeds 0.25, uplinks 2..20 Mbit/s (downlinks 4x);
    * ``both``: two fast devices (0.5) on fast links (20/80), four slow ones (0.1) on slow links (3/12).

    The speeds of each setting sum to at most 1.5 cores (2 cores less the server's half).
    """
    base = RunConfig(dataset="emnist-shape", samples=6 * 300, model="tpds", clients=6, clients_per_round=6,
                     gamma=3, rounds=4, batch_size=20, evaluate=False, seed=23)
    mbit = 1e6
    settings = {
        "speeds": tuple((s, 10 * mbit, 40 * mbit) for s in (0.4, 0.3, 0.25, 0.2, 0.15, 0.1)),
        "links": tuple((0.25, up * mbit, 4 * up * mbit) for up in (2, 3, 5, 8, 12, 20)),
        "both": ((0.5, 20 * mbit, 80 * mbit),) * 2 + ((0.1, 3 * mbit, 12 * mbit),) * 4,
    }
    return tuple(DevicePoint(label=f"{name} {algorithm}", config=replace(base, algorithm=algorithm), devices=devices)
                 for name, devices in settings.items() for algorithm in ("fedavg", "astraea"))


def _load() -> float:
    return float(os.getloadavg()[0])


def effective_speeds(speeds: Sequence[float], usual_probe_s: float) -> dict[float, float]:
    """The speed each quota really gives, relative to the calibration machine: ``PROBE_BURST`` speed
    probes run back to back by this thread inside a cgroup of that quota, ``PROBE_BURST*usual/wall``."""
    probe_seconds(1)                                   # build the workload outside the quota
    tid = threading.get_native_id()
    found = {}
    for speed in sorted(set(speeds)):
        with cpu_throttle({1: speed}, prefix="hvprobe") as throttle:
            throttle.add_thread(1, tid)
            try:
                start = time.perf_counter()
                for _ in range(PROBE_BURST):
                    probe_seconds(1)
                wall = time.perf_counter() - start
            finally:
                throttle.release_thread(tid)
        found[speed] = PROBE_BURST * usual_probe_s / wall
    return found


def validate_heterogeneous(calibration: Calibration, points: Sequence[DevicePoint] | None = None, *,
                           timeout_s: float = 120.0, monte_carlo: int = 20_000) -> pd.DataFrame:
    """Run every point and compare its wall-clock round time with the model's.

    Returns one row per point: ``label, algorithm, rounds, measured_wall_s, noise_percent``, then for
    ``nominal`` and ``effective`` speeds the closed form ``<kind>_s``, its ``<kind>_ape_percent`` and
    the Monte Carlo ``<kind>_monte_carlo_s``; ``homogeneous_s`` (every device the calibration machine
    on the median link, for scale), ``effective_speeds``, ``load_before``, ``load_after``.
    """
    rows = []
    coefficients = dict(calibration.coefficients)
    usual = float(calibration.machine.get("speed_probe_s", math.nan))
    for point in points or default_points():
        config = point.config
        effective = effective_speeds([s for s, _, _ in point.devices], usual)
        load_before = _load()
        outcome = run_distributed(config, network="emulated", workers=config.clients, timeout_s=timeout_s,
                                  devices=point.devices)
        load_after = _load()
        summary = dict(outcome.summary)
        summary.setdefault("sample_values", math.prod(summary["sample_shape"]))
        ups = [up for _, up, _ in point.devices]
        downs = [down for _, _, down in point.devices]
        scenario = scenario_from_workload(plan_workload(config), summary).replace(
            uplink_bits_per_s=float(np.median(ups)), downlink_bits_per_s=float(np.median(downs)),
            server_bits_per_s=math.inf)
        wall = outcome.rounds["wall_s"].to_numpy()
        measured = float(wall.mean())
        noise = 100.0 * float(wall.std(ddof=1) / measured) if len(wall) > 1 else math.nan
        row: dict[str, Any] = dict(label=point.label, algorithm=config.algorithm, rounds=len(wall),
                                   measured_wall_s=measured, noise_percent=noise)
        for kind, speeds in (("nominal", [s for s, _, _ in point.devices]),
                             ("effective", [effective[s] for s, _, _ in point.devices])):
            table = ClientTable(np.array(speeds), np.array(ups), np.array(downs), source=point.label)
            predicted = predict_heterogeneous(scenario, coefficients, Federation(clients=table),
                                              algorithms=[config.algorithm], monte_carlo=monte_carlo).iloc[0]
            row[f"{kind}_s"] = float(predicted["round_seconds"])
            row[f"{kind}_ape_percent"] = 100.0 * abs(row[f"{kind}_s"] - measured) / measured
            row[f"{kind}_monte_carlo_s"] = float(predicted["monte_carlo_round_seconds"])
        row.update(homogeneous_s=float(predicted["homogeneous_round_seconds"]),
                   effective_speeds=" ".join(f"{s:g}->{effective[s]:.3f}" for s in sorted(effective)),
                   load_before=load_before, load_after=load_after)
        rows.append(row)
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=sys.stderr)
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the default points with the embedded calibration; print the table, optionally write it."""
    parser = argparse.ArgumentParser(prog="python -m calibration.heterogeneous_validation")
    parser.add_argument("--out", default=None, help="also write the table as CSV")
    parser.add_argument("--only", default=None, help="run only the points whose label contains this text")
    args = parser.parse_args(argv)
    points = [p for p in default_points() if args.only is None or args.only in p.label]
    table = validate_heterogeneous(load_calibration(None), points)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for algorithm, part in table.groupby("algorithm"):
        print(f"{algorithm}: MAPE nominal {part['nominal_ape_percent'].mean():.1f}%, effective "
              f"{part['effective_ape_percent'].mean():.1f}% over {len(part)} settings; mean run-to-run noise "
              f"{part['noise_percent'].mean():.1f}%; load {part['load_before'].min():.1f}-"
              f"{part['load_after'].max():.1f}")
    if args.out:
        table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
