"""What a user can trust the command line for: interrupted commands leave nothing, answers at exact
budgets, full precision in JSON, and a word when the calibration behind a number is weak."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import run
from costmodel.analysis import solve
from costmodel.contracts.calibration_file import default_calibration, write_calibration
from costmodel.analysis.predict import predict_rounds
from costmodel.model.scenario import Scenario

COEFFS = default_calibration().coefficients


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("argv", "target"), [
    (["plot", "--out", "{out}", "--kind", "traffic"], "costmodel.report.plots.save_figure"),
    (["report", "--out", "{out}"], "costmodel.cli.report.write_report"),
    (["run", "--out", "{out}", "--clients", "6", "--clients-per-round", "4", "--gamma", "2", "--rounds", "1",
      "--quiet"], "reference_impl.distributed.launcher.run_with_network"),
    (["compare", "--out", "{out}", "--clients", "6", "--clients-per-round", "4", "--gamma", "2", "--rounds", "1",
      "--seeds", "0", "--quiet"], "reference_impl.cli.compare_algorithms"),
])
def test_ctrl_c_leaves_no_output_folder(argv: list[str], target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        (tmp_path / "new" / "deeper" / "half.csv").write_text("x")   # something was already written
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    filled = [part.replace("{out}", str(tmp_path / "new" / "deeper")) for part in argv]
    status, _, err = run(filled, capsys)
    assert status == 130
    assert err == f"astraea-cost {argv[0]}: interrupted; nothing half-written was left behind.\n"
    assert list(tmp_path.iterdir()) == []


def test_max_clients_counts_a_budget_equal_to_a_predicted_round_time() -> None:
    # Budgets that are exactly the round times `predict` prints (another compiled function than the
    # solver's): the answer is never one too low.
    scenario = Scenario.emnist(clients_total=120, samples_per_client_sd=20.0)
    grid = pd.DataFrame({"clients_per_round": np.arange(1, 121)})
    for name, value in scenario.as_dict().items():
        if name != "clients_per_round":
            grid[name] = value
    for algorithm in ("astraea", "fedavg"):
        rounds = predict_rounds(grid, COEFFS)
        times = rounds[rounds["algorithm"] == algorithm]["round_seconds"].to_numpy()
        for clients, budget in zip(range(1, 121), times):
            answer = solve.max_clients_per_round(float(budget), scenario, COEFFS, algorithm)
            assert answer.value >= clients, (algorithm, clients)
            assert "round_seconds_one_more" not in answer.details or \
                answer.details["round_seconds_one_more"] > budget * (1 + solve.BUDGET_RELATIVE_TOLERANCE)


def test_json_keeps_full_precision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    status, _, err = run(["predict", "--clients-per-round", "7,13", "--uplink", "3.3Mbit/s", "--json", str(path)],
                         capsys)
    assert status == 0, err
    records = json.loads(path.read_text())
    for record in records:
        rounds = predict_rounds(Scenario.emnist(clients_per_round=record["clients_per_round"],
                                                uplink_bits_per_s=3.3e6), COEFFS).set_index("algorithm")
        assert record["astraea_round_seconds"] == rounds.loc["astraea", "round_seconds"]   # exactly, not to 1e-10
        assert record["fedavg_round_bytes"] == rounds.loc["fedavg", "round_bytes"]


@pytest.mark.parametrize(("change", "note"), [
    ({"validation": ()}, "is unvalidated: it has no held-out table"),
    ({"fit": {"runs": 1, "r2": {}}}, "is weak: it was fitted on 1 run(s)"),
    ({"fit": {"runs": 90, "r2": {"local_training": 0.91}}}, "is weak: its local-training fit has R^2 0.91"),
])
@pytest.mark.parametrize("argv", [["predict"], ["solve", "max-clients", "--budget", "30s"], ["solve", "sensitivity"]])
def test_an_unvalidated_or_weak_calibration_is_said_in_one_line(change: dict, note: str, argv: list[str],
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cal.json"
    write_calibration(path, replace(default_calibration(), **change))
    status, _, err = run([*argv, "--calibration", str(path)], capsys)
    assert status == 0
    lines = [line for line in err.splitlines() if line.startswith("note: the calibration")]
    assert len(lines) == 1 and note in lines[0], err
    status, _, err = run(argv, capsys)           # the embedded default is validated: no note
    assert status == 0 and "note: the calibration" not in err


def test_a_weak_round_row_of_the_validation_is_said() -> None:
    rows = tuple(dict(row) for row in default_calibration().validation)
    for row in rows:
        if row["phase"] == "round":
            row["mape_percent"] = 25.0
    weak = replace(default_calibration(), validation=rows)
    assert weak.trust_problem() == "is weak: held out, its round is off by 25% (target 10%)."
    assert default_calibration().trust_problem() is None


@pytest.mark.parametrize("argv", [["predict"], ["solve", "sensitivity"]])
def test_a_calibration_from_another_cpu_is_said_in_one_line(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    measured = default_calibration().machine["cpu"]
    monkeypatch.setattr("costmodel.cli.tables.cpu_name", lambda: "Other CPU (arm64, 8 cores)")
    status, _, err = run(argv, capsys)
    lines = [line for line in err.splitlines() if line.startswith("note: the calibration")]
    minutes = default_calibration().fit["profile_wall_s"] / 60
    assert status == 0 and lines == [
        f"note: the calibration (embedded default) was measured on {measured} (this machine: Other CPU "
        f"(arm64, 8 cores)): its compute coefficients describe that machine, not this one (calibrate here: "
        f"'make calibration', or 'astraea-cost profile', then 'calibrate'; its profile took {minutes:.1f} min "
        f"there; 'astraea-cost calibrate --quick' rescales it from a short speed probe; docs/calibrate.md)."]


def test_another_torch_is_said_and_an_absent_one_is_not_compared() -> None:
    calibration = default_calibration()
    cpu, torch = calibration.machine["cpu"], calibration.machine["torch_version"]
    assert calibration.machine_problem(cpu, torch) is None and calibration.machine_problem(cpu, None) is None
    problem = calibration.machine_problem(cpu, "9.9.9")
    assert problem is not None and problem.startswith(f"was measured with torch {torch} (here: 9.9.9): ")
    both = calibration.machine_problem("Other CPU", "9.9.9")
    assert both is not None and both.startswith(f"was measured on {cpu} (this machine: Other CPU) with torch {torch} "
                                                f"(here: 9.9.9): ")
    assert replace(calibration, fit={"runs": 1}).profile_minutes is None     # an older file does not say
