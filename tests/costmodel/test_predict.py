"""Prediction frames: fixed columns, consistency between frames, scenario forms, and clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from costmodel.errors import InputError
from costmodel.model import MODEL_PHASES
from costmodel.contracts.vocabulary import CATEGORIES
from costmodel.analysis.predict import grid, predict_overhead, predict_phases, predict_rounds, scenario_frame
from costmodel.model.quantities import INPUTS
from costmodel.model.scenario import Scenario
from hand_coefficients import HAND_COEFFICIENTS

COEFFS = HAND_COEFFICIENTS
SCENARIOS = [Scenario.emnist(samples_per_client_sd=40.0), Scenario.cinic10(mediator_epochs=3),
             Scenario.emnist(clients_per_round=7, mediator_size=10, uplink_bits_per_s=float("inf"))]


def test_rounds_frame_columns_and_the_papers_emnist_traffic() -> None:
    frame = predict_rounds(Scenario.emnist(), COEFFS)
    assert list(frame.columns) == ["scenario", *INPUTS, "algorithm", "round_seconds", "round_bytes",
                                   "setup_seconds", "setup_bytes", "total_seconds", "total_bytes"]
    assert frame["algorithm"].tolist() == ["astraea", "fedavg"]
    rows = frame.set_index("algorithm")
    message = 16 + 4 * 68_873
    assert rows.loc["fedavg", "round_bytes"] == 2 * 50 * message
    assert rows.loc["astraea", "round_bytes"] == 2 * message * (5 + 50)  # the paper's formula at E_m = 1
    assert rows.loc["astraea", "setup_bytes"] == 500 * (16 + 8 * 47)
    assert rows.loc["fedavg", "setup_seconds"] == 0
    np.testing.assert_allclose(frame["total_seconds"], frame["setup_seconds"] + 100 * frame["round_seconds"])
    np.testing.assert_allclose(frame["total_bytes"], frame["setup_bytes"] + 100 * frame["round_bytes"])
    assert frame["clients_per_round"].dtype == np.int64


def test_mediator_epochs_multiply_client_traffic_the_paper_leaves_out() -> None:
    frame = predict_rounds(Scenario.emnist(mediator_epochs=4), COEFFS).set_index("algorithm")
    message = 16 + 4 * 68_873
    assert frame.loc["astraea", "round_bytes"] == 2 * message * (5 + 4 * 50)


def test_phase_frame_adds_up_to_the_rounds_frame() -> None:
    phases = predict_phases(SCENARIOS, COEFFS)
    assert list(phases.columns) == ["scenario", *INPUTS, "algorithm", "phase", "scope", "seconds", "bytes", "flops"]
    assert len(phases) == len(SCENARIOS) * 2 * len(MODEL_PHASES)
    assert phases.loc[phases.phase == "rescheduling", "scope"].eq("round").all()
    rounds = predict_rounds(SCENARIOS, COEFFS).set_index(["scenario", "algorithm"])
    sums = phases.groupby(["scenario", "algorithm", "scope"])[["seconds", "bytes"]].sum()
    for (scenario, algorithm), row in rounds.iterrows():
        assert sums.loc[(scenario, algorithm, "round"), "seconds"] == pytest.approx(row.round_seconds, rel=1e-12)
        assert sums.loc[(scenario, algorithm, "round"), "bytes"] == pytest.approx(row.round_bytes, rel=1e-15)
        assert sums.loc[(scenario, algorithm, "setup"), "seconds"] == pytest.approx(row.setup_seconds, rel=1e-12)
    fedavg = phases[phases.algorithm == "fedavg"]
    assert (fedavg.loc[fedavg.phase.isin(["model_broadcast", "mediator_upload", "rescheduling"]),
                       ["seconds", "bytes"]] == 0).all().all()


def test_training_flops_in_the_phase_frame() -> None:
    phases = predict_phases(Scenario.emnist(mediator_epochs=2), COEFFS)
    training = phases[phases.phase == "local_training"].set_index("algorithm")["flops"]
    samples = 112_800 / 500
    growth = 1 + Scenario.emnist().augmented_fraction - Scenario.emnist().removed_fraction
    assert training["fedavg"] == pytest.approx(50 * samples * 1_018_188, rel=1e-15)
    assert training["astraea"] == pytest.approx(2 * 50 * samples * growth * 1_018_188, rel=1e-15)


def test_overhead_frame_splits_the_difference_exactly() -> None:
    overhead = predict_overhead(SCENARIOS, COEFFS)
    assert list(overhead.columns) == ["scenario", *INPUTS, "category", "scope", "seconds", "bytes",
                                      "fraction_of_fedavg", "storage_bytes"]
    assert len(overhead) == len(SCENARIOS) * 3 * len(CATEGORIES)
    rounds = predict_rounds(SCENARIOS, COEFFS).pivot(index="scenario", columns="algorithm")
    split = overhead.groupby(["scenario", "scope"])[["seconds", "bytes"]].sum()
    for scenario in rounds.index:
        for scope in ("round", "setup", "total"):
            difference = rounds.loc[scenario, (f"{scope}_seconds", "astraea")] - rounds.loc[
                scenario, (f"{scope}_seconds", "fedavg")]
            assert split.loc[(scenario, scope), "seconds"] == pytest.approx(difference, rel=1e-9)
            byte_difference = rounds.loc[scenario, (f"{scope}_bytes", "astraea")] - rounds.loc[
                scenario, (f"{scope}_bytes", "fedavg")]
            assert split.loc[(scenario, scope), "bytes"] == pytest.approx(byte_difference, rel=1e-12)
    per_round = overhead[overhead.scope == "round"]
    fedavg_round = rounds[("round_seconds", "fedavg")]
    np.testing.assert_allclose(per_round.fraction_of_fedavg,
                               per_round.seconds / per_round.scenario.map(fedavg_round), rtol=1e-12)
    assert overhead.loc[overhead.scope == "setup", "fraction_of_fedavg"].isna().all()
    storage = overhead[(overhead.category == "data_augmentation") & (overhead.scope != "round")]
    emnist = Scenario.emnist()
    assert storage.loc[storage.scenario == 0, "storage_bytes"].tolist() == pytest.approx(
        [4 * 225.6 * (emnist.augmented_fraction - emnist.removed_fraction) * 784] * 2, rel=1e-12)
    assert (overhead.loc[overhead.category != "data_augmentation", "storage_bytes"] == 0).all()


def test_dataframe_input_takes_defaults_for_missing_columns_and_keeps_ids() -> None:
    frame = pd.DataFrame({"scenario": [10, 11], "clients_per_round": [20, 40], "mediator_epochs": [1, 2]})
    rounds = predict_rounds(frame, COEFFS)
    assert rounds["scenario"].tolist() == [10, 10, 11, 11]
    expected = predict_rounds([Scenario(clients_per_round=20), Scenario(clients_per_round=40, mediator_epochs=2)],
                              COEFFS)
    np.testing.assert_allclose(rounds["round_seconds"], expected["round_seconds"], rtol=1e-15)
    mapping = predict_rounds({"clients_per_round": [20, 40], "mediator_epochs": [1, 2], "rounds": 7}, COEFFS)
    assert mapping["rounds"].tolist() == [7, 7, 7, 7]
    np.testing.assert_allclose(mapping["round_seconds"], expected["round_seconds"], rtol=1e-15)


def test_grid_is_a_cartesian_product() -> None:
    g = grid(clients_per_round=[10, 20, 30], mediator_epochs=[1, 2], uplink_bits_per_s=1e6)
    assert list(g.columns) == ["clients_per_round", "mediator_epochs", "uplink_bits_per_s"]
    assert len(g) == 6
    assert set(zip(g.clients_per_round, g.mediator_epochs)) == {(c, e) for c in (10, 20, 30) for e in (1, 2)}
    assert len(grid()) == 1 and len(predict_rounds(grid(), COEFFS)) == 2
    frame = scenario_frame(g)
    assert list(frame.columns) == ["scenario", *INPUTS] and frame["samples_per_client"].eq(225.6).all()


def test_large_grid_evaluates_vectorised() -> None:
    g = grid(clients_per_round=np.arange(1, 201), mediator_size=np.arange(1, 21), mediator_epochs=[1, 2, 3])
    rounds = predict_rounds(g, COEFFS)
    assert len(rounds) == 2 * len(g) == 24_000
    astraea = rounds[rounds.algorithm == "astraea"].round_seconds.to_numpy()
    assert np.isfinite(astraea).all() and (astraea > 0).all()


@pytest.mark.parametrize(("scenarios", "message"), [
    (pd.DataFrame({"clients": [10]}), r"^'clients' is not an input of the cost model"),
    (pd.DataFrame({"mediator_size": [3, 0, -1]}), r"^'mediator_size' must be >= 1 \(got 0\)\.$"),
    (pd.DataFrame({"clients_per_round": [10, 600]}),
     r"^'clients_per_round' must be <= clients_total \(500\) \(got 600\)\.$"),
    (pd.DataFrame({"classes": [47, 10], "classes_per_client": [12, 12]}),
     r"^'classes_per_client' must be <= classes \(10\) \(got 12\)\.$"),
    (pd.DataFrame({"sample_values": [784, 784], "sample_channels": [1, 3]}),
     r"^'sample_channels' must divide sample_values \(784\) \(got 3\)\.$"),
    (pd.DataFrame({"plans_augmentation": [1, 0]}),
     r"^'augmented_fraction' must be 0 when plans_augmentation is 0 \(the plan 'none'\)"),
    (pd.DataFrame({"params": []}), r"^'scenarios' must hold at least one scenario"),
    ([], r"^'scenarios' must hold at least one scenario"),
    (42, r"^'scenarios' must be a Scenario, a list of Scenarios or a DataFrame of input columns \(got 'int'\)\.$"),
    ({"params": [1, 2], "rounds": [1, 2, 3]}, r"^'scenarios' must have columns of one length"),
])
def test_bad_scenarios_raise_input_errors(scenarios: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        predict_rounds(scenarios, COEFFS)


def test_bad_coefficients_and_grids_raise_input_errors() -> None:
    partial = dict(COEFFS)
    del partial["kl_s_per_evaluation"]
    with pytest.raises(InputError, match=r"^'kl_s_per_evaluation' must be given"):
        predict_overhead(Scenario(), partial)
    with pytest.raises(InputError, match=r"^'latency_s' must be >= 0 \(got -0\.001\)\.$"):
        predict_phases(Scenario(), COEFFS | {"latency_s": -0.001})
    with pytest.raises(InputError, match=r"^'gamma' is not an input of the cost model"):
        grid(gamma=[1, 2])
    with pytest.raises(InputError, match=r"^'rounds' must be a scalar or a non-empty 1-D list"):
        grid(rounds=[])
    with pytest.raises(InputError, match=r"^'rounds' must be >= 1 \(got 0\)\.$"):
        grid(rounds=[0, 1])


def test_prediction_imports_neither_torch_nor_scipy() -> None:
    code = "import sys, costmodel.analysis.predict; print('torch' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_classes_held_left_out_are_the_default_at_most_the_classes() -> None:
    """K_c not given is the EMNIST preset's 38.06 classes held, capped at K: the frame path and the
    Scenario path agree, and an explicit K_c is kept."""
    default = INPUTS["classes_per_client"].default
    frame = scenario_frame(pd.DataFrame({"classes": [10, 47, 100]}))
    assert frame.classes_per_client.tolist() == [10.0, default, default]
    assert Scenario(classes=10).classes_per_client == 10.0 and Scenario(classes=100).classes_per_client == default
    assert Scenario(classes=10, classes_per_client=2.5).classes_per_client == 2.5
    by_frame = predict_rounds(pd.DataFrame({"classes": [10]}), HAND_COEFFICIENTS)
    by_scenario = predict_rounds(Scenario(classes=10), HAND_COEFFICIENTS)
    assert by_frame.round_seconds.tolist() == pytest.approx(by_scenario.round_seconds.tolist(), rel=1e-12)
