"""Time and bytes to a target: measured rounds times the model's costs, the faster one, the crossovers,
break-even from curves, and predicted against measured; each against direct calls of the model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from costmodel.analysis import solve
from costmodel.analysis.convergence import rounds_summary
from costmodel.analysis.predict import predict_rounds
from costmodel.analysis.time_to_accuracy import (
    break_even_from_curves,
    compare_with_measured,
    time_to_accuracy,
    time_to_accuracy_sweep,
)
from costmodel.contracts.calibration_file import default_calibration
from costmodel.contracts.curves_file import check_curves
from costmodel.errors import InputError
from costmodel.model.scenario import Scenario

COEFFS = default_calibration().coefficients
COLUMNS = ("algorithm", "seed", "round", "accuracy")


def step_curves(reach: dict[str, list[float]], last: int = 120):
    """Curves that sit at 0.1 and jump to 0.8 at the given round of each seed (inf: never)."""
    rows = []
    for algorithm, rounds in reach.items():
        for seed, at in enumerate(rounds):
            rows += [(algorithm, seed, r, 0.8 if r >= at else 0.1) for r in range(1, last + 1)]
    return check_curves([dict(zip(COLUMNS, row)) for row in rows], COLUMNS, source="steps")


#: Astraea needs about 10 rounds, FedAvg about 60: on the EMNIST setup Astraea's round costs 3.9x
#: FedAvg's over fast links and 10x over slow ones, so the winner changes with the bandwidth.
CURVES = step_curves({"astraea": [9, 10, 11], "fedavg": [55, 60, 65]})
FAST = Scenario.emnist(uplink_bits_per_s=math.inf, downlink_bits_per_s=math.inf)


def _costs(scenario, algorithm):
    row = predict_rounds(scenario, COEFFS, algorithms=(algorithm,)).iloc[0]
    return row["setup_seconds"], row["round_seconds"], row["setup_bytes"], row["round_bytes"]


def test_time_and_bytes_are_the_measured_rounds_times_the_model_costs():
    answer = time_to_accuracy(CURVES, 0.5, FAST, COEFFS, crossovers=())
    summary = rounds_summary(CURVES, 0.5)
    for name in ("astraea", "fedavg"):
        setup_s, round_s, setup_b, round_b = _costs(FAST, name)
        item, rounds = answer.algorithms[name], summary[name]
        assert item.rounds.mean_rounds == rounds.mean_rounds == {"astraea": 10.0, "fedavg": 60.0}[name]
        for which in ("mean", "low", "high"):
            r = getattr(rounds, f"{which}_rounds")
            assert getattr(item, f"{which}_seconds") == pytest.approx(setup_s + r * round_s, rel=1e-12)
            assert getattr(item, f"{which}_bytes") == pytest.approx(setup_b + r * round_b, rel=1e-12)
    assert answer.faster == "astraea" and answer.reason == ""
    # the share of resamples in which each is strictly fastest, recomputed from the resampled means
    times = {n: _costs(FAST, n)[0] + summary[n].resampled_means * _costs(FAST, n)[1] for n in ("astraea", "fedavg")}
    assert answer.algorithms["astraea"].probability_fastest == np.mean(times["astraea"] < times["fedavg"]) == 1.0
    table = answer.table()
    assert table["algorithm"].tolist() == ["astraea", "fedavg"] and table["seeds"].tolist() == [3, 3]


def test_a_what_if_changes_the_price_not_the_rounds():
    slow = FAST.replace(uplink_bits_per_s=1e5, downlink_bits_per_s=1e5, clients_per_round=100)
    answer = time_to_accuracy(CURVES, 0.5, slow, COEFFS, crossovers=())
    setup_s, round_s, _, _ = _costs(slow, "fedavg")
    assert answer.algorithms["fedavg"].mean_seconds == pytest.approx(setup_s + 60 * round_s, rel=1e-12)
    assert answer.faster == "fedavg"


def test_the_bandwidth_crossover_is_where_the_two_times_are_equal():
    answer = time_to_accuracy(CURVES, 0.5, FAST, COEFFS, crossovers=("bandwidth",))
    crossing = answer.crossovers["bandwidth"]
    assert crossing.exists and 1e6 < crossing.value < 1e9, crossing.report()
    assert crossing.question.endswith("fedavg faster below it, astraea from it on")

    def times(b):
        scenario = FAST.replace(uplink_bits_per_s=b, downlink_bits_per_s=b)
        return [(_costs(scenario, n)[0] + r * _costs(scenario, n)[1]) for n, r in (("astraea", 10), ("fedavg", 60))]

    at = times(crossing.value)
    assert at[0] == pytest.approx(at[1], rel=1e-8)
    below, above = times(crossing.value * 0.99), times(crossing.value * 1.01)
    assert below[0] > below[1] and above[0] < above[1]
    # its interval: the crossings with the rounds' interval corners, around the point; one crossing in all
    assert crossing.details["low"] < crossing.value < crossing.details["high"]
    assert crossing.details["crossings"] == 1.0


def test_whole_valued_crossovers_change_winner_exactly_there():
    answer = time_to_accuracy(CURVES, 0.5, FAST, COEFFS, crossovers=("mediator_size", "mediator_epochs"))
    for vary in ("mediator_size", "mediator_epochs"):
        crossing = answer.crossovers[vary]
        assert crossing.exists and float(crossing.value).is_integer(), crossing.report()
        value = int(crossing.value)
        before, at = FAST.replace(**{vary: value - 1}), FAST.replace(**{vary: value})

        def winner(scenario):
            t = {n: _costs(scenario, n)[0] + r * _costs(scenario, n)[1] for n, r in (("astraea", 10), ("fedavg", 60))}
            return min(t, key=t.get)

        assert (winner(before), winner(at)) == ("astraea", "fedavg")


def test_never_reaching_is_an_answer_not_an_error():
    never = step_curves({"astraea": [9, 10, 11], "fedavg": [55, math.inf, 65]}, last=100)
    answer = time_to_accuracy(never, 0.5, FAST, COEFFS)
    fedavg = answer.algorithms["fedavg"]
    assert math.isinf(fedavg.mean_seconds) and fedavg.rounds.reached == 2 and fedavg.rounds.measured_rounds == 100
    assert answer.faster == "astraea" and answer.algorithms["astraea"].probability_fastest == 1.0
    for solution in answer.crossovers.values():
        assert not solution.exists
        assert solution.reason == ("astraea is faster at every " + solution.question.split(" at which")[0]
                                   + ": fedavg does not reach 0.5 in 1 of its 3 seeds within the measured 100 rounds.")
    nobody = time_to_accuracy(CURVES, 0.9, FAST, COEFFS)
    assert nobody.faster == "" and nobody.reason.startswith("no algorithm reaches 0.9 in every seed")


def test_no_crossing_in_the_scan_says_so():
    lopsided = step_curves({"astraea": [2, 2, 2], "fedavg": [100, 100, 100]})
    answer = time_to_accuracy(lopsided, 0.5, FAST, COEFFS, crossovers=("bandwidth",))
    solution = answer.crossovers["bandwidth"]
    assert not solution.exists and math.isnan(solution.value)
    assert solution.reason == ("astraea stays faster than fedavg at every client bandwidth (uplink = downlink) from "
                               "1 bit/s to 1000 Tbit/s (rounds to target as measured).")


def test_break_even_from_curves_is_solve_break_even_with_fedavg_s_measured_rounds():
    scenario = Scenario.emnist()
    curves = step_curves({"astraea": [9, 10, 12], "fedavg": [55, 60, 66]})   # FedAvg's mean 60.33 -> 60 rounds
    answer = break_even_from_curves(curves, 0.5, scenario, COEFFS)
    direct = solve.break_even_rounds(scenario, COEFFS, 60)
    assert answer.value == direct.value and answer.details["fedavg_rounds"] == 60.0
    assert answer.details["astraea_mean_rounds"] == pytest.approx(31 / 3)
    most = direct.details["max_astraea_rounds"]
    assert answer.details["breaks_even"] == float(31 / 3 <= most)
    assert answer.details["measured_saved_rounds"] == pytest.approx(60 - 31 / 3)
    never = break_even_from_curves(step_curves({"astraea": [9], "fedavg": [math.inf]}, last=50), 0.5, scenario,
                                   COEFFS)
    assert not never.exists and "within the measured 50 rounds" in never.reason
    with pytest.raises(InputError, match="'curves' must hold astraea and fedavg for break-even"):
        break_even_from_curves(step_curves({"fedavg": [3]}), 0.5, scenario, COEFFS)


def test_predicted_against_measured_is_exact_when_the_runs_cost_what_the_model_says():
    columns = (*COLUMNS, "round_seconds", "round_bytes", "setup_seconds", "setup_bytes")
    rows = []
    for algorithm, at in (("astraea", 4), ("fedavg", 7)):
        setup_s, round_s, setup_b, round_b = _costs(FAST, algorithm)
        rows += [(algorithm, 3, r, 0.8 if r >= at else 0.2, round_s, round_b, setup_s, setup_b) for r in range(1, 9)]
    curves = check_curves([dict(zip(columns, row)) for row in rows], columns, source="exact")
    table = compare_with_measured(curves, 0.5, {3: FAST}, COEFFS)
    assert table["rounds"].tolist() == [4, 7]
    np.testing.assert_allclose(table["error_percent"], 0.0, atol=1e-9)
    np.testing.assert_allclose(table["bytes_error_percent"], 0.0, atol=1e-9)
    with pytest.raises(InputError, match="'scenarios' must hold a Scenario for seed 3"):
        compare_with_measured(curves, 0.5, {0: FAST}, COEFFS)
    with pytest.raises(InputError, match="'curves' must have the measured columns"):
        compare_with_measured(CURVES, 0.5, FAST, COEFFS)


def test_the_sweep_is_the_answer_priced_at_each_value():
    answer = time_to_accuracy(CURVES, 0.5, FAST, COEFFS, crossovers=("bandwidth",))
    sweep = time_to_accuracy_sweep(answer, COEFFS, "bandwidth")
    assert sweep.attrs["vary"] == "bandwidth" and sweep["value"].min() <= 1e4 and sweep["value"].max() >= 1e11
    row = sweep[sweep["algorithm"] == "fedavg"].iloc[3]
    scenario = FAST.replace(uplink_bits_per_s=row["value"], downlink_bits_per_s=row["value"])
    setup_s, round_s, _, _ = _costs(scenario, "fedavg")
    assert row["mean_seconds"] == pytest.approx(setup_s + 60 * round_s, rel=1e-12)
    assert row["low_seconds"] == pytest.approx(setup_s + answer.algorithms["fedavg"].rounds.low_rounds * round_s)


def test_bad_arguments_are_one_line():
    with pytest.raises(InputError, match=r"^'scenario' must be a Scenario \(got 'dict'\)\.$"):
        time_to_accuracy(CURVES, 0.5, {}, COEFFS)
    with pytest.raises(InputError, match=r"^'crossovers' must name inputs of bandwidth, mediator_size, "
                                         r"mediator_epochs"):
        time_to_accuracy(CURVES, 0.5, FAST, COEFFS, crossovers=("clients",))
    with pytest.raises(InputError, match=r"^'target' must be <= 1"):
        time_to_accuracy(CURVES, 2, FAST, COEFFS)
