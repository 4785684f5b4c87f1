"""Validate the heterogeneous round against emulated devices: throttled workers on unequal links.

The distributed engine (:func:`reference_impl.distributed.launcher.run_distributed`) runs FedAvg and
Astraea with one worker process per client device in network namespaces; with ``devices`` each worker
is throttled to its speed factor (a cgroup v1 CPU quota, :mod:`reference_impl.network.cpu_throttle`,
from its first visit on) and its link shaped to its own rates (tbf). The cost model predicts the same
runs from their scenario (:func:`calibration.scenario.scenario_from_workload`, the median links, an
unshaped server) with the devices as a client table
(:func:`costmodel.analysis.heterogeneous.predict_heterogeneous`: the closed form and the Monte Carlo).

What is measured, and why
-------------------------
The model prices the *expectation over mediator groupings*: Astraea's greedy rescheduling groups
clients by their labels, so which devices share a mediator is random with respect to speed. A run
realizes one grouping (the same in every round when all clients take part: it is a function of the
data seed), so one run's mean round is a conditional quantity, and a run whose slow devices happen to
share a mediator is slower than the mean. The measurement therefore varies the device-to-client
assignment across runs, with the data (and hence the label grouping, read from
:func:`reference_impl.workload.plan_workload`) fixed:

* A uniformly random assignment of the devices to the clients makes every split of the devices into
  the mediators' sizes equally likely, so each *grouping type* (which devices, counted as their
  ``(speed, uplink, downlink)`` rows, share a mediator) has a known probability ``w_j``
  (:func:`grouping_strata`, by enumerating all ``N!`` assignments).
* **Stratified** (at most :data:`MAX_STRATA` types, e.g. two device classes): one run per type, its
  assignment one of the type's (drawn with a fixed seed); measured mean ``x = sum_j w_j*x_j``, where
  ``x_j`` is the run's mean wall-clock round. This is the expectation the model prices, exactly, with
  no grouping sampling error. Its round-to-round standard error is ``sqrt(sum_j w_j^2*s_j^2/n_j)``,
  ``s_j`` the standard deviation of run ``j``'s ``n_j`` measured rounds.
* **Sampled** (more types, e.g. six distinct devices): :data:`SAMPLED_RUNS` runs with uniformly random
  assignments (fixed seed); ``x`` is their plain mean (unbiased for the same expectation), its standard
  error ``sd(x_j)/sqrt(runs)`` between runs, which holds the grouping spread.
* FedAvg waits for the slowest of all ``c`` devices, whatever the assignment: one run.

Repetitions and noise
---------------------
The design above is one *repetition*; the table's figures come from ``R`` repetitions (``--repeats R``,
:data:`DEFAULT_REPEATS` for the stored table) run **interleaved**: pass 1 runs every point of the chosen
set once, then pass 2 runs them all again, and so on (:func:`interleaved_passes`), so a slow episode of the
shared host falls on different points, not on all the repetitions of one. With ``x_r`` repetition ``r``'s
design estimate (the weighted or plain mean above) and ``p_r`` its prediction (each at the effective speeds
probed before its own runs), the table gives (:func:`combine_repeats`)::

    measured_round_s  = mean_r x_r            predicted_round_s = mean_r p_r
    error_pct         = 100*(predicted - measured)/measured
    noise_pct         = 100*sd(x_r, ddof=1)/mean_r x_r      (R >= 2; NaN for one repetition)

``noise_pct`` is the *run-to-run spread of one repetition* (the relative sample standard deviation of the
repetition estimates, not the standard error of their mean), the noise the project's main validation
uses: the run-to-run spread of repetitions run interleaved. It is taken between repetitions because what
moves a measured round most is between runs, not between the rounds of a run: a device's effective speed
drifts from run to run with the host's load (a 0.1 quota probed 0.040 to 0.054 in the development runs)
and the host has slow and fast episodes lasting longer than a run (one development point measured 1.685,
1.808 and 1.858 s in three repeats, about 5% apart, while its rounds agreed within 1%). The round-to-round
standard error of a repetition (``sqrt(sum_j w_j^2*s_j^2/n_j)`` stratified, ``sd(x_j)/sqrt(runs)``
sampled) misses that drift; it is kept as ``round_se_pct`` (``100*SE/x_r``, the same on every run of a
repetition) in the per-run diagnostics only. ``runs`` and ``rounds`` count all repetitions;
``monte_carlo_round_s`` is the mean of the repetitions' Monte Carlo rounds; ``load_average`` is the mean of
the host's 1-minute load average read before and after each of the point's runs. Round 0 of every run is a
warm-up (first-touch allocations on throttled workers made it about 10% slower in the development runs)
and is left out; :data:`MEASURED_ROUNDS` rounds follow it.

A repetition's prediction is the same weighted mean of its per-run predictions, each at the
devices' *effective* speeds probed just before that run (:func:`effective_speeds`: the calibration's
speed probe run back to back in a cgroup of that quota, timed on the wall clock, against the calibration
machine's usual probe time): a quota of 1 ms per 10 ms leaves the caches to the host's other tenants
for the other 9 ms, and a shared host is slower than when it was calibrated, so the quota's nominal
speed overstates the device. ``error_pct = 100*(predicted - measured)/measured`` (signed). As a
diagnostic each run also gets its *conditional* prediction, the model's visits summed over the grouping
the run realized (:func:`conditional_round_seconds`): its error shows what is left once the grouping
is known.

Points
------
:func:`development_points` are the six points looked at while this design was made;
:func:`test_points` were fixed in code before they were first measured and no choice was made on them
(other speeds, links, ``c`` and ``gamma``). Both: both algorithms, quotas summing to at most 1.5 of the
machine's 2 cores, unequal links.

``python -m calibration.heterogeneous_validation --store`` (needs root) measures both sets
:data:`DEFAULT_REPEATS` times and writes :data:`DEFAULT_OUT` (columns :data:`CSV_COLUMNS`) and the per-run
diagnostics :data:`DEFAULT_RUNS_OUT` (:data:`RUN_COLUMNS`, with the repetition in ``repeat``); ``--set
test`` or ``--only TEXT`` measure part of them (``--store`` then replaces those rows only), ``--repeats R``
sets the repetitions, ``--reuse-first`` takes repetition 1 of every chosen point from the stored table and
runs (a single-repetition measurement of the same design, :func:`stored_repetition`) and measures the other
``R - 1`` passes, ``--out FILE`` and ``--runs-out FILE`` write elsewhere. One repetition of the test set is
9 runs, about 8 to 9 minutes at load 7 to 11 on the 2-core development machine (each run spends about 35 s
starting its processes); the development set is 11 runs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.heterogeneous_table import (CSV_COLUMNS, DEFAULT_OUT, DEFAULT_RUNS_OUT, RUN_COLUMNS, SETS,
                                              bar_summary, store)
from calibration.scenario import scenario_from_workload
from calibration.speed_probe import probe_seconds
from costmodel.analysis.heterogeneous import predict_heterogeneous, visit_numbers
from costmodel.contracts.calibration_file import Calibration, load_calibration
from costmodel.errors import InputError, must
from costmodel.model.federation import ClientTable, Federation
from reference_impl.config import RunConfig
from reference_impl.distributed.launcher import DistributedRunError, run_distributed
from reference_impl.network.cpu_throttle import cpu_throttle, cpu_throttle_available
from reference_impl.network.namespaces import NetlabError
from reference_impl.workload import plan_workload

__all__ = [
    "CSV_COLUMNS", "DEFAULT_OUT", "DEFAULT_REPEATS", "DEFAULT_RUNS_OUT", "DevicePoint", "MAX_STRATA",
    "MEASURED_ROUNDS", "PlannedRun", "RUN_COLUMNS", "Repetition", "SAMPLED_RUNS", "Stratum", "bar_summary",
    "combine_repeats", "combine_runs", "conditional_round_seconds", "development_points", "effective_speeds",
    "grouping_strata", "interleaved_passes", "main", "measure_point", "plan_runs", "store", "stored_repetition",
    "test_points", "validate_heterogeneous",
]

Device = tuple[float, float, float]
#: Back-to-back repetitions of the speed probe per effective-speed measurement (~10 ms of CPU each).
PROBE_BURST = 8
#: Rounds measured per run, after one warm-up round.
MEASURED_ROUNDS = 4
#: Grouping types measured one run each; a point with more is sampled.
MAX_STRATA = 3
#: Runs of a sampled point.
SAMPLED_RUNS = 3
#: Interleaved repetitions of the design behind the stored table (``noise_pct`` is their spread).
DEFAULT_REPEATS = 3
#: Seed of the assignment draws.
ASSIGNMENT_SEED = 2024
_MBIT = 1e6


@dataclass(frozen=True, kw_only=True)
class DevicePoint:
    """One point: a configuration (all clients in every round) and one ``(speed, uplink, downlink)`` per device."""

    set: str
    name: str
    config: Any  # RunConfig
    devices: tuple[Device, ...]

    @property
    def label(self) -> str:
        return f"{self.name} {self.config.algorithm}"


@dataclass(frozen=True)
class Stratum:
    """A grouping type: which device rows share a mediator (sorted), its probability, one assignment of it."""

    key: tuple[tuple[Device, ...], ...]
    weight: float
    permutations: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, kw_only=True)
class Repetition:
    """One repetition of a point's design: its estimate, round-to-round standard error and predictions (s)."""

    measured_round_s: float
    round_se_s: float
    predicted_round_s: float
    monte_carlo_round_s: float
    runs: int
    rounds: int
    load_average: float


@dataclass(frozen=True)
class PlannedRun:
    """One run of a point: its devices by worker rank (rank ``k + 1`` hosts client ``k``) and weight."""

    devices: tuple[Device, ...]
    weight: float
    grouping: tuple[tuple[Device, ...], ...]
    sampled: bool = False


def _points(set_name: str, settings: dict[str, tuple[RunConfig, tuple[Device, ...]]]) -> tuple[DevicePoint, ...]:
    return tuple(DevicePoint(set=set_name, name=name, config=replace(config, algorithm=algorithm), devices=devices)
                 for name, (config, devices) in settings.items() for algorithm in ("fedavg", "astraea"))


def _config(clients: int, gamma: int, seed: int) -> RunConfig:
    return RunConfig(dataset="emnist-shape", samples=clients * 300, model="tpds", clients=clients,
                     clients_per_round=clients, gamma=gamma, rounds=1 + MEASURED_ROUNDS, batch_size=20,
                     evaluate=False, seed=seed)


def development_points() -> tuple[DevicePoint, ...]:
    """The six points looked at while the design was made: 6 devices, all in every round, mediators of 3.

    * ``speeds``: speeds 0.4..0.1 of a core, equal 10/40 Mbit/s links;
    * ``links``: equal speeds 0.25, uplinks 2..20 Mbit/s (downlinks 4x);
    * ``both``: two fast devices (0.5) on fast links (20/80), four slow ones (0.1) on slow links (3/12).
    """
    config = _config(6, 3, 23)
    return _points("development", {
        "speeds": (config, tuple((s, 10 * _MBIT, 40 * _MBIT) for s in (0.4, 0.3, 0.25, 0.2, 0.15, 0.1))),
        "links": (config, tuple((0.25, up * _MBIT, 4 * up * _MBIT) for up in (2, 3, 5, 8, 12, 20))),
        "both": (config, ((0.5, 20 * _MBIT, 80 * _MBIT),) * 2 + ((0.1, 3 * _MBIT, 12 * _MBIT),) * 4),
    })


def test_points() -> tuple[DevicePoint, ...]:
    """The frozen held-out points (fixed before they were measured; never used for a choice).

    * ``classes``: 6 devices, mediators of 3: three at 0.35 on 12/48 Mbit/s, three at 0.12 on 4/16;
    * ``pairs``: 6 devices, mediators of 2: two at 0.15 on 2.5/10 Mbit/s, four at 0.28 on 15/60;
    * ``four``: 4 devices, mediators of 2: two fast (0.45) on slow links (3/12), two slow (0.15) on
      fast links (20/80).
    """
    return _points("test", {
        "classes": (_config(6, 3, 31), ((0.35, 12 * _MBIT, 48 * _MBIT),) * 3 + ((0.12, 4 * _MBIT, 16 * _MBIT),) * 3),
        "pairs": (_config(6, 2, 37), ((0.15, 2.5 * _MBIT, 10 * _MBIT),) * 2 + ((0.28, 15 * _MBIT, 60 * _MBIT),) * 4),
        "four": (_config(4, 2, 41), ((0.45, 3 * _MBIT, 12 * _MBIT),) * 2 + ((0.15, 20 * _MBIT, 80 * _MBIT),) * 2),
    })


def _chunks(order: Sequence[int], sizes: Sequence[int]) -> list[tuple[int, ...]]:
    ends = np.cumsum(sizes)
    return [tuple(order[end - size:end]) for size, end in zip(sizes, ends)]


def _grouping(devices: Sequence[Device], order: Sequence[int], sizes: Sequence[int]) -> tuple[tuple[Device, ...], ...]:
    return tuple(sorted(tuple(sorted(devices[i] for i in chunk)) for chunk in _chunks(order, sizes)))


def grouping_strata(devices: Sequence[Device], sizes: Sequence[int]) -> tuple[Stratum, ...]:
    """The grouping types of ``devices`` into mediators of ``sizes`` and their probabilities.

    Every one of the ``N!`` orders of the devices (chunked by ``sizes``) is one equally likely
    assignment; ``weight`` is the share of orders giving the type. Sorted by weight, largest first.
    """
    if sum(sizes) != len(devices):
        raise must("sizes", f"sum to the number of devices ({len(devices)})", list(sizes))
    members: dict[tuple, list[tuple[int, ...]]] = {}
    for order in itertools.permutations(range(len(devices))):
        members.setdefault(_grouping(devices, order, sizes), []).append(order)
    total = math.factorial(len(devices))
    strata = [Stratum(key, len(orders) / total, tuple(orders)) for key, orders in members.items()]
    return tuple(sorted(strata, key=lambda s: (-s.weight, s.key)))


def _by_client(devices: Sequence[Device], order: Sequence[int], mediators: Sequence[Sequence[int]]) -> tuple:
    """Devices by client index: mediator ``b``'s ``i``-th client gets device ``chunk_b[i]`` of ``order``."""
    placed: dict[int, Device] = {}
    for clients, chunk in zip(mediators, _chunks(order, [len(m) for m in mediators])):
        for client, index in zip(clients, chunk):
            placed[int(client)] = devices[index]
    return tuple(placed[k] for k in range(len(devices)))


def _mediators(config: RunConfig) -> tuple[tuple[int, ...], ...]:
    """The label grouping of the run (Astraea; the same in every round, checked)."""
    groupings = {tuple(tuple(int(k) for k in m) for m in r.mediators) for r in plan_workload(config).rounds}
    if len(groupings) != 1:
        raise must("config", "form the same mediators in every round (all clients take part)", len(groupings))
    return groupings.pop()


def plan_runs(point: DevicePoint, *, seed: int = ASSIGNMENT_SEED) -> tuple[PlannedRun, ...]:
    """The runs of a point (see the module docstring): FedAvg one; Astraea stratified or sampled."""
    config, devices = point.config, point.devices
    if len(devices) != config.clients or config.clients_per_round != config.clients:
        raise must("point", "have one device per client and every client in every round", point.label)
    if config.algorithm != "astraea":
        return (PlannedRun(devices=tuple(devices), weight=1.0, grouping=()),)
    mediators = _mediators(config)
    sizes = [len(m) for m in mediators]
    strata = grouping_strata(devices, sizes)
    rng = np.random.default_rng(seed)
    if len(strata) <= MAX_STRATA:
        picks = [(s.permutations[int(rng.integers(len(s.permutations)))], s.weight) for s in strata]
    else:
        picks = [(tuple(int(i) for i in rng.permutation(len(devices))), 1.0 / SAMPLED_RUNS)
                 for _ in range(SAMPLED_RUNS)]
    sampled = len(strata) > MAX_STRATA
    return tuple(PlannedRun(devices=_by_client(devices, order, mediators), weight=weight,
                            grouping=_grouping(devices, order, sizes), sampled=sampled) for order, weight in picks)


def combine_runs(round_times: Sequence[Sequence[float]], weights: Sequence[float], *,
                 sampled: bool = False) -> tuple[float, float]:
    """Measured mean and its standard error (seconds) from each run's measured rounds and weight.

    Strata (one run each, weights summing to 1; a single run is a stratum of weight 1): ``sum w_j*x_j``
    and ``sqrt(sum w_j^2*s_j^2/n_j)``. ``sampled`` runs (weights ``1/R``, ``R >= 2``): ``mean(x_j)`` and
    ``sd(x_j)/sqrt(R)``. ``x_j``, ``s_j``, ``n_j``: mean, standard deviation and count of run ``j``'s rounds.
    """
    means = np.array([float(np.mean(r)) for r in round_times])
    w = np.asarray(weights, dtype=float)
    if not math.isclose(float(w.sum()), 1.0, rel_tol=1e-9):
        raise must("weights", "sum to 1", float(w.sum()))
    measured = float(np.dot(w, means))
    if sampled:
        if len(means) < 2 or not np.allclose(w, 1.0 / len(means)):
            raise must("weights", "be 1/R over R >= 2 sampled runs", list(w))
        return measured, float(means.std(ddof=1) / math.sqrt(len(means)))
    variances = np.array([np.var(r, ddof=1) / len(r) if len(r) > 1 else math.nan for r in round_times])
    return measured, float(math.sqrt(np.dot(w**2, variances)))


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


def conditional_round_seconds(scenario: Any, coefficients: dict[str, float], algorithm: str,
                              table: ClientTable, groups: Sequence[Sequence[int]], homogeneous_s: float) -> float:
    """The model's round given the grouping: ``shift + E_m*max_b sum_{i in b} v_i`` over the table's visits.

    ``v_i = a + C/speed_i + D(down_i) + U(up_i)`` (:func:`~costmodel.analysis.heterogeneous.visit_numbers`),
    ``shift`` the homogeneous round less its ``E_m*gamma`` median visits; FedAvg's groups are single clients.
    """
    v = visit_numbers(scenario, coefficients, algorithm)
    visits = (v.fixed + v.compute / table.speed_factor
              + np.broadcast_to(np.asarray(v.wire_down_of(table.downlink_bits_per_s)), table.speed_factor.shape)
              + np.broadcast_to(np.asarray(v.wire_up_of(table.uplink_bits_per_s)), table.speed_factor.shape))
    slowest = max(float(sum(visits[int(k)] for k in group)) for group in groups)
    return homogeneous_s - v.passes * v.per_branch * v.visit + v.passes * slowest


def _predict(point: DevicePoint, scenario: Any, coefficients: dict[str, float], devices: Sequence[Device],
             effective: dict[float, float], monte_carlo: int) -> tuple[float, float, float]:
    """Closed form, Monte Carlo and conditional round of one run at effective speeds (devices by client)."""
    config = point.config
    table = ClientTable(np.array([effective[s] for s, _, _ in devices]), np.array([u for _, u, _ in devices]),
                        np.array([d for _, _, d in devices]), source=point.label)
    row = predict_heterogeneous(scenario, coefficients, Federation(clients=table), algorithms=[config.algorithm],
                                monte_carlo=monte_carlo).iloc[0]
    groups = _mediators(config) if config.algorithm == "astraea" else [[k] for k in range(config.clients)]
    conditional = conditional_round_seconds(scenario, coefficients, config.algorithm, table, groups,
                                            float(row["homogeneous_round_seconds"]))
    return float(row["round_seconds"]), float(row["monte_carlo_round_seconds"]), conditional


def measure_point(point: DevicePoint, calibration: Calibration, *, repeat: int = 0, timeout_s: float = 120.0,
                  monte_carlo: int = 20_000) -> tuple[Repetition, list[dict[str, Any]]]:
    """Run one repetition of a point's planned runs; return its estimate and one diagnostic row per run."""
    config = point.config
    coefficients = dict(calibration.coefficients)
    usual = float(calibration.machine.get("speed_probe_s", math.nan))
    planned = plan_runs(point)
    ups, downs = [u for _, u, _ in point.devices], [d for _, _, d in point.devices]
    runs, rounds, loads, predictions = [], [], [], []
    for index, run in enumerate(planned):
        effective = effective_speeds([s for s, _, _ in run.devices], usual)
        loads.append(_load())
        outcome = run_distributed(config, network="emulated", workers=config.clients, timeout_s=timeout_s,
                                  devices=run.devices)
        loads.append(_load())
        summary = dict(outcome.summary)
        summary.setdefault("sample_values", math.prod(summary["sample_shape"]))
        scenario = scenario_from_workload(plan_workload(config), summary).replace(
            uplink_bits_per_s=float(np.median(ups)), downlink_bits_per_s=float(np.median(downs)),
            server_bits_per_s=math.inf)
        wall = outcome.rounds["wall_s"].to_numpy()[1:]              # round 0 is the warm-up
        closed, monte, conditional = _predict(point, scenario, coefficients, run.devices, effective, monte_carlo)
        rounds.append(wall)
        predictions.append((closed, monte))
        runs.append(dict(set=point.set, point=point.name, algorithm=config.algorithm, repeat=repeat, run=index,
                         weight=run.weight, measured_round_s=float(wall.mean()),
                         round_sd_pct=100 * float(wall.std(ddof=1) / wall.mean()), round_se_pct=math.nan,
                         predicted_round_s=closed, conditional_round_s=conditional,
                         conditional_error_pct=100 * (conditional - wall.mean()) / wall.mean(),
                         grouping=" | ".join(",".join(f"{s:g}@{u / _MBIT:g}" for s, u, _ in g) for g in run.grouping),
                         effective=" ".join(f"{s:g}->{effective[s]:.3f}" for s in sorted(effective)),
                         load=loads[-1]))
        print(pd.DataFrame(runs[-1:]).to_string(index=False, float_format=lambda x: f"{x:.3f}"), file=sys.stderr)
    weights = [r.weight for r in planned]
    measured, stderr = combine_runs(rounds, weights, sampled=planned[0].sampled)
    for run_row in runs:
        run_row["round_se_pct"] = 100 * stderr / measured
    repetition = Repetition(measured_round_s=measured, round_se_s=stderr,
                            predicted_round_s=float(np.dot(weights, [p for p, _ in predictions])),
                            monte_carlo_round_s=float(np.dot(weights, [m for _, m in predictions])),
                            runs=len(planned), rounds=int(sum(len(r) for r in rounds)),
                            load_average=float(np.mean(loads)))
    return repetition, runs


def combine_repeats(point: DevicePoint, repetitions: Sequence[Repetition]) -> dict[str, Any]:
    """The table row (:data:`CSV_COLUMNS`) of a point from its repetitions (see the module docstring).

    ``measured = mean_r x_r``, ``predicted = mean_r p_r``, ``noise_pct = 100*sd(x_r, ddof=1)/measured`` (NaN
    for a single repetition), ``error_pct = 100*(predicted - measured)/measured``; runs and rounds summed.
    """
    if not repetitions:
        raise must("repetitions", "hold at least one repetition", 0)
    x = np.array([r.measured_round_s for r in repetitions])
    measured = float(x.mean())
    predicted = float(np.mean([r.predicted_round_s for r in repetitions]))
    noise = 100 * float(x.std(ddof=1)) / measured if len(x) > 1 else math.nan
    return dict(set=point.set, point=point.name, algorithm=point.config.algorithm,
                runs=int(sum(r.runs for r in repetitions)), rounds=int(sum(r.rounds for r in repetitions)),
                measured_round_s=measured, noise_pct=noise, predicted_round_s=predicted,
                monte_carlo_round_s=float(np.mean([r.monte_carlo_round_s for r in repetitions])),
                error_pct=100 * (predicted - measured) / measured,
                load_average=float(np.mean([r.load_average for r in repetitions])))


def interleaved_passes(points: Sequence[DevicePoint], repeats: int, *,
                       first: int = 0) -> list[tuple[int, DevicePoint]]:
    """The measuring order: pass ``first`` over every point, then pass ``first + 1``, ..., up to ``repeats - 1``."""
    if repeats < 1 or not 0 <= first <= repeats:
        raise must("repeats", f"be at least 1 and at least first ({first})", repeats)
    return [(repeat, point) for repeat in range(first, repeats) for point in points]


def stored_repetition(point: DevicePoint, table: pd.DataFrame,
                      runs: pd.DataFrame) -> tuple[Repetition, list[dict[str, Any]]]:
    """Repetition 0 of ``point`` from a stored single-repetition table row and its runs (checked).

    The row must count one repetition of the point's design (``runs == len(plan_runs(point))``), its runs
    must be those planned (groupings and weights) and their weighted mean must be the row's measured round.
    The row's ``noise_pct`` there is the repetition's round-to-round standard error (in percent).
    """
    key = (point.set, point.name, point.config.algorithm)
    row = table[(table["set"] == key[0]) & (table["point"] == key[1]) & (table["algorithm"] == key[2])]
    mine = runs[(runs["set"] == key[0]) & (runs["point"] == key[1]) & (runs["algorithm"] == key[2])]
    planned = plan_runs(point)
    if len(row) != 1 or int(row["runs"].iloc[0]) != len(planned) or len(mine) != len(planned):
        raise must("stored table", f"hold one single-repetition row of {point.set} {point.label} and its "
                   f"{len(planned)} runs", f"{len(row)} rows, {len(mine)} runs")
    row = row.iloc[0]
    mine = mine.sort_values("run")
    weights = mine["weight"].to_numpy(dtype=float)
    measured = float(np.dot(weights, mine["measured_round_s"]))
    if (not np.allclose(weights, [r.weight for r in planned], atol=1e-3)
            or not math.isclose(measured, float(row["measured_round_s"]), rel_tol=1e-3)):
        raise must("stored runs", f"be the planned runs of {point.set} {point.label} and give its measured round",
                   round(measured, 4))
    repetition = Repetition(measured_round_s=float(row["measured_round_s"]),
                            round_se_s=float(row["noise_pct"]) * float(row["measured_round_s"]) / 100,
                            predicted_round_s=float(row["predicted_round_s"]),
                            monte_carlo_round_s=float(row["monte_carlo_round_s"]), runs=len(planned),
                            rounds=int(row["rounds"]), load_average=float(row["load_average"]))
    rows = [{name: r.get(name) for name in RUN_COLUMNS} | dict(repeat=0, round_se_pct=float(row["noise_pct"]))
            for r in mine.to_dict("records")]
    return repetition, rows


def validate_heterogeneous(calibration: Calibration, points: Sequence[DevicePoint], *, repeats: int = 1,
                           reused: dict[str, tuple[Repetition, list[dict[str, Any]]]] | None = None,
                           timeout_s: float = 120.0, monte_carlo: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure every point ``repeats`` times in interleaved passes: the table (:data:`CSV_COLUMNS`, one row a
    point) and the runs (diagnostics). ``reused`` (by ``set label``) gives repetition 0 of every point."""
    reused = reused or {}
    first = 1 if reused else 0
    if reused and set(reused) != {f"{p.set} {p.label}" for p in points}:
        raise must("reused", "hold repetition 0 of every measured point", sorted(reused))
    repetitions: dict[str, list[Repetition]] = {f"{p.set} {p.label}": [] for p in points}
    runs: list[dict[str, Any]] = []
    for name, (repetition, rows) in reused.items():
        repetitions[name].append(repetition)
        runs.extend(rows)
    for repeat, point in interleaved_passes(points, repeats, first=first):
        print(f"pass {repeat + 1}/{repeats}: {point.set} {point.label}", file=sys.stderr)
        try:
            repetition, point_runs = measure_point(point, calibration, repeat=repeat, timeout_s=timeout_s,
                                                   monte_carlo=monte_carlo)
        except (DistributedRunError, NetlabError) as exc:  # reported as a failing point, never dropped
            print(f"{point.set} {point.label}: {exc}", file=sys.stderr)
            repetition = Repetition(measured_round_s=math.nan, round_se_s=math.nan, predicted_round_s=math.nan,
                                    monte_carlo_round_s=math.nan, runs=0, rounds=0, load_average=math.nan)
            point_runs = []
        repetitions[f"{point.set} {point.label}"].append(repetition)
        runs.extend(point_runs)
    rows = [combine_repeats(point, repetitions[f"{point.set} {point.label}"]) for point in points]
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS)), pd.DataFrame(runs, columns=list(RUN_COLUMNS))


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the chosen points with the embedded calibration; print the table and the bar; store it."""
    parser = argparse.ArgumentParser(prog="python -m calibration.heterogeneous_validation")
    parser.add_argument("--set", choices=("all", *SETS), default="all", help="which points to measure")
    parser.add_argument("--only", default=None, help="measure only the points whose label contains this text")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help=f"interleaved repetitions of the design (default {DEFAULT_REPEATS})")
    parser.add_argument("--reuse-first", action="store_true",
                        help="take repetition 1 from the stored single-repetition table and runs")
    parser.add_argument("--store", action="store_true", help=f"write the table to {DEFAULT_OUT.name} in the package")
    parser.add_argument("--out", default=None, help="write the table to this CSV file")
    parser.add_argument("--runs-out", default=None, help="write the per-run diagnostics to this CSV file")
    args = parser.parse_args(argv)
    ok, reason = cpu_throttle_available()
    if not ok:
        print(f"python -m calibration.heterogeneous_validation: error: {reason}.", file=sys.stderr)
        return 2
    points = [p for p in development_points() + test_points()
              if args.set in ("all", p.set) and (args.only is None or args.only in p.label)]
    start = time.perf_counter()
    try:
        if args.repeats < 1:
            raise must("--repeats", "be at least 1", args.repeats)
        reused = {}
        if args.reuse_first:
            stored, stored_runs = pd.read_csv(DEFAULT_OUT), pd.read_csv(DEFAULT_RUNS_OUT)
            reused = {f"{p.set} {p.label}": stored_repetition(p, stored, stored_runs) for p in points}
        table, runs = validate_heterogeneous(load_calibration(None), points, repeats=args.repeats, reused=reused)
    except InputError as exc:
        print(f"python -m calibration.heterogeneous_validation: error: {exc}", file=sys.stderr)
        return 2
    show = lambda x: f"{x:.3f}"  # noqa: E731
    print(runs.to_string(index=False, float_format=show))
    print(table.to_string(index=False, float_format=show))
    for line in bar_summary(table):
        print(line)
    print(f"{len(runs)} runs in {time.perf_counter() - start:.0f} s (reused ones included)")
    for path in ([DEFAULT_OUT] if args.store else []) + ([Path(args.out)] if args.out else []):
        store(table, path)
    for path in ([DEFAULT_RUNS_OUT] if args.store else []) + ([Path(args.runs_out)] if args.runs_out else []):
        if len(runs):
            store(runs, path, RUN_COLUMNS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
