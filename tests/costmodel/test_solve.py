"""Capacity questions: each answer checked against the prediction frames, and the impossible ones refused."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import sympy as sp

from costmodel import model as ex
from costmodel.analysis import solve
from costmodel.errors import InputError
from costmodel.analysis.predict import grid, predict_phases, predict_rounds
from costmodel.model.quantities import INPUTS
from costmodel.model.scenario import Scenario
from hand_coefficients import HAND_COEFFICIENTS

COEFFS = HAND_COEFFICIENTS


def round_seconds(scenario: Scenario, algorithm: str = "astraea") -> float:
    frame = predict_rounds(scenario, COEFFS)
    return float(frame.loc[frame.algorithm == algorithm, "round_seconds"].iloc[0])


@pytest.mark.parametrize("algorithm", ["astraea", "fedavg"])
@pytest.mark.parametrize("scenario", [Scenario.emnist(clients_total=200), Scenario.emnist(
    clients_total=200, samples_per_client_sd=60.0, mediator_size=7, mediator_epochs=2, server_bits_per_s=2e8)])
def test_max_clients_matches_a_brute_force_scan(scenario: Scenario, algorithm: str) -> None:
    every = predict_rounds(grid(clients_per_round=np.arange(1, 201)).assign(
        **{k: v for k, v in scenario.as_dict().items() if k != "clients_per_round"}), COEFFS)
    times = every.loc[every.algorithm == algorithm, "round_seconds"].to_numpy()
    assert (np.diff(times) >= 0).all()  # the bisection relies on it
    budget = float(times[117] + times[118]) / 2 if times[118] > times[117] else float(times[118])
    answer = solve.max_clients_per_round(budget, scenario, COEFFS, algorithm)
    assert answer.value == max(np.flatnonzero(times <= budget)) + 1
    assert answer.unit == "clients"
    assert answer.details["round_seconds"] <= budget
    assert answer.expression == ex.round_seconds(algorithm)


def test_max_clients_is_clients_total_when_everything_fits() -> None:
    scenario = Scenario.emnist(clients_total=60)
    answer = solve.max_clients_per_round(1e9, scenario, COEFFS)
    assert answer.value == 60 and "round_seconds_one_more" not in answer.details


def test_max_clients_answers_an_impossible_budget_with_its_reason() -> None:
    from costmodel.units import format_seconds

    one = round_seconds(Scenario.emnist(clients_per_round=1))
    answer = solve.max_clients_per_round(0.1, Scenario.emnist(), COEFFS)
    assert not answer.exists and math.isnan(answer.value)
    assert answer.reason == (f"no number of clients per round fits a round-time budget of 100 ms: "
                             f"one client alone takes {format_seconds(one)}.")
    assert "answer: none: no number" in answer.report()
    with pytest.raises(InputError, match=r"^'budget_s' must be > 0 \(got 0\)\.$"):
        solve.max_clients_per_round(0, Scenario.emnist(), COEFFS)
    with pytest.raises(InputError, match=r"^'algorithm' must be one of astraea, fedavg"):
        solve.max_clients_per_round(1.0, Scenario.emnist(), COEFFS, "fedsgd")
    with pytest.raises(InputError, match=r"^'scenario' must be a Scenario \(got 'dict'\)\.$"):
        solve.max_clients_per_round(1.0, {}, COEFFS)  # type: ignore[arg-type]


def _fraction(scenario: Scenario) -> float:
    frame = predict_rounds(scenario, COEFFS).set_index("algorithm")["round_seconds"]
    return frame["astraea"] / frame["fedavg"] - 1


def _scan(scenario: Scenario, links: tuple[str, ...], bandwidths: np.ndarray) -> np.ndarray:
    frame = predict_rounds(grid(**{links[0]: bandwidths}).assign(**{k: v for k, v in scenario.as_dict().items()
                                                                   if k not in links[:1]}).assign(
        **{link: bandwidths for link in links[1:]}), COEFFS)
    pivot = frame.pivot(index="scenario", columns="algorithm", values="round_seconds")
    return (pivot["astraea"] / pivot["fedavg"] - 1).to_numpy()


def test_min_bandwidth_is_the_edge_of_the_bound() -> None:
    # the landscape below is the hand coefficients' on a visit without padding FLOPs (priced at the FLOP rate,
    # the TPDS CNN's would make compute 5x the FLOPs' and move every figure)
    scenario = Scenario.emnist(conv_padding_flops=0.0)
    # Both links: the fraction is 9 (E_m*gamma - 1) on slow links, peaks near 10 Mbit/s (FedAvg's
    # 50 transfers saturate the 1 Gbit/s server link) and falls to ~5.6 on fast links.
    answer = solve.min_bandwidth_for_overhead(7.0, scenario, COEFFS)
    b = answer.value
    assert 1e7 < b < 1e8 and answer.unit == "bit/s" and answer.details["holds_everywhere"] == 0.0
    at = _fraction(scenario.replace(uplink_bits_per_s=b, downlink_bits_per_s=b))
    below = _fraction(scenario.replace(uplink_bits_per_s=b * (1 - 1e-9), downlink_bits_per_s=b * (1 - 1e-9)))
    assert at <= 7.0 < below
    assert at == pytest.approx(7.0, rel=1e-9)
    above = _scan(scenario, ("uplink_bits_per_s", "downlink_bits_per_s"), np.geomspace(b, 1e14, 400))
    assert (above <= 7.0 + 1e-9).all()


def test_min_bandwidth_holds_from_the_answer_on_not_merely_at_it() -> None:
    scenario = Scenario.emnist(conv_padding_flops=0.0)        # as above
    # Uplink only: 9.0 at slow uplinks (within 9.2) but ~10.9 near 10 Mbit/s: the answer lies past the peak.
    answer = solve.min_bandwidth_for_overhead(9.2, scenario, COEFFS, which="uplink")
    bandwidths = np.geomspace(1.0, 1e15, 1501)
    fractions = _scan(scenario, ("uplink_bits_per_s",), bandwidths)
    assert fractions[0] <= 9.2 and fractions.max() > 9.2
    last_bad = bandwidths[np.flatnonzero(fractions > 9.2)[-1]]
    assert last_bad < answer.value <= last_bad * 10 ** 0.01
    assert _fraction(scenario.replace(uplink_bits_per_s=answer.value)) == pytest.approx(9.2, rel=1e-9)


def test_min_bandwidth_reports_a_bound_met_everywhere_and_refuses_an_unreachable_one() -> None:
    scenario = Scenario.emnist()
    easy = solve.min_bandwidth_for_overhead(20.0, scenario, COEFFS)
    assert easy.value == solve.BANDWIDTH_SCAN_BITS_PER_S[0] and easy.details["holds_everywhere"] == 1.0
    impossible = solve.min_bandwidth_for_overhead(1.0, scenario, COEFFS)
    assert not impossible.exists
    assert re.match(r"^no client bandwidth keeps Astraea's round overhead within \+100% of FedAvg's round time: "
                    r"even unlimited client links leave \+\d[\d,.]*% \(compute", impossible.reason)
    with pytest.raises(InputError, match=r"^'which' must be one of uplink, downlink, both \(got 'server'\)\.$"):
        solve.min_bandwidth_for_overhead(1.0, scenario, COEFFS, which="server")
    with pytest.raises(InputError, match=r"^'max_fraction' must be >= 0 \(got -1\)\.$"):
        solve.min_bandwidth_for_overhead(-1, scenario, COEFFS)


def test_crossover_equalises_communication_and_compute() -> None:
    scenario = Scenario.emnist()
    answer = solve.crossover_bandwidth(scenario, COEFFS)
    b = answer.value
    assert b < scenario.server_bits_per_s / 5  # client-bound, as the closed form assumes
    phases = predict_phases(scenario.replace(uplink_bits_per_s=b, downlink_bits_per_s=b), COEFFS)
    astraea = phases[phases.algorithm == "astraea"].set_index("phase")["seconds"]
    communication = astraea[["model_broadcast", "client_download", "client_upload", "mediator_upload"]].sum()
    compute = astraea[["rescheduling", "local_training", "aggregation"]].sum()
    assert communication == pytest.approx(compute, rel=1e-9)
    assert answer.details["compute_seconds"] == pytest.approx(compute, rel=1e-12)


def test_crossover_closed_form_is_sympys_root() -> None:
    closed, communication, compute, _ = solve._crossover_parts()
    (root,) = sp.solve(sp.Eq(communication, compute), solve._B)
    point = {s: sp.Rational(k + 3, 7) for k, s in enumerate(sorted(root.free_symbols, key=str))}
    assert float((closed - root).subs(point)) == pytest.approx(0, abs=1e-9 * abs(float(root.subs(point))))


def test_crossover_refuses_when_communication_always_wins() -> None:
    latency = solve.crossover_bandwidth(Scenario.emnist(), COEFFS | {"latency_s": 1.0})
    assert not latency.exists and "latency and serialization alone take" in latency.reason
    server = solve.crossover_bandwidth(Scenario.emnist(server_bits_per_s=1e6), COEFFS)
    assert not server.exists and "the shared server link (200 kbit/s per mediator)" in server.reason


def test_break_even_rounds_against_the_round_frame() -> None:
    scenario = Scenario.emnist()
    answer = solve.break_even_rounds(scenario, COEFFS, 1000)
    frame = predict_rounds(scenario, COEFFS).set_index("algorithm")
    t_a, t_f = frame.loc["astraea", "round_seconds"], frame.loc["fedavg", "round_seconds"]
    setup = frame.loc["astraea", "setup_seconds"]
    most = answer.details["max_astraea_rounds"]
    assert setup + most * t_a <= 1000 * t_f < setup + (most + 1) * t_a
    assert answer.value == 1000 - most and answer.unit == "rounds"
    assert answer.details["saved_fraction"] == pytest.approx(answer.value / 1000)
    r_f = sp.Symbol("R_f", positive=True, integer=True)
    assert r_f in answer.expression.free_symbols


def test_break_even_refuses_when_one_round_is_already_too_long() -> None:
    answer = solve.break_even_rounds(Scenario.emnist(), COEFFS, 1)
    assert not answer.exists and answer.reason.startswith("Astraea cannot break even against 1 FedAvg rounds")
    with pytest.raises(InputError, match=r"^'fedavg_rounds' must be >= 1 \(got 0\)\.$"):
        solve.break_even_rounds(Scenario.emnist(), COEFFS, 0)


@pytest.mark.parametrize("algorithm", ["astraea", "fedavg"])
def test_sensitivities_match_finite_differences(algorithm: str) -> None:
    # Whole n/B, n_eff/B and c/gamma: the relaxed ceilings equal the true ones at this point.
    scenario = Scenario.emnist(samples_per_client=200.0, augmented_fraction=0.5, samples_per_client_sd=30.0,
                               uplink_bits_per_s=5e6, downlink_bits_per_s=8e6)
    frame = solve.sensitivities(scenario, COEFFS, algorithm).set_index("input")
    assert list(frame.index) == list(INPUTS)
    assert list(frame.columns) == ["unit", "value", "derivative", "elasticity", "expression"]
    base = round_seconds(scenario, algorithm)
    assert frame.attrs["round_seconds"] == pytest.approx(base, rel=1e-12)
    # Inputs outside every ceiling and Min kink: the relaxed derivative is the true one.
    for name in ("train_flops_per_sample", "uplink_bits_per_s", "downlink_bits_per_s", "params",
                 "samples_per_client_sd", "message_header_bytes"):
        value = getattr(scenario, name)
        step = value * 1e-4
        if INPUTS[name].integer:
            step = max(1.0, round(step))
        up = round_seconds(scenario.replace(**{name: value + step}), algorithm)
        down = round_seconds(scenario.replace(**{name: value - step}), algorithm)
        assert frame.loc[name, "derivative"] == pytest.approx((up - down) / (2 * step), rel=1e-5), name
        assert frame.loc[name, "elasticity"] == pytest.approx(value / base * frame.loc[name, "derivative"])
    assert frame.loc["clients_total", "derivative"] == 0 and frame.loc["rounds", "derivative"] == 0


def test_sensitivity_to_mediator_epochs_is_the_chain_per_pass() -> None:
    scenario = Scenario.emnist(mediator_epochs=2, samples_per_client=200.0, augmented_fraction=0.5)
    frame = solve.sensitivities(scenario, COEFFS).set_index("input")
    step = round_seconds(scenario.replace(mediator_epochs=3)) - round_seconds(scenario)
    assert frame.loc["mediator_epochs", "derivative"] == pytest.approx(step, rel=1e-12)  # linear in E_m


def test_elasticities_are_over_the_true_round_time() -> None:
    scenario = Scenario.emnist(augmented_fraction_sd=0.0)  # equal clients: n/B = 22.56, n_eff/B = 41.01, ceilings matter
    frame = solve.sensitivities(scenario, COEFFS)
    assert frame.attrs["round_seconds"] == pytest.approx(round_seconds(scenario), rel=1e-12)
    assert frame.attrs["relaxed_round_seconds"] < frame.attrs["round_seconds"]
    row = frame.set_index("input").loc["params"]
    assert row.elasticity == pytest.approx(row.value * row.derivative / round_seconds(scenario), rel=1e-12)


def test_infinite_inputs_have_zero_sensitivity() -> None:
    scenario = Scenario.emnist(uplink_bits_per_s=math.inf)
    frame = solve.sensitivities(scenario, COEFFS).set_index("input")
    assert frame.loc["uplink_bits_per_s", ["derivative", "elasticity"]].tolist() == [0.0, 0.0]
    assert np.isfinite(frame[["derivative", "elasticity"]].to_numpy(dtype=float)).all()
    in_process = Scenario.emnist(uplink_bits_per_s=math.inf, downlink_bits_per_s=math.inf,
                                 server_bits_per_s=math.inf, samples_per_client=200.0, augmented_fraction=0.5)
    frame = solve.sensitivities(in_process, COEFFS).set_index("input")  # no inf - inf warnings (they are errors)
    assert np.isfinite(frame[["derivative", "elasticity"]].to_numpy(dtype=float)).all()
    assert frame.attrs["round_seconds"] == pytest.approx(round_seconds(in_process), rel=1e-12)
    step = round_seconds(in_process.replace(params=68_874)) - round_seconds(in_process)
    assert frame.loc["params", "derivative"] == pytest.approx(step, rel=1e-6)


def test_solutions_are_immutable_and_readable() -> None:
    answer = solve.break_even_rounds(Scenario.emnist(), COEFFS, 1000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.value = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        answer.details["saved_fraction"] = 0.0  # type: ignore[index]
    report = answer.report()
    assert report.splitlines()[0] == answer.question and f"answer: {answer.value:.6g} rounds" in report
