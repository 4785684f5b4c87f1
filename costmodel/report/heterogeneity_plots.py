"""The heterogeneity section's figure: Astraea's overhead over FedAvg against a spread of devices or links.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) against FedAvg (McMahan et al., AISTATS 2017):
two panels, the ratio of round times ``T_A/T_F`` and the difference ``T_A - T_F`` in seconds, each
with the closed form as a line and the Monte Carlo as points (error bars: two standard errors, the
ratio's by the delta method ``r*sqrt((se_A/T_A)^2 + (se_F/T_F)^2)``). It renders a sweep frame of
:mod:`costmodel.report.heterogeneity`; it computes nothing else. A fresh
:class:`~matplotlib.figure.Figure` each call (no pyplot).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from costmodel.errors import InputError

__all__ = ["AXIS_LABELS", "overhead_vs_spread"]

#: The x-axis label of each swept spread.
AXIS_LABELS: dict[str, str] = {
    "speed_sigma": "device-speed spread σ_s (log-normal)",
    "link_sigma": "link spread σ_b (log-normal, each direction)",
}
_COLUMNS = ("sigma", "method", "astraea_round_seconds", "fedavg_round_seconds", "ratio", "difference_seconds",
            "astraea_stderr_seconds", "fedavg_stderr_seconds")


def overhead_vs_spread(sweep: pd.DataFrame, axis: str, *, title: str = "", marked: float | None = None) -> Figure:
    """Ratio and difference of Astraea's and FedAvg's round times against the spread ``axis``.

    ``marked``: a spread to mark with a vertical line (the user's own).
    """
    missing = [c for c in _COLUMNS if c not in sweep.columns]
    if missing or axis not in AXIS_LABELS:
        raise InputError(f"'sweep' must be a heterogeneity sweep of {', '.join(AXIS_LABELS)} "
                         f"(got missing columns {missing} for {axis!r}).")
    figure = Figure(figsize=(9.0, 3.8), layout="constrained")
    ratio_axes, difference_axes = figure.subplots(1, 2)
    curve = sweep[sweep["method"] == "closed form"].sort_values("sigma")
    points = sweep[sweep["method"] == "Monte Carlo"].sort_values("sigma")
    relative = np.hypot(points["astraea_stderr_seconds"] / points["astraea_round_seconds"],
                        points["fedavg_stderr_seconds"] / points["fedavg_round_seconds"])
    difference_se = np.hypot(points["astraea_stderr_seconds"], points["fedavg_stderr_seconds"])
    for axes, column, error, label in ((ratio_axes, "ratio", 2 * points["ratio"] * relative, "T_Astraea / T_FedAvg"),
                                       (difference_axes, "difference_seconds", 2 * difference_se,
                                        "T_Astraea − T_FedAvg (s)")):
        axes.plot(curve["sigma"], curve[column], color="tab:blue", label="closed form")
        axes.errorbar(points["sigma"], points[column], yerr=error, fmt="o", color="tab:orange", capsize=3,
                      label="Monte Carlo (±2 s.e.)")
        if marked is not None:
            axes.axvline(marked, color="grey", linestyle=":", label="your federation")
        axes.set_xlabel(AXIS_LABELS[axis])
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    ratio_axes.legend(loc="best", fontsize="small")
    if title:
        figure.suptitle(title)
    return figure
