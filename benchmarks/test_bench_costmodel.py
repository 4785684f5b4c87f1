"""Speed of the cost model: scenarios per second and the time of each capacity solve.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_costmodel.py --benchmark-enable``.
Rates go to ``extra_info`` (``scenarios_per_s``); nothing here asserts a time (the machine is
shared), the figures are read from the report. The bar (docs/design.md, the bar): >= 10 million
scenarios per second for the round time of both algorithms, and each solve in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import model as ex
from costmodel.analysis import solve
from costmodel.model.bridge import numeric_function
from costmodel.analysis.predict import grid, predict_rounds
from costmodel.model.quantities import INPUTS
from costmodel.model.scenario import Scenario

COEFFS = {
    "flops_per_s": 2.0e9, "step_overhead_s": 3.0e-4, "step_s_per_param": 2.0e-9, "augment_s_per_value": 5.0e-9, "augment_s_per_pixel": 2.0e-9,
    "augment_plan_s_per_class": 1.0e-6, "kl_s_per_evaluation": 4.0e-8, "reschedule_s_per_class_update": 3.0e-9, "reschedule_s_per_step": 2.0e-5,
    "aggregate_s_per_param": 1.5e-9, "serialize_s_per_byte": 1.0e-9, "latency_s": 2.0e-3,
    "link_efficiency": 0.8, "message_overhead_bytes": 100.0,
    # schema 2: fixed per-event costs, per-sample training cost, data copy and uncached serialization
    "train_s_per_elementwise_value": 1.8e-9, "train_s_per_autograd_node": 2.0e-5, "train_s_per_conv_call": 1.7e-4,
    "train_s_per_visit": 3.0e-4, "augment_s_per_client": 2.6e-4,
    "augment_s_per_data_value": 1.5e-9, "augment_plan_s": 1.8e-4, "reschedule_s_per_round": 1.4e-4,
    "aggregate_s_per_round": 5.0e-5, "serialize_s_per_uncached_byte": 1.2e-10, "cache_bytes": 3.3e5,
    "upload_message_s": 3.8e-5, "message_s": 2.8e-6, "train_time_cv": 0.04,
    "aggregate_s_per_large_param": 8.0e-11, "aggregate_large_bytes": 1.3e6,
    "aggregate_s_per_model": 1.7e-6, "aggregate_s_per_output_param": 2.2e-10,  # schema 3
    "train_s_per_conv_value": 3.0e-9, "prox_s_per_param": 5.0e-10,  # schema 4
}


def million_grid() -> dict[str, object]:
    """1,048,576 scenarios: c (128) x gamma (16) x uplink (64) x E_m (8); the other inputs fixed."""
    frame = grid(clients_per_round=np.arange(1, 129), mediator_size=np.arange(1, 17),
                 uplink_bits_per_s=np.geomspace(1e5, 1e9, 64), mediator_epochs=np.arange(1, 9))
    values: dict[str, object] = {name: float(q.default) for name, q in INPUTS.items()}
    values.update({name: frame[name].to_numpy(dtype=np.float64) for name in frame.columns})
    values["samples_per_client_sd"] = 40.0
    return values | COEFFS


def test_round_time_both_algorithms_scenarios_per_s(benchmark) -> None:
    values = million_grid()
    function = numeric_function([ex.round_seconds("astraea"), ex.round_seconds("fedavg")])
    arguments = {name: values[name] for name in function.arguments}
    astraea, fedavg = benchmark(function, **arguments)
    size = len(values["clients_per_round"])  # type: ignore[arg-type]
    assert size >= 1_000_000 and astraea.shape == fedavg.shape == (size,)
    assert np.isfinite(astraea).all() and (astraea >= fedavg).all()
    if benchmark.stats is not None:
        benchmark.extra_info["scenarios"] = size
        benchmark.extra_info["scenarios_per_s"] = size / benchmark.stats.stats.mean


def test_predict_rounds_frame_scenarios_per_s(benchmark) -> None:
    frame = grid(clients_per_round=np.arange(1, 129), mediator_size=np.arange(1, 17),
                 uplink_bits_per_s=np.geomspace(1e5, 1e9, 64), mediator_epochs=np.arange(1, 9))
    rounds = benchmark(predict_rounds, frame, COEFFS)
    assert len(rounds) == 2 * len(frame)
    if benchmark.stats is not None:
        benchmark.extra_info["scenarios"] = len(frame)
        benchmark.extra_info["scenarios_per_s"] = len(frame) / benchmark.stats.stats.mean


SOLVES = {
    "max_clients_per_round": lambda s: solve.max_clients_per_round(5.0, s, COEFFS),
    "min_bandwidth_for_overhead": lambda s: solve.min_bandwidth_for_overhead(7.0, s, COEFFS),
    "crossover_bandwidth": lambda s: solve.crossover_bandwidth(s, COEFFS),
    "break_even_rounds": lambda s: solve.break_even_rounds(s, COEFFS, 1000),
    "sensitivities": lambda s: solve.sensitivities(s, COEFFS),
}


@pytest.mark.parametrize("question", list(SOLVES))
def test_solve_time(benchmark, question: str) -> None:
    scenario = Scenario.emnist()
    SOLVES[question](scenario)  # compile once: the benchmark times a warm answer
    result = benchmark(SOLVES[question], scenario)
    assert result is not None
