"""The papers' imbalance regime: clients' and mediators' KL to uniform, measured on planned partitions.

The TPDS paper (Duan et al., IEEE TPDS 32(1), 2021) reports that on its imbalanced EMNIST (47 classes,
500 clients) the clients' label distributions have a mean KL divergence to uniform of 0.550 nats and
that rescheduling (50 clients per round, mediators of gamma = 10) brings the mediators' to 0.174. The
papers do not say how they made clients locally imbalanced. The default partition of this project
(two label-sorted shards per client) gives about 3.1 nats at K = 47, so no mediator of ten such
clients can reach 0.174; a Dirichlet partition (``local_imbalance="dirichlet"``, client proportions
~ Dirichlet(alpha * K * q), :func:`reference_impl.data.partition.partition`) can be tuned to the paper's 0.550.

Everything here comes from the run's own data side, planned without training
(:func:`reference_impl.workload.plan_workload`: the same partition, plan draw, client selection and
greedy rescheduling as a run of the configuration), so a figure measured here is the one a run
with ``--local-imbalance dirichlet --dirichlet-alpha A`` reports in its ``mean_kl_*`` columns.

Measures (nats, :func:`reference_impl.protocols.rescheduling.kl_to_uniform`):

``client_kl``
    mean over all N clients of KL(P_client || U), on the partition (before augmentation): the
    paper's 0.550.
``mediator_kl``
    mean over the rounds of the mean over a round's mediators of KL(P_mediator || U), P_mediator
    the pooled label counts of its clients after the plan (``plan='none'``: the partition itself):
    the paper's 0.174.
``round_client_kl``
    mean over the rounds of the mean KL of the round's selected clients after the plan (what a run
    reports as ``mean_kl_clients``).

:func:`papers_emnist_config` is the TPDS EMNIST setup (500 clients of 225.6 samples, c = 50,
gamma = 10, the long tail of ratio 0.09897 on which the printed plan adds the paper's +81.8% at
tau_d = 3.5); :func:`fit_dirichlet_alpha` finds the concentration that gives a client KL;
``python -m reference_impl.studies.imbalance`` prints the table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel.errors import check_int, check_number, must
from reference_impl.config import PAPERS_DIRICHLET_ALPHA, RunConfig
from reference_impl.data.datasets import dataset_spec
from reference_impl.data.federated import client_labels
from reference_impl.protocols.rescheduling import kl_to_uniform
from reference_impl.workload import plan_workload

__all__ = [
    "PAPERS_CLIENT_KL",
    "PAPERS_EMNIST_IMBALANCE_RATIO",
    "PAPERS_MEDIATOR_KL",
    "KLMeasurement",
    "client_kl",
    "fit_dirichlet_alpha",
    "kl_table",
    "measure_kl",
    "papers_emnist_config",
]

#: The TPDS paper's mean KL to uniform of the clients and of the mediators on imbalanced EMNIST (nats).
PAPERS_CLIENT_KL = 0.550
PAPERS_MEDIATOR_KL = 0.174
#: The long tail on which the printed TPDS plan adds +81.8% at tau_d = 3.5, 47 classes
#: (``costmodel.model.label_mix.EMNIST_HISTOGRAM``; a test checks they agree).
PAPERS_EMNIST_IMBALANCE_RATIO = 0.09897


def papers_emnist_config(**changes: object) -> RunConfig:
    """The TPDS EMNIST setup's data side: 500 clients of 112,800 / 500 samples on the long tail of
    ratio :data:`PAPERS_EMNIST_IMBALANCE_RATIO`, Dirichlet clients, c = 50, gamma = 10, 5 rounds,
    ``plan='none'`` and tau_d = 3.5; ``changes`` override any :class:`RunConfig` field."""
    base = dict(algorithm="astraea", dataset="emnist-shape", samples=112_800, clients=500, clients_per_round=50,
                gamma=10, rounds=5, global_imbalance="long-tail", imbalance_ratio=PAPERS_EMNIST_IMBALANCE_RATIO,
                local_imbalance="dirichlet", dirichlet_alpha=PAPERS_DIRICHLET_ALPHA, plan="none", tau_d=3.5,
                evaluate=False)
    return RunConfig(**{**base, **changes})


@dataclass(frozen=True, kw_only=True)
class KLMeasurement:
    """The KL figures of one configuration (module docstring), in nats."""

    dirichlet_alpha: float
    seed: int
    plan: str
    client_kl: float
    round_client_kl: float
    mediator_kl: float


def client_kl(config: RunConfig) -> float:
    """Mean KL to uniform of all the clients' label distributions of ``config``'s partition (no plan,
    no rounds: the cheap part of :func:`measure_kl`)."""
    if not isinstance(config, RunConfig):
        raise must("config", "be a RunConfig", type(config).__name__)
    k = int(dataset_spec(config.dataset).num_classes)
    histograms = np.stack([np.bincount(y, minlength=k) for y in client_labels(config)])
    return float(np.mean(kl_to_uniform(histograms)))


def measure_kl(config: RunConfig) -> KLMeasurement:
    """Clients' and mediators' KL to uniform of a run of ``config`` (Astraea), planned without training."""
    if not isinstance(config, RunConfig) or config.algorithm != "astraea":
        raise must("config", "be a RunConfig of Astraea", getattr(config, "algorithm", type(config).__name__))
    workload = plan_workload(config)
    original, trained = workload.original_histograms, workload.trained_histograms
    mediators = [np.mean(kl_to_uniform(np.stack([trained[m].sum(axis=0) for m in r.mediators])))
                 for r in workload.rounds]
    selected = [np.mean(kl_to_uniform(trained[r.clients])) for r in workload.rounds]
    return KLMeasurement(dirichlet_alpha=config.dirichlet_alpha, seed=config.seed, plan=config.plan,
                         client_kl=float(np.mean(kl_to_uniform(original))),
                         round_client_kl=float(np.mean(selected)), mediator_kl=float(np.mean(mediators)))


def kl_table(base: RunConfig, alphas: Iterable[float], seeds: Sequence[int]) -> pd.DataFrame:
    """:func:`measure_kl` of ``base`` with each Dirichlet ``alpha`` and each seed, summarised.

    One row per alpha: ``dirichlet_alpha``, ``seeds``, and the mean and population standard deviation
    over the seeds of ``client_kl``, ``round_client_kl`` and ``mediator_kl`` (columns ``<name>`` and
    ``<name>_sd``). ``base.local_imbalance`` is set to ``dirichlet``.
    """
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if not seeds:
        raise must("seeds", "hold at least one seed", seeds)
    rows = []
    for alpha in alphas:
        alpha = check_number("alpha", alpha, exclusive_minimum=0)
        found = [measure_kl(dataclasses.replace(base, local_imbalance="dirichlet", dirichlet_alpha=alpha, seed=s))
                 for s in seeds]
        row: dict[str, float | int] = {"dirichlet_alpha": alpha, "seeds": len(seeds)}
        for name in ("client_kl", "round_client_kl", "mediator_kl"):
            values = np.array([getattr(m, name) for m in found])
            row[name], row[f"{name}_sd"] = float(values.mean()), float(values.std())
        rows.append(row)
    return pd.DataFrame(rows)


def fit_dirichlet_alpha(base: RunConfig, target_kl: float = PAPERS_CLIENT_KL, *, seeds: Sequence[int] = (0, 1, 2),
                        low: float = 0.05, high: float = 50.0, tolerance_nats: float = 1e-3) -> float:
    """The Dirichlet concentration at which the mean over ``seeds`` of :func:`client_kl` is ``target_kl``.

    Bisection in ``log alpha`` on ``[low, high]`` (client KL falls as alpha grows) until the mean KL
    is within ``tolerance_nats`` of the target or the interval is 0.1% wide. The partition's draws
    change with alpha, so the curve is monotone only up to seed noise (about 0.005 nats at 3 seeds on
    the papers' EMNIST setup); the result is good to that.
    """
    target = check_number("target_kl", target_kl, exclusive_minimum=0)
    seeds = [check_int("seed", s, minimum=0) for s in seeds]

    def mean_kl(alpha: float) -> float:
        return float(np.mean([client_kl(dataclasses.replace(base, local_imbalance="dirichlet", dirichlet_alpha=alpha,
                                                            seed=s)) for s in seeds]))

    if not mean_kl(high) <= target <= mean_kl(low):
        raise must("target_kl", f"lie between the client KL at alpha = {high:g} and at alpha = {low:g}", target_kl)
    while math.log(high / low) > 1e-3:
        middle = math.sqrt(low * high)
        kl = mean_kl(middle)
        if abs(kl - target) <= tolerance_nats:
            return middle
        low, high = (middle, high) if kl > target else (low, middle)
    return math.sqrt(low * high)


if __name__ == "__main__":  # pragma: no cover (a report, reproduced by hand)
    for plan in ("none", "tpds", "tpds-printed"):
        table = kl_table(papers_emnist_config(plan=plan), (0.5, 1.0, 1.5, 2.0, 3.0, 5.0), seeds=range(5))
        print(f"plan {plan}, mediators' KL after it; paper: clients {PAPERS_CLIENT_KL}, mediators {PAPERS_MEDIATOR_KL}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
