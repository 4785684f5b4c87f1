"""The accuracy-curves file: its format and its checks (rounds to target: :mod:`costmodel.analysis.convergence`).

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) pays more per round than FedAvg to reach a
given accuracy in fewer rounds. How many fewer is measured, not modelled: a **curves file** holds the
test accuracy of each algorithm, seed and round, from ``astraea-cost compare`` (its ``curves.csv``),
from :mod:`calibration.convergence`, or exported from any other framework.

The format
----------
A CSV file with a header row and the columns (in any order) of :data:`CURVE_COLUMNS`:

``algorithm``
    an algorithm of the cost model (:data:`costmodel.model.protocols.ALGORITHMS`);
``seed``
    a whole number >= 0 naming the repetition (runs of one seed share their data, for example);
``round``
    rounds completed when the accuracy was measured, a whole number >= 0 (1: after the first round;
    0: the initial model). Rounds must increase strictly within an algorithm and seed, in file order;
    gaps are allowed (a curve evaluated every fifth round), and then a round to target is the first
    *evaluated* round at or above the target, an upper bound of the true one;
``accuracy``
    a number in 0..1.

Optional columns, measured by the run (each checked as a finite number >= 0 when present):
:data:`MEASURED_COLUMNS` (``round_seconds``, ``round_bytes``: that round's virtual-clock seconds and
bytes on the wire; ``setup_seconds``, ``setup_bytes``: the run's setup, repeated on each of its
rows). Other columns are ignored. A bad file is refused with one line naming the file, the row (data
rows count from 1 below the header; the line number in the file is given too) and the rule: a missing
column, a non-numeric cell, an accuracy outside 0..1, a repeated (algorithm, seed, round), a round not
above the previous one of its algorithm and seed, an unknown algorithm, no data rows.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from costmodel.errors import InputError, must, relabel
from costmodel.model.protocols import ALGORITHMS

__all__ = ["CURVE_COLUMNS", "Curves", "MEASURED_COLUMNS", "check_curves", "load_curves"]

#: The columns every curves file has.
CURVE_COLUMNS: tuple[str, ...] = ("algorithm", "seed", "round", "accuracy")
#: Optional measured columns (finite, >= 0): the round's virtual-clock seconds and bytes, the run's setup.
MEASURED_COLUMNS: tuple[str, ...] = ("round_seconds", "round_bytes", "setup_seconds", "setup_bytes")
@dataclass(frozen=True, eq=False)
class Curves:
    """Checked accuracy curves: a frame with :data:`CURVE_COLUMNS` and any :data:`MEASURED_COLUMNS`,
    one row per (algorithm, seed, round), rounds ascending within each algorithm and seed.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``algorithm`` (str), ``seed`` and ``round`` (int64), ``accuracy`` and the measured columns
        (float64).
    source : str
        Where they came from (a file name), for messages.
    """

    frame: pd.DataFrame = field(repr=False)
    source: str = "curves"

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms, in :data:`ALGORITHMS` order."""
        present = set(self.frame["algorithm"])
        return tuple(name for name in ALGORITHMS if name in present)

    def seeds(self, algorithm: str) -> tuple[int, ...]:
        """The seeds of ``algorithm``, ascending."""
        return tuple(sorted(int(s) for s in self.frame.loc[self.frame["algorithm"] == algorithm, "seed"].unique()))

    def has(self, column: str) -> bool:
        """Whether the measured column ``column`` is present."""
        return column in self.frame.columns


# --------------------------------------------------------------------------- reading and checking

def _where(source: str, row: int) -> str:
    return f"{source}, row {row} (line {row + 1})"


def _number(text: str, *, source: str, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"'curves' must have a number in column {column} (got {text!r} in "
                         f"{_where(source, row)}).") from None
    if not math.isfinite(value):
        raise InputError(f"'curves' must have a finite number in column {column} (got {text!r} in "
                         f"{_where(source, row)}).")
    return value


def _whole(text: str, *, source: str, row: int, column: str) -> int:
    value = _number(text, source=source, row=row, column=column)
    if not value.is_integer() or value < 0:
        raise InputError(f"'curves' must have a whole number >= 0 in column {column} (got {text!r} in "
                         f"{_where(source, row)}).")
    return int(value)


def check_curves(records: Sequence[Mapping[str, Any]], columns: Sequence[str], *, source: str = "curves") -> Curves:
    """Check curve rows (one mapping of column -> cell text or value per data row, in file order).

    Applies every rule of the module docstring, the first broken one raised as one
    :class:`~costmodel.errors.InputError` line naming ``source``, the row and the rule.
    """
    missing = [name for name in CURVE_COLUMNS if name not in columns]
    if missing:
        raise InputError(f"'curves' must have the columns {', '.join(CURVE_COLUMNS)} (got {source} without "
                         f"{', '.join(missing)}, header line 1).")
    if not records:
        raise InputError(f"'curves' must have at least one data row (got {source} with a header only).")
    measured = [name for name in MEASURED_COLUMNS if name in columns]
    out: dict[str, list[Any]] = {name: [] for name in (*CURVE_COLUMNS, *measured)}
    seen: dict[tuple[str, int, int], int] = {}
    last: dict[tuple[str, int], tuple[int, int]] = {}
    for row, record in enumerate(records, start=1):
        algorithm = str(record["algorithm"]).strip()
        if algorithm not in ALGORITHMS:
            raise InputError(f"'curves' must name an algorithm of the cost model ({', '.join(ALGORITHMS)}) in column "
                             f"algorithm (got {algorithm!r} in {_where(source, row)}).")
        seed = _whole(str(record["seed"]).strip(), source=source, row=row, column="seed")
        round_ = _whole(str(record["round"]).strip(), source=source, row=row, column="round")
        accuracy = _number(str(record["accuracy"]).strip(), source=source, row=row, column="accuracy")
        if not 0.0 <= accuracy <= 1.0:
            raise InputError(f"'curves' must have an accuracy between 0 and 1 (got {accuracy:g} in "
                             f"{_where(source, row)}).")
        values = {}
        for name in measured:
            value = _number(str(record[name]).strip(), source=source, row=row, column=name)
            if value < 0:
                raise InputError(f"'curves' must have a number >= 0 in column {name} (got {value:g} in "
                                 f"{_where(source, row)}).")
            values[name] = value
        key = (algorithm, seed, round_)
        if key in seen:
            raise InputError(f"'curves' must have one row per algorithm, seed and round (got {algorithm} seed {seed} "
                             f"round {round_} again in {_where(source, row)}, first in row {seen[key]}).")
        seen[key] = row
        previous = last.get((algorithm, seed))
        if previous is not None and round_ <= previous[0]:
            raise InputError(f"'curves' must have rounds increasing within an algorithm and seed (got round {round_} "
                             f"of {algorithm} seed {seed} in {_where(source, row)} after round {previous[0]} in "
                             f"row {previous[1]}).")
        last[(algorithm, seed)] = (round_, row)
        for name, value in (("algorithm", algorithm), ("seed", seed), ("round", round_), ("accuracy", accuracy),
                            *values.items()):
            out[name].append(value)
    frame = pd.DataFrame({"algorithm": pd.Series(out["algorithm"], dtype=object),
                          "seed": np.asarray(out["seed"], dtype=np.int64),
                          "round": np.asarray(out["round"], dtype=np.int64),
                          **{name: np.asarray(out[name], dtype=np.float64) for name in ("accuracy", *measured)}})
    return Curves(frame=frame, source=source)


def load_curves(path: str | os.PathLike[str], *, name: str = "curves") -> Curves:
    """Read and check a curves file (module docstring); ``name`` is the option shown in messages.

    Raises
    ------
    InputError
        One line naming the file, the row and the rule it breaks (or why the file cannot be read).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
        raise must(name, "be a path to a curves file", path)
    source = os.fspath(path)
    try:
        with open(Path(source), newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise InputError(f"'{name}' must be a readable CSV file (got {source!r}: {reason}).") from None
    except csv.Error as exc:
        raise InputError(f"'{name}' must be a CSV file (got {source!r}: {exc}).") from None
    if not rows:
        raise InputError(f"'{name}' must have a header row with the columns {', '.join(CURVE_COLUMNS)} "
                         f"(got {source!r}, which is empty).")
    header = [cell.strip() for cell in rows[0]]
    records = []
    for row, cells in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in cells):
            raise InputError(f"'{name}' must not have blank rows (got one in {_where(source, row)}).")
        if len(cells) != len(header):
            raise InputError(f"'{name}' must have {len(header)} cells in every row, as its header (got {len(cells)} "
                             f"in {_where(source, row)}).")
        records.append(dict(zip(header, cells)))
    try:
        return check_curves(records, header, source=source)
    except InputError as error:
        raise relabel(error, curves=name) from None
