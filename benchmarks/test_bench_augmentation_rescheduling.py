"""Throughput of Astraea's batched augmentation and of greedy mediator formation.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_augmentation_rescheduling.py --benchmark-enable``.
Each benchmark stores its rate in ``extra_info`` (samples/s, clients/s). The only time assertion is
the design target for rescheduling: 1,000 clients (K = 47, gamma = 10) in under a second. The
10,000-client cases are skipped in ordinary (benchmark-disabled) runs: they take seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference_impl.augmentation import AugmentationParams, augment
from reference_impl.rescheduling import form_mediators

BATCH = 4096


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["1x28x28", "3x32x32"])
def test_augmentation_throughput(benchmark, shape: tuple[int, int, int]) -> None:
    x = torch.rand((BATCH, *shape), generator=torch.Generator().manual_seed(0))
    params = AugmentationParams()
    generator = torch.Generator().manual_seed(1)
    out = benchmark(augment, x, params, generator)
    assert out.shape == x.shape
    if benchmark.stats is not None:
        benchmark.extra_info["samples_per_s"] = BATCH / benchmark.stats.stats.mean


def emnist_like(clients: int, *, dense: bool, seed: int = 0) -> np.ndarray:
    """K = 47 label histograms of 50..500 samples per client.

    non-IID: label shares ~ Dirichlet(0.1) (about 16 of the 47 classes present per client);
    dense: every class present, 1..49 samples each (the worst case for the update's cost).
    """
    rng = np.random.default_rng(seed)
    if dense:
        return rng.integers(1, 50, (clients, 47))
    sizes = rng.integers(50, 501, (clients, 1))
    return np.round(rng.dirichlet(np.full(47, 0.1), clients) * sizes).astype(np.int64)


@pytest.mark.parametrize("dense", [False, True], ids=["noniid", "dense"])
def test_form_mediators_1000_clients(benchmark, dense: bool) -> None:
    histograms = emnist_like(1000, dense=dense)
    assignment = benchmark(form_mediators, histograms, gamma=10)
    assert assignment.num_mediators == 100
    if benchmark.stats is not None:
        benchmark.extra_info["clients_per_s"] = 1000 / benchmark.stats.stats.mean
        assert benchmark.stats.stats.mean < 1.0  # DESIGN.md 5: thousands of clients in about a second


@pytest.mark.slow
@pytest.mark.parametrize("dense", [False, True], ids=["noniid", "dense"])
def test_form_mediators_10000_clients(benchmark, dense: bool) -> None:
    if benchmark.disabled:
        pytest.skip("10,000-client rescheduling takes seconds; it runs only with --benchmark-enable")
    histograms = emnist_like(10_000, dense=dense)
    assignment = benchmark.pedantic(form_mediators, args=(histograms,), kwargs={"gamma": 10},
                                    rounds=2, iterations=1)
    assert assignment.num_mediators == 1000
    assert assignment.kl_evaluations == 10_000 * 10_001 // 2
    if benchmark.stats is not None:
        benchmark.extra_info["clients_per_s"] = 10_000 / benchmark.stats.stats.mean
