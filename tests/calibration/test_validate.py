"""Run -> scenario, the held-out design's distance from the sweep, the error table's arithmetic and
verdicts, exact bytes on real runs, and the table in the calibration file."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from calibration.scenario import (
    ARCHITECTURE_COLUMNS,
    augmented_fraction_spread,
    client_load_spread,
    client_sizes,
    mediator_load_spread,
    scenario_from_run,
    scenario_from_workload,
)
from calibration.sweep import SweepDesign, default_sweep, load_runs, run_sweep
from calibration.validate import (
    OTHER_ARCHITECTURES,
    TABLE_COLUMNS,
    compare_runs,
    heldout_design,
    parity_figure,
    summarize,
    validate_runs,
    validation_rows,
)
from costmodel.contracts.calibration_file import default_calibration, load_calibration, write_calibration
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.engine.drive import run
from reference_impl.models import build_model, count_parameters
from reference_impl.workload import RoundWorkload, Workload, plan_workload

TINY = dict(dataset="digits", model="scaled", model_width=0.25, clients=6, clients_per_round=4, gamma=2,
            rounds=2, batch_size=32, evaluate=False, threads=1, seed=2, size_skew=0.5)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-runs")
    astraea = RunConfig(algorithm="astraea", **TINY)
    design = SweepDesign(configs=(astraea, replace(astraea, algorithm="fedavg")), repetitions=(2, 2))
    run_sweep(design, folder, progress=False, probe_every=None)
    return folder


def test_scenario_planned_from_the_configuration_matches_the_one_read_off_the_run(tiny_runs):
    trace, runs = load_runs(tiny_runs)
    row = runs[runs["algorithm"] == "astraea"].iloc[0]
    config = RunConfig(algorithm="astraea", **TINY)
    planned = plan_workload(config)
    model = {**{name: row[name] for name in ARCHITECTURE_COLUMNS if name not in ("sample_values", "sample_channels")},
             "sample_shape": (1, 28, 28)}
    scenario = scenario_from_workload(planned, model)
    original = planned.original_sizes
    assert scenario.samples_per_client == pytest.approx(original.mean())
    assert scenario.samples_per_client_sd == pytest.approx(original.std()) and scenario.samples_per_client_sd > 0
    assert scenario.augmented_fraction == pytest.approx(planned.augmented_sizes.sum() / original.sum())
    assert scenario.removed_fraction == pytest.approx(planned.removed_sizes.sum() / original.sum())
    assert scenario.augmented_fraction_sd == pytest.approx(np.std(planned.trained_sizes / original - 1))
    assert scenario.sample_values == 784    # the digits are resized to 1x28x28
    spread = scenario.samples_per_client_sd * (1 + scenario.augmented_fraction - scenario.removed_fraction) \
        + scenario.samples_per_client * scenario.augmented_fraction_sd
    assert scenario.mediator_load_spread == pytest.approx(mediator_load_spread(planned, spread_samples=spread))
    assert scenario.client_load_spread == pytest.approx(client_load_spread(planned))
    # the same numbers as the measured run's own (nothing measured is needed to get them)
    measured = scenario_from_run({name: row[name] for name in ("clients", "clients_per_round", "gamma", "local_epochs",
                                                               "mediator_epochs", "batch_size", "rounds")},
                                 {name: row[name] for name in (*ARCHITECTURE_COLUMNS, "num_classes",
                                                               "augmented_fraction", "removed_fraction")},
                                 trace[trace["run_id"] == row["run_id"]])
    for name in ("samples_per_client", "samples_per_client_sd", "augmented_fraction", "removed_fraction", "classes",
                 "sample_channels"):
        assert getattr(scenario, name) == pytest.approx(getattr(measured, name))
    fedavg = scenario_from_workload(plan_workload(replace(config, algorithm="fedavg")), model)
    assert (fedavg.augmented_fraction, fedavg.augmented_fraction_sd, fedavg.mediator_load_spread) == (0, 0, 1)
    # a run recorded before the engine counted a figure is refused in one line, never priced with the default's
    older = {name: value for name, value in model.items() if name != "conv_padding_flops"}
    with pytest.raises(InputError, match=r"^'model' must give conv_padding_flops \(runs made before"):
        scenario_from_workload(planned, older)


def _two_mediator_workload(mediators: tuple[list[int], list[int]]) -> Workload:
    config = RunConfig(algorithm="astraea", dataset="digits", clients=4, clients_per_round=4, gamma=2, rounds=1)
    return Workload(config=config, num_classes=10, original_sizes=np.array([10, 30, 20, 20]),
                    augmented_sizes=np.zeros(4, dtype=np.int64), removed_sizes=np.zeros(4, dtype=np.int64),
                    rounds=(RoundWorkload(round=0, clients=np.arange(4),
                                          mediators=tuple(np.array(m) for m in mediators)),))


def test_mediator_load_spread_is_the_measured_excess_over_the_modelled_one():
    # loads 50 and 30 against 2 mean clients of 20 (40): excess 10; the model's at kappa = 1 is
    # z_2*sqrt(2)*sd with Blom's z_2 = Phi^-1(1.625/2.25) = 0.5894
    z2 = 0.589456
    kappa = mediator_load_spread(_two_mediator_workload(([1, 2], [0, 3])), spread_samples=5.0)
    assert kappa == pytest.approx(10 / (z2 * math.sqrt(2) * 5.0), rel=1e-5)
    # equal loads (40 and 40): no excess
    assert mediator_load_spread(_two_mediator_workload(([1, 0], [2, 3])), spread_samples=5.0) == 0.0
    # no spread in the model: kappa stays 1 (it multiplies 0)
    assert mediator_load_spread(_two_mediator_workload(([1, 2], [0, 3])), spread_samples=0.0) == 1.0


def test_client_load_spread_is_the_largest_client_s_excess_over_the_normal_one():
    workload = _two_mediator_workload(([1, 2], [0, 3]))      # sizes 10, 30, 20, 20: mean 20, sd 7.07
    z4 = 1.0491314                                            # Blom: Phi^-1(3.625/4.25)
    assert client_load_spread(workload) == pytest.approx((30 - 20) / (z4 * np.std([10, 30, 20, 20])), rel=1e-5)
    equal = replace(workload, original_sizes=np.full(4, 25))
    assert client_load_spread(equal) == 1.0                  # no spread: kappa_c multiplies 0


def test_scenario_of_a_run_takes_the_clients_original_sizes(tiny_runs):
    trace, runs = load_runs(tiny_runs)
    row = runs[runs["algorithm"] == "astraea"].iloc[0]
    rows = trace[trace["run_id"] == row["run_id"]]
    config = {name: row[name] for name in ("clients", "clients_per_round", "gamma", "local_epochs",
                                           "mediator_epochs", "batch_size", "rounds")}
    summary = {name: row[name] for name in (*ARCHITECTURE_COLUMNS, "num_classes", "augmented_fraction",
                                            "removed_fraction")}
    scenario = scenario_from_run(config, summary, rows)
    reports = rows[rows["phase"] == "distribution_report"]["samples"].to_numpy()
    assert len(reports) == 6                                       # every client reported once
    assert scenario.samples_per_client == pytest.approx(reports.mean())
    assert scenario.samples_per_client_sd == pytest.approx(reports.std()) and scenario.samples_per_client_sd > 0
    assert (scenario.clients_total, scenario.clients_per_round, scenario.mediator_size) == (6, 4, 2)
    assert scenario.classes == 10 and scenario.sample_values == 784 and scenario.params == row["params"]
    assert scenario.augmented_fraction == pytest.approx(row["augmented_fraction"])
    assert math.isinf(scenario.uplink_bits_per_s) and math.isinf(scenario.server_bits_per_s)

    # the spread of each client's own growth (trained/original - 1), by client
    reported = rows[rows["phase"] == "distribution_report"].set_index("entity")["samples"]
    trained = rows[rows["phase"] == "local_training"].drop_duplicates("entity").set_index("entity")["samples"]
    growth = (trained / reported.loc[trained.index]).to_numpy() - 1.0
    assert 4 <= len(growth) <= 6 and growth.std() > 0             # the clients that trained, unequally
    assert scenario.augmented_fraction_sd == pytest.approx(np.std(growth))
    assert augmented_fraction_spread(rows, local_epochs=1) == scenario.augmented_fraction_sd
    fedavg = runs[runs["algorithm"] == "fedavg"].iloc[0]
    assert augmented_fraction_spread(trace[trace["run_id"] == fedavg["run_id"]], local_epochs=1) == 0.0


def test_fedavg_client_sizes_come_from_its_visits():
    result = run(RunConfig(algorithm="fedavg", **dict(TINY, local_epochs=2, rounds=1)), progress=False)
    visits = result.trace[result.trace["phase"] == "local_training"]
    sizes = client_sizes(result.trace, local_epochs=2)
    assert len(sizes) == 4 and np.array_equal(np.sort(sizes), np.sort(visits["samples"].to_numpy() / 2))
    with pytest.raises(InputError, match="must hold distribution_report or local_training rows"):
        client_sizes(result.trace[result.trace["phase"] == "aggregation"], local_epochs=1)


def test_heldout_design_lies_outside_the_calibration_sweep():
    sweep, heldout = default_sweep().configs, heldout_design()
    assert max(c.clients_per_round for c in heldout.configs) >= 4 * max(c.clients_per_round for c in sweep)

    def params(config):
        shape, classes = {"emnist-shape": ((1, 28, 28), 47), "cinic-shape": ((3, 32, 32), 10),
                          "digits": ((1, 28, 28), 10)}[config.dataset]
        return count_parameters(build_model(config.model, sample_shape=shape, num_classes=classes,
                                            width=config.model_width))

    largest_fitted = max(params(c) for c in sweep if c.algorithm == "astraea")
    assert max(params(c) for c in heldout.configs if c.model == "scaled") >= 4 * largest_fitted
    assert {c.batch_size for c in heldout.configs}.isdisjoint({c.batch_size for c in sweep})
    assert {c.imbalance_ratio for c in heldout.configs} - {c.imbalance_ratio for c in sweep}
    assert min(heldout.repetitions) >= 3
    assert {c.algorithm for c in heldout.configs} == {"astraea", "fedavg", "fedprox"}


def test_bytes_of_real_runs_are_predicted_exactly(tiny_runs):
    trace, runs = load_runs(tiny_runs)
    points, _ = compare_runs(trace, runs, default_calibration())
    bytes_points = points[points["unit"] == "B"]
    assert set(bytes_points["phase"]) == {"round_bytes", "setup_bytes"}
    assert (bytes_points["predicted"] == bytes_points["measured"]).all()
    table = summarize(points)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table.set_index("phase").loc["round_bytes", "verdict"] == "pass"


def test_every_compared_phase_has_one_point_per_run(tiny_runs):
    trace, runs = load_runs(tiny_runs)
    points, notes = compare_runs(trace, runs, default_calibration())
    counts = points.groupby("phase")["run_id"].nunique()
    assert counts["local_training"] == 4 and counts["round"] == 4 and counts["client_upload"] == 4
    assert counts["augmentation"] == 2 and counts["model_broadcast"] == 2    # Astraea only
    visits = trace[(trace["phase"] == "local_training")].groupby("run_id")["duration_s"].mean()
    measured = points[points["phase"] == "local_training"].set_index("run_id")["measured"]
    assert measured.to_dict() == pytest.approx(visits.to_dict())
    # in process there is no link: a message costs message_s + serialize_s_per_byte*W, no latency_s
    calibration = default_calibration()
    k = calibration.coefficients
    astraea = runs[runs["algorithm"] == "astraea"].iloc[0]
    broadcast = points[(points["phase"] == "model_broadcast") & (points["run_id"] == astraea["run_id"])]
    expected = k["message_s"] + k["serialize_s_per_byte"] * (16 + 4 * astraea["params"])
    assert broadcast["predicted"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert notes == []


def _points(phase, measured, predicted, config=None):
    n = len(measured)
    return pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "config_key": config or ["a"] * n,
                         "algorithm": ["astraea"] * n, "phase": [phase] * n, "events": [1] * n,
                         "measured": measured, "predicted": predicted,
                         "unit": ["B" if phase.endswith("bytes") else "s"] * n})


def test_another_architecture_gets_its_own_labelled_rows_after_its_phase():
    points = pd.concat([_points("round", [1.0, 1.0], [1.05, 1.05]),
                        _points("round (keras-cifar)", [1.0, 1.0], [1.5, 1.5]),
                        _points("local_training", [1.0, 1.0], [1.0, 1.0])])
    table = summarize(points)
    assert list(table["phase"]) == ["local_training", "round", "round (keras-cifar)"]
    assert table.set_index("phase").loc["round (keras-cifar)", "mape_percent"] == pytest.approx(50.0)
    assert table.set_index("phase").loc["round (keras-cifar)", "target_percent"] == 10.0
    assert "keras-cifar" in OTHER_ARCHITECTURES


def test_table_arithmetic_and_verdicts():
    # MAPE of (10%, 30%) is 20%, max 30%; noise: CV of (1.0, 1.1) = 6.73%
    table = summarize(_points("aggregation", [1.0, 1.1], [1.1, 1.43])).iloc[0]
    assert table["mape_percent"] == pytest.approx(20.0)
    assert table["max_ape_percent"] == pytest.approx(30.0)
    assert table["noise_percent"] == pytest.approx(100 * np.std([1.0, 1.1], ddof=1) / 1.05)
    assert table["verdict"] == "fail: above target"

    within = summarize(_points("local_training", [1.0, 1.1], [1.05, 1.155])).iloc[0]      # 5%, noise 6.7%
    assert within["verdict"] == "pass"
    quiet = summarize(_points("local_training", [1.0, 1.0, 1.01], [1.08, 1.08, 1.0908])).iloc[0]  # 8%, noise 0.6%
    assert quiet["verdict"] == "fail: above 2x noise"
    exact = summarize(_points("round_bytes", [100.0, 100.0], [100.0, 100.4])).iloc[0]         # bytes: no noise rule
    assert exact["verdict"] == "pass" and exact["target_percent"] == 0.5
    off = summarize(_points("round_bytes", [100.0], [101.0])).iloc[0]
    assert off["verdict"] == "fail: above target"
    single = summarize(_points("rescheduling", [1.0, 2.0], [1.0, 2.0], config=["a", "b"])).iloc[0]
    assert math.isnan(single["noise_percent"]) and single["verdict"] == "pass"


def test_table_goes_into_the_calibration_file(tmp_path):
    points = pd.concat([_points("local_training", [1.0, 1.1], [1.05, 1.155]),
                        _points("rescheduling", [1.0, 2.0], [1.0, 2.0], config=["a", "b"])])
    rows = validation_rows(summarize(points))
    assert [row["phase"] for row in rows] == ["local_training"]        # the row without noise is left out
    calibration = replace(default_calibration(), validation=rows)
    loaded = load_calibration(write_calibration(tmp_path / "c.json", calibration))
    assert loaded.validation[0]["mape_percent"] == pytest.approx(5.0)
    assert loaded.validation[0]["verdict"] == "pass"
    assert "validation (held-out runs)" in loaded.report()


def test_validate_runs_reports_and_plots(tiny_runs):
    result = validate_runs(tiny_runs, default_calibration())
    assert result.runs == 4
    assert "held-out runs" in result.report()
    assert isinstance(parity_figure(result.points), Figure)
    assert len(result.calibration_rows()) >= 5
    with pytest.raises(InputError, match="timed points"):
        parity_figure(result.points[result.points["unit"] == "B"])


def test_the_papers_volume_and_a_thousand_clients_are_measured_and_labelled_apart():
    from calibration.rescheduling_probe import PROBE_CLIENTS
    from calibration.sweep import default_sweep
    from calibration.validate import subset_label
    from reference_impl.workload import plan_workload

    def added(config):                       # planned exactly as the run makes it (no training)
        workload = plan_workload(config)
        return workload.augmented_sizes.sum() / workload.original_sizes.sum()

    fitted = [c for c in default_sweep().configs if c.plan == "tpds-printed" and c.algorithm == "astraea"]
    held = [c for c in heldout_design().configs if c.plan == "tpds-printed" and c.algorithm == "astraea"]
    assert fitted and held
    assert all(0.7 < added(c) < 0.95 for c in fitted)             # the papers' +81.8% (EMNIST)
    assert all(0.9 < added(c) < 1.2 for c in held)                 # the papers' +103.8% (CINIC-10)
    assert subset_label(held[0], "round") == "round (papers' volume)"
    assert subset_label(held[0], "aggregation") == "aggregation"
    scale = [c for c in heldout_design().configs if c.clients_per_round >= 1000]
    assert {c.clients_per_round for c in scale} == {1000, 2000}
    assert subset_label(scale[0], "rescheduling") == "rescheduling (c >= 1000)"
    assert max(c.clients_per_round for c in default_sweep().configs) == 40       # the greedy alone: up to 700
    assert max(PROBE_CLIENTS) == 700


def test_a_built_in_family_or_a_users_model_labels_its_training_and_round_points_with_its_name():
    from dataclasses import replace as with_

    from calibration.validate import subset_label

    base = heldout_design().configs[0]
    assert base.model in ("scaled", "tpds") and subset_label(base, "local_training") == "local_training"
    assert subset_label(with_(base, model="mlp"), "local_training") == "local_training (mlp)"   # validate --model mlp
    assert subset_label(with_(base, model="mine.py:build", model_width=1.0), "round") == "round (mine.py:build)"
    assert subset_label(with_(base, model="mlp"), "aggregation") == "aggregation"
    assert subset_label(with_(base, model="keras-cifar", model_width=1.0), "round") == "round (keras-cifar)"
