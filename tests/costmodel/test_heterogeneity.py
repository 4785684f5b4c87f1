"""Heterogeneous federations: device-speed scaling, the closed form against exact answers and the Monte
Carlo, the client table, and the command line's answers and one-line errors."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from cli_runner import run
from costmodel.analysis.heterogeneous import predict_heterogeneous, table_slowest_branch, visit_numbers
from costmodel.analysis.montecarlo import sample_branch_max
from costmodel.analysis.predict import predict_phases, predict_rounds
from costmodel.contracts.calibration_file import load_calibration
from costmodel.contracts.coefficients import DEVICE_RATE_COEFFICIENTS, DEVICE_SECONDS_COEFFICIENTS
from costmodel.errors import InputError
from costmodel.model.bridge import numeric_function
from costmodel.model.federation import ClientTable, Federation, parse_classes, read_clients_file
from costmodel.model.heterogeneity import heterogeneous_round_seconds
from costmodel.model.order_statistic import TiltedMaxFactor, tilted_max_factor_values
from costmodel.model.scenario import Scenario
from hand_coefficients import HAND_COEFFICIENTS

CALIBRATION = load_calibration(None)
COEFFS = dict(CALIBRATION.coefficients)


# --------------------------------------------------------------------------- one device speed

def test_device_speed_one_is_todays_calibration_and_predictions_exactly() -> None:
    assert CALIBRATION.with_device_speed(1.0) is CALIBRATION
    scenarios = [Scenario.emnist(), Scenario.cinic10(mediator_epochs=2)]
    a = predict_rounds(scenarios, CALIBRATION.coefficients)
    b = predict_rounds(scenarios, CALIBRATION.with_device_speed(1.0).coefficients)
    assert a.equals(b)


def test_device_speed_scales_every_device_compute_coefficient_and_nothing_else() -> None:
    slow = CALIBRATION.with_device_speed(0.1)
    for name, value in CALIBRATION.coefficients.items():
        if name in DEVICE_RATE_COEFFICIENTS:
            assert slow.coefficients[name] == pytest.approx(0.1 * value, rel=1e-15)
        elif name in DEVICE_SECONDS_COEFFICIENTS:
            assert slow.coefficients[name] == pytest.approx(value / 0.1, rel=1e-15)
        else:
            assert slow.coefficients[name] == value
    # a client's local training and augmentation take exactly ten times as long; the server's work does not
    base = predict_phases(Scenario.emnist(), CALIBRATION.coefficients).set_index(["algorithm", "phase"])["seconds"]
    ten = predict_phases(Scenario.emnist(), slow.coefficients).set_index(["algorithm", "phase"])["seconds"]
    for algorithm in ("astraea", "fedavg"):
        assert ten[(algorithm, "local_training")] == pytest.approx(10 * base[(algorithm, "local_training")], rel=1e-12)
    assert ten[("astraea", "augmentation")] == pytest.approx(10 * base[("astraea", "augmentation")], rel=1e-12)
    for phase in ("aggregation", "rescheduling", "augmentation_plan"):
        assert ten[("astraea", phase)] == base[("astraea", phase)]


@pytest.mark.parametrize("factor", [0.0, -1.0, math.inf, 1e-12])
def test_device_speed_out_of_its_rule_is_one_line(factor: float) -> None:
    with pytest.raises(InputError, match=r"^'device_speed' must .*\(got"):
        CALIBRATION.with_device_speed(factor)


# --------------------------------------------------------------------------- the order statistic

@pytest.mark.parametrize("k", [2, 10, 100, 1000])
@pytest.mark.parametrize("s", [0.25, 1.0, 2.0])
def test_tilted_maximum_is_within_two_percent_of_quadrature(k: int, s: float) -> None:
    exact = integrate.quad(lambda z: np.exp(s * z) * k * stats.norm.pdf(z) * stats.norm.cdf(z)**(k - 1),
                           -12, 14, limit=400, points=[0.0, s])[0]
    assert tilted_max_factor_values(k, s) == pytest.approx(exact, rel=0.02)


def test_tilted_maximum_exact_ends_and_derivative() -> None:
    s = sp.Symbol("s", positive=True)
    assert TiltedMaxFactor(37, 0) == 1
    assert TiltedMaxFactor(1, s) == sp.exp(s**2 / 2)
    assert tilted_max_factor_values(np.array([1.0, 5.0, 800.0]), 0.0).tolist() == [1.0, 1.0, 1.0]
    slope = float(TiltedMaxFactor(50, s).diff(s).subs(s, 0.7).evalf())
    central = (tilted_max_factor_values(50, 0.7 + 1e-6) - tilted_max_factor_values(50, 0.7 - 1e-6)) / 2e-6
    assert slope == pytest.approx(central, rel=1e-7)
    assert float(TiltedMaxFactor(50, s).rewrite(sp.erf).subs(s, 0.7).evalf()) == pytest.approx(
        tilted_max_factor_values(50, 0.7), rel=1e-12)


# --------------------------------------------------------------------------- closed form vs homogeneous and MC

@pytest.mark.parametrize("scenario", [Scenario.emnist(), Scenario.cinic10(mediator_epochs=2, clients_per_round=13)])
def test_no_spread_reproduces_the_homogeneous_round(scenario: Scenario) -> None:
    homogeneous = predict_rounds(scenario, COEFFS)["round_seconds"].to_numpy()
    table = predict_heterogeneous(scenario, COEFFS, Federation(speed_classes=((1.0, 1.0),)), monte_carlo=10)
    assert table["round_seconds"].tolist() == homogeneous.tolist()          # to the bit
    assert table["monte_carlo_round_seconds"].tolist() == homogeneous.tolist()
    for algorithm, expected in zip(("astraea", "fedavg"), homogeneous):
        function = numeric_function(heterogeneous_round_seconds(algorithm))
        values = {**scenario.as_dict(), **COEFFS, "sigma_s": 0.0, "sigma_b": 0.0}
        with np.errstate(all="ignore"):
            assert float(function(**{n: values[n] for n in function.arguments})) == pytest.approx(expected, rel=1e-12)


#: The stated tolerance of the closed form against the Monte Carlo (round time, sigma <= 1).
TOLERANCE = 0.04
GRID = list(itertools.product((0.25, 1.0), (0.5, 1.0), ((10, 5), (100, 10), (1000, 20))))


@pytest.mark.parametrize(("speed_sigma", "link_sigma", "shape"), GRID)
def test_closed_form_agrees_with_monte_carlo(speed_sigma: float, link_sigma: float, shape: tuple[int, int]) -> None:
    c, gamma = shape
    for scenario in (Scenario.emnist(clients_per_round=c, mediator_size=gamma, clients_total=1000),
                     Scenario.cinic10(clients_per_round=c, mediator_size=gamma, clients_total=1000)):
        federation = Federation(speed_sigma=speed_sigma, link_sigma=link_sigma)
        table = predict_heterogeneous(scenario, COEFFS, federation, monte_carlo=max(8000, 1_000_000 // c), seed=7)
        assert (table["monte_carlo_stderr_seconds"] < 0.01 * table["monte_carlo_round_seconds"]).all()
        np.testing.assert_allclose(table["round_seconds"], table["monte_carlo_round_seconds"], rtol=TOLERANCE)
        assert (table["round_seconds"] > table["homogeneous_round_seconds"]).all()


def test_astraea_with_device_classes_agrees_with_monte_carlo() -> None:
    classes = ((1.0, 0.5), (0.3, 0.3), (0.1, 0.2))
    for c, gamma in ((10, 5), (100, 10)):
        scenario = Scenario.cinic10(clients_per_round=c, mediator_size=gamma, clients_total=1000)
        table = predict_heterogeneous(scenario, COEFFS, Federation(speed_classes=classes, link_sigma=0.5),
                                      algorithms=["astraea"], monte_carlo=20_000, seed=3)
        assert table["round_seconds"].iloc[0] == pytest.approx(table["monte_carlo_round_seconds"].iloc[0], rel=0.04)


def test_monte_carlo_matches_the_exact_maximum_of_device_classes_and_is_seeded() -> None:
    classes = ((1.0, 0.6), (0.25, 0.3), (0.1, 0.1))
    scenario = Scenario.emnist(clients_per_round=20)
    v = visit_numbers(scenario, COEFFS, "fedavg")
    cumulative = np.cumsum([w for _, w in sorted(classes, key=lambda fw: -fw[0])])  # fastest (smallest time) first
    atoms = sorted(1 / f for f, _ in classes)
    exact_max = sum(x * (hi**20 - lo**20) for x, hi, lo in zip(atoms, cumulative, [0.0, *cumulative[:-1]]))
    exact = v.fixed + v.wire_down + v.wire_up + v.compute * exact_max
    federation = Federation(speed_classes=classes)
    sample = sample_branch_max(v, federation, 40_000, seed=11)
    assert abs(sample.mean - exact) < 4 * sample.stderr
    assert sample_branch_max(v, federation, 1000, seed=5) == sample_branch_max(v, federation, 1000, seed=5)
    assert sample_branch_max(v, federation, 1000, seed=5) != sample_branch_max(v, federation, 1000, seed=6)


# --------------------------------------------------------------------------- client tables

def _table(n: int, seed: int) -> ClientTable:
    rng = np.random.default_rng(seed)
    return ClientTable(np.exp(rng.normal(-1.0, 0.7, n)), 1e7 * np.exp(rng.normal(0, 1, n)),
                       2e7 * np.exp(rng.normal(0, 1, n)))


def test_fedavg_from_a_table_is_the_exact_mean_over_every_draw() -> None:
    table = _table(7, 1)
    scenario = Scenario.emnist(clients_per_round=3)
    v = visit_numbers(scenario, COEFFS, "fedavg")
    visits = (v.fixed + v.compute / table.speed_factor + v.wire_down_of(table.downlink_bits_per_s)
              + v.wire_up_of(table.uplink_bits_per_s))
    brute = np.mean([max(visits[list(rows)]) for rows in itertools.combinations(range(7), 3)])
    assert table_slowest_branch(v, Federation(clients=table)) == pytest.approx(brute, rel=1e-12)


def test_table_closed_form_agrees_with_monte_carlo() -> None:
    federation = Federation(clients=_table(300, 2))
    frame = predict_heterogeneous(Scenario.emnist(clients_per_round=40, mediator_size=10), COEFFS, federation,
                                  monte_carlo=20_000, seed=1)
    np.testing.assert_allclose(frame["round_seconds"], frame["monte_carlo_round_seconds"], rtol=0.02)


def test_a_table_smaller_than_a_round_is_refused() -> None:
    with pytest.raises(InputError, match=r"^'clients-file' must hold at least clients_per_round \(50\)"):
        predict_heterogeneous(Scenario.emnist(), COEFFS, Federation(clients=_table(20, 3)))


def test_inputs_are_checked() -> None:
    assert parse_classes("speed-classes", "1:50%,0.1:0.5") == ((1.0, 0.5), (0.1, 0.5))
    with pytest.raises(InputError, match=r"^'speed_sigma' must be >= 0 \(got -0.5\)\.$"):
        Federation(speed_sigma=-0.5)
    with pytest.raises(InputError, match="must not be given with speed or link distributions"):
        Federation(clients=_table(5, 0), link_sigma=1.0)
    with pytest.raises(InputError, match=r"^'link-classes' must have shares that sum to 1"):
        parse_classes("link-classes", "1:0.5,0.1:0.4")
    assert HAND_COEFFICIENTS  # the hand calibration also carries every device coefficient
    assert set(DEVICE_SECONDS_COEFFICIENTS) | set(DEVICE_RATE_COEFFICIENTS) <= set(HAND_COEFFICIENTS)


# --------------------------------------------------------------------------- the command line

HEADER = "speed_factor,uplink_bits_per_s,downlink_bits_per_s\n"


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_predict_with_a_generated_client_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _table(120, 4)
    rows = "".join(f"{s:.5f},{u:.0f},{d:.0f}\n" for s, u, d in
                   zip(table.speed_factor, table.uplink_bits_per_s, table.downlink_bits_per_s))
    path = _write(tmp_path, "clients.csv", HEADER + rows)
    out_csv = tmp_path / "out.csv"
    status, out, err = run(["predict", "--preset", "emnist", "--clients-file", path, "--monte-carlo", "2000",
                            "--csv", str(out_csv)], capsys)
    assert status == 0, err
    assert "clients drawn from 120 rows" in out and "round (Monte Carlo)" in out
    assert read_clients_file(path).size == 120
    assert out_csv.read_text(encoding="utf-8").startswith("scenario,algorithm,homogeneous_round_seconds")


@pytest.mark.parametrize(("text", "message"), [
    ("speed_factor,uplink_bits_per_s\n1,2\n", "line 1' must name the column downlink_bits_per_s"),
    (HEADER + "1,1e7,2e7\n-2,1e7,2e7\n", "line 3, speed_factor' must be a finite number > 0 (got '-2')."),
    (HEADER + "0,1e7,2e7\n", "line 2, speed_factor' must be a finite number > 0 (got '0')."),
    (HEADER + "1,1e7,2e7\n1,fast,2e7\n", "line 3, uplink_bits_per_s' must be a finite number > 0 (got 'fast')."),
    (HEADER + "1,1e7\n", "line 2, downlink_bits_per_s' must be a finite number > 0 (got '')."),
])
def test_a_bad_client_table_is_one_line_naming_row_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              text: str, message: str) -> None:
    path = _write(tmp_path, "bad.csv", text)
    status, out, err = run(["predict", "--clients-file", path], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--device-speed", "0"], "'device-speed' must be a finite number > 0 (got '0')."),
    (["--device-speed", "fast"], "'device-speed' must be a number > 0 (got 'fast')."),
    (["--speed-sigma", "-1"], "'speed-sigma' must be >= 0 (got '-1')."),
    (["--link-sigma", "nan"], "'link-sigma' must be >= 0 (got 'nan')."),
    (["--speed-classes", "1:0.5,0.1"], "'speed-classes' must be FACTOR:SHARE,..."),
    (["--link-classes", "0:1"], "'link-classes' must have factors > 0 and shares in (0, 1]"),
    (["--monte-carlo", "1"], "'monte-carlo' must be a whole number of rounds >= 2"),
    (["--seed", "3"], "'seed' must only be given with --monte-carlo (got '3')."),
    (["--speed-sigma", "0.5", "--phases"], "'phases' must not be given with heterogeneity options"),
])
def test_bad_heterogeneity_options_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                message: str) -> None:
    status, out, err = run(["predict", *argv], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_device_speed_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, plain, _ = run(["predict", "--algorithm", "fedavg", "--csv", "/dev/null"], capsys)
    status_one, one, _ = run(["predict", "--algorithm", "fedavg", "--device-speed", "1"], capsys)
    assert status == status_one == 0
    assert plain.splitlines()[:2] == one.splitlines()[:2]
    assert "client devices at 1x its speed" in one


def test_solve_max_clients_under_heterogeneity(capsys: pytest.CaptureFixture[str]) -> None:
    from costmodel.analysis.heterogeneous import max_clients_heterogeneous

    scenario = Scenario.emnist(clients_total=200)
    federation = Federation(speed_sigma=0.5, link_sigma=1.0)
    budget = float(predict_heterogeneous(scenario.replace(clients_per_round=40), COEFFS, federation,
                                         algorithms=["fedavg"])["round_seconds"].iloc[0])
    answer = max_clients_heterogeneous(budget * (1 + 1e-9), scenario, COEFFS, federation, "fedavg",
                                       monte_carlo=400, seed=2)
    assert answer["closed_form_clients"] == 40       # the round grows with c, and c = 40 is on the budget
    assert 1 <= answer["monte_carlo_q95_clients"] < 40  # 95% of rounds within the mean of one: fewer clients
    status, out, err = run(["solve", "max-clients", "--budget", "30s", "--speed-sigma", "0.5", "--monte-carlo",
                            "200", "--clients", "100"], capsys)
    assert status == 0, err
    assert "answer (closed form, mean round)" in out and "answer (Monte Carlo, 95% of rounds within" in out
    status, out, err = run(["solve", "sensitivity", "--speed-sigma", "0.5"], capsys)
    assert status == 2 and "'speed-sigma' must not be given for solve sensitivity" in err
