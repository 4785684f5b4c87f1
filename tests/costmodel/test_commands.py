"""The cost model's sub-commands, run in-process through the real dispatcher, plus a cold start."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from costmodel.cli import commands, scenario_options, tables
from costmodel.contracts.calibration_file import default_calibration, write_calibration
from costmodel.errors import InputError
from costmodel.analysis.predict import predict_overhead, predict_rounds
from costmodel.model.quantities import INPUTS
from costmodel.model.scenario import Scenario
from cli_runner import run

REPO = Path(__file__).resolve().parents[2]



def test_every_model_input_has_an_option() -> None:
    assert list(commands.OPTION_OF) == list(INPUTS)
    assert commands.OPTION_OF["uplink_bits_per_s"][0] == "uplink"
    assert "gamma" in commands.OPTION_OF["mediator_size"]


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("name", "text", "values"),
    [
        ("clients_per_round", "10", [10.0]),
        ("clients_per_round", "10,20,50", [10.0, 20.0, 50.0]),
        ("clients_per_round", "10:100:10", [10.0 * k for k in range(1, 11)]),
        ("clients_per_round", "10:50:15", [10.0, 25.0, 40.0]),
        ("uplink_bits_per_s", "5Mbit/s", [5e6]),
        ("uplink_bits_per_s", "1Mbit/s:1Gbit/s:x10", [1e6, 1e7, 1e8, 1e9]),
        ("uplink_bits_per_s", "1Mbit/s:3Mbit/s:1Mbit/s", [1e6, 2e6, 3e6]),
        ("uplink_bits_per_s", "inf", [math.inf]),
        ("params", "1.25M", [1.25e6]),
        ("augmented_fraction", "81.8%,100%", [0.818, 1.0]),
    ],
)
def test_parse_values_lists_ranges_units(name: str, text: str, values: list[float]) -> None:
    assert scenario_options.parse_values(name, text) == pytest.approx(values, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("uplink_bits_per_s", "10 parsecs", "'uplink' must be a bandwidth such as '10 Mbit/s' (got '10 parsecs')."),
        ("uplink_bits_per_s", "-3 Mbit/s", "'uplink' must be >= 1 bit/s (got '-3 Mbit/s')."),
        ("clients_per_round", "-5", "'clients-per-round' must be >= 1 (got '-5')."),   # the rule enforced
        ("params", "1e300", "'params' must be <= 1e+13 (got '1e300')."),
        ("clients_per_round", "0", "'clients-per-round' must be >= 1 (got '0')."),
        ("clients_per_round", "1.5", "'clients-per-round' must be a whole number (got '1.5')."),
        ("clients_per_round", "10:5:1", "'clients-per-round' must be a range whose stop is not below its start"),
        ("clients_per_round", "1:10", "'clients-per-round' must be a range start:stop:step or start:stop:xF"),
        ("clients_per_round", "1:10:0", "'clients-per-round' must have a range step > 0"),
        ("uplink_bits_per_s", "1Mbit/s:1Gbit/s:x1", "'uplink' must have a geometric factor xF with F > 1"),
        ("clients_per_round", "1:1e9:1", "'clients-per-round' must be a range of at most 100,000 values"),
        ("mediator_size", "", "'gamma' must have a value (got '')."),
    ],
)
def test_parse_values_errors_name_the_option(name: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as error:
        scenario_options.parse_values(name, text)
    assert str(error.value).startswith(message)


# --------------------------------------------------------------------------- predict


def test_predict_one_scenario_prints_the_model_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["predict"], capsys)
    assert status == 0, err
    rounds = predict_rounds(Scenario(), default_calibration().coefficients)
    astraea = rounds.loc[rounds["algorithm"] == "astraea", "round_seconds"].item()
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["scenario", "astraea", "round"]
    from costmodel.units import format_bytes, format_seconds

    assert format_seconds(astraea) in row
    assert format_bytes(rounds.loc[rounds["algorithm"] == "fedavg", "round_bytes"].item()) in row
    assert ("1 scenario(s) from defaults (TPDS EMNIST): N=500, c=50, gamma=10, E_m=1, E=1, B=10, P=68.9k, "
            "uplink=10 Mbit/s, downlink=20 Mbit/s, server=1 Gbit/s; calibration: embedded default") in out


def test_load_spreads_are_multipliers_not_fractions(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["predict", "--samples-per-client-sd", "20", "--mediator-load-spread", "1.85",
                            "--client-load-spread", "1.45"], capsys)
    assert status == 0, err
    assert "kappa=1.85" in out and "kappa_c=1.45" in out and "%" not in out.splitlines()[-1]
    rounds = predict_rounds(Scenario(samples_per_client_sd=20.0, mediator_load_spread=1.85, client_load_spread=1.45),
                            default_calibration().coefficients)
    from costmodel.units import format_seconds

    assert format_seconds(rounds.loc[rounds["algorithm"] == "astraea", "round_seconds"].item()) in out


def test_predict_grid_writes_csv_and_json_matching_the_library(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, json_path = tmp_path / "p.csv", tmp_path / "p.json"
    status, out, err = run(["predict", "--clients-per-round", "10:30:10", "--uplink", "1Mbit/s,inf",
                            "--mediator-epochs", "2", "--csv", str(csv_path), "--json", str(json_path)], capsys)
    assert status == 0, err
    frame = pd.read_csv(csv_path)
    assert len(frame) == 6
    assert sorted(frame["clients_per_round"].unique()) == [10, 20, 30]
    assert set(frame["mediator_epochs"]) == {2}
    scenario = Scenario(clients_per_round=20, uplink_bits_per_s=1e6, mediator_epochs=2)
    coefficients = default_calibration().coefficients
    expected_rounds = predict_rounds(scenario, coefficients).set_index("algorithm")
    expected_overhead = predict_overhead(scenario, coefficients)
    row = frame[(frame["clients_per_round"] == 20) & (frame["uplink_bits_per_s"] == 1e6)].iloc[0]
    assert row["astraea_round_seconds"] == pytest.approx(expected_rounds.loc["astraea", "round_seconds"], rel=1e-9)
    assert row["fedavg_round_bytes"] == expected_rounds.loc["fedavg", "round_bytes"]
    round_rows = expected_overhead[expected_overhead["scope"] == "round"].set_index("category")
    assert row["communication_seconds"] == pytest.approx(round_rows.loc["communication", "seconds"], rel=1e-9)
    assert row["overhead_seconds"] == pytest.approx(
        row["astraea_round_seconds"] - row["fedavg_round_seconds"], rel=1e-9)
    records = json.loads(json_path.read_text())
    assert len(records) == 6
    assert {record["uplink_bits_per_s"] for record in records} == {1e6, "inf"}
    assert "wrote" in err and not list(tmp_path.glob("*.tmp"))
    # The varied inputs are columns of the printed table; the fixed one is in the footer.
    assert out.splitlines()[0].split()[:3] == ["scenario", "c", "uplink"]
    assert "E_m=2" in out.splitlines()[-1] and "server=1 Gbit/s" in out.splitlines()[-1]


def test_predict_preset_and_overrides_change_the_numbers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = tmp_path / "base.csv"
    slow = tmp_path / "slow.csv"
    assert run(["predict", "--preset", "cinic10", "--csv", str(base)], capsys)[0] == 0
    assert run(["predict", "--preset", "cinic10", "--set", "latency_s=50ms", "--csv", str(slow)], capsys)[0] == 0
    fast_row, slow_row = pd.read_csv(base).iloc[0], pd.read_csv(slow).iloc[0]
    assert fast_row["params"] == 1_250_858 and fast_row["classes"] == 10
    assert slow_row["astraea_round_seconds"] > fast_row["astraea_round_seconds"]
    # Bytes do not depend on the latency.
    assert slow_row["astraea_round_bytes"] == fast_row["astraea_round_bytes"]


def test_predict_with_a_calibration_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = write_calibration(tmp_path / "cal.json", default_calibration().with_overrides(flops_per_s=1e9))
    status, out, err = run(["predict", "--calibration", str(file), "--csv", str(tmp_path / "x.csv")], capsys)
    assert status == 0, err
    assert f"calibration: {file}" in out
    slow = pd.read_csv(tmp_path / "x.csv").iloc[0]
    run(["predict", "--csv", str(tmp_path / "y.csv")], capsys)
    assert slow["data_augmentation_seconds"] > pd.read_csv(tmp_path / "y.csv").iloc[0]["data_augmentation_seconds"]


def test_predict_phases_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(["predict", "--phases", "--csv", str(tmp_path / "ph.csv")], capsys)
    assert status == 0, err
    phases = pd.read_csv(tmp_path / "ph.csv")
    assert set(phases.columns) >= {"scenario", "algorithm", "phase", "scope", "seconds", "bytes", "flops"}
    lines = out.splitlines()
    assert lines[0].split() == ["scenario", "phase", "scope", "astraea", "s", "astraea", "bytes", "fedavg", "s",
                                "fedavg", "bytes"]
    assert sum(" local_training " in line for line in lines) == 1


def test_predict_total_scope(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(["predict", "--scope", "total", "--rounds", "10", "--csv", str(tmp_path / "t.csv")], capsys)
    assert status == 0
    row = pd.read_csv(tmp_path / "t.csv").iloc[0]
    assert row["overhead_seconds"] == pytest.approx(row["astraea_total_seconds"] - row["fedavg_total_seconds"],
                                                    rel=1e-9)
    assert "astraea total" in out.splitlines()[0]


def test_predict_long_grid_prints_a_head_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["predict", "--clients-per-round", "1:100:1"], capsys)
    assert status == 0
    assert f"... {100 - tables.MAX_PRINTED_ROWS} more rows; write them all with --csv or --json." in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--uplink", "10 parsecs"],
         "astraea-cost predict: error: 'uplink' must be a bandwidth such as '10 Mbit/s' (got '10 parsecs').\n"),
        (["predict", "--uplink", "-3 Mbit/s"],
         "astraea-cost predict: error: 'uplink' must be >= 1 bit/s (got '-3 Mbit/s').\n"),
        (["predict", "--clients-per-round", "600"],
         "astraea-cost predict: error: 'clients-per-round' must be <= clients (500) (got 600).\n"),
        (["predict", "--set", "latency_s"],
         "astraea-cost predict: error: 'set' must be NAME=VALUE, e.g. latency_s=5ms (got 'latency_s').\n"),
        (["predict", "--set", "latency_s=-1"],
         "astraea-cost predict: error: 'set latency_s' must be >= 0 (got '-1').\n"),
        (["predict", "--set", "link_efficiency=150%"],
         "astraea-cost predict: error: 'set link_efficiency' must be <= 1 (got '150%').\n"),
        (["predict", "--set", "flops_per_s=1e-300"],
         "astraea-cost predict: error: 'set flops_per_s' must be >= 1000 FLOP/s (got '1e-300').\n"),
        (["predict", "--set", "latency_s=1ms", "--set", "latency_s=2ms"],
         "astraea-cost predict: error: 'set' must give each coefficient once (got latency_s twice).\n"),
        (["predict", "--calibration", "/nonexistent/cal.json"],
         "astraea-cost predict: error: calibration file '/nonexistent/cal.json' must be readable "
         "(No such file or directory).\n"),
        (["predict", "--csv", "/nonexistent/folder/p.csv"],
         "astraea-cost predict: error: 'csv' must be a file in an existing folder "
         "(got '/nonexistent/folder/p.csv': /nonexistent/folder is not a folder).\n"),
        (["predict", "--csv", "/proc/x.csv"],
         "astraea-cost predict: error: 'csv' must be in a folder where files can be created (got '/proc/x.csv': "
         "/proc refuses new files: No such file or directory).\n"),
        (["predict", "--phases", "--scope", "total"],
         "astraea-cost predict: error: 'scope' must not be given with --phases, whose table shows each phase in "
         "its own scope (got 'total').\n"),
        (["predict", "--clients-per-round", "1:1000:1", "--params", "1:1000:1"],
         "astraea-cost predict: error: 'grid' must have at most 100,000 scenarios (got 1,000,000); "
         "use fewer values per option.\n"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(argv, capsys)
    assert status == 2
    assert err == message
    assert out == ""


def test_unknown_coefficient_in_set(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["predict", "--set", "warp=1"], capsys)
    assert status == 2
    assert err.startswith("astraea-cost predict: error: 'set' must name a coefficient, one of flops_per_s, ")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- solve


def test_solve_max_clients_matches_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    from costmodel.analysis import solve

    status, out, err = run(["solve", "max-clients", "--budget", "5s", "--clients", "2000",
                            "--mediator-size", "20"], capsys)
    assert status == 0, err
    scenario = Scenario(clients_total=2000, mediator_size=20)
    expected = solve.max_clients_per_round(5.0, scenario, default_calibration().coefficients)
    assert f"  answer: {expected.value:.0f} clients" in out.splitlines()
    assert "expression:" not in out          # kilobytes of sympy only when asked for
    assert "server=1 Gbit/s" in out          # the assumptions that decide the answer, always
    status, out, err = run(["solve", "max-clients", "--budget", "5s", "--clients", "2000", "--mediator-size", "20",
                            "--expression"], capsys)
    assert status == 0, err
    assert "expression:" in out and "Min(c, gamma)" in out


def test_solve_break_even_and_crossover(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["solve", "break-even", "--fedavg-rounds", "200"], capsys)
    assert status == 0, err
    answer = next(line for line in out.splitlines() if "answer:" in line)
    assert answer.strip().endswith("rounds")
    status, out, err = run(["solve", "crossover-bandwidth", "--latex"], capsys)
    assert status == 0, err
    assert "bit/s" in out and "\\frac" in out


def test_solve_min_bandwidth_answers_an_impossible_bound_with_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["solve", "min-bandwidth", "--max-overhead", "1%"], capsys)
    assert status == 0, err   # "no answer exists" is an answer, not a usage error
    assert "  answer: none" in out.splitlines()
    why = next(line for line in out.splitlines() if line.startswith("  why: "))
    assert why.startswith("  why: no client bandwidth keeps Astraea's round overhead within +1% of FedAvg's round "
                          "time: even unlimited client links leave +")
    assert why.endswith("(compute, latency and the server link remain).")


def test_solve_sensitivity_lists_every_input_sorted_by_elasticity(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["solve", "sensitivity"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    table = lines[2:2 + len(INPUTS)]
    names = [line.split()[0] for line in table]
    assert sorted(names) == sorted(INPUTS)
    elasticities = [abs(float(line.split()[-1])) for line in table]
    assert elasticities == sorted(elasticities, reverse=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["solve", "max-clients"], "'budget' must be given for solve max-clients (e.g. --budget 30s)."),
        (["solve", "max-clients", "--budget", "soon"],
         "'budget' must be a duration such as '1.5 s' or '500 ms' (got 'soon')."),
        (["solve", "break-even", "--fedavg-rounds", "2.5"], "'fedavg-rounds' must be a whole number (got '2.5')."),
        (["solve", "break-even", "--fedavg-rounds", "-5"], "'fedavg-rounds' must be > 0 (got '-5')."),
        (["solve", "break-even", "--fedavg-rounds", "1e308"], "'fedavg-rounds' must be <= 1e+09 (got '1e308')."),
        (["solve", "max-clients", "--budget", "0"], "'budget' must be > 0 (got '0')."),
        (["solve", "max-clients", "--budget", "1e308"], "'budget' must be <= 1e+09 s (got '1e308')."),
        (["solve", "crossover-bandwidth", "--budget", "5s"],
         "'budget' must not be given for solve crossover-bandwidth: only max-clients reads it (got '5s')."),
        (["solve", "max-clients", "--budget", "30s", "--clients-per-round", "10,20"],
         "'clients-per-round' must be a single value for solve (got '10,20')."),
        (["solve", "sensitivity", "--gamma", "0"], "'gamma' must be >= 1 (got '0')."),
    ],
)
def test_solve_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(argv, capsys)
    assert status == 2
    assert err == f"astraea-cost solve: error: {message}\n"


def test_unknown_question_is_argparse_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["solve", "world-peace"], capsys)
    assert status == 2
    assert err.count("\n") == 1 and "invalid choice: 'world-peace'" in err


# --------------------------------------------------------------------------- plot


def test_plot_writes_every_figure_and_prints_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["plot", "--out", str(tmp_path), "--preset", "cinic10"], capsys)
    assert status == 0, err
    paths = [Path(line) for line in out.splitlines()]
    assert [p.name for p in paths] == list(commands.PLOT_KINDS.values())
    assert "server=1 Gbit/s" in err
    for path in paths:
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(commands.PLOT_KINDS.values())


def test_plot_one_kind_with_a_given_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["plot", "--out", str(tmp_path), "--kind", "traffic",
                            "--clients-per-round", "10:40:10", "--mediator-epochs", "3"], capsys)
    assert status == 0, err
    assert out.strip() == str(tmp_path / "traffic_vs_clients.png")


def test_plot_refuses_a_second_varying_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["plot", "--out", str(tmp_path), "--kind", "traffic", "--mediator-epochs", "1,2"], capsys)
    assert status == 2
    assert err == ("astraea-cost plot: error: 'mediator-epochs' must be a single value for plot: no figure sweeps "
                   "it (got '1,2').\n")
    assert list(tmp_path.iterdir()) == []
    status, _, err = run(["plot", "--out", str(tmp_path), "--kind", "traffic", "--uplink", "1Mbit/s,10Mbit/s"],
                         capsys)
    assert status == 2
    assert err == ("astraea-cost plot: error: 'uplink' must be a single value for plot --kind traffic: only "
                   "overhead-bandwidth sweeps it (got '1Mbit/s,10Mbit/s').\n")
    # without --kind, a list draws the figures that sweep it, and only those
    status, out, err = run(["plot", "--out", str(tmp_path / "bw"), "--uplink", "1Mbit/s,10Mbit/s"], capsys)
    assert status == 0, err
    assert [Path(line).name for line in out.splitlines()] == ["overhead_vs_bandwidth.png"]


# --------------------------------------------------------------------------- formula


def test_formula_round_bytes_is_the_papers_plus_e_m(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["formula", "round", "--quantity", "bytes"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "astraea round bytes ="
    assert lines[1].strip() == "2*E_m*c*(P*b_p + h) + 2*(P*b_p + h)*ceiling(c/gamma)"
    assert lines[2] == "where"
    assert any(line.split()[:2] == ["E_m", "mediator_epochs"] for line in lines[3:])


def test_formula_phase_and_latex(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["formula", "aggregation", "--algorithm", "fedavg"], capsys)
    assert status == 0
    assert out.splitlines()[1].strip() == "P*c*(t_agg + t_agg_L*Piecewise((0, S_agg >= P*b_p), (1, True))) + P*t_agg_P + c*t_agg_m + t_agg0"
    status, out, _ = run(["formula", "local_training", "--quantity", "flops", "--latex"], capsys)
    assert status == 0
    assert out.count("\n") == 1 and "E_{m}" in out


def test_formula_overhead_category(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["formula", "communication", "--quantity", "bytes"], capsys)
    assert status == 0
    assert out.startswith("overhead communication bytes (round), Astraea minus FedAvg =")


def test_formula_unknown_target(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["formula", "warp"], capsys)
    assert status == 2
    assert err.startswith("astraea-cost formula: error: 'PHASE' must be one of distribution_report, ")
    assert err.endswith("(got 'warp').\n")


# --------------------------------------------------------------------------- cold start


def test_registration_and_prediction_never_import_torch_or_matplotlib() -> None:
    code = ("import sys, costmodel.cli.dispatch, costmodel.cli.predict, costmodel.analysis.predict; "
            "costmodel.cli.dispatch.build_parser(); "
            "assert 'torch' not in sys.modules, 'torch'; assert 'matplotlib' not in sys.modules, 'matplotlib'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_cold_predict_of_one_scenario_finishes_without_torch() -> None:
    code = ("import sys\n"
            "from costmodel import cli\n"
            "status = cli.main(['predict', '--uplink', '5Mbit/s'])\n"
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
            "sys.exit(status)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 scenario(s) from defaults (TPDS EMNIST): " in result.stdout
    assert "uplink=5 Mbit/s, downlink=20 Mbit/s, server=1 Gbit/s" in result.stdout


def test_help_lists_the_unit_aware_options(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["predict", "--help"], capsys)
    assert status == 0
    assert "--uplink VALUE" in out and "e.g. 81.8%" in out and "--set NAME=VALUE" in out


def test_predict_json_prices_augmentation_every_round_and_the_categories_sum(capsys: pytest.CaptureFixture[str],
                                                                             tmp_path: Path) -> None:
    # the papers' EMNIST preset adds about 82% data: every visit in series trains on it, every round
    status, _, err = run(["predict", "--preset", "emnist", "--json", str(tmp_path / "p.json")], capsys)
    assert status == 0, err
    row = json.loads((tmp_path / "p.json").read_text())[0]
    assert row["augmented_fraction"] > 0.8 and row["data_augmentation_seconds"] > 0
    categories = sum(row[f"{c}_seconds"] for c in ("training_compute", "data_augmentation", "communication",
                                                   "coordination"))
    assert categories == pytest.approx(row["astraea_round_seconds"] - row["fedavg_round_seconds"], rel=1e-12)
    status, _, err = run(["predict", "--preset", "emnist", "--augmented-fraction", "0", "--augmented-fraction-sd", "0",
                          "--json", str(tmp_path / "q.json")], capsys)
    assert status == 0, err
    assert json.loads((tmp_path / "q.json").read_text())[0]["data_augmentation_seconds"] == pytest.approx(0, abs=1e-12)


def test_changing_the_classes_caps_the_classes_held(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # K_c not given: the preset's classes held, at most the classes asked for, in grids and in solve;
    # given: checked against K, one line
    status, _, err = run(["predict", "--preset", "cinic10", "--classes", "4,10", "--json", str(tmp_path / "p.json")],
                         capsys)
    assert status == 0, err
    rows = json.loads((tmp_path / "p.json").read_text())
    assert [(r["classes"], r["classes_per_client"]) for r in rows] == [
        (4, 4.0), (10, Scenario.cinic10().classes_per_client)]
    status, _, err = run(["solve", "max-clients", "--budget", "30s", "--classes", "10"], capsys)
    assert status == 0, err
    status, _, err = run(["predict", "--classes", "10", "--classes-per-client", "12"], capsys)
    assert status == 2 and err.strip().splitlines()[-1].endswith("'classes-per-client' must be <= classes (10) (got 12).")
