"""The overhead report: its numbers against direct calls of the model, its files, its command line."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel import cli
from costmodel.analysis import solve
from costmodel.cli import report as report_cli
from costmodel import model as ex
from costmodel import report as rp
from costmodel.report.heterogeneity_markdown import SECTION_FIGURES as HETEROGENEITY_FIGURES
from costmodel.report.time_to_accuracy import SECTION_FIGURES
from costmodel.contracts.calibration_file import default_calibration, write_calibration
from costmodel.errors import InputError
from costmodel.analysis.predict import predict_overhead, predict_phases, predict_rounds
from costmodel.model.bridge import numeric_function
from costmodel.model.protocols import ALGORITHM_COSTS, ALGORITHMS, BASELINES
from costmodel.model.augmentation_volume import long_tail_volume
from costmodel.model.label_mix import EMNIST_HISTOGRAM
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario
from costmodel.units import format_bytes, format_fraction, format_seconds
from cli_runner import run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: A small scenario of our own, given on the command line and as a Scenario.
CUSTOM = Scenario(clients_total=40, clients_per_round=20, samples_per_client_sd=20.0, mediator_epochs=2,
                  uplink_bits_per_s=5e6)
CUSTOM_OPTIONS = ["--clients-total", "40", "--clients-per-round", "20", "--samples-per-client-sd", "20",
                  "--mediator-epochs", "2", "--uplink", "5Mbit/s"]
#: The heterogeneity section's inputs, on the command line and as arguments of build_report.
FEDERATION_OPTIONS = ["--speed-sigma", "0.5", "--monte-carlo", "200", "--seed", "1"]
FEDERATION = {"federation": Federation(speed_sigma=0.5), "monte_carlo": 200, "seed": 1}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real ``astraea-cost report`` run with the custom scenario (the papers' two setups + ours)."""
    out = tmp_path_factory.mktemp("report") / "nested" / "out"
    assert cli.main(["report", "--out", str(out), "--budget", "30s", *CUSTOM_OPTIONS, *FEDERATION_OPTIONS]) == 0
    return out


@pytest.fixture(scope="module")
def report() -> rp.Report:
    custom = rp.ReportScenario(key="custom", title="Your scenario", scenario=CUSTOM,
                               description="from the input defaults (the TPDS EMNIST setup) with "
                                           + ", ".join(f"{a} {b}" for a, b in zip(CUSTOM_OPTIONS[::2],
                                                                                  CUSTOM_OPTIONS[1::2])) + ".")
    return rp.build_report(scenarios=[custom], budgets_s=[30.0], **FEDERATION)


@pytest.fixture(scope="module")
def markdown(report: rp.Report) -> str:
    return rp.render_markdown(report)


COEFFS = default_calibration().coefficients


# --------------------------------------------------------------------------- the command's files


def test_the_command_writes_the_library_report_and_every_figure_it_links(written: Path, markdown: str) -> None:
    text = (written / rp.REPORT_FILE).read_text(encoding="utf-8")
    assert text == markdown  # the command adds nothing and loses nothing
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # + time to accuracy (2 setups) + heterogeneity (3 scenarios)
    assert len(links) == 3 * len(rp.FIGURE_KINDS) + 2 * len(SECTION_FIGURES) + 3 * len(HETEROGENEITY_FIGURES)
    for link in links:
        assert not os.path.isabs(link)
        data = (written / link).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000
    assert sorted(p.name for p in written.iterdir()) == ["figures", "report.md"]  # no staging folder left
    assert sorted(p.name for p in (written / "figures").iterdir()) == sorted(Path(link).name for link in links)


def test_sections_and_scenarios_are_present(markdown: str, report: rp.Report) -> None:
    headings = re.findall(r"^## (.+)$", markdown, flags=re.M)
    assert headings == ["1. Scenarios and assumptions", "2. Overhead per round and per training run",
                        "3. How the overhead grows", "4. The papers' claims against the model", "5. Capacity",
                        "6. Validation: where the numbers come from", "7. Time to accuracy: what the overhead buys",
                        "8. Heterogeneous devices and links"]
    for anchor in re.findall(r"\]\(#([^)]+)\)", markdown):  # the contents links resolve (GitHub slugs)
        slugs = [re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings]
        assert anchor in slugs
    assert [item.key for item in report.scenarios] == ["emnist", "cinic10", "custom"]
    for item in report.scenarios:
        assert len(re.findall(rf"^### {re.escape(item.title)}$", markdown, flags=re.M)) == 3  # + heterogeneity
        assert f"#### {item.title}: Astraea against each baseline" in markdown
    assert "EuroSys 2024" in markdown


# --------------------------------------------------------------------------- numbers = the model's


def test_overhead_frames_are_the_model_called_directly(report: rp.Report) -> None:
    plain = [item.scenario for item in report.scenarios]
    pd.testing.assert_frame_equal(report.overhead, predict_overhead(plain, COEFFS))
    pd.testing.assert_frame_equal(report.rounds, predict_rounds(plain, COEFFS, algorithms=ALGORITHMS))
    pd.testing.assert_frame_equal(report.phases, predict_phases(plain, COEFFS))


def test_every_baseline_row_is_a_direct_predict_overhead_call(report: rp.Report, markdown: str) -> None:
    plain = [item.scenario for item in report.scenarios]
    assert list(report.baselines["baseline"].unique()) == list(BASELINES) == ["fedavg", "fedprox"]
    for baseline in BASELINES:
        direct = predict_overhead(plain, COEFFS, baseline=baseline)
        direct = direct[direct["scope"] != "setup"].reset_index(drop=True)
        mine = report.baselines[report.baselines["baseline"] == baseline].reset_index(drop=True)
        np.testing.assert_array_equal(mine["seconds"], direct["seconds"])
        np.testing.assert_array_equal(mine["fraction"], direct[f"fraction_of_{baseline}"])
    for index, item in enumerate(report.scenarios):
        section = markdown.split(f"#### {item.title}: Astraea against each baseline")[1].split("\n\n")[1]
        rows = report.baselines[(report.baselines["scenario"] == index) & (report.baselines["scope"] == "round")]
        for baseline in BASELINES:
            line = next(l for l in section.splitlines() if l.startswith(f"| {ALGORITHM_COSTS[baseline].title} |"))
            net = rows[rows["baseline"] == baseline]["seconds"].sum()
            assert f"| {format_seconds(net)} |" in line
        # FedProx's bytes are FedAvg's; its local steps cost more, so Astraea's overhead over it is smaller
        over = rows.groupby("baseline")["seconds"].sum()
        assert over["fedprox"] < over["fedavg"]
        by_bytes = rows.groupby("baseline")["bytes"].sum()
        assert by_bytes["fedprox"] == by_bytes["fedavg"]


def _signed(fraction: float) -> str:
    if math.isnan(fraction):
        return "n/a"
    text = format_fraction(fraction)
    return text if fraction <= 0 else "+" + text


@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_overhead_table_row_is_a_direct_predict_overhead_call(markdown: str, report: rp.Report,
                                                                    index: int) -> None:
    scenario = report.scenarios[index].scenario
    direct = predict_overhead(scenario, COEFFS).set_index(["scope", "category"])
    rounds = predict_rounds(scenario, COEFFS).set_index("algorithm")
    names = {"training_compute": "training compute", "data_augmentation": "data augmentation",
             "communication": "communication", "coordination": "coordination and synchronization"}
    section = markdown.split(f"### {report.scenarios[index].title}")[1]
    for category, label in names.items():
        one, total = direct.loc[("round", category)], direct.loc[("total", category)]
        row = (f"| {label} | {format_seconds(one.seconds)} | {_signed(one.fraction_of_fedavg)} | "
               f"{format_bytes(one.bytes)} | {format_seconds(total.seconds)} | {_signed(total.fraction_of_fedavg)} | "
               f"{format_bytes(total.bytes)} |")
        assert row in section.split("### ")[0], row
    net = direct.loc["round"]["seconds"].sum()
    assert f"| **net overhead** | {format_seconds(net)} | {_signed(net / rounds.loc['fedavg', 'round_seconds'])} |" \
        in section
    setup = direct.loc[("setup", "data_augmentation")]
    assert f"{format_bytes(setup.storage_bytes)} more storage per client" in section


def test_traffic_claims_miss_exactly_the_repeated_visits(report: rp.Report) -> None:
    for index, item in enumerate(report.scenarios):
        s = item.scenario
        w = s.message_header_bytes + s.params * s.bytes_per_param
        mediators = math.ceil(s.clients_per_round / s.mediator_size)
        part = report.traffic_claims[report.traffic_claims["scenario"] == index]
        assert list(part["mediator_epochs"]) == [1, 2, 3, 4]
        for row in part.itertuples():
            assert row.paper_astraea_round_bytes == 2 * w * (mediators + s.clients_per_round)
            assert row.astraea_round_bytes == 2 * w * (mediators + row.mediator_epochs * s.clients_per_round)
            assert row.missing_bytes == 2 * w * (row.mediator_epochs - 1) * s.clients_per_round
            assert row.fedavg_round_bytes == row.paper_fedavg_round_bytes == 2 * w * s.clients_per_round


def test_time_claims_are_the_papers_ratio_and_the_models(report: rp.Report) -> None:
    for index, item in enumerate(report.scenarios):
        part = report.time_claims[report.time_claims["scenario"] == index]
        for row in part.itertuples():
            scenario = item.scenario.replace(mediator_epochs=row.mediator_epochs)
            rounds = predict_rounds(scenario, COEFFS).set_index("algorithm")["round_seconds"]
            assert row.paper_ratio == row.mediator_epochs * item.scenario.mediator_size
            assert row.paper_astraea_round_seconds == pytest.approx(row.paper_ratio * row.paper_fedavg_round_seconds)
            assert row.model_ratio == pytest.approx(rounds["astraea"] / rounds["fedavg"], rel=1e-12)


def test_negligible_shares_are_phase_seconds_over_round_seconds(report: rp.Report) -> None:
    rows = report.negligible_claims
    emnist = Scenario.emnist()
    phases = predict_phases(emnist, COEFFS)
    astraea = phases[phases.algorithm == "astraea"].set_index("phase")["seconds"]
    round_s = predict_rounds(emnist, COEFFS).set_index("algorithm").loc["astraea", "round_seconds"]
    augmentation = rows[(rows.scenario == 0) & (rows.phase == "augmentation")].iloc[0]
    assert augmentation.share_of_astraea_round == pytest.approx(astraea["augmentation"] / round_s, rel=1e-12)
    everyone = rows[(rows.scenario == 0) & (rows.phase == "rescheduling")]
    assert list(everyone["clients_per_round"]) == [50, 500]
    held = emnist.classes_per_client
    for c, seconds in zip((50, 500), everyone["seconds"]):  # t_greedy*c + t_KL*c*(c+1)/2 + t_cls*K_c*c*(c - M)/2
        hand = (COEFFS["reschedule_s_per_round"] + COEFFS["reschedule_s_per_step"] * c
                + COEFFS["kl_s_per_evaluation"] * c * (c + 1) / 2
                + COEFFS["reschedule_s_per_class_update"] * held * c * (c - math.ceil(c / 10)) / 2)
        assert seconds == pytest.approx(hand, rel=1e-12)


def test_capacity_answers_are_the_solvers(report: rp.Report) -> None:
    rows = report.capacity[report.capacity["scenario"] == 2]
    breaks = rows[rows.question == "break_even_rounds"].iloc[0]
    assert breaks.value == solve.break_even_rounds(CUSTOM, COEFFS, CUSTOM.rounds).value
    mine = rows[(rows.question == "max_clients_per_round") & rows.condition.str.startswith("your budget")]
    for row in mine.itertuples():
        assert row.value == solve.max_clients_per_round(30.0, CUSTOM, COEFFS, row.algorithm).value
    # An impossible question is answered with the solver's reason, not dropped.
    emnist = report.capacity[(report.capacity.scenario == 0) & (report.capacity.algorithm == "astraea")
                             & report.capacity.condition.str.startswith("FedAvg's round time")].iloc[0]
    budget = predict_rounds(Scenario.emnist(), COEFFS).set_index("algorithm").loc["fedavg", "round_seconds"]
    expected = solve.max_clients_per_round(budget, Scenario.emnist(), COEFFS)
    if expected.exists:
        assert emnist.value == expected.value
    else:
        assert math.isnan(emnist.value) and emnist.text == expected.reason


def test_storage_claims_confront_the_papers_growth(report: rp.Report) -> None:
    rows = report.storage_claims.set_index(["dataset", "threshold"])
    emnist = rows.loc[("emnist", 3.5)]
    assert emnist.paper_fraction == 0.818 == EMNIST_HISTOGRAM.reported_growth
    assert Scenario.emnist().augmented_fraction == pytest.approx(0.818, abs=1e-4)   # derived from the histogram
    assert emnist.tpds_max_fraction < emnist.paper_fraction  # the minus form cannot reach it on a long tail
    printed = long_tail_volume(47, emnist.printed_ratio, 3.5, plan="tpds-printed").augmented_fraction
    assert printed == pytest.approx(emnist.paper_fraction, rel=1e-9)
    assert emnist.paper_storage_bytes_per_client == 4 * Scenario.emnist().samples_per_client * 784 * 0.818


def test_printed_plus_form_by_hand() -> None:
    # Two classes of 1 and rho: mu = (1 + rho)/2, sigma = (1 - rho)/2, Z = -1 for the small one.
    rho, tau = 0.2, 3.0
    mu, sigma = 0.6, 0.4
    target = mu + sigma * math.sqrt(1 * tau)
    printed = long_tail_volume(2, rho, tau, plan="tpds-printed").augmented_fraction
    assert printed == pytest.approx((target - rho) / (1 + rho), rel=1e-12)
    assert long_tail_volume(10, 1.0, tau, plan="tpds-printed").augmented_fraction == 0.0  # nothing to augment


# --------------------------------------------------------------------------- growth orders


def values(scenario: Scenario) -> dict[str, float]:
    return {**scenario.as_dict(), **COEFFS}


def test_rescheduling_grows_as_c_squared_with_the_hand_coefficient() -> None:
    growth = rp.growth_order(ex.rescheduling_seconds(), "clients_per_round", values(Scenario.emnist()))
    assert (growth.power, growth.log_power) == (2, 0)
    # c*(c + 1)/2 evaluations and K_c*c*(c - c/gamma)/2 class updates (the ceiling relaxed)
    by_hand = (COEFFS["kl_s_per_evaluation"] / 2
               + COEFFS["reschedule_s_per_class_update"] * Scenario.emnist().classes_per_client * (1 - 1 / 10) / 2)
    assert growth.coefficient == pytest.approx(by_hand, rel=1e-12)
    assert growth.order("c") == "Θ(c²)"


def test_communication_overhead_at_a_saturated_server_link_is_a_client_s_own_transfers() -> None:
    # c -> oo saturates the server link: a transfer takes 8*wire*k/(eta*b_srv) with k concurrent ones,
    # k = M = c/gamma for Astraea's mediators, k = c for FedAvg. A client's own E_m round trips
    # against FedAvg's one: 16*wire*c*(E_m/gamma - 1)/(eta*b_srv), negative until E_m > gamma.
    communication = ex.overhead("round")["communication"].seconds
    for mediator_epochs in (1, 3):
        scenario = Scenario.emnist(mediator_epochs=mediator_epochs)
        growth = rp.growth_order(communication, "clients_per_round", values(scenario))
        wire = scenario.message_header_bytes + scenario.params * 4 + COEFFS["message_overhead_bytes"]
        expected = (16 * wire * (mediator_epochs / scenario.mediator_size - 1)
                    / (COEFFS["link_efficiency"] * scenario.server_bits_per_s))
        assert growth.power == 1 and growth.coefficient == pytest.approx(expected, rel=1e-12)


def test_round_time_over_slow_links_is_inverse_in_bandwidth() -> None:
    scenario = Scenario.emnist()
    growth = rp.growth_order(ex.round_seconds("fedavg"), "bandwidth", values(scenario))
    wire = scenario.message_header_bytes + scenario.params * 4 + COEFFS["message_overhead_bytes"]
    assert growth.power == 1 and growth.order("b") == "Θ(1/b)"
    assert growth.coefficient == pytest.approx(16 * wire / COEFFS["link_efficiency"], rel=1e-12)
    assert growth.leading("b").endswith("/b")


def test_straggler_term_grows_as_root_log_c() -> None:
    scenario = Scenario.emnist(samples_per_client_sd=30.0)
    expression = ex.phase_costs("fedavg")["local_training"].seconds
    growth = rp.growth_order(expression, "clients_per_round", values(scenario))
    assert (growth.power, growth.log_power) == (0, Fraction(1, 2))
    slope = ((scenario.train_flops_per_sample + scenario.conv_padding_flops) / COEFFS["flops_per_s"]
             + scenario.conv_input_values * COEFFS["train_s_per_conv_value"]
             + scenario.elementwise_values * COEFFS["train_s_per_elementwise_value"]
             + (COEFFS["step_overhead_s"] + scenario.autograd_nodes * COEFFS["train_s_per_autograd_node"]
                + scenario.conv_calls * COEFFS["train_s_per_conv_call"]
                + scenario.params * COEFFS["step_s_per_param"]) / scenario.batch_size)
    # the slowest of c clients: (slope*s_n + cv_t*t_train(n)) * z_c, with z_c -> sqrt(2 log c)
    from costmodel.model.bridge import numeric_function
    from costmodel.model.quantities import sym
    visit = numeric_function(ex.training_seconds(sym("samples_per_client"), sym("samples_per_client_sd")))
    t_train = float(visit(**{name: np.asarray(values(scenario)[name], dtype=float) for name in visit.arguments}))
    expected = (slope * 30.0 + COEFFS["train_time_cv"] * t_train) * math.sqrt(2)
    assert growth.coefficient == pytest.approx(expected, rel=1e-12)
    assert growth.order("c") == "Θ(√log c)"


def test_training_overhead_in_params_is_the_extra_steps() -> None:
    s = Scenario.emnist(mediator_epochs=2)
    growth = rp.growth_order(ex.overhead("round")["training_compute"].seconds, "params", values(s))
    steps = (2 - 1) * math.ceil(s.samples_per_client / s.batch_size)   # one more pass over its own data
    assert growth.power == 1 and growth.coefficient == pytest.approx(steps * COEFFS["step_s_per_param"], rel=1e-12)


def test_zero_and_bad_growth_questions() -> None:
    plain = Scenario.emnist(augmented_fraction=0, augmented_fraction_sd=0)     # nothing added: no recurring cost
    zero = rp.growth_order(ex.overhead("round")["data_augmentation"].seconds, "params", values(plain))
    assert zero.power is None and zero.order("P") == "0" and zero.leading("P") == "0"
    with pytest.raises(InputError, match=r"^'variable' must be 'bandwidth' or an input"):
        rp.growth_order(ex.rescheduling_seconds(), "speed", values(Scenario.emnist()))
    with pytest.raises(InputError, match=r"^'values' must give 'kl_s_per_evaluation'"):
        rp.growth_order(ex.rescheduling_seconds(), "clients_per_round", Scenario.emnist().as_dict())


def test_growth_table_agrees_with_the_numbers(report: rp.Report) -> None:
    """The leading term predicts the exact model far out: the ratio tends to 1 like 1/c."""
    row = report.growth[(report.growth.scenario == 0) & (report.growth.subject == "astraea")
                        & (report.growth.variable == "clients_per_round")].iloc[0]
    assert row.order == "Θ(c²)"
    errors = []
    for c in (10**10, 10**12):  # far enough out for the c² term of the fitted rescheduling to lead
        # beyond the inputs' bounds (1e9 clients): evaluated on the compiled expression directly
        values = {**Scenario.emnist().as_dict(), "clients_total": c, "clients_per_round": c, **COEFFS}
        function = numeric_function(ex.round_seconds("astraea"))
        exact = float(function(**{name: values[name] for name in function.arguments}))
        errors.append(abs(exact / (row.coefficient * c**2) - 1))
    assert errors[1] < 1e-3 and errors[1] < errors[0] / 50


# --------------------------------------------------------------------------- validation table


def test_an_empty_validation_table_is_said_and_a_full_one_is_judged() -> None:
    def with_validation(rows):
        base = default_calibration()
        fields = ("coefficients", "stderr", "fitted_from", "machine", "fit", "source", "created")
        return base.__class__(**{**{f: getattr(base, f) for f in fields}, "validation": rows})

    unvalidated = rp.build_report(calibration=with_validation(()), include_presets=False,
                                  scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    assert unvalidated.validation.empty
    assert "**This calibration carries no validation table**" in rp.render_markdown(unvalidated)
    rows = ({"phase": "local_training", "mape_percent": 4.0, "max_ape_percent": 9.0, "noise_percent": 1.5, "n": 12},
            {"phase": "round_bytes", "mape_percent": 0.0, "max_ape_percent": 0.0, "noise_percent": 0.0, "n": 12},
            {"phase": "round", "mape_percent": 12.0, "max_ape_percent": 20.0, "noise_percent": 8.0, "n": 12,
             "target_percent": 15.0})
    validated = rp.build_report(calibration=with_validation(rows), include_presets=False,
                                scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    table = validated.validation.set_index("phase")
    assert table.loc["local_training", "bar_percent"] == 10.0 and not table.loc["local_training", "within_twice_noise"]
    assert table.loc["round_bytes", "bar_percent"] == 0.5 and table.loc["round_bytes", "within_twice_noise"] is None
    assert table.loc["round", "bar_percent"] == 15.0 and table.loc["round", "meets_bar"]
    text = rp.render_markdown(validated)
    assert "| local_training | 4% | 9% | 1.5% | 12 | 10% | yes | **no** |" in text
    assert "| round_bytes | 0% | 0% | 0% | 12 | 0.5% | yes | n/a |" in text
    assert "no validation table" not in text


# --------------------------------------------------------------------------- atomic writing


def test_a_failing_figure_leaves_the_previous_report_untouched(report: rp.Report, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    small = rp.build_report(include_presets=False,
                            scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    (tmp_path / "report.md").write_text("previous report\n")
    calls = []
    from costmodel.report import write as report_write

    real = report_write._draw

    def failing(kind: str, frame: pd.DataFrame):  # noqa: ANN202
        calls.append(kind)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(kind, frame)

    monkeypatch.setattr(report_write, "_draw", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        rp.write_report(small, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no figures, no staging folder
    assert (tmp_path / "report.md").read_text() == "previous report\n"


def test_write_report_refuses_a_file_where_the_figures_go(tmp_path: Path) -> None:
    (tmp_path / "figures").write_text("not a folder")
    small = rp.build_report(include_presets=False,
                            scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    with pytest.raises(InputError, match=r"^'out' must not hold a file named 'figures'"):
        rp.write_report(small, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


def test_build_report_input_errors() -> None:
    with pytest.raises(InputError, match=r"^'budget_s' must be > 0 \(got -1\)\.$"):
        rp.build_report(budgets_s=[-1])
    with pytest.raises(InputError, match=r"^'scenarios' must hold at least one scenario"):
        rp.build_report(include_presets=False)
    with pytest.raises(InputError, match=r"^'scenarios' must hold ReportScenario items \(got 'Scenario'\)\.$"):
        rp.build_report(scenarios=[CUSTOM])  # type: ignore[list-item]
    with pytest.raises(InputError, match=r"^'report' must be a Report"):
        rp.render_markdown("report")  # type: ignore[arg-type]


def test_report_scenario_keys_name_files_safely() -> None:
    with pytest.raises(InputError, match=r"^'key' must be lower-case letters"):
        rp.ReportScenario(key="../x", title="X", scenario=CUSTOM)
    with pytest.raises(InputError, match=r"^'scenario' must be a Scenario \(got 'dict'\)\.$"):
        rp.ReportScenario(key="x", title="X", scenario={})  # type: ignore[arg-type]


def test_a_preset_given_again_is_not_repeated() -> None:
    again = rp.ReportScenario(key="custom", title="Your scenario", scenario=Scenario.emnist())
    assert [item.key for item in rp.build_report(scenarios=[again]).scenarios] == ["emnist", "cinic10"]


# --------------------------------------------------------------------------- command line


def test_the_report_command_is_declared_with_its_defaults(tmp_path: Path) -> None:
    from costmodel.cli.commands import DEFAULT_REPORT_OUT
    from costmodel.cli.dispatch import build_parser

    parser = build_parser()
    args = parser.parse_args(["report"])
    assert args.out == DEFAULT_REPORT_OUT and args.budget == [] and args.handler == "costmodel.cli.report:run"
    args = parser.parse_args(["report", "--out", str(tmp_path), "--preset", "cinic10", "--budget", "5s",
                              "--budget", "1min", "--gamma", "5"])
    assert (args.preset, args.budget, args.input_mediator_size) == ("cinic10", ["5s", "1min"], "5")
    scenario, description = report_cli.custom_scenario(args)
    assert scenario == Scenario.cinic10(mediator_size=5)
    assert description == "from the cinic10 preset with --gamma 5."
    assert report_cli.custom_scenario(parser.parse_args(["report"])) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--clients-per-round", "10,20"], "'clients-per-round' must be a single value for report (got '10,20')."),
        (["--clients-per-round", "1000"], "'clients-per-round' must be <= clients (500) (got 1000)."),
        (["--budget", "1e308"], "'budget' must be <= 1e+09 s (got '1e308')."),
        (["--budget=0s"], "'budget' must be > 0 (got '0s')."),
        (["--budget", "soon"], "'budget' must be a duration such as '1.5 s' or '500 ms' (got 'soon')."),
    ],
)
def test_bad_scenario_options_are_one_line_and_write_nothing(extra: list[str], message: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status, stdout, stderr = run(["report", "--out", str(out), *extra], capsys)
    assert status == 2 and stdout == ""
    assert stderr == f"astraea-cost report: error: {message}\n"
    assert not out.exists()


def test_unwritable_out_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    status, stdout, stderr = run(["report", "--out", str(blocker / "out")], capsys)
    assert status == 2 and stdout == ""
    assert stderr == (f"astraea-cost report: error: 'out' must be a folder path (got {str(blocker / 'out')!r}: "
                      f"{blocker} is not a folder).\n")
    status, _, stderr = run(["report", "--out", str(blocker)], capsys)
    assert status == 2 and stderr == f"astraea-cost report: error: 'out' must be a folder (got {str(blocker)!r}, " \
                                     f"which is not a folder).\n"
    status, _, stderr = run(["report", "--out", ""], capsys)
    assert status == 2 and stderr == "astraea-cost report: error: 'out' must be a path, not an empty string (got '').\n"


def test_malformed_calibration_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1,')
    status, stdout, stderr = run(["report", "--out", str(tmp_path / "out"), "--calibration", str(broken)], capsys)
    assert status == 2 and stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith(f"astraea-cost report: error: calibration file '{broken}' is not valid JSON")
    negative = default_calibration().to_json_dict()
    negative["coefficients"]["flops_per_s"]["value"] = -1.0
    path = tmp_path / "negative.json"
    path.write_text(__import__("json").dumps(negative))
    status, _, stderr = run(["report", "--out", str(tmp_path / "out"), "--calibration", str(path)], capsys)
    assert status == 2 and stderr.count("\n") == 1 and "flops_per_s" in stderr
    assert not (tmp_path / "out").exists()


def test_a_calibration_file_and_overrides_reach_the_report(tmp_path: Path) -> None:
    calibration = default_calibration().with_overrides(latency_s=0.02)
    path = write_calibration(tmp_path / "mine.json", calibration)
    args = argparse.Namespace(calibration=str(path), overrides=["kl_s_per_evaluation=1e-6"])
    from costmodel.cli.scenario_options import calibration_from_args

    loaded = calibration_from_args(args)
    built = rp.build_report(calibration=loaded, calibration_origin=str(path), include_presets=False,
                            scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    assert built.coefficients["latency_s"] == 0.02 and built.coefficients["kl_s_per_evaluation"] == 1e-6
    pd.testing.assert_frame_equal(built.overhead, predict_overhead(CUSTOM, loaded.coefficients))
    assert f"Calibration: {path}" in rp.render_markdown(built)
    assert np.isfinite(built.overhead["seconds"]).all()


def test_an_order_the_calibration_does_not_pin_down_is_not_claimed() -> None:
    # the rescheduling's quadratic coefficients within twice their error: its Θ(c²) rests on them
    base = default_calibration()
    stderr = {**base.stderr, "kl_s_per_evaluation": 1.0, "reschedule_s_per_class_update": 1.0,
              "reschedule_s_per_step": 0.0}
    shaky = dataclasses.replace(base, stderr=stderr)
    assert {"kl_s_per_evaluation", "reschedule_s_per_class_update"} <= set(shaky.unsupported_coefficients())
    built = rp.build_report(calibration=shaky, include_presets=False,
                            scenarios=[rp.ReportScenario(key="small", title="Small", scenario=CUSTOM)])
    row = built.growth.set_index(["subject", "variable"]).loc[("rescheduling", "clients_per_round")]
    assert row.order == "Θ(c²)" and row.supported_order == "Θ(c)"
    assert row.rests_on == "kl_s_per_evaluation, reschedule_s_per_class_update"
    params = built.growth.set_index(["subject", "variable"]).loc[("rescheduling", "params")]
    assert params.rests_on == ""                                       # nothing to claim in P: no caveat
    text = rp.render_markdown(built)
    assert "Θ(c²)" in text and "not pinned down: Θ(c) without kl_s_per_evaluation, reschedule_s_per_class_update" in text
