"""The overhead report: what Astraea costs over FedAvg, computed from the model, rendered, written.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) against FedAvg (McMahan et al., AISTATS
2017), in three steps kept apart so each can be checked: :func:`build_report` computes everything
into a frozen :class:`Report` (:mod:`costmodel.report.build`, growth orders from
:mod:`costmodel.report.growth`), :func:`render_markdown` turns it into text
(:mod:`costmodel.report.markdown`), and :func:`write_report` draws the figures
(:mod:`costmodel.report.plots`) and writes the folder, all or nothing (:mod:`costmodel.report.write`).
:mod:`costmodel.report.model_page` writes ``docs/model.md`` from the model's expressions.
"""

from __future__ import annotations

from costmodel.report.build import (
    CLAIM_MEDIATOR_EPOCHS,
    FIGURE_KINDS,
    IMBALANCE_RATIOS,
    PRESETS,
    THRESHOLDS,
    Report,
    ReportScenario,
    build_report,
)
from costmodel.report.growth import GROWTH_VARIABLES, Growth, growth_order
from costmodel.report.markdown import FIGURES_FOLDER, REPORT_FILE, figure_path, render_markdown
from costmodel.report.write import write_report

__all__ = [
    "CLAIM_MEDIATOR_EPOCHS",
    "FIGURES_FOLDER",
    "FIGURE_KINDS",
    "GROWTH_VARIABLES",
    "Growth",
    "IMBALANCE_RATIOS",
    "PRESETS",
    "REPORT_FILE",
    "Report",
    "ReportScenario",
    "THRESHOLDS",
    "build_report",
    "figure_path",
    "growth_order",
    "render_markdown",
    "write_report",
]
