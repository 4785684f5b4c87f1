"""The heterogeneous round's stored evidence, summarised and rendered as Markdown.

Two summaries of :mod:`costmodel.contracts.heterogeneity_evidence`'s files, each a frame and a
Markdown block (docs/heterogeneity.md prints the blocks through :mod:`costmodel.report.doc_tables`;
the report's heterogeneity section prints the grid's):

* :func:`grid_summary`: the closed form against its Monte Carlo, per algorithm, kind of spread
  (log-normal or device classes) and link group (link sigma <= 1, or above): cells, the largest and
  the mean ``|closed/MC - 1|`` of the round, the largest of its heterogeneous excess
  (``(closed - MC)/(MC - homogeneous)``), the largest Monte Carlo standard error relative to its
  mean, and, when the grid has a closed-form 95% quantile, the largest ``|q95_closed/q95_MC - 1|``.
* :func:`emulated_summary`: the held-out throttled runs against the model, per set and algorithm:
  points, MAPE ``mean |error_pct|``, the largest ``|error_pct|``, the noise (mean of the points'
  ``noise_pct``, each the run-to-run spread of the point's interleaved repetitions), how many points
  are within twice their own noise, and the verdict: *pass* when the MAPE is <=
  :data:`EMULATED_TARGET_PERCENT` and every point is within twice its noise (a point measured once
  has no noise and fails).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["EMULATED_TARGET_PERCENT", "GRID_TARGET_PERCENT", "emulated_block", "emulated_summary", "grid_block",
           "grid_summary"]

#: The issue's bar for the closed form against the Monte Carlo (largest difference in round time).
GRID_TARGET_PERCENT = 5.0
#: The bar for the emulated runs: round-time MAPE, and within twice the measured noise.
EMULATED_TARGET_PERCENT = 10.0
_HIGH_LINK_SIGMA = 1.0


def _q95_errors(grid: pd.DataFrame) -> pd.Series | None:
    if "q95_relative_error" in grid.columns:
        return grid["q95_relative_error"].abs()
    if "closed_form_q95_seconds" in grid.columns:
        return (grid["closed_form_q95_seconds"] / grid["monte_carlo_q95_seconds"] - 1.0).abs()
    return None


def grid_summary(grid: pd.DataFrame) -> pd.DataFrame:
    """Columns ``algorithm, kind, links, cells, max_round_error, mean_round_error, max_excess_error,
    max_stderr`` (fractions) and, when the grid has a closed-form quantile, ``max_q95_error``."""
    frame = grid.assign(
        kind=np.where(grid["classes"].astype(bool), "device classes", "log-normal"),
        links=np.where(grid["link_sigma"] <= _HIGH_LINK_SIGMA, f"link sigma <= {_HIGH_LINK_SIGMA:g}",
                       f"link sigma > {_HIGH_LINK_SIGMA:g}"),
        abs_round=grid["relative_error"].abs(), abs_excess=grid["excess_relative_error"].abs())
    aggregates = dict(cells=("abs_round", "size"), max_round_error=("abs_round", "max"),
                      mean_round_error=("abs_round", "mean"), max_excess_error=("abs_excess", "max"),
                      max_stderr=("stderr_relative", "max"))
    q95 = _q95_errors(grid)
    if q95 is not None:
        frame["abs_q95"] = q95
        aggregates["max_q95_error"] = ("abs_q95", "max")
    return frame.groupby(["algorithm", "kind", "links"]).agg(**aggregates).reset_index()


def _percent(fraction: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(fraction) else f"{100 * fraction:.{digits}f}%"


def grid_block(grid: pd.DataFrame) -> str:
    """The grid's summary with how it was made and how to read it (Markdown)."""
    summary = grid_summary(grid)
    worst = grid.loc[grid["relative_error"].abs().idxmax()]
    within = int((grid["relative_error"].abs() <= GRID_TARGET_PERCENT / 100).sum())
    presets = ", ".join(sorted(set(grid["preset"])))
    shapes = ", ".join(f"({int(c)}, {int(g)})" for c, g in
                       sorted(set(zip(grid["clients_per_round"], grid["gamma"]))))
    lines = [
        f"{len(grid):,} cells (presets {presets}; `(c, gamma)` in {shapes}; speed sigma "
        f"{grid['speed_sigma'].min():g}..{grid['speed_sigma'].max():g}, link sigma {grid['link_sigma'].min():g}.."
        f"{grid['link_sigma'].max():g}, and device-class mixes; at least {int(grid['monte_carlo_draws'].min()):,} "
        f"simulated rounds each). {within:,} of {len(grid):,} are within {GRID_TARGET_PERCENT:g}% of the Monte "
        f"Carlo; the largest difference is {_percent(worst['relative_error'])} ({worst['algorithm']}, "
        f"{worst['preset']}, {worst['federation']}, c = {int(worst['clients_per_round'])}).",
        "",
    ]
    headers = ["algorithm", "spread", "links", "cells", "max error", "mean error", "max excess error",
               "MC stderr (max)"]
    has_q95 = "max_q95_error" in summary.columns
    if has_q95:
        headers.append("max q95 error")
    lines += ["| " + " | ".join(headers) + " |", "|---|---|---|" + "---:|" * (len(headers) - 3)]
    for row in summary.itertuples(index=False):
        cells = [row.algorithm, row.kind, row.links, f"{row.cells}", _percent(row.max_round_error),
                 _percent(row.mean_round_error), _percent(row.max_excess_error), _percent(row.max_stderr, 2)]
        if has_q95:
            cells.append(_percent(row.max_q95_error))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def emulated_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Columns ``set, algorithm, points, mape_percent, max_percent, noise_percent, within_noise, verdict``."""
    frame = runs.assign(absolute=runs["error_pct"].abs())
    frame = frame.assign(within=frame["absolute"] <= 2 * frame["noise_pct"])
    summary = (frame.groupby(["set", "algorithm"], sort=False)
               .agg(points=("absolute", "size"), mape_percent=("absolute", "mean"), max_percent=("absolute", "max"),
                    noise_percent=("noise_pct", "mean"), within_noise=("within", "sum")).reset_index())
    summary["within_noise"] = summary["within_noise"].astype(int)
    passes = ((summary["mape_percent"] <= EMULATED_TARGET_PERCENT)
              & (summary["within_noise"] == summary["points"]))
    summary["verdict"] = np.where(passes, "pass", "fail")
    return summary


def emulated_block(runs: pd.DataFrame | None) -> str:
    """The emulated validation's summary and its points (Markdown); one line when not measured."""
    if runs is None:
        return ("Not measured yet: `costmodel/data/heterogeneity/emulated_validation.csv` is absent (written by "
                "`python -m calibration.heterogeneous_validation --out FILE.csv`, as root).\n")
    summary = emulated_summary(runs)
    lines = [
        f"{len(runs)} rows (points × algorithms) of throttled workers on unequal links; the host's 1-minute load "
        f"average was {runs['load_average'].min():.1f}..{runs['load_average'].max():.1f}. A row passes when its "
        f"MAPE is <= {EMULATED_TARGET_PERCENT:g}% and every point's error is within twice its noise (the run-to-run "
        f"spread of the point's repetitions, run interleaved).",
        "",
        "| set | algorithm | points | MAPE % | max % | noise % | within 2x noise | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in summary.itertuples(index=False):
        lines.append(f"| {row.set} | {row.algorithm} | {row.points} | {row.mape_percent:.1f} | {row.max_percent:.1f} "
                     f"| {row.noise_percent:.1f} | {row.within_noise}/{row.points} | {row.verdict} |")
    lines += ["",
              "| set | point | algorithm | runs × rounds | measured | noise % | predicted | Monte Carlo | error % |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in runs.itertuples(index=False):
        lines.append(f"| {row.set} | {row.point} | {row.algorithm} | {int(row.runs)} × {int(row.rounds)} "
                     f"| {row.measured_round_s:.3f} s | {row.noise_pct:.1f} | {row.predicted_round_s:.3f} s "
                     f"| {row.monte_carlo_round_s:.3f} s | {row.error_pct:+.1f} |")
    return "\n".join(lines) + "\n"
