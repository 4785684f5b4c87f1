"""Figures: each returns a Figure with the expected axes, series and values, and saves as PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

from costmodel.report import plots
from costmodel.contracts.calibration_file import default_calibration
from costmodel.errors import InputError
from costmodel.contracts.vocabulary import CATEGORIES
from costmodel.analysis.predict import grid, predict_overhead, predict_rounds

CLIENTS = [10, 20, 50, 100]


@pytest.fixture(scope="module")
def coefficients() -> dict[str, float]:
    return dict(default_calibration().coefficients)


@pytest.fixture(scope="module")
def overhead_by_clients(coefficients: dict[str, float]) -> pd.DataFrame:
    return predict_overhead(grid(clients_per_round=CLIENTS), coefficients)


@pytest.fixture(scope="module")
def rounds_by_clients(coefficients: dict[str, float]) -> pd.DataFrame:
    return predict_rounds(grid(clients_per_round=CLIENTS, mediator_epochs=[3]), coefficients)


def _bar_heights(figure: Figure) -> np.ndarray:
    """Heights of the bar containers as an array [category, x position]."""
    axis = figure.axes[0]
    return np.array([[patch.get_height() for patch in container] for container in axis.containers])


def test_overhead_vs_clients_stacks_four_categories_in_one_unit(overhead_by_clients: pd.DataFrame) -> None:
    figure = plots.overhead_vs_clients(overhead_by_clients)
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    assert axis.get_xlabel() == "clients per round c"
    assert axis.get_ylabel() == "Astraea overhead per round (s)"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["10", "20", "50", "100"]
    heights = _bar_heights(figure)
    assert heights.shape == (len(CATEGORIES), len(CLIENTS))
    rows = overhead_by_clients[overhead_by_clients["scope"] == "round"]
    expected = rows.pivot(index="category", columns="clients_per_round", values="seconds").loc[list(CATEGORIES)]
    np.testing.assert_allclose(heights, expected.to_numpy(), rtol=1e-12)
    # The net-overhead markers sit at the sum of the categories.
    net = axis.lines[0].get_ydata()
    np.testing.assert_allclose(net, expected.sum(axis=0).to_numpy(), rtol=1e-12)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == ["net overhead", "training compute", "data augmentation", "communication",
                      "coordination and synchronization"]


def test_overhead_bytes_axis_uses_one_unit(overhead_by_clients: pd.DataFrame) -> None:
    figure = plots.overhead_vs_clients(overhead_by_clients, quantity="bytes")
    axis = figure.axes[0]
    assert axis.get_ylabel() == "Astraea overhead per round (MB)"
    heights = _bar_heights(figure)
    rows = overhead_by_clients[(overhead_by_clients["scope"] == "round")
                               & (overhead_by_clients["category"] == "communication")]
    np.testing.assert_allclose(heights[CATEGORIES.index("communication")], rows["bytes"].to_numpy() / 1e6)


def test_negative_parts_stack_downwards() -> None:
    frame = pd.DataFrame({
        "clients_per_round": [10] * 4,
        "category": list(CATEGORIES),
        "scope": ["round"] * 4,
        "seconds": [2.0, 0.0, -1.0, 3.0],
    })
    figure = plots.overhead_vs_clients(frame)
    axis = figure.axes[0]
    bottoms = [container.patches[0].get_y() for container in axis.containers]
    # training 0..2; augmentation 0 height at 2; communication 0..-1 (below zero); coordination 2..5.
    assert bottoms == [0.0, 2.0, 0.0, 2.0]
    assert axis.containers[2].patches[0].get_height() == -1.0
    assert axis.lines[0].get_ydata()[0] == 4.0


def test_overhead_vs_params_and_bandwidth_tick_labels(coefficients: dict[str, float]) -> None:
    by_params = predict_overhead(grid(params=[10_000, 68_873, 1_250_858]), coefficients)
    figure = plots.overhead_vs_params(by_params)
    axis = figure.axes[0]
    assert axis.get_xlabel() == "model parameters P"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["10k", "68.9k", "1.25M"]

    by_bandwidth = predict_overhead(grid(uplink_bits_per_s=[1e6, 1e7, math.inf]), coefficients)
    figure = plots.overhead_vs_bandwidth(by_bandwidth, scope="total")
    axis = figure.axes[0]
    assert axis.get_xlabel() == "client uplink bandwidth"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["1 Mbit/s", "10 Mbit/s", "in-process"]
    assert axis.get_ylabel().startswith("Astraea overhead in total (")
    # Slower uplinks cost more time waiting for the chain's other visits (coordination: with E_m = 1 a
    # client moves the model once each way, as in FedAvg, so its own communication barely changes).
    coordination = _bar_heights(figure)[CATEGORIES.index("coordination")]
    assert coordination[0] > coordination[1] > coordination[2]


def test_round_time_vs_clients_two_lines(rounds_by_clients: pd.DataFrame) -> None:
    figure = plots.round_time_vs_clients(rounds_by_clients)
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.lines] == ["Astraea", "FedAvg"]
    assert axis.get_xlabel() == "clients per round c"
    assert axis.get_ylabel() == "round time (s)"
    fedavg = rounds_by_clients[rounds_by_clients["algorithm"] == "fedavg"]
    np.testing.assert_allclose(axis.lines[1].get_ydata(), fedavg["round_seconds"].to_numpy())
    np.testing.assert_array_equal(axis.lines[1].get_xdata(), CLIENTS)


def test_traffic_adds_the_papers_formula_without_e_m(rounds_by_clients: pd.DataFrame) -> None:
    figure = plots.traffic_vs_clients(rounds_by_clients)
    axis = figure.axes[0]
    assert len(axis.lines) == 3
    assert axis.get_ylabel() == "bytes on the wire per round (MB)"
    paper = axis.lines[2].get_ydata() * 1e6
    # The papers' 2*|w|*(ceil(c/gamma) + c), |w| = 16 + 4*68873 bytes, gamma = 10, by hand.
    w = 16 + 4 * 68_873
    expected = [2 * w * (math.ceil(c / 10) + c) for c in CLIENTS]
    np.testing.assert_allclose(paper, expected, rtol=1e-12)
    # With E_m = 3 the modelled Astraea traffic is above the papers' formula.
    assert (axis.lines[0].get_ydata() * 1e6 > paper).all()
    assert len(plots.traffic_vs_clients(rounds_by_clients, paper_formula=False).axes[0].lines) == 2


def test_frames_varying_another_input_are_refused(coefficients: dict[str, float]) -> None:
    mixed = predict_rounds(grid(clients_per_round=[10, 20], mediator_size=[5, 10]), coefficients)
    with pytest.raises(InputError, match=r"^'rounds' must vary only 'clients_per_round' for this figure "
                                         r"\(column 'mediator_size' takes 2 values\)"):
        plots.round_time_vs_clients(mixed)


def test_bad_arguments_are_one_line_errors(overhead_by_clients: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"^'scope' must be one of round, setup, total \(got 'weekly'\)\.$"):
        plots.overhead_vs_clients(overhead_by_clients, scope="weekly")
    with pytest.raises(InputError, match=r"^'quantity' must be one of seconds, bytes \(got 'flops'\)\.$"):
        plots.overhead_vs_clients(overhead_by_clients, quantity="flops")
    with pytest.raises(InputError, match=r"^'against' must be one of uplink_bits_per_s"):
        plots.overhead_vs_bandwidth(overhead_by_clients, against="params")
    with pytest.raises(InputError, match=r"^'overhead' must have the columns category, scope, clients_per_round, "
                                         r"seconds \(missing category\)\.$"):
        plots.overhead_vs_clients(overhead_by_clients.drop(columns="category"))


def _parity_frame() -> pd.DataFrame:
    measured = np.array([0.1, 0.2, 1.0, 2.0, 5.0, 10.0])
    predicted = measured * np.array([1.05, 0.9, 1.0, 1.2, 1.0, 0.95])
    return pd.DataFrame({"phase": ["local_training"] * 3 + ["aggregation"] * 3,
                         "measured": measured, "predicted": predicted})


def test_parity_log_log_with_identity_band_and_one_series_per_phase() -> None:
    figure = plots.parity(_parity_frame())
    axis = figure.axes[0]
    assert axis.get_xscale() == "log" and axis.get_yscale() == "log"
    assert axis.get_xlabel() == "measured (s)" and axis.get_ylabel() == "predicted (s)"
    scatters = [c for c in axis.collections if isinstance(c, PathCollection)]
    assert sorted(s.get_label() for s in scatters) == ["aggregation", "local_training"]
    bands = [c for c in axis.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1 and bands[0].get_label() == "+-10%"
    identity = axis.lines[0]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    # Errors by hand: 5, 10, 0, 20, 0, 5 percent -> mean 6.67%, max 20%.
    assert axis.get_title() == "Prediction against measurement: MAPE 6.67%, max 20%"


def test_parity_refuses_non_positive_values() -> None:
    frame = _parity_frame()
    frame.loc[0, "measured"] = 0.0
    with pytest.raises(InputError, match=r"^'measured' must be finite and > 0 for a log-log parity plot \(got 0\.0\)\.$"):
        plots.parity(frame)


def test_save_figure_writes_png_atomically(tmp_path: Path, overhead_by_clients: pd.DataFrame) -> None:
    path = plots.save_figure(plots.overhead_vs_clients(overhead_by_clients), tmp_path / "overhead.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["overhead.png"]
    with pytest.raises(InputError, match="must be an existing folder"):
        plots.save_figure(plots.parity(_parity_frame()), tmp_path / "missing" / "p.png")
