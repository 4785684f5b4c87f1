"""The convergence figures draw what they are given: the seeds' mean curve, the targets, the times and
their ratio, and a line at every crossing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.analysis.time_to_accuracy import all_crossings, time_to_accuracy, time_to_accuracy_sweep
from costmodel.contracts.calibration_file import default_calibration
from costmodel.contracts.curves_file import check_curves
from costmodel.errors import InputError
from costmodel.model.scenario import Scenario
from costmodel.report.accuracy_plots import accuracy_curves, time_to_accuracy_vs

COLUMNS = ("algorithm", "seed", "round", "accuracy")
ROWS = [("astraea", 0, 1, 0.2), ("astraea", 0, 2, 0.6), ("astraea", 1, 1, 0.4), ("astraea", 1, 2, 0.8),
        ("fedavg", 0, 1, 0.1), ("fedavg", 0, 2, 0.3), ("fedavg", 1, 1, 0.1), ("fedavg", 1, 2, 0.5)]
CURVES = check_curves([dict(zip(COLUMNS, r)) for r in ROWS], COLUMNS, source="hand")


def test_accuracy_curves_are_the_seeds_mean_with_their_band_and_the_targets():
    figure = accuracy_curves(CURVES, targets=(0.5, 0.7))
    axes = figure.axes[0]
    lines = axes.get_lines()
    assert len(lines) == 4                                         # two algorithms, two targets
    np.testing.assert_allclose(lines[0].get_ydata(), [0.3, 0.7])   # astraea: means of (0.2, 0.4), (0.6, 0.8)
    np.testing.assert_allclose(lines[1].get_ydata(), [0.1, 0.4])
    assert [float(line.get_ydata()[0]) for line in lines[2:]] == [0.5, 0.7]
    with pytest.raises(InputError, match="'curves' must be Curves"):
        accuracy_curves(pd.DataFrame())


def test_time_to_target_figure_draws_the_times_their_ratio_and_every_crossing():
    steps = [(a, s, r, 0.8 if r >= at else 0.1) for a, reach in (("astraea", (9, 10, 11)), ("fedavg", (55, 60, 65)))
             for s, at in enumerate(reach) for r in range(1, 81)]
    curves = check_curves([dict(zip(COLUMNS, r)) for r in steps], COLUMNS, source="steps")
    coefficients = default_calibration().coefficients
    answer = time_to_accuracy(curves, 0.5, Scenario.emnist(), coefficients, crossovers=("bandwidth",))
    crossings = all_crossings(answer.crossovers["bandwidth"])
    assert len(crossings) == answer.crossovers["bandwidth"].details["crossings"] >= 1
    sweep = time_to_accuracy_sweep(answer, coefficients)
    figure = time_to_accuracy_vs(sweep, crossovers=crossings)
    top, bottom = figure.axes[:2]
    means = {a: own["mean_seconds"].to_numpy() for a, own in sweep.groupby("algorithm")}
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), means["astraea"])
    np.testing.assert_allclose(bottom.get_lines()[0].get_ydata(), means["astraea"] / means["fedavg"])
    verticals = [line for line in top.get_lines() if line.get_linestyle() == ":"]
    assert [float(line.get_xdata()[0]) for line in verticals] == list(crossings)
    assert all_crossings(None) == ()
    with pytest.raises(InputError, match="'sweep' must be the frame of time_to_accuracy_sweep"):
        time_to_accuracy_vs(pd.DataFrame({"value": [1.0]}))


def test_an_algorithm_that_never_reaches_the_target_has_no_line():
    steps = [(a, 0, r, 0.8 if r >= at else 0.1) for a, at in (("astraea", 5), ("fedavg", 99)) for r in range(1, 21)]
    curves = check_curves([dict(zip(COLUMNS, r)) for r in steps], COLUMNS, source="steps")
    coefficients = default_calibration().coefficients
    answer = time_to_accuracy(curves, 0.5, Scenario.emnist(), coefficients, crossovers=())
    figure = time_to_accuracy_vs(time_to_accuracy_sweep(answer, coefficients, "mediator_epochs"))
    top, bottom = figure.axes[:2]
    assert [line.get_label() for line in top.get_lines()] == ["Astraea"]
    assert [list(line.get_ydata()) for line in bottom.get_lines()] == [[1.0, 1.0]]   # only the line at ratio 1
