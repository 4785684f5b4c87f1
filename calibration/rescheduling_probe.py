"""A direct measurement of Astraea's greedy rescheduling at hundreds of clients per round.

The rescheduling statement (:mod:`costmodel.model.events`) has two quadratic terms, ``c*(c + 1)/2``
candidate evaluations and ``K_c*c*(c - M)/2`` class updates. In the sweep's federated runs (at most 40
clients per round) both are lost beside the per-step cost, and a federated run of hundreds of clients
spends seconds training for one rescheduling event. So the profile also times the greedy alone
(:func:`reference_impl.protocols.rescheduling.form_mediators`) on the histograms a configuration of
``c`` clients plans (:func:`reference_impl.workload.plan_workload`, no training), the way the engine
times it (``time.thread_time`` around the call):

* ``c`` in :data:`PROBE_CLIENTS` (100..700; the held-out validation runs 1,000 and 2,000 in full
  federated runs), mediators of 10;
* clients of 10 samples holding 2 classes or drawn IID (about 9 of the 47 classes), so the two
  quadratic terms are told apart (:data:`PROBE_MIXES`);
* :data:`PROBE_REPETITIONS` interleaved rounds, each in a new shuffled order after one warm-up call
  per configuration: each configuration is timed across the machine's slow and fast episodes
  instead of re-run when it looks slow.

Its rows have the trace's columns (phase ``rescheduling``: ``samples`` = c, ``steps`` = evaluations,
``flops`` = class updates) and are written to ``<sweep folder>/rescheduling_probe.csv``;
:func:`calibration.sweep.load_runs` joins them to the runs' trace rows, so the fit sees both. The
file records the engine's :data:`~reference_impl.engine.drive.MEASUREMENT_VERSION`: a probe of another
version is measured again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from costmodel.errors import check_int
from costmodel.files import atomic_path
from reference_impl.config import RunConfig
from reference_impl.engine.drive import MEASUREMENT_VERSION
from reference_impl.protocols.rescheduling import form_mediators
from reference_impl.workload import plan_workload

__all__ = ["PROBE_CLIENTS", "PROBE_FILE", "PROBE_MIXES", "PROBE_REPETITIONS", "load_probe", "measure_rescheduling",
           "probe_histograms"]

PROBE_FILE = "rescheduling_probe.csv"
PROBE_CLIENTS: tuple[int, ...] = (100, 200, 350, 500, 700)
PROBE_MIXES: tuple[str, ...] = ("classes", "none")
PROBE_REPETITIONS = 5
PROBE_GAMMA = 10


def probe_histograms(clients: int, mix: str, *, seed: int = 0) -> np.ndarray:
    """The (clients x 47) label histograms a round of ``clients`` clients of 10 samples each trains on
    (emnist-shape, long tail 0.1, the TPDS plan), planned without training."""
    config = RunConfig(algorithm="astraea", dataset="emnist-shape", samples=10 * clients, model="scaled",
                       model_width=0.25, clients=clients, clients_per_round=clients, gamma=PROBE_GAMMA, rounds=1,
                       batch_size=10, global_imbalance="long-tail", imbalance_ratio=0.1, local_imbalance=mix,
                       seed=seed, evaluate=False)
    workload = plan_workload(config)
    return workload.trained_histograms[workload.rounds[0].clients]


def load_probe(folder: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The probe rows stored in ``folder`` (``None`` when there are none of this engine's version)."""
    path = Path(folder) / PROBE_FILE
    if not path.is_file():
        return None
    rows = pd.read_csv(path)
    if rows.empty or set(rows["measurement_version"]) != {MEASUREMENT_VERSION}:
        return None
    return rows


def measure_rescheduling(folder: str | os.PathLike[str], *, clients: tuple[int, ...] = PROBE_CLIENTS,
                         mixes: tuple[str, ...] = PROBE_MIXES, repetitions: int = PROBE_REPETITIONS, seed: int = 0,
                         progress: bool = True) -> pd.DataFrame:
    """Time the greedy on every (c, mix) ``repetitions`` times, interleaved; write and return the rows
    (kept as they are when ``folder`` already holds this design's rows of this engine's version)."""
    repetitions = check_int("repetitions", repetitions, minimum=1)
    stored = load_probe(folder)
    design = {(int(c), str(mix)) for c in clients for mix in mixes}
    if stored is not None and set(zip(stored["samples"], stored["local_imbalance"])) == design \
            and stored["repetition"].max() + 1 == repetitions:
        return stored
    cases = sorted(design)
    histograms = {case: probe_histograms(case[0], case[1], seed=seed) for case in cases}
    for case in cases:                                      # warm-up: first calls allocate and load
        form_mediators(histograms[case], gamma=PROBE_GAMMA)
    rng = np.random.default_rng(seed)
    rows = []
    bar = tqdm(total=repetitions * len(cases), desc="rescheduling probe", unit="call", disable=not progress,
               leave=False)
    for repetition in range(repetitions):
        for index in rng.permutation(len(cases)):
            c, mix = cases[index]
            start = time.thread_time()
            assignment = form_mediators(histograms[(c, mix)], gamma=PROBE_GAMMA)
            duration = time.thread_time() - start
            rows.append({"run_id": f"rescheduling-probe-{c}-{mix}-{repetition}",
                         "config_key": f"rescheduling-probe-{c}-{mix}", "algorithm": "astraea", "round": 0,
                         "phase": "rescheduling", "entity": "server", "start_s": 0.0, "duration_s": duration,
                         "bytes": 0, "flops": float(assignment.class_updates), "samples": c,
                         "steps": assignment.kl_evaluations, "clients_per_round": c, "gamma": PROBE_GAMMA,
                         "local_imbalance": mix, "num_classes": histograms[(c, mix)].shape[1],
                         "repetition": repetition, "measurement_version": MEASUREMENT_VERSION})
            bar.update()
    bar.close()
    frame = pd.DataFrame(rows)
    with atomic_path(Path(folder) / PROBE_FILE, name="out") as tmp:
        frame.to_csv(tmp, index=False)
    return frame
