"""The report written to a folder: ``report.md`` and its figures, all or nothing.

Everything is rendered into a hidden staging folder inside the output folder first and moved into
place by renames only after all of it succeeded, so an error never leaves a half-written report;
``report.md`` is moved last. The figures are :mod:`costmodel.report.plots`', drawn from the sweeps a
:class:`~costmodel.report.build.Report` holds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.errors import InputError, must
from costmodel.files import atomic_write_text, create_output_folder
from costmodel.report import plots
from costmodel.report.build import FIGURE_KINDS, Report
from costmodel.report.heterogeneity_markdown import section_figures as heterogeneity_figures
from costmodel.report.markdown import FIGURES_FOLDER, REPORT_FILE, figure_path, render_markdown
from costmodel.report.time_to_accuracy import section_figures

__all__ = ["write_report"]


def _draw(kind: str, frame: pd.DataFrame) -> Any:
    if kind == "overhead_vs_clients":
        return plots.overhead_vs_clients(frame)
    if kind == "round_time_vs_clients":
        return plots.round_time_vs_clients(frame)
    if kind == "overhead_vs_params":
        return plots.overhead_vs_params(frame)
    if kind == "overhead_vs_bandwidth":
        return plots.overhead_vs_bandwidth(frame, against="uplink_bits_per_s")
    if kind == "traffic_vs_clients":
        return plots.traffic_vs_clients(frame)
    return plots.traffic_vs_mediator_epochs(frame)


def _section_figures(report: Report) -> Iterator[tuple[str, Any]]:
    """The figures of the sections that draw their own (time to accuracy, heterogeneity), one at a time."""
    if report.time_to_accuracy is not None:
        yield from section_figures(report.time_to_accuracy)
    if report.heterogeneity is not None:
        yield from heterogeneity_figures(report.heterogeneity)


def write_report(report: Report, out: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write ``report.md`` and its figures into the folder ``out`` (created if needed); return the report path.

    Everything is rendered into a hidden staging folder inside ``out`` first; only when all of it
    succeeded are the figures moved into ``out/figures/`` and then ``report.md`` into ``out`` (renames
    within one file system), so a failure leaves the previous report, if any, as it was.

    Raises
    ------
    InputError
        If ``out`` (or ``out/figures``) is not a writable folder.
    """
    if not isinstance(report, Report):
        raise must("report", "be a Report", type(report).__name__)
    folder = create_output_folder("out", out)
    figures = folder / FIGURES_FOLDER
    if figures.exists() and not figures.is_dir():
        raise InputError(f"'out' must not hold a file named {FIGURES_FOLDER!r} (the figures folder) (got {str(figures)!r}).")
    stage = Path(tempfile.mkdtemp(prefix=".astraea-cost-report.", dir=folder))
    try:
        (stage / FIGURES_FOLDER).mkdir()
        written = []
        for item in report.scenarios:
            for kind, _ in FIGURE_KINDS:
                relative = figure_path(item.key, kind)
                plots.save_figure(_draw(kind, report.sweeps[item.key][kind]), stage / relative, dpi=dpi)
                written.append(relative)
        for relative, figure in _section_figures(report):
            plots.save_figure(figure, stage / relative, dpi=dpi)
            written.append(relative)
        atomic_write_text(stage / REPORT_FILE, render_markdown(report))
        create_output_folder("out", figures)
        for relative in written:
            os.replace(stage / relative, folder / relative)
        os.replace(stage / REPORT_FILE, folder / REPORT_FILE)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(stage)
    return folder / REPORT_FILE
