"""``solve`` under heterogeneity: break-even from the heterogeneous round times, the other questions refused."""

from __future__ import annotations

import pytest

from costmodel.analysis import solve
from costmodel.analysis.heterogeneous import predict_heterogeneous
from costmodel.contracts.calibration_file import default_calibration
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario
from costmodel.units import format_seconds
from cli_runner import run

COEFFS = default_calibration().coefficients


def test_break_even_takes_the_given_round_times() -> None:
    scenario = Scenario.cinic10()
    plain = solve.break_even_rounds(scenario, COEFFS, 100)
    same = solve.break_even_rounds(scenario, COEFFS, 100, round_seconds=(plain.details["fedavg_round_seconds"],
                                                                        plain.details["astraea_round_seconds"]))
    assert same.value == plain.value
    # R_f = 100 rounds of 10 s against Astraea's setup S and 40 s rounds: floor((1000 - S)/40) = 24, 76 saved
    slower = solve.break_even_rounds(scenario, COEFFS, 100, round_seconds=(10.0, 40.0))
    assert slower.details["max_astraea_rounds"] == 24 and slower.value == 76


def test_solve_break_even_under_heterogeneity(capsys: pytest.CaptureFixture[str]) -> None:
    federation = Federation(speed_classes=((1.0, 0.8), (0.1, 0.2)))
    table = predict_heterogeneous(Scenario.cinic10(), COEFFS, federation, monte_carlo=300, seed=2
                                  ).set_index("algorithm")
    status, out, err = run(["solve", "break-even", "--fedavg-rounds", "100", "--preset", "cinic10",
                            "--speed-classes", "1:0.8,0.1:0.2", "--monte-carlo", "300", "--seed", "2"], capsys)
    assert status == 0, err
    closed, simulated = out.split("(Monte Carlo round times)")
    for text, column in ((closed, "round_seconds"), (simulated, "monte_carlo_round_seconds")):
        fedavg, astraea = float(table.loc["fedavg", column]), float(table.loc["astraea", column])
        answer = solve.break_even_rounds(Scenario.cinic10(), COEFFS, 100, round_seconds=(fedavg, astraea))
        assert f"answer: {answer.value:,.0f} rounds" in text
        assert f"astraea_round_seconds: {format_seconds(astraea)}" in text
    assert "heterogeneous clients (closed form round times)" in closed
    assert "Astraea's setup at the device speed, without spread" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["sensitivity", "--link-sigma", "1"], "'link-sigma' must not be given for solve sensitivity: heterogeneity "
                                           "options answer max-clients and break-even (with --fedavg-rounds) only "
                                           "(got '1')."),
    (["min-bandwidth", "--max-overhead", "20%", "--speed-sigma", "0.5"],
     "'speed-sigma' must not be given for solve min-bandwidth"),
    (["crossover-bandwidth", "--monte-carlo", "100"], "'monte-carlo' must not be given for solve crossover-bandwidth"),
    (["time-to-accuracy", "--target", "0.5", "--speed-classes", "1:1"],
     "'speed-classes' must not be given for solve time-to-accuracy"),
    (["break-even", "--curves", "c.csv", "--target", "0.5", "--link-sigma", "1"],
     "'link-sigma' must not be given for solve break-even --curves"),
    (["break-even", "--fedavg-rounds", "10", "--speed-sigma", "0.5", "--expression"],
     "'expression' must not be given with heterogeneity options"),
])
def test_the_questions_heterogeneity_does_not_answer_are_refused(argv, message, capsys) -> None:
    status, out, err = run(["solve", *argv], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err
