"""The reproducibility of calibrations on one machine, printed from its stored measurement.

``calibration_agreement.csv`` in the package's data (written by ``python -m calibration.agreement
--store``) holds, for pairs of calibrations made on the same machine (two full ones back to back, or
a quick one against a full one), both calibrations' predicted round of FedAvg and Astraea for the
EMNIST and CINIC-10 presets, with the presets' links and compute only, and their difference.
:func:`agreement_block` prints it for docs/limits.md (a generated block; see
:mod:`costmodel.report.doc_tables`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from costmodel.report.stored_tables import read_stored_table

__all__ = ["STORED_AGREEMENT", "agreement_block", "load_agreement"]

#: The stored table (package data).
STORED_AGREEMENT = Path(__file__).resolve().parents[1] / "data" / "calibration_agreement.csv"
_COLUMNS = ("comparison", "first", "second", "preset", "links", "algorithm", "first_round_seconds",
            "second_round_seconds", "difference_pct", "first_probe_s", "second_probe_s")


def load_agreement(path: str | Path = STORED_AGREEMENT) -> pd.DataFrame | None:
    """The stored table, or None when it is absent; a file missing a column is one error line."""
    return read_stored_table(path, _COLUMNS)


def agreement_block(frame: pd.DataFrame | None) -> str:
    """Markdown: per pair, the largest difference of the presets' rounds and of the compute-only rounds,
    and the two calibrations' probe times (how fast the machine was while each was made)."""
    if frame is None or frame.empty:
        return ("Not measured yet: `costmodel/data/calibration_agreement.csv` is absent (written by "
                "`python -m calibration.agreement --pair NAME A.json B.json --store`).\n")
    lines = ["| comparison | first | second | presets' rounds, max difference % | compute only, max difference % "
             "| probe first → second |",
             "|---|---|---|---:|---:|---|"]
    for (comparison, first, second), rows in frame.groupby(["comparison", "first", "second"], sort=False):
        worst = {links: float(rows.loc[rows["links"] == links, "difference_pct"].abs().max())
                 for links in ("preset", "compute only")}
        probe = rows.iloc[0]
        lines.append(f"| {comparison} | {first} | {second} | {worst['preset']:.1f} | {worst['compute only']:.1f} "
                     f"| {1000 * probe['first_probe_s']:.1f} → {1000 * probe['second_probe_s']:.1f} ms |")
    return "\n".join(lines) + "\n"
