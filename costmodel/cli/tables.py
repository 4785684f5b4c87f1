"""What the model commands print and write: terminal tables, the assumptions line, the calibration
note, and the ``--csv``/``--json`` files.

The numbers come from the library (:mod:`costmodel.analysis`); this module only formats them, with
units (:mod:`costmodel.units`), and writes the full frames atomically (:mod:`costmodel.files`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import pandas as pd

from costmodel.contracts.calibration_file import Calibration
from costmodel.files import atomic_path, check_distinct_outputs, check_output_file
from costmodel.host import cpu_name, torch_version
from costmodel.model.quantities import INPUTS
from costmodel.units import format_input

__all__ = [
    "ASSUMED_INPUTS",
    "INPUT_LABELS",
    "MAX_PRINTED_ROWS",
    "assumptions",
    "calibration_note",
    "check_outputs",
    "head",
    "json_records",
    "print_table",
    "warn_about",
    "write_outputs",
]

#: Rows printed on the terminal; the full table goes to ``--csv``/``--json``.
MAX_PRINTED_ROWS = 60


def _input_labels() -> dict[str, str]:
    links = {"uplink_bits_per_s": "uplink", "downlink_bits_per_s": "downlink", "server_bits_per_s": "server"}
    return {name: links.get(name, str(quantity.symbol)) for name, quantity in INPUTS.items()}


#: Column heading of each input: its symbol (``c``, ``E_m``), or the link's name for bandwidths.
INPUT_LABELS: Mapping[str, str] = _input_labels()
#: Inputs every answer states, varied or not: they decide round time and overhead most.
ASSUMED_INPUTS: tuple[str, ...] = ("clients_total", "clients_per_round", "mediator_size", "mediator_epochs",
                                   "local_epochs", "batch_size", "params", "uplink_bits_per_s",
                                   "downlink_bits_per_s", "server_bits_per_s")


def print_table(rows: list[dict[str, str]], *, total: int, stream: TextIO | None = None) -> None:
    """Right-aligned columns; a last line says how many rows were left out (``total`` in all)."""
    stream = stream or sys.stdout
    if not rows:
        return
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row[h]) for row in rows)) for h in headers}
    print("  ".join(h.rjust(widths[h]) for h in headers), file=stream)
    for row in rows:
        print("  ".join(row[h].rjust(widths[h]) for h in headers), file=stream)
    if total > len(rows):
        print(f"... {total - len(rows):,} more rows; write them all with --csv or --json.", file=stream)


def head(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that are printed."""
    return frame.head(MAX_PRINTED_ROWS)


def assumptions(values: Mapping[str, float], skip: Sequence[str] = ()) -> str:
    """The deciding inputs of a scenario as ``N=500, c=50, ..., server=1 Gbit/s``."""
    return ", ".join(f"{INPUT_LABELS[name]}={format_input(name, values[name])}"
                     for name in ASSUMED_INPUTS if name not in skip)


def calibration_note(calibration: Calibration, args: argparse.Namespace) -> str:
    """``calibration: <file or embedded default>, <date>[; overrides ...]``."""
    origin = args.calibration or "embedded default"
    first = calibration.source.split(":")[0] if calibration.source.startswith("provisional") else ""
    note = f"calibration: {origin}" + (f" ({first})" if first else "") + f", {calibration.created}"
    if args.overrides:
        note += "; overrides " + ", ".join(args.overrides)
    if getattr(args, "device_speed", None) is not None:
        note += f"; client devices at {args.device_speed}x its speed"
    return note


def warn_about(calibration: Calibration, args: argparse.Namespace) -> None:
    """One line on stderr each when the calibration is unvalidated or weak (``Calibration.trust_problem``)
    and when it was measured on another CPU or with another torch than this one's
    (``Calibration.machine_problem``)."""
    for problem in (calibration.trust_problem(), calibration.machine_problem(cpu_name(), torch_version())):
        if problem:
            print(f"note: the calibration ({args.calibration or 'embedded default'}) {problem}", file=sys.stderr)


def json_records(frame: pd.DataFrame) -> str:
    """The frame as JSON records at full precision (every float as Python's shortest exact repr).

    JSON has no infinity: an infinite value (an in-process bandwidth) is written as the string
    ``"inf"`` (``"-inf"``), NaN as null, so the file stays standard JSON and loses nothing.
    """

    def plain(value: Any) -> Any:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float):
            if math.isnan(value):
                return None
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
        return value

    records = [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return json.dumps(records, indent=1, allow_nan=False) + "\n"


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an unwritable or clashing ``--csv``/``--json`` before any work is done."""
    for option in ("csv", "json"):
        target = getattr(args, option)
        if target is not None:
            check_output_file(option, target)
    check_distinct_outputs(csv=args.csv, json=args.json)


def write_outputs(frame: pd.DataFrame, args: argparse.Namespace) -> None:
    """Write ``frame`` to ``--csv`` and ``--json`` (atomically; SI units)."""
    for option in ("csv", "json"):
        target = getattr(args, option)
        if target is None:
            continue
        with atomic_path(target, name=option) as tmp:
            if option == "csv":
                frame.to_csv(tmp, index=False)
            else:
                tmp.write_text(json_records(frame), encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)
