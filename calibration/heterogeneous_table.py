"""The stored table of the emulated heterogeneity validation: its columns, where it lives, how it is written.

:mod:`calibration.heterogeneous_validation` measures throttled devices on unequal links against the
heterogeneous round model; this module holds what its output is: the table's and the per-run diagnostics'
columns, their place in the package (printed into docs/heterogeneity.md by
:mod:`costmodel.report.heterogeneity_tables`), the one-line verdict per set and algorithm (the bar as
:func:`~costmodel.report.heterogeneity_tables.emulated_summary` states it) and the atomic, merging write.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from costmodel.files import atomic_path
from costmodel.report.heterogeneity_tables import EMULATED_TARGET_PERCENT, emulated_summary

__all__ = ["COUNTS", "CSV_COLUMNS", "DEFAULT_OUT", "DEFAULT_RUNS_OUT", "RUN_COLUMNS", "SETS", "bar_summary", "store"]

#: The stored table's columns, in order.
CSV_COLUMNS: tuple[str, ...] = ("set", "point", "algorithm", "runs", "rounds", "measured_round_s", "noise_pct",
                                "predicted_round_s", "monte_carlo_round_s", "error_pct", "load_average")
#: Where ``--store`` writes the table.
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "costmodel" / "data" / "heterogeneity" / "emulated_validation.csv"
#: Where ``--store`` writes the per-run diagnostics (:data:`RUN_COLUMNS`).
DEFAULT_RUNS_OUT = DEFAULT_OUT.with_name("emulated_validation_runs.csv")
#: The per-run diagnostics' columns: the repetition (from 0) and the run in it, the run's weight, its measured
#: mean and round-to-round spread, the repetition's round-to-round standard error (``100*SE/x_r``, the same on
#: every run of the repetition), the closed form and the conditional prediction at the run's effective speeds,
#: its grouping (``speed@uplink Mbit/s``, mediators split by ``|``), the effective speed of each quota, the load
#: after it.
RUN_COLUMNS: tuple[str, ...] = ("set", "point", "algorithm", "repeat", "run", "weight", "measured_round_s",
                                "round_sd_pct", "round_se_pct", "predicted_round_s", "conditional_round_s",
                                "conditional_error_pct", "grouping", "effective", "load")
SETS = ("development", "test")
COUNTS = ("repeat", "rounds", "run", "runs")


def bar_summary(table: pd.DataFrame) -> list[str]:
    """One line per set and algorithm: MAPE of the closed form (and of the Monte Carlo), points within twice
    their noise, and the verdict of the bar as :func:`~costmodel.report.heterogeneity_tables.emulated_summary`
    states it."""
    lines = []
    summary = emulated_summary(table)
    for row, (_, part) in zip(summary.itertuples(index=False), table.groupby(["set", "algorithm"], sort=False)):
        monte = (100 * (part["monte_carlo_round_s"] / part["measured_round_s"] - 1)).abs().mean()
        verdict = "meets" if row.verdict == "pass" else "fails"
        lines.append(f"{row.set} {row.algorithm}: MAPE {row.mape_percent:.1f}% over {row.points} points (Monte Carlo "
                     f"{monte:.1f}%); {row.within_noise}/{row.points} within twice the noise; {verdict} the bar "
                     f"(MAPE <= {EMULATED_TARGET_PERCENT:g}%, all within 2x noise)")
    return lines


def store(table: pd.DataFrame, out: Path, columns: Sequence[str] = CSV_COLUMNS) -> None:
    """Write ``table[columns]`` to ``out``, keeping the rows of points not in ``table`` that ``out`` already holds."""
    if out.exists():
        old = pd.read_csv(out)
        keys = set(zip(table["set"], table["point"], table["algorithm"]))
        keep = old[[key not in keys for key in zip(old["set"], old["point"], old["algorithm"])]]
        table = pd.concat([keep, table], ignore_index=True) if len(keep) else table
    order = {name: i for i, name in enumerate(SETS)}
    table = table.sort_values("set", key=lambda s: s.map(order), kind="stable")[list(columns)]
    for name in set(COUNTS) & set(columns):                # counts stay whole numbers through a merge
        if table[name].notna().all():
            table[name] = table[name].astype(int)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:                           # an interruption leaves the stored table whole
        table.to_csv(tmp, index=False, float_format="%.4f")
