"""How long the overhead report takes: computing it, and computing plus writing it with its figures.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_report.py --benchmark-enable``.
The design asks for a report in a few seconds; the whole ``astraea-cost report`` (the papers' two
setups and every section's figures) is benchmarked end to end in-process, after a first warm-up call that pays the
one-off costs (imports, compiling the model's numeric functions, matplotlib's font cache); in the
ordinary (benchmark-disabled) run each is called once, as a smoke test.
"""

from __future__ import annotations

from pathlib import Path

from costmodel.report import FIGURE_KINDS, build_report, render_markdown, write_report
from costmodel.report.heterogeneity_markdown import section_figures as heterogeneity_figures
from costmodel.report.time_to_accuracy import section_figures


def test_build_report(benchmark) -> None:
    if not benchmark.disabled:
        build_report()  # warm-up: compiles the numeric functions once
    report = benchmark(build_report)
    assert len(report.scenarios) == 2
    assert "## 6." in render_markdown(report)


def test_build_and_write_report(benchmark, tmp_path: Path) -> None:
    if not benchmark.disabled:  # warm-up: imports, compiled functions, font cache
        write_report(build_report(), tmp_path / "warm-up")

    def full() -> Path:
        return write_report(build_report(), tmp_path / "out")

    path = benchmark.pedantic(full, rounds=3, iterations=1)
    assert path.is_file()
    report = build_report()
    expected = (2 * len(FIGURE_KINDS) + len(list(section_figures(report.time_to_accuracy)))
                + len(heterogeneity_figures(report.heterogeneity)))
    assert len(list((tmp_path / "out" / "figures").glob("*.png"))) == expected


def test_build_heterogeneity_section(benchmark) -> None:
    """What the heterogeneity section adds to the report: both presets, the default federations, 2,000
    simulated rounds per Monte Carlo point (warm: closed forms compiled)."""
    from costmodel.contracts.calibration_file import default_calibration
    from costmodel.report import PRESETS
    from costmodel.report.heterogeneity import build_section

    calibration = default_calibration()
    scenarios = [(item.key, item.title, item.scenario) for item in PRESETS]
    if not benchmark.disabled:
        build_section(scenarios, calibration)  # warm-up: compiles the closed forms once
    section = benchmark.pedantic(build_section, args=(scenarios, calibration), rounds=3, iterations=1)
    assert [part.key for part in section.scenarios] == ["emnist", "cinic10"]
