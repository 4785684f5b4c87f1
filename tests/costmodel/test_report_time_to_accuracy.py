"""The report's time-to-accuracy section: its numbers are direct API calls on the stored curves, the
Markdown prints them, and the report links figures it writes."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from costmodel import report as rp
from costmodel.analysis.time_to_accuracy import break_even_from_curves, compare_with_measured, time_to_accuracy
from costmodel.contracts.calibration_file import default_calibration
from costmodel.contracts.convergence_evidence import load_convergence
from costmodel.model.scenario import Scenario
from costmodel.report import time_to_accuracy as section_module
from costmodel.units import format_seconds

CALIBRATION = default_calibration()
COEFFS = CALIBRATION.coefficients


@pytest.fixture(scope="module")
def section() -> section_module.TimeToAccuracySection:
    return section_module.build_section(CALIBRATION)


@pytest.fixture(scope="module")
def lines(section) -> str:
    return "\n".join(section_module.render_section(section))


def test_every_number_is_a_direct_call_on_the_stored_curves(section):
    evidence = load_convergence()
    assert [s.key for s in section.setups] == [s.key for s in evidence.setups]
    local = {**COEFFS, "latency_s": 0.0}
    for item, stored in zip(section.setups, evidence.setups):
        deployed = stored.scenario.replace(uplink_bits_per_s=10e6, downlink_bits_per_s=20e6, server_bits_per_s=1e9)
        for target in section.targets:
            direct = time_to_accuracy(stored.curves, target, stored.scenario, local, crossovers=())
            pd.testing.assert_frame_equal(item.measured[target].table(), direct.table())
            over_links = time_to_accuracy(stored.curves, target, deployed, COEFFS)
            pd.testing.assert_frame_equal(item.deployed[target].table(), over_links.table())
            for vary, solution in over_links.crossovers.items():
                mine = item.deployed[target].crossovers[vary]
                assert (mine.value == solution.value) or (math.isnan(mine.value) and math.isnan(solution.value))
            assert item.break_even[target].value == pytest.approx(
                break_even_from_curves(stored.curves, target, deployed, COEFFS).value, nan_ok=True)
            heldout = compare_with_measured(stored.heldout_curves, target, stored.scenarios, local)
            mine = item.heldout[item.heldout["target"] == target].drop(columns=["target", "setup"])
            pd.testing.assert_frame_equal(mine.reset_index(drop=True), heldout)
    errors = section.heldout["error_percent"].abs()
    summary = section.heldout_summary.set_index("algorithm")
    for algorithm in ("astraea", "fedavg"):
        own = errors[section.heldout["algorithm"] == algorithm]
        assert summary.loc[algorithm, "runs"] == len(own) > 0
        assert summary.loc[algorithm, "mape_percent"] == pytest.approx(own.mean())
        assert summary.loc[algorithm, "max_percent"] == pytest.approx(own.max())


def test_the_markdown_prints_the_section_s_numbers(section, lines):
    assert lines.startswith("## 7. Time to accuracy: what the overhead buys")
    for item in section.setups:
        assert f"### {item.title}" in lines
        for target in section.targets:
            for answer in item.measured[target].algorithms.values():
                r = answer.rounds
                assert f"{r.mean_rounds:.1f} [{r.low_rounds:.1f}, {r.high_rounds:.1f}] ({r.reached} of {r.seeds} " \
                       f"seeds)" in lines
                assert f"{format_seconds(answer.mean_seconds)} [{format_seconds(answer.low_seconds)}, " in lines
    for row in section.heldout_summary.itertuples():
        assert f"| {row.runs} | {row.mape_percent:.2f}% | {row.max_percent:.2f}% |" in lines
    for row in section.heldout.itertuples():
        assert f"| {row.setup} | {row.target:g} |" in lines and f"{row.error_percent:+.2f}%" in lines


def test_the_report_carries_the_section_and_writes_its_figures(tmp_path: Path):
    small = rp.ReportScenario(key="small", title="Small", scenario=Scenario.emnist(clients_per_round=10))
    report = rp.build_report(scenarios=[small], include_presets=False)
    assert isinstance(report.time_to_accuracy, section_module.TimeToAccuracySection)
    text = rp.render_markdown(report)
    assert "7. [Time to accuracy: what the overhead buys](#7-time-to-accuracy-what-the-overhead-buys)" in text
    assert "\n## 7. Time to accuracy: what the overhead buys\n" in text
    path = rp.write_report(report, tmp_path / "out")
    for relative, _ in section_module.section_figures(report.time_to_accuracy):
        assert relative.startswith(rp.FIGURES_FOLDER + "/") and f"]({relative})" in text
        assert (path.parent / relative).stat().st_size > 10_000
    without = rp.build_report(scenarios=[small], include_presets=False, include_time_to_accuracy=False)
    text_without = rp.render_markdown(without)
    assert without.time_to_accuracy is None and "Time to accuracy: what the overhead buys" not in text_without
    # the sections after it move up one number
    assert "\n## 7. Heterogeneous devices and links\n" in text_without
