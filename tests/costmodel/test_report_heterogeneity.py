"""The report's heterogeneity section: its numbers are predict_heterogeneous's, its columns follow the analysis,
its command-line inputs fail in one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from costmodel.analysis.heterogeneous import max_clients_heterogeneous, predict_heterogeneous
from costmodel.contracts.calibration_file import default_calibration
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario
from costmodel.report import heterogeneity as section_module
from costmodel.report.heterogeneity import (
    DEFAULT_FEDERATIONS,
    LINK_CURVE,
    LINK_POINTS,
    SPEED_CURVE,
    SPEED_POINTS,
    build_section,
)
from costmodel.report.heterogeneity_markdown import render_section, section_figures
from costmodel.units import format_seconds
from cli_runner import run

CALIBRATION = default_calibration()
COEFFS = CALIBRATION.coefficients
SCENARIO = Scenario.emnist(clients_total=60, clients_per_round=20, mediator_size=5)
FEDERATION = Federation(speed_sigma=0.3, link_sigma=0.5)
DRAWS, SEED = 300, 4


@pytest.fixture(scope="module")
def section() -> section_module.HeterogeneitySection:
    return build_section([("small", "Small", SCENARIO)], CALIBRATION, federation=FEDERATION, monte_carlo=DRAWS,
                         seed=SEED, budgets_s=[3.0], include_grid=False)


def test_the_rounds_are_predict_heterogeneous_s(section) -> None:
    rounds = section.scenarios[0].rounds
    assert list(rounds["federation"].unique()) == ["all clients alike", "speed sigma 0.3, link sigma 0.5"]
    expected = predict_heterogeneous(SCENARIO, COEFFS, FEDERATION, algorithms=("astraea", "fedavg"),
                                     monte_carlo=DRAWS, seed=SEED)
    mine = rounds[rounds["federation"] != "all clients alike"].drop(columns="federation").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, expected)
    alike = rounds[rounds["federation"] == "all clients alike"].set_index("algorithm")
    homogeneous = predict_heterogeneous(SCENARIO, COEFFS, Federation()).set_index("algorithm")
    assert alike.loc["astraea", "round_seconds"] == homogeneous.loc["astraea", "round_seconds"]
    text = "\n".join(render_section(section))
    row = expected.set_index("algorithm").loc["astraea"]
    assert (f"{format_seconds(row['round_seconds'])} (MC {format_seconds(row['monte_carlo_round_seconds'])} ± "
            f"{format_seconds(row['monte_carlo_stderr_seconds'])})") in text
    assert "Your federation: speed sigma 0.3, link sigma 0.5." in text


def test_the_sweeps_vary_one_spread_of_the_user_s_federation(section) -> None:
    sweeps = section.scenarios[0].sweeps
    for axis, curve, points in (("speed_sigma", SPEED_CURVE, SPEED_POINTS), ("link_sigma", LINK_CURVE, LINK_POINTS)):
        frame = sweeps[axis]
        assert list(frame.loc[frame["method"] == "closed form", "sigma"]) == list(curve)
        assert list(frame.loc[frame["method"] == "Monte Carlo", "sigma"]) == list(points)
    point = sweeps["speed_sigma"].query("method == 'Monte Carlo' and sigma == 0.75").iloc[0]
    by_hand = predict_heterogeneous(SCENARIO, COEFFS, Federation(speed_sigma=0.75, link_sigma=0.5),
                                    monte_carlo=DRAWS, seed=SEED).set_index("algorithm")["monte_carlo_round_seconds"]
    assert point["ratio"] == by_hand["astraea"] / by_hand["fedavg"]
    assert point["difference_seconds"] == by_hand["astraea"] - by_hand["fedavg"]
    line = sweeps["link_sigma"].query("method == 'closed form' and sigma == 1.5").iloc[0]
    closed = predict_heterogeneous(SCENARIO, COEFFS, Federation(speed_sigma=0.3, link_sigma=1.5)
                                   ).set_index("algorithm")["round_seconds"]
    assert line["astraea_round_seconds"] == closed["astraea"] and line["fedavg_round_seconds"] == closed["fedavg"]
    assert len(section_figures(section)) == 2


def test_the_capacity_is_max_clients_heterogeneous_s(section) -> None:
    capacity = section.scenarios[0].capacity
    astraea_round = float(section.scenarios[0].rounds.query("federation == 'all clients alike' and "
                                                             "algorithm == 'astraea'")["round_seconds"].iloc[0])
    assert list(capacity["budget_s"].unique()) == [2 * astraea_round, 3.0]
    for record in capacity.to_dict(orient="records"):
        answer = max_clients_heterogeneous(record["budget_s"], SCENARIO, COEFFS, FEDERATION, record["algorithm"],
                                           monte_carlo=DRAWS, seed=SEED)
        alike = max_clients_heterogeneous(record["budget_s"], SCENARIO, COEFFS, Federation(), record["algorithm"])
        assert record["closed_form_clients"] == answer["closed_form_clients"]
        assert record["monte_carlo_q95_clients"] == answer["monte_carlo_q95_clients"]
        assert record["identical_clients"] == alike["closed_form_clients"]
        assert record["closed_form_q95_clients"] == answer["closed_form_q95_clients"]
    assert "closed form (95% of rounds)" in "\n".join(render_section(section))


def test_a_closed_form_quantile_is_shown_when_the_analysis_gives_one(monkeypatch) -> None:
    def with_q95(*args, **kwargs):
        answer = max_clients_heterogeneous(*args, **kwargs)
        return {**answer, "closed_form_q95_clients": 7.0}

    def rounds_with_q95(*args, **kwargs):
        return predict_heterogeneous(*args, **kwargs).assign(closed_form_q95_seconds=12.5)

    monkeypatch.setattr(section_module, "max_clients_heterogeneous", with_q95)
    monkeypatch.setattr(section_module, "predict_heterogeneous", rounds_with_q95)
    built = build_section([("small", "Small", SCENARIO)], CALIBRATION, federation=FEDERATION, monte_carlo=DRAWS,
                          seed=SEED, include_grid=False)
    assert set(built.scenarios[0].capacity["closed_form_q95_clients"]) == {7.0}
    text = "\n".join(render_section(built))
    assert "| closed form (95% of rounds) |" in text and " | 7 | " in text
    assert "12.5 s (MC " in text


def test_without_a_federation_the_examples_are_priced() -> None:
    built = build_section([("small", "Small", SCENARIO)], CALIBRATION, monte_carlo=DRAWS, include_grid=False)
    labels = [label for label, _ in DEFAULT_FEDERATIONS]
    assert list(built.scenarios[0].rounds["federation"].unique()) == ["all clients alike", *labels]
    assert any(f.speed_classes for _, f in DEFAULT_FEDERATIONS)
    assert "No federation was given" in "\n".join(render_section(built))


@pytest.mark.parametrize(("argv", "message"), [
    (["--speed-sigma", "-1"], "'speed-sigma' must be >= 0 (got '-1')."),
    (["--link-classes", "1:0.5"], "'link-classes' must have shares that sum to 1 (got '1:0.5')."),
    (["--monte-carlo", "1"], "'monte-carlo' must be a whole number of rounds >= 2 and <= 1e+08 (got '1')."),
    (["--seed", "-2"], "'seed' must be a whole number >= 0 (got '-2')."),
    (["--speed-sigma", "0.5", "--clients-file", "{table}"],
     "'speed-sigma' must not be given with --clients-file, whose rows state every client's speed and links "
     "(got '0.5')."),
    (["--clients-file", "{table}"], "'clients-file' must hold at least the clients per round of every scenario of "
                                    "the report (50), who are drawn without replacement (got 2)."),
])
def test_a_bad_heterogeneity_option_is_one_line_and_writes_nothing(argv, message, tmp_path: Path, capsys) -> None:
    table = tmp_path / "clients.csv"
    table.write_text("speed_factor,uplink_bits_per_s,downlink_bits_per_s\n1,1e7,2e7\n0.5,5e6,1e7\n")
    out = tmp_path / "out"
    status, stdout, stderr = run(["report", "--out", str(out), *(a.format(table=table) for a in argv)], capsys)
    assert status == 2 and stdout == ""
    assert stderr == f"astraea-cost report: error: {message}\n"
    assert not out.exists()
