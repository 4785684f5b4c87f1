"""Figures of convergence and time to accuracy: measured curves, and their rounds priced by the model.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) takes fewer rounds than FedAvg to an
accuracy on imbalanced data and pays more per round. Like :mod:`costmodel.report.plots`, every
function draws on a fresh :class:`matplotlib.figure.Figure` (no pyplot) from data it is given:

* :func:`accuracy_curves`: test accuracy against rounds, per algorithm the mean over seeds and the
  band from the lowest to the highest seed, with the target as a dashed line;
* :func:`time_to_accuracy_vs`: time to target against an input (the frame of
  :func:`costmodel.analysis.time_to_accuracy.time_to_accuracy_sweep`), the mean as a line, the
  bootstrap interval as a band, the ratio of the times in a panel below, and the crossovers (when
  given) as dotted vertical lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from costmodel.contracts.curves_file import Curves
from costmodel.errors import must
from costmodel.model.protocols import ALGORITHM_COSTS
from costmodel.report.plots import _new_figure, _scale_for
from costmodel.units import format_bandwidth

__all__ = ["accuracy_curves", "time_to_accuracy_vs"]

_COLORS = {"astraea": "#c0392b", "fedavg": "#2c7fb8", "fedprox": "#31a354"}
_TIME_SCALES = ((1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))
_AXES = {"bandwidth": "client bandwidth (uplink = downlink)", "mediator_size": "clients per mediator gamma",
         "mediator_epochs": "mediator epochs E_m"}


def _color(algorithm: str) -> str:
    return _COLORS.get(algorithm, "#555555")


def accuracy_curves(curves: Curves, *, targets: Sequence[float] = (), title: str = "") -> Figure:
    """Mean test accuracy over seeds against rounds, per algorithm, with the band of the seeds and
    each of ``targets`` as a dashed line."""
    if not isinstance(curves, Curves):
        raise must("curves", "be Curves", type(curves).__name__)
    figure, axes = _new_figure()
    for algorithm in curves.algorithms:
        own = curves.frame[curves.frame["algorithm"] == algorithm]
        by_round = own.groupby("round")["accuracy"]
        rounds = np.asarray(list(by_round.groups), dtype=float)
        seeds = len(curves.seeds(algorithm))
        axes.plot(rounds, by_round.mean().to_numpy(), color=_color(algorithm),
                  label=f"{ALGORITHM_COSTS[algorithm].title} (mean of {seeds} seeds)")
        axes.fill_between(rounds, by_round.min().to_numpy(), by_round.max().to_numpy(), color=_color(algorithm),
                          alpha=0.18, linewidth=0)
    for target in targets:
        axes.axhline(target, color="black", linestyle="--", linewidth=0.8)
        axes.annotate(f"target {target:g}", (0, target), xycoords=("axes fraction", "data"), xytext=(4, 3),
                      textcoords="offset points", fontsize=8)
    axes.set_xlabel("rounds")
    axes.set_ylabel("test accuracy")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    if title:
        axes.set_title(title)
    return figure


def time_to_accuracy_vs(sweep: pd.DataFrame, *, crossovers: Sequence[float] = (), title: str = "") -> Figure:
    """Time to target against the swept input: above, the mean line and interval band per algorithm;
    below, each algorithm's mean time over FedAvg's (over the first algorithm's without FedAvg), where
    a winner change shows as a crossing of 1; ``crossovers`` as dotted vertical lines."""
    if not isinstance(sweep, pd.DataFrame) or not {"value", "algorithm", "mean_seconds", "low_seconds",
                                                   "high_seconds"} <= set(sweep.columns):
        raise must("sweep", "be the frame of time_to_accuracy_sweep", type(sweep).__name__)
    vary = sweep.attrs.get("vary", "bandwidth")
    finite = sweep[["mean_seconds", "low_seconds", "high_seconds"]].to_numpy(dtype=float)
    scale, unit = (1.0, "s") if vary == "bandwidth" else _scale_for(finite, _TIME_SCALES)   # log axis: seconds
    figure = Figure(figsize=(7.0, 6.0), layout="constrained")
    axes, ratio_axes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    names = list(dict.fromkeys(sweep["algorithm"]))
    reference = "fedavg" if "fedavg" in names else names[0]
    by_name = {name: own for name, own in sweep.groupby("algorithm", sort=False)}
    base = by_name[reference]["mean_seconds"].to_numpy(dtype=float)
    for algorithm in names:
        own = by_name[algorithm]
        x = own["value"].to_numpy(dtype=float)
        mean = own["mean_seconds"].to_numpy(dtype=float)
        if not np.isfinite(mean).any():
            continue
        axes.plot(x, mean / scale, color=_color(algorithm), label=ALGORITHM_COSTS[algorithm].title)
        low = own["low_seconds"].to_numpy(dtype=float) / scale
        high = own["high_seconds"].to_numpy(dtype=float) / scale
        if np.isfinite(high).all():
            axes.fill_between(x, low, high, color=_color(algorithm), alpha=0.2, linewidth=0)
        if algorithm != reference and np.isfinite(base).any():
            ratio_axes.plot(x, mean / base, color=_color(algorithm),
                            label=f"{ALGORITHM_COSTS[algorithm].title} / {ALGORITHM_COSTS[reference].title}")
    ratio_axes.axhline(1.0, color="black", linewidth=0.8)
    shown = format_bandwidth if vary == "bandwidth" else (lambda v: f"{v:g}")
    marks = [c for c in crossovers if math.isfinite(c)]
    for index, value in enumerate(marks):
        label = ("winner changes at " + ", ".join(shown(c) for c in marks)) if index == 0 else None
        axes.axvline(value, color="black", linestyle=":", linewidth=1, label=label)
        ratio_axes.axvline(value, color="black", linestyle=":", linewidth=1)
    if vary == "bandwidth":
        axes.set_xscale("log")
        axes.set_yscale("log")
        ratio_axes.xaxis.set_major_formatter(lambda v, _: format_bandwidth(v))
    ratio_axes.set_xlabel(_AXES.get(vary, vary))
    target = sweep.attrs.get("target")
    axes.set_ylabel(f"time to {target:g} accuracy ({unit})" if target is not None else f"time to target ({unit})")
    ratio_axes.set_ylabel("time ratio")
    for each in (axes, ratio_axes):
        each.grid(alpha=0.3, which="both")
        if each.get_legend_handles_labels()[0]:      # an algorithm that never reaches the target has no line
            each.legend(fontsize=8)
    if title:
        axes.set_title(title)
    return figure
