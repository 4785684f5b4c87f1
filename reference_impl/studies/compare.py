"""Every registered algorithm on the same data, seed by seed: accuracy and how uniform the training groups are.

For every seed every algorithm of the registry (:mod:`reference_impl.protocols`: Astraea and FedAvg)
runs on identical federated data (same partition, same clients selected
in every round, same initial model), so the differences are the algorithms'. The TPDS paper reports
that rescheduling brings the mean KL divergence to uniform from 0.550 (clients) to 0.174 (mediators)
on imbalanced EMNIST; here it is measured on the data this machine has.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from tqdm.auto import tqdm

from reference_impl.config import RunConfig
from reference_impl.engine.drive import run
from reference_impl.protocols import PROTOCOLS

__all__ = ["compare_algorithms", "summarize_comparison"]


def compare_algorithms(base: RunConfig, seeds: list[int], *, progress: bool = True) -> pd.DataFrame:
    """Run every registered algorithm for every seed; one row per (seed, algorithm, round).

    Columns: seed, algorithm, round, accuracy, round_s, bytes, mean_kl_clients, mean_kl_groups.
    """
    frames = []
    jobs = [(seed, algorithm) for seed in seeds for algorithm in PROTOCOLS]
    for seed, algorithm in tqdm(jobs, desc="runs", unit="run", disable=not progress):
        config = dataclasses.replace(base, algorithm=algorithm, seed=seed, evaluate=True)
        result = run(config, progress=False)
        frames.append(result.rounds.assign(seed=seed, algorithm=algorithm))
    columns = ["seed", "algorithm", "round", "accuracy", "round_s", "bytes", "mean_kl_clients", "mean_kl_groups"]
    return pd.concat(frames, ignore_index=True)[columns]


def summarize_comparison(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per seed and algorithm: final accuracy, best accuracy, mean KL of clients and of training groups.

    Adds a last row per algorithm, ``seed = 'mean'``, with the mean over seeds.
    """
    last = rounds["round"].max()
    per_seed = (rounds.groupby(["algorithm", "seed"])
                .agg(final_accuracy=("accuracy", lambda s: s.iloc[-1]), best_accuracy=("accuracy", "max"),
                     mean_kl_clients=("mean_kl_clients", "mean"), mean_kl_groups=("mean_kl_groups", "mean"),
                     round_s=("round_s", "mean"))
                .reset_index())
    per_seed["seed"] = per_seed["seed"].astype(str)
    means = per_seed.groupby("algorithm", as_index=False).mean(numeric_only=True).assign(seed="mean")
    table = pd.concat([per_seed, means], ignore_index=True).sort_values(["algorithm", "seed"], ignore_index=True)
    table.attrs["rounds"] = int(last) + 1
    return table
