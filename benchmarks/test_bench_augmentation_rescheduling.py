"""Throughput of Astraea's batched augmentation and of greedy mediator formation.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_augmentation_rescheduling.py --benchmark-enable``.
Each benchmark stores its rate in ``extra_info`` (samples/s, clients/s; for rescheduling also the
median CPU seconds of the thread and the class updates). The time assertions are the targets for
rescheduling a round every round on one core (K = 47, gamma = 10), on CPU time so that other
processes on the machine do not fail them: 1,000 clients well under a second, 10,000 clients in
about a second (checked as < 2 s; the dense case, every class present at every client, is the
worst case and is only recorded). The 10,000-client cases are skipped in ordinary
(benchmark-disabled) runs: they take seconds, and building their partitions too.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest
import torch

from reference_impl.data.augmentation import AugmentationParams, augment
from reference_impl.data.partition import class_fractions, partition
from reference_impl.protocols.rescheduling import form_mediators

BATCH = 4096

#: Rounds of clients the rescheduling benchmarks use (see ``round_histograms``).
ROUND_KINDS = ("noniid", "dense", "classes", "dirichlet")

#: Targets, median CPU seconds of one mediator formation.
TARGET_1000_CLIENTS_S = 0.2
TARGET_10000_CLIENTS_S = 2.0


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["1x28x28", "3x32x32"])
def test_augmentation_throughput(benchmark, shape: tuple[int, int, int]) -> None:
    x = torch.rand((BATCH, *shape), generator=torch.Generator().manual_seed(0))
    params = AugmentationParams()
    generator = torch.Generator().manual_seed(1)
    out = benchmark(augment, x, params, generator)
    assert out.shape == x.shape
    if benchmark.stats is not None:
        benchmark.extra_info["samples_per_s"] = BATCH / benchmark.stats.stats.mean


def _cpu_seconds(fn, repeats: int) -> float:
    """Median CPU time of the calling thread over ``repeats`` calls: what other processes do not inflate."""
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return float(np.median(times))


@functools.lru_cache(maxsize=None)
def round_histograms(clients: int, kind: str) -> np.ndarray:
    """K = 47 label histograms of one round's clients.

    noniid: 50..500 samples, label shares ~ Dirichlet(0.1) (about 16 of the 47 classes present);
    dense: every class present, 1..49 samples each (every candidate's every class is updated);
    classes, dirichlet: the project's partitions (``reference_impl.data.partition.partition``: two shards per
    client, about 2 classes; Dirichlet alpha = 0.5, about 28 classes) of 200 samples per client of
    a long-tail label set (rarest class 10% of the largest).
    """
    rng = np.random.default_rng(0)
    if kind == "dense":
        histograms = rng.integers(1, 50, (clients, 47))
    elif kind == "noniid":
        sizes = rng.integers(50, 501, (clients, 1))
        histograms = np.round(rng.dirichlet(np.full(47, 0.1), clients) * sizes).astype(np.int64)
    else:
        fractions = class_fractions("long-tail", 47, 0.1)
        labels = np.repeat(np.arange(47), np.round(fractions / fractions.sum() * 200 * clients).astype(np.int64))
        histograms = partition(labels, clients=clients, local_imbalance=kind, seed=0,
                               num_classes=47).label_histograms(47)
    histograms.setflags(write=False)
    return histograms


@pytest.mark.parametrize("kind", ROUND_KINDS)
def test_form_mediators_1000_clients(benchmark, kind: str) -> None:
    histograms = round_histograms(1000, kind)
    assignment = benchmark(form_mediators, histograms, gamma=10)
    assert assignment.num_mediators == 100
    if benchmark.stats is not None:
        cpu_s = _cpu_seconds(lambda: form_mediators(histograms, gamma=10), repeats=5)
        benchmark.extra_info.update(clients_per_s=1000 / benchmark.stats.stats.median, cpu_seconds=cpu_s,
                                    class_updates=assignment.class_updates)
        assert cpu_s < TARGET_1000_CLIENTS_S


@pytest.mark.slow
@pytest.mark.parametrize("kind", ROUND_KINDS)
def test_form_mediators_10000_clients(benchmark, kind: str) -> None:
    if benchmark.disabled:
        pytest.skip("10,000-client rescheduling takes seconds; it runs only with --benchmark-enable")
    histograms = round_histograms(10_000, kind)
    assignment = benchmark.pedantic(form_mediators, args=(histograms,), kwargs={"gamma": 10},
                                    rounds=3, iterations=1)
    assert assignment.num_mediators == 1000
    assert assignment.kl_evaluations == 10_000 * 10_001 // 2
    cpu_s = _cpu_seconds(lambda: form_mediators(histograms, gamma=10), repeats=3)
    benchmark.extra_info.update(clients_per_s=10_000 / benchmark.stats.stats.median, cpu_seconds=cpu_s,
                                class_updates=assignment.class_updates)
    if kind != "dense":
        assert cpu_s < TARGET_10000_CLIENTS_S
