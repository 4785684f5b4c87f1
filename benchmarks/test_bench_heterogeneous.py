"""Speed of the heterogeneous closed form: one ``predict`` of a log-normal or device-class federation.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_heterogeneous.py --benchmark-enable``.
The bar: ``astraea-cost predict --preset emnist --speed-sigma 0.5 --link-sigma 1`` stays interactive,
well under a second of model evaluation after import. The first call builds and compiles the
expressions (timed once, in ``extra_info``); the benchmark times the calls after it (the round, its
95% quantile, both algorithms). Nothing asserts a time: the machine is shared.
"""

from __future__ import annotations

import time

import pytest

from costmodel.analysis.heterogeneous import predict_heterogeneous
from costmodel.contracts.calibration_file import load_calibration
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario

COEFFS = dict(load_calibration(None).coefficients)


@pytest.mark.parametrize("federation", [Federation(speed_sigma=0.5, link_sigma=1.0),
                                        Federation(speed_classes=((1.0, 0.5), (0.3, 0.3), (0.1, 0.2)),
                                                   link_sigma=0.5)],
                         ids=["log-normal", "classes"])
def test_predict_heterogeneous(benchmark, federation: Federation) -> None:
    scenario = Scenario.emnist()
    start = time.perf_counter()
    first = predict_heterogeneous(scenario, COEFFS, federation)
    benchmark.extra_info["first_call_s"] = time.perf_counter() - start
    table = benchmark(predict_heterogeneous, scenario, COEFFS, federation)
    assert table.equals(first)
    assert (table["closed_form_q95_seconds"] > table["round_seconds"]).all()
