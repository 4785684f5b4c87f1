"""The leave-one-family-out table of the local-training statement, printed from its stored measurement.

``costmodel/data/families/`` (written by ``python -m calibration.family_study --store``) holds the
visits of five architecture families on a development grid and test grids (``visits.csv``), the table
of in-family and leave-one-family-out errors fitted on them (``lofo.csv``, one row per test grid and
family) and how both were made (``study.json``, whose ``fit.test_sets`` says which test grid is the
frozen, published one, and ``fit.fit_sets`` which grids the fit used and why each was looked at).
:func:`family_block` prints the table for docs/limits.md (a generated block; see
:mod:`costmodel.report.doc_tables`): the published grid's rows with the verdicts, the grids fitted on,
earlier published tables (``study.json``'s ``earlier``: a re-measured grid's, a retired test grid's),
and any other test grid's rows for reference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.errors import InputError
from costmodel.report.stored_tables import read_stored_table

__all__ = ["STORED_FAMILIES", "FamilyStudy", "family_block", "load_family_study", "percent_cell"]

#: The stored study (package data).
STORED_FAMILIES = Path(__file__).resolve().parents[1] / "data" / "families"
_COLUMNS = ("test_set", "family", "dev_models", "dev_configurations", "test_models", "test_configurations",
            "noise_dev_pct", "noise_test_pct", "fit_dev_mape_pct", "in_family_test_mape_pct",
            "in_family_test_max_pct", "lofo_dev_mape_pct", "lofo_test_mape_pct", "lofo_test_max_pct",
            "in_family_target_pct", "lofo_target_pct", "verdict")
#: What each family is, as the table names it.
_KIND: Mapping[str, str] = {"mlp": "dense only", "scaled": "TPDS CNN layout",
                            "resnet": "BatchNorm, skip connections", "mobilenet": "depthwise-separable",
                            "vit": "attention"}


@dataclass(frozen=True)
class FamilyStudy:
    """The stored table (one row per family) and how it was made (``study.json``)."""

    table: pd.DataFrame
    study: Mapping[str, Any]


def load_family_study(folder: str | Path = STORED_FAMILIES) -> FamilyStudy | None:
    """The stored study, or None when its table is absent; a file missing a column is one error line."""
    folder = Path(folder)
    table = read_stored_table(folder / "lofo.csv", _COLUMNS)
    if table is None:
        return None
    try:
        study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"'study.json' must be readable JSON beside lofo.csv (got {type(error).__name__}: "
                         f"{error}).") from None
    return FamilyStudy(table, study)


def percent_cell(value: float) -> str:
    """A table cell of a percentage: one decimal, ``n/a`` when not finite."""
    return "n/a" if not math.isfinite(float(value)) else f"{float(value):.1f}"


def _with_max(mean: float, worst: float) -> str:
    return "n/a" if not math.isfinite(float(mean)) else f"{float(mean):.1f} ({float(worst):.0f})"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(round(seconds % 60))} s"


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _measurement_lines(study: Mapping[str, Any]) -> list[str]:
    lines = []
    for record in study.get("measured", []):
        machine = record.get("machine", {})
        before, after = record.get("load_before", [math.nan]), record.get("load_after", [math.nan])
        lines.append(
            f"- {_listed(record['sets'])} grid{'s' if len(record['sets']) > 1 else ''}: measured "
            f"{record['created']} on {machine.get('cpu', 'an unknown CPU')} "
            f"(torch {machine.get('torch_version', '?')}, {machine.get('threads', '?')} thread), "
            f"{record['configurations']} configurations x {record['rounds']} interleaved rounds in "
            f"{_minutes(float(record['wall_seconds']))} wall; 1-minute load average {float(before[0]):.1f} "
            f"before, {float(after[0]):.1f} after (`{record['command']}`)"
            + (f"; {record['note']}." if record.get("note") else "."))
    return lines


def _earlier_lines(study: Mapping[str, Any]) -> list[str]:
    """The earlier published tables (``study.json``'s ``earlier``), one each: a re-measured grid's replaced
    measurement, a retired test grid's table as it was published."""
    lines = []
    for entry in study.get("earlier", []):
        rows, name = entry.get("rows", []), entry.get("set", "?")
        passed = sum(1 for row in rows if row.get("verdict") == "pass")
        fitted_on = _listed([f"`{s}`" for s in entry.get("fitted_on", ["dev"])])
        if entry.get("retired"):
            lead = (f"`{name}` as it was published ({entry.get('measured', '?')}, `{entry.get('command', '?')}`; "
                    f"fitted on {fitted_on}; it has been looked at since and is now fitted on)")
        else:
            lead = (f"`{name}` measured earlier ({entry.get('measured', '?')}, `{entry.get('command', '?')}`; its "
                    f"visits were replaced by a later measurement, the verdicts are kept; fitted on {fitted_on})")
        lines += [
            "",
            f"{lead}: {passed} of {len(rows)} families passed, with the statement `{entry.get('statement', '?')}`.",
            "",
            "| family | in-family MAPE % | LOFO MAPE % | noise % | verdict |",
            "|---|---:|---:|---:|---|",
            *(f"| {row['family']} | {percent_cell(row['in_family_test_mape_pct'])} "
              f"| {percent_cell(row['lofo_test_mape_pct'])} | {percent_cell(row['noise_test_pct'])} "
              f"| {row['verdict']} |" for row in rows),
        ]
    return lines


def _fit_set_line(fit: Mapping[str, Any]) -> list[str]:
    """Which grids the table was fitted on, and why each looked-at one was (``fit.fit_sets``)."""
    entries = list(fit.get("fit_sets", []))
    if not entries:
        return []
    looked_at = [e for e in entries if e["set"] != "dev"]
    return [f"- development configurations (fitted on): the development grid `dev`"
            + (" and the looked-at grids:" if looked_at else "."),
            *(f"  - `{e['set']}`" + (f": {e['note']}." if e.get("note") else ".") for e in looked_at)]


def family_block(stored: FamilyStudy | None) -> str:
    """Markdown: how the study was measured and fitted, the verdict line and the table."""
    if stored is None or stored.table.empty:
        return ("Not measured yet: `costmodel/data/families/lofo.csv` is absent (written by "
                "`python -m calibration.family_study --store`).\n")
    fit = stored.study.get("fit", {})
    test_sets = list(fit.get("test_sets", []))
    published = [entry["set"] for entry in test_sets if entry.get("published")]
    if len(published) != 1:
        raise InputError(f"'study.json' must name one published test grid in fit.test_sets (got {published}; "
                         f"rebuild it: python -m calibration.family_study --from-stored --store).")
    table = stored.table[stored.table["test_set"] == published[0]]
    unexercised = list(fit.get("unexercised", []))
    parameters = [p for p in fit.get("parameters", {}).get("all families", {}) if p not in unexercised]
    first = table.iloc[0]
    passed = int((table["verdict"] == "pass").sum())
    lines = [
        *_measurement_lines(stored.study),
        f"- fitted {fit.get('created', '?')} (`{fit.get('command', '?')}`): the `{fit.get('group', '?')}` "
        f"statement's parameters ({', '.join(f'`{p}`' for p in parameters)}"
        + (f"; {', '.join(f'`{p}`' for p in unexercised)} not exercised, 0" if unexercised else "")
        + "), on each configuration's median visit.",
        *_fit_set_line(fit),
        "",
        f"MAPE is the mean absolute percentage error of a configuration's median visit (its worst in brackets); "
        f"noise is the median over the family's configurations of the run-to-run CV across rounds. In-family: "
        f"fitted on every family's development configurations; LOFO: fitted on the other families' only. A "
        f"family passes when, on the frozen test grid `{published[0]}`, in-family is within "
        f"{first['in_family_target_pct']:g}% and LOFO "
        f"within {first['lofo_target_pct']:g}%: {passed} of {len(table)} families pass.",
        "",
        "| family | models dev / test | in-family test MAPE % | LOFO test MAPE % | test noise % | LOFO dev MAPE % "
        "| fit dev MAPE % | dev noise % | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in table.itertuples(index=False):
        kind = _KIND.get(row.family)
        lines.append(
            f"| {row.family}{f' ({kind})' if kind else ''} | {row.dev_models} / {row.test_models} "
            f"| {_with_max(row.in_family_test_mape_pct, row.in_family_test_max_pct)} "
            f"| {_with_max(row.lofo_test_mape_pct, row.lofo_test_max_pct)} | {percent_cell(row.noise_test_pct)} "
            f"| {percent_cell(row.lofo_dev_mape_pct)} | {percent_cell(row.fit_dev_mape_pct)} "
            f"| {percent_cell(row.noise_dev_pct)} "
            f"| {row.verdict} |")
    lines += _earlier_lines(stored.study)
    for entry in test_sets:
        reference = stored.table[stored.table["test_set"] == entry["set"]]
        if entry.get("published") or reference.empty:
            continue
        lines += [
            "",
            f"For reference only, the same fits on `{entry['set']}`, {entry.get('note', 'a grid that was looked at')}, "
            f"so these figures are not an unseen test.",
            "",
            f"| family | models `{entry['set']}` | in-family MAPE % | LOFO MAPE % | noise % | rule applied |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in reference.itertuples(index=False):
            lines.append(
                f"| {row.family} | {row.test_models} "
                f"| {_with_max(row.in_family_test_mape_pct, row.in_family_test_max_pct)} "
                f"| {_with_max(row.lofo_test_mape_pct, row.lofo_test_max_pct)} | {percent_cell(row.noise_test_pct)} "
                f"| {row.verdict} |")
    return "\n".join(lines) + "\n"
