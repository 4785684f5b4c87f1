"""Accuracy against rounds, seed by seed, written in the curves format of the cost model.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) is meant to reach a given accuracy in fewer
rounds than FedAvg on imbalanced data; each of its rounds costs more. :func:`measure_curves` runs
every chosen algorithm for every seed on identical federated data (the same partition, clients
selected and initial model per seed, as :mod:`reference_impl.studies.compare` does) and records, per
round, the test accuracy and what the round measured; :func:`curves_from_comparison` turns the
frame of ``astraea-cost compare`` into the same format.

The frame has the columns of :data:`costmodel.contracts.curves_file.CURVE_COLUMNS` and
:data:`~costmodel.contracts.curves_file.MEASURED_COLUMNS`:

``algorithm, seed``
    as run;
``round``
    rounds completed (1 after the first round), the engine's 0-based round index + 1;
``accuracy``
    test accuracy after that round;
``round_seconds, round_bytes``
    the round's virtual-clock seconds (the protocol's critical path over the measured event
    durations) and its bytes on the wire;
``setup_seconds, setup_bytes``
    the run's setup (Astraea: the distribution report, the plan, augmentation; FedAvg: none), on
    every row of the run.

:func:`costmodel.contracts.curves_file.load_curves` reads the file back with its checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd
from tqdm.auto import tqdm

from costmodel.contracts.curves_file import CURVE_COLUMNS, MEASURED_COLUMNS
from costmodel.contracts.vocabulary import SETUP_ROUND
from costmodel.errors import check_int, must
from reference_impl.config import RunConfig
from reference_impl.engine import drive
from reference_impl.protocols import PROTOCOLS
from reference_impl.studies.compare import configs_of

__all__ = ["COLUMNS", "curves_from_comparison", "measure_curves"]

#: Columns of :func:`measure_curves`' frame, in order.
COLUMNS: tuple[str, ...] = (*CURVE_COLUMNS, *MEASURED_COLUMNS)


def measure_curves(base: RunConfig, seeds: Sequence[int], *, algorithms: Sequence[str] | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Run ``base`` with each algorithm (default: every registered one) for every seed, with test
    accuracy after every round; one row per (algorithm, seed, round), columns :data:`COLUMNS`.

    Runs are in-process (:func:`reference_impl.engine.drive.run`), in the order seed by seed, each
    seed's algorithms in the order given.
    """
    if not isinstance(base, RunConfig):
        raise must("base", "be a RunConfig", type(base).__name__)
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise must("seeds", "name at least one seed, each once", list(seeds))
    configs = configs_of(base, tuple(PROTOCOLS) if algorithms is None else tuple(algorithms))
    jobs = [(seed, config) for seed in seeds for config in configs]
    frames = []
    for seed, config in tqdm(jobs, desc="runs", unit="run", disable=not progress):
        result = drive.run(dataclasses.replace(config, seed=seed, evaluate=True), progress=False)
        setup_bytes = int(result.trace.loc[result.trace["round"] == SETUP_ROUND, "bytes"].sum())
        rounds = result.rounds
        frames.append(pd.DataFrame({
            "algorithm": config.algorithm, "seed": seed, "round": rounds["round"].to_numpy() + 1,
            "accuracy": rounds["accuracy"].to_numpy(), "round_seconds": rounds["round_s"].to_numpy(),
            "round_bytes": rounds["bytes"].to_numpy(), "setup_seconds": float(result.summary["setup_s"]),
            "setup_bytes": setup_bytes}))
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def curves_from_comparison(rounds: pd.DataFrame) -> pd.DataFrame:
    """The curves of a comparison frame (:func:`reference_impl.studies.compare.compare_algorithms`,
    ``compare.csv``): ``round`` becomes rounds completed (index + 1), ``round_s`` and ``bytes``
    become ``round_seconds`` and ``round_bytes``; rows sorted by algorithm, seed, round. The setup
    is not in a comparison frame, so neither are the setup columns."""
    missing = [c for c in ("algorithm", "seed", "round", "accuracy", "round_s", "bytes") if c not in rounds.columns]
    if missing:
        raise must("rounds", "be a comparison frame (compare.csv)", f"missing {', '.join(missing)}")
    out = pd.DataFrame({"algorithm": rounds["algorithm"], "seed": rounds["seed"], "round": rounds["round"] + 1,
                        "accuracy": rounds["accuracy"], "round_seconds": rounds["round_s"],
                        "round_bytes": rounds["bytes"]})
    return out.sort_values(["algorithm", "seed", "round"], kind="stable", ignore_index=True)
