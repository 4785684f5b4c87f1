"""How the clients of a federation differ: device speeds and link rates as distributions, or a table.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg (McMahan et al., AISTATS 2017)
are priced for clients that are all the calibration machine on equal links unless a
:class:`Federation` says otherwise. A client's speed is ``S = f * e^{sigma_s*Z}``, ``f`` a device
class's factor (drawn with the class's share; 1 without classes) and ``Z`` standard normal; its
uplink and downlink rates are the scenario's times ``f_b * e^{sigma_b*Z'}`` (``f_b`` a link class's
factor, the same for both directions of one client; ``Z'`` drawn independently for each direction).
The one-factor case, every client ``F`` times the calibration machine (``--device-speed F``), is a
scaled calibration (:meth:`~costmodel.contracts.calibration_file.Calibration.with_device_speed`),
not a :class:`Federation`. A client table gives each client's speed factor and rates instead
(:func:`read_clients_file`); a round's clients are drawn from it without replacement.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np

from costmodel.errors import InputError, check_number, must

__all__ = [
    "CLIENTS_FILE_COLUMNS",
    "ClientTable",
    "Federation",
    "parse_classes",
    "read_clients_file",
]

#: The columns of a client table, in the order they are read.
CLIENTS_FILE_COLUMNS: tuple[str, ...] = ("speed_factor", "uplink_bits_per_s", "downlink_bits_per_s")
#: Largest log-normal sigma accepted (a spread of e^5 ~ 150x per standard deviation).
MAX_SIGMA = 5.0


def _check_classes(name: str, classes: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    checked = []
    for factor, share in classes:
        factor = check_number(f"{name} factor", factor, exclusive_minimum=0.0)
        share = check_number(f"{name} share", share, exclusive_minimum=0.0, maximum=1.0)
        checked.append((factor, share))
    if classes and abs(sum(share for _, share in checked) - 1.0) > 1e-9:
        raise must(name, "have shares that sum to 1", ",".join(f"{f:g}:{w:g}" for f, w in checked))
    return tuple(checked)


@dataclass(frozen=True)
class ClientTable:
    """One row per client: its speed factor (relative to the calibration machine) and link rates.

    Attributes
    ----------
    speed_factor, uplink_bits_per_s, downlink_bits_per_s : numpy.ndarray
        Float64 arrays of one length, each value finite and > 0.
    source : str
        Where the table came from (a file name), for messages.
    """

    speed_factor: np.ndarray
    uplink_bits_per_s: np.ndarray
    downlink_bits_per_s: np.ndarray
    source: str = "table"

    def __post_init__(self) -> None:
        arrays = [np.asarray(getattr(self, c), dtype=np.float64).reshape(-1) for c in CLIENTS_FILE_COLUMNS]
        if len({a.size for a in arrays}) != 1 or arrays[0].size == 0:
            raise must("clients", "be columns of one non-zero length", [a.size for a in arrays])
        for column, array in zip(CLIENTS_FILE_COLUMNS, arrays):
            bad = ~(np.isfinite(array) & (array > 0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise must(f"{self.source} row {row + 1}, {column}", "be a finite number > 0", float(array[row]))
            array.setflags(write=False)
            object.__setattr__(self, column, array)

    @property
    def size(self) -> int:
        """Clients in the table."""
        return int(self.speed_factor.size)


@dataclass(frozen=True, kw_only=True)
class Federation:
    """How the clients differ (see the module docstring); the defaults are the homogeneous federation.

    Attributes
    ----------
    speed_sigma : float
        ``sigma_s``, log-normal sigma of client speed around its (class's) median, >= 0.
    speed_classes : tuple of (factor, share)
        Device classes: speed factor relative to the calibration machine (> 0) and share (> 0, the
        shares summing to 1); empty: one class of factor 1.
    link_sigma : float
        ``sigma_b``, log-normal sigma of a client's link rates around the scenario's, >= 0.
    link_classes : tuple of (factor, share)
        Link classes: factor on the scenario's uplink and downlink, and share; empty: one class.
    clients : ClientTable or None
        A client table instead of the distributions (then the others must keep their defaults).
    """

    speed_sigma: float = 0.0
    speed_classes: tuple[tuple[float, float], ...] = ()
    link_sigma: float = 0.0
    link_classes: tuple[tuple[float, float], ...] = ()
    clients: ClientTable | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed_sigma", check_number("speed_sigma", self.speed_sigma, minimum=0.0,
                                                             maximum=MAX_SIGMA))
        object.__setattr__(self, "link_sigma", check_number("link_sigma", self.link_sigma, minimum=0.0,
                                                            maximum=MAX_SIGMA))
        object.__setattr__(self, "speed_classes", _check_classes("speed_classes", tuple(self.speed_classes)))
        object.__setattr__(self, "link_classes", _check_classes("link_classes", tuple(self.link_classes)))
        if self.clients is not None and (self.speed_sigma or self.link_sigma or self.speed_classes
                                         or self.link_classes):
            raise InputError("'clients' must not be given with speed or link distributions: a client table "
                             "states every client (got both).")

    @property
    def homogeneous(self) -> bool:
        """Every client is the same: no spread, no classes other than one of factor 1, no table."""
        if self.clients is not None:
            return False
        one = all(f == 1.0 for f, _ in self.speed_classes) and all(f == 1.0 for f, _ in self.link_classes)
        return self.speed_sigma == 0.0 and self.link_sigma == 0.0 and one

    def spreads(self) -> list[str]:
        """The distributions that make clients differ, in words (``['speed sigma 0.5', 'link classes
        1:0.5,0.1:0.5']``); empty for a table or identical clients."""
        parts = []
        if self.speed_sigma:
            parts.append(f"speed sigma {self.speed_sigma:g}")
        if self.speed_classes:
            parts.append("device classes " + ",".join(f"{f:g}:{w:g}" for f, w in self.speed_classes))
        if self.link_sigma:
            parts.append(f"link sigma {self.link_sigma:g}")
        if self.link_classes:
            parts.append("link classes " + ",".join(f"{f:g}:{w:g}" for f, w in self.link_classes))
        return parts


def parse_classes(name: str, text: str) -> tuple[tuple[float, float], ...]:
    """``"1:0.5,0.3:0.3,0.1:0.2"`` -> ``((1.0, 0.5), (0.3, 0.3), (0.1, 0.2))`` (factor:share, checked).

    Raises
    ------
    InputError
        ``'speed-classes' must be FACTOR:SHARE,... with shares summing to 1 (got '1:0.5,x').``
    """
    classes = []
    for part in text.split(","):
        factor, sep, share = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            classes.append((float(factor), float(share.rstrip("%")) / (100.0 if share.endswith("%") else 1.0)))
        except ValueError:
            raise must(name, "be FACTOR:SHARE,... e.g. 1:0.5,0.1:0.5", text) from None
    for factor, share in classes:
        if not (math.isfinite(factor) and factor > 0 and math.isfinite(share) and 0 < share <= 1):
            raise must(name, "have factors > 0 and shares in (0, 1]", text)
    if abs(sum(share for _, share in classes) - 1.0) > 1e-9:
        raise must(name, "have shares that sum to 1", text)
    return tuple(classes)


def read_clients_file(path: str | os.PathLike[str], *, label: str = "clients-file") -> ClientTable:
    """Read a client table: a CSV with a header naming :data:`CLIENTS_FILE_COLUMNS` (other columns
    are ignored), one row per client, every value a finite number > 0 (rates in bit/s).

    Raises
    ------
    InputError
        One line naming the file, and the line and column of a bad cell:
        ``'clients.csv line 4, speed_factor' must be a finite number > 0 (got '-1').``
    """
    shown = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise must(label, "name an existing file", shown) from None
    except (OSError, UnicodeDecodeError) as error:
        raise must(label, "be a readable UTF-8 CSV file", f"{shown}: {error}") from None
    if not rows:
        raise must(label, f"have a header with the columns {','.join(CLIENTS_FILE_COLUMNS)}", f"{shown}: empty")
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in CLIENTS_FILE_COLUMNS if column not in header]
    if missing:
        raise must(f"{shown} line 1", f"name the column {missing[0]} (columns: {','.join(CLIENTS_FILE_COLUMNS)})",
                   ",".join(header))
    index = [header.index(column) for column in CLIENTS_FILE_COLUMNS]
    values: list[list[float]] = [[], [], []]
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        for j, (column, i) in enumerate(zip(CLIENTS_FILE_COLUMNS, index)):
            cell = row[i].strip() if i < len(row) else ""
            try:
                number = float(cell)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and number > 0):
                raise must(f"{shown} line {line}, {column}", "be a finite number > 0", cell)
            values[j].append(number)
    if not values[0]:
        raise must(label, "have at least one client row", f"{shown}: header only")
    return ClientTable(np.array(values[0]), np.array(values[1]), np.array(values[2]), source=shown)
