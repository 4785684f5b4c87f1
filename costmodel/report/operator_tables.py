"""The measured-layer candidate beside the count statement, printed from its stored study.

``costmodel/data/families/`` holds, besides the family study, what ``python -m calibration.operator_study
--store`` wrote: each model's layers timed alone (``operator_times.csv``), the table of both statements'
in-family and leave-one-family-out errors (``operator_candidate.csv``, one row per grid and family) and
how it was made (``operator_study.json``). :func:`operator_block` prints it for docs/limits.md (a
generated block; see :mod:`costmodel.report.doc_tables`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.errors import InputError
from costmodel.report.family_tables import STORED_FAMILIES, percent_cell
from costmodel.report.stored_tables import read_stored_table

__all__ = ["load_operator_study", "operator_block"]

_COLUMNS = ("grid", "family", "configurations", "noise_pct", "counts_fit_pct", "counts_lofo_pct", "candidate_fit_pct",
            "candidate_lofo_pct", "counts_verdict", "candidate_verdict")


def load_operator_study(folder: str | Path = STORED_FAMILIES) -> tuple[pd.DataFrame, Mapping[str, Any]] | None:
    """The stored table and record, or None when the study was not stored."""
    folder = Path(folder)
    table = read_stored_table(folder / "operator_candidate.csv", _COLUMNS)
    if table is None:
        return None
    try:
        return table, json.loads((folder / "operator_study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"'operator_study.json' must be readable JSON beside operator_candidate.csv (got "
                         f"{type(error).__name__}: {error}).") from None


def _passed(rows: pd.DataFrame) -> dict[str, int]:
    return {k: int((rows[f"{k}_verdict"] == "pass").sum()) for k in ("counts", "candidate")}


def _table(rows: pd.DataFrame, *, configurations: bool, verdicts: bool) -> list[str]:
    """Both statements' in-family and LOFO errors per family, with the configuration counts and the verdicts
    when asked."""
    headers = ["family", *(["configurations"] if configurations else []), "noise %", "counts in-family %",
               "counts LOFO %", "layers in-family %", "layers LOFO %", *(["counts", "layers"] if verdicts else [])]
    lines = ["| " + " | ".join(headers) + " |",
             "|---|" + "---:|" * (len(headers) - 1 - 2 * verdicts) + "---|---|" * verdicts]
    for row in rows.itertuples(index=False):
        cells = [row.family, *([str(row.configurations)] if configurations else []),
                 *(percent_cell(v) for v in (row.noise_pct, row.counts_fit_pct, row.counts_lofo_pct,
                                             row.candidate_fit_pct, row.candidate_lofo_pct)),
                 *([row.counts_verdict, row.candidate_verdict] if verdicts else [])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def operator_block(stored: tuple[pd.DataFrame, Mapping[str, Any]] | None) -> str:
    """Markdown: how the layers were timed, the candidate's fitted layer coefficients, both statements'
    errors on the test grid (with verdicts) and on the development configurations, and the test rows of
    any earlier measurement of the visits (``earlier``)."""
    if stored is None:
        return ("Not measured yet: `costmodel/data/families/operator_candidate.csv` is absent (written by "
                "`python -m calibration.operator_study --store`).\n")
    table, record = stored
    coefficients = record.get("coefficients", {})
    layer_terms = ", ".join(f"`{name}` {coefficients[name]:.2f}" for name in ("a_conv", "a_lin", "a_attn", "a_call")
                            if name in coefficients)
    lines = [f"- layers of {record.get('models', '?')} models timed alone {record.get('layers_timed', '?')} on "
             f"{record.get('cpu', '?')}; table made {record.get('created', '?')} (`{record.get('command', '?')}`); "
             f"the candidate's layer coefficients fitted on all families: {layer_terms}."]
    for grid, rows in table.groupby("grid", sort=False):
        test = grid != "development"
        passed = _passed(rows)
        lines += ["", (f"On the frozen test grid `{grid}` (same bars as above): counts {passed['counts']} of "
                       f"{len(rows)} families pass, measured layers {passed['candidate']} of {len(rows)}."
                       if test else "On the development configurations (looked at; the fits' own data, except "
                                    "the family left out):"), "",
                  *_table(rows, configurations=True, verdicts=test)]
    for entry in record.get("earlier", []):
        rows = pd.DataFrame(entry.get("rows", []), columns=list(_COLUMNS))
        if rows.empty:
            continue
        passed = _passed(rows)
        lines += ["", f"An earlier measurement of the visits ({entry.get('measured', '?')}), both statements refitted "
                      f"on its development configurations, the same layer times: counts {passed['counts']} of "
                      f"{len(rows)} families pass, measured layers {passed['candidate']} of {len(rows)}.", "",
                  *_table(rows, configurations=False, verdicts=False)]
    return "\n".join(lines) + "\n"
