"""The stored evidence of the heterogeneous round: the closed-form-vs-Monte-Carlo grid and the emulated runs.

Two CSV files in ``costmodel/data/heterogeneity/`` (package data), each written by a command:

* ``closed_form_grid.csv``, by ``python -m costmodel.analysis.heterogeneity_grid --out FILE``: one
  row per preset, federation, ``(c, gamma)`` and algorithm, the closed form
  (:mod:`costmodel.model.heterogeneity`) next to its Monte Carlo (:data:`GRID_COLUMNS`; later
  columns such as ``closed_form_q95_seconds`` and ``q95_relative_error`` are kept when present).
* ``emulated_validation.csv``, by ``python -m calibration.heterogeneous_validation``: one row per
  held-out point and algorithm of the throttled, unequally linked runs (:data:`EMULATED_COLUMNS`).
  It may be absent (not measured yet): :func:`load_emulated_validation` then returns ``None``.

A file that is unreadable, lacks a column, or holds a non-numeric value in a numeric column is one
:class:`~costmodel.errors.InputError` line naming the file, the line and the column. Columns beyond
the required ones are kept: as numbers when every cell is one, else as text.
"""

from __future__ import annotations

import csv
import math
import os
from importlib import resources
from pathlib import Path

import pandas as pd

from costmodel.errors import InputError

__all__ = [
    "EMULATED_COLUMNS",
    "EMULATED_RESOURCE",
    "GRID_COLUMNS",
    "GRID_RESOURCE",
    "embedded_path",
    "load_emulated_validation",
    "load_grid",
]

#: Where each file lives in the package: (package, name).
GRID_RESOURCE = ("costmodel", "data/heterogeneity/closed_form_grid.csv")
EMULATED_RESOURCE = ("costmodel", "data/heterogeneity/emulated_validation.csv")
#: Columns every grid file has, and which of them hold text (the rest are numbers; ``classes`` a boolean).
GRID_COLUMNS: tuple[str, ...] = (
    "preset", "federation", "classes", "speed_sigma", "link_sigma", "clients_per_round", "gamma", "algorithm",
    "homogeneous_round_seconds", "round_seconds", "monte_carlo_round_seconds", "monte_carlo_stderr_seconds",
    "monte_carlo_q95_seconds", "monte_carlo_draws", "relative_error", "excess_relative_error", "stderr_relative")
_GRID_TEXT = ("preset", "federation", "classes", "algorithm", "kind", "links")
#: Columns of the emulated validation file, and which of them hold text.
EMULATED_COLUMNS: tuple[str, ...] = (
    "set", "point", "algorithm", "runs", "rounds", "measured_round_s", "noise_pct", "predicted_round_s",
    "monte_carlo_round_s", "error_pct", "load_average")
_EMULATED_TEXT = ("set", "point", "algorithm")
_SETS = ("development", "test")


def embedded_path(resource: tuple[str, str]) -> Path:
    """Where a stored file of the package lives on disk."""
    package, name = resource
    return Path(str(resources.files(package).joinpath(name)))


def _fail(origin: str, rule: str, value: object) -> InputError:
    return InputError(f"'{origin}' must {rule} (got {value!r}).")


def _read(path: Path, required: tuple[str, ...], text: tuple[str, ...]) -> pd.DataFrame:
    origin = os.fspath(path)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise _fail(origin, "be a readable CSV file", error.strerror or type(error).__name__) from None
    except UnicodeDecodeError:
        raise _fail(origin, "be UTF-8 text", "undecodable bytes") from None
    if not rows:
        raise _fail(origin, f"start with a header of the columns {', '.join(required)}", "an empty file")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in required if name not in header]
    if missing:
        raise _fail(origin, f"have the columns {', '.join(required)}", f"no {', '.join(missing)}")
    if not rows[1:]:
        raise _fail(origin, "hold at least one row after its header", "a header only")
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise _fail(f"{origin} line {number}", f"have {len(header)} cells like the header", len(row))
        record: dict[str, object] = {}
        for name, cell in zip(header, row):
            if name in text or name not in required:
                record[name] = cell
                continue
            try:
                record[name] = float(cell) if cell.strip() else math.nan
            except ValueError:
                raise _fail(f"{origin} line {number}, {name}", "be a number", cell) from None
        records.append(record)
    frame = pd.DataFrame(records, columns=header)
    for name in header:            # a column a later writer added: numbers when every cell is one, else text
        if name not in required and name not in text:
            converted = pd.to_numeric(frame[name].replace("", math.nan), errors="coerce")
            if converted.notna().sum() == (frame[name] != "").sum():
                frame[name] = converted
    return frame


def load_grid(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The closed-form-vs-Monte-Carlo grid (``None``: the stored one), ``classes`` as booleans."""
    frame = _read(embedded_path(GRID_RESOURCE) if path is None else Path(path), GRID_COLUMNS, _GRID_TEXT)
    flags = frame["classes"].str.strip().str.lower()
    bad = ~flags.isin(("true", "false"))
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise _fail(f"{path or embedded_path(GRID_RESOURCE)} line {line}, classes", "be True or False",
                    frame["classes"].iloc[line - 2])
    frame["classes"] = flags == "true"
    return frame


def load_emulated_validation(path: str | os.PathLike[str] | None = None) -> pd.DataFrame | None:
    """The emulated validation's rows (``None`` for the stored one: ``None`` back when it is absent)."""
    target = embedded_path(EMULATED_RESOURCE) if path is None else Path(path)
    if path is None and not target.exists():
        return None
    frame = _read(target, EMULATED_COLUMNS, _EMULATED_TEXT)
    bad = ~frame["set"].isin(_SETS)
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise _fail(f"{target} line {line}, set", f"be {' or '.join(_SETS)}", frame["set"].iloc[line - 2])
    return frame
