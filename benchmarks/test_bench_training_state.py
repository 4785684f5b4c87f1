"""A visit's cost depends on the model's weights, not only on its shapes (docs/limits.md, Compute).

Astraea's mediator passes a model from client to client; on the generated (random-label) data a
model trained in sequence has most ReLU units dead, many weights get exactly zero gradients, and
Adam then takes square roots of zeros, which this CPU build computes about 13x slower than those
of ordinary values (10.4 vs 0.8 ms per 2.6 M values; a visit from chain-trained weights: +18%). Measured here, interleaved and by the thread's CPU time (best of several):

* ``test_sqrt_of_zeros_is_dearer``: ``sqrt`` of 2.6 M zeros against 2.6 M ordinary values;
* ``test_chain_trained_model_trains_slower``: one visit (40 samples, B = 16) of the width-6.5 TPDS
  layout (2.6 M parameters, the held-out model) from its initial weights against the same visit
  from weights trained by 8 visits in sequence, as a mediator does.

Run: ``pytest benchmarks/test_bench_training_state.py --benchmark-enable -s``. The figures go to
``extra_info`` and are printed; nothing is asserted beyond the direction of the effect, which the
model leaves out by design (it prices shapes).
"""

import time

import pytest
import torch

from reference_impl.config import RunConfig
from reference_impl.engine.in_process import Engine

CONFIG = RunConfig(algorithm="fedavg", dataset="emnist-shape", samples=20 * 40, model="scaled", model_width=6.5,
                   clients=20, clients_per_round=8, batch_size=16, rounds=1, evaluate=False, seed=7, threads=1)


@pytest.fixture
def one_thread():
    """One torch thread for the test, the previous count restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _best_cpu_seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


def test_sqrt_of_zeros_is_dearer(benchmark, one_thread):
    zeros, ordinary = torch.zeros(2_637_890), torch.full((2_637_890,), 1e-6)
    if benchmark.disabled:
        benchmark(zeros.sqrt)
        return
    zero_s, ordinary_s = [], []
    for _ in range(5):   # interleaved
        zero_s.append(_best_cpu_seconds(zeros.sqrt, 3))
        ordinary_s.append(_best_cpu_seconds(ordinary.sqrt, 3))
    ratio = min(zero_s) / min(ordinary_s)
    benchmark.extra_info.update(zeros_ms=1e3 * min(zero_s), ordinary_ms=1e3 * min(ordinary_s), ratio=ratio)
    print(f"\nsqrt of 2.6 M zeros {1e3 * min(zero_s):.2f} ms, of ordinary values {1e3 * min(ordinary_s):.2f} ms "
          f"({ratio:.2f}x)")
    benchmark.pedantic(zeros.sqrt, rounds=3, iterations=1)


def test_chain_trained_model_trains_slower(benchmark, one_thread):
    engine = Engine(CONFIG)
    fresh = engine.global_vector.clone()
    chained = fresh.clone()
    for visit in range(8):                       # a mediator's chain: each client starts from the last
        chained, _ = engine.train_visit(chained, client=visit % CONFIG.clients, round=0, visit=0)

    def visit(start: torch.Tensor):
        return lambda: engine.train_visit(start.clone(), client=1, round=1, visit=0)

    if benchmark.disabled:
        benchmark(visit(fresh))
        return
    fresh_s, chained_s = [], []
    for _ in range(6):   # interleaved
        fresh_s.append(_best_cpu_seconds(visit(fresh), 2))
        chained_s.append(_best_cpu_seconds(visit(chained), 2))
    ratio = min(chained_s) / min(fresh_s)
    benchmark.extra_info.update(fresh_ms=1e3 * min(fresh_s), chained_ms=1e3 * min(chained_s), ratio=ratio)
    print(f"\nwidth-6.5 visit from initial weights {1e3 * min(fresh_s):.1f} ms, from chain-trained weights "
          f"{1e3 * min(chained_s):.1f} ms ({100 * (ratio - 1):+.0f}%)")
    assert ratio > 1.0
    benchmark.pedantic(visit(chained), rounds=2, iterations=1)
