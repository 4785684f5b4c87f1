"""How long fitting and validating a calibration take (the runs themselves are measured by the CLI).

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_calibration.py --benchmark-enable``.
A trace shaped like the default sweep's (72 runs, ~9,000 events) is generated from known
coefficients; ``calibrate`` fits it with 200 bootstrap resamples of the runs. The rows per second
go into ``extra_info``. No time assertions: the numbers are for the report.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from calibration.fit import fit_calibration

RUNS = 72


def sweep_like_trace(runs: int = RUNS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(runs):
        params = float(rng.choice([5.9e3, 1.9e4, 6.9e4, 2.6e5, 5.7e5]))
        batch, classes = int(rng.choice([5, 10, 25, 50])), int(rng.choice([10, 47]))
        c = int(rng.choice([4, 8, 12, 16, 20]))
        conv_values = float(rng.choice([2962, 8000, 20000]))
        # the other architecture features of the five families, apart from the width
        elementwise, nodes, conv_calls = float(rng.uniform(1e3, 2e5)), int(rng.integers(16, 120)), int(rng.integers(0, 20))
        padding = float(rng.uniform(0.0, 3e7)) if conv_calls else 0.0
        values, channels = [(784, 1), (3072, 3)][r % 2]
        held = int(rng.choice([2, 5]))

        def add(phase, duration, **columns):
            rows.append({"run_id": f"run{r}", "config_key": f"cfg{r // 2}", "phase": phase,
                         "duration_s": duration * math.exp(0.05 * rng.standard_normal()), "params": params,
                         "sample_values": values, "sample_channels": channels, "conv_input_values": conv_values,
                         "elementwise_values": elementwise, "autograd_nodes": nodes, "conv_calls": conv_calls,
                         "conv_padding_flops": padding, "num_classes": classes, "bytes": 0,
                         "flops": 0.0, "samples": 0, "steps": 0, **columns})

        for _ in range(3 * c):
            n = int(rng.integers(50, 400))
            steps = math.ceil(n / batch)
            add("local_training", n * ((15 * params + padding) / 3e10 + conv_values * 3e-9 + elementwise * 3e-9)
                + steps * (1e-4 + nodes * 2e-5 + conv_calls * 1.7e-4 + params * 3e-9) + 4e-4,
                flops=n * 15 * params, samples=n, steps=steps)
            for phase in ("client_download", "client_upload"):
                add(phase, 2.5e-6 + (16 + 4 * params) * 2.5e-10, bytes=16 + 4 * int(params))
        for _ in range(20):
            augmented = int(rng.integers(0, 60))
            add("augmentation", augmented * values * 3e-9 + augmented * values / channels * 1e-8 + 4e-4,
                samples=augmented)
            add("distribution_report", 2.5e-6 + (16 + 8 * classes) * 2.5e-10, bytes=16 + 8 * classes)
        add("augmentation_plan", classes * 2e-6 + 1.8e-4, samples=4000)
        for _ in range(3):
            updates = held * c * (c - math.ceil(c / 4)) // 2
            add("rescheduling", c * 2.2e-5 + c * (c + 1) // 2 * 3e-9 + updates * 2e-9 + 1.8e-4, samples=c,
                steps=c * (c + 1) // 2, flops=float(updates))
            add("aggregation", c * params * 8e-10 + 5e-5, samples=c)
    return pd.DataFrame(rows)


def test_calibrate_a_sweep_with_bootstrap(benchmark) -> None:
    trace = sweep_like_trace()
    fit = benchmark.pedantic(fit_calibration, args=(trace,), kwargs={"bootstrap": 200}, rounds=3, iterations=1)
    assert fit.runs == RUNS
    if benchmark.stats is not None:
        benchmark.extra_info["rows"] = len(trace)
        benchmark.extra_info["rows_per_s"] = len(trace) / benchmark.stats.stats.mean
