"""What a calibration fit returns: the coefficients with errors, statistics, checks and notes, and the
link coefficients a link sweep measured.

:class:`CalibrationFit` is immutable, like an lmfit result: values, standard errors, R^2 and a
readable :meth:`~CalibrationFit.report`; :meth:`~CalibrationFit.to_calibration` turns it into the
calibration file's object (:mod:`costmodel.contracts.calibration_file`). :class:`LinkCoefficients` are
the link coefficients of ``astraea-cost link-sweep`` (:func:`load_link_coefficients`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from calibration.fit.groups import GroupFit
from calibration.machine import describe_machine
from costmodel.contracts.calibration_file import COEFFICIENT_UNITS, Calibration
from costmodel.errors import InputError

__all__ = ["LINK_COEFFICIENTS", "CalibrationFit", "LinkCoefficients", "load_link_coefficients"]

#: Coefficients of real links, fitted by the link sweep, not from the in-process trace.
LINK_COEFFICIENTS: tuple[str, ...] = ("latency_s", "link_efficiency", "message_overhead_bytes")


@dataclass(frozen=True, kw_only=True)
class CalibrationFit:
    """The fitted coefficients of one calibration, with errors, statistics and checks (immutable).

    Attributes
    ----------
    coefficients : Mapping[str, float]
        Every coefficient of :data:`costmodel.contracts.calibration_file.COEFFICIENT_UNITS`, > 0.
    stderr : Mapping[str, float | None]
        Bootstrap standard errors (link coefficients: the communication fit's, or the base's).
    fitted_from : Mapping[str, str]
        The phase(s) each coefficient was fitted on, or where it came from.
    groups : Mapping[str, GroupFit]
        Each group's fit.
    fixed_s : Mapping[str, float]
        Each group's fixed per-event seconds, also exported as the model's fixed coefficients
        (each statement's fixed coefficient; serialization's is :attr:`inprocess_latency_s`).
    inprocess_latency_s : float
        Fixed cost of one in-process message (> 0).
    diagnostics : pandas.DataFrame
        ``group, factor, level, n, median_residual_percent``.
    runs : int
        Runs in the trace.
    threads : int
        Torch threads per device in those runs.
    torch_version : str
        As the runs recorded it.
    notes : tuple of str
        What was carried over, clamped or found negligible.
    """

    coefficients: Mapping[str, float]
    stderr: Mapping[str, float | None]
    fitted_from: Mapping[str, str]
    groups: Mapping[str, GroupFit]
    fixed_s: Mapping[str, float]
    inprocess_latency_s: float
    diagnostics: Any = field(repr=False, compare=False)
    runs: int
    threads: int = 1
    torch_version: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("coefficients", "stderr", "fitted_from", "groups", "fixed_s"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def r2(self) -> dict[str, float]:
        """R^2 on seconds per group."""
        return {group: fit.r2 for group, fit in self.groups.items() if math.isfinite(fit.r2)}

    @property
    def residual_spread(self) -> dict[str, float]:
        """Robust relative residual spread per group (fraction)."""
        return {group: fit.residual_spread for group, fit in self.groups.items()
                if math.isfinite(fit.residual_spread)}

    def report(self) -> str:
        """Coefficients with standard errors, per-group fit statistics, formula checks and notes."""
        lines = [f"Calibration fit on {self.runs} runs ({self.threads} torch thread(s) per device, "
                 f"torch {self.torch_version or 'unknown'})", "  coefficients:"]
        width = max(len(name) for name in COEFFICIENT_UNITS)
        for name, unit in COEFFICIENT_UNITS.items():
            value = self.coefficients[name]
            error = self.stderr.get(name)
            shown = ""
            if error is not None and math.isfinite(error):
                shown = f" +/- {error:.3g}" + (f" ({100 * error / value:.1f}%)" if value > 0 else "")
            lines.append(f"    {name:<{width}}  {value:.4g} {unit}{shown}  [{self.fitted_from.get(name, '')}]")
        lines.append("  fit per group: formula + fixed per-event term t0 (R^2 on seconds; relative residuals)")
        lines.append(f"    {'group':<18} {'R^2':>7} {'spread':>7} {'rms':>8} {'t0':>10} {'t0/mean':>8} "
                     f"{'spread w/o t0':>13} {'rows':>6} {'runs':>5}")
        for group, fit in self.groups.items():
            lines.append(f"    {group:<18} {fit.r2:7.4f} {100 * fit.residual_spread:6.2f}% {100 * fit.residual_rms:7.2f}% "
                         f"{fit.fixed_s:10.3g} {100 * fit.fixed_share:7.1f}% {100 * fit.spread_without_fixed:12.2f}% "
                         f"{fit.rows:6d} {fit.runs:5d}")
        diagnostics = self.diagnostics
        if diagnostics is not None and len(diagnostics):
            lines.append("  formula checks: median relative residual by factor level")
            for (group, factor), part in diagnostics.groupby(["group", "factor"], sort=False):
                levels = ", ".join(f"{row.level}: {row.median_residual_percent:+.1f}%" for row in part.itertuples())
                lines.append(f"    {group} by {factor}: {levels}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_calibration(self, machine: Mapping[str, Any] | None = None, *, created: str | None = None,
                       source: str | None = None) -> Calibration:
        """The calibration file's object; ``machine`` defaults to :func:`calibration.machine.describe_machine`.

        ``fit`` holds ``r2`` and ``residual_spread`` per group, ``runs``, ``fixed_s`` per group and
        ``inprocess_latency_s`` (= ``message_s``), kept for the report.
        """
        machine = dict(machine) if machine is not None else describe_machine(
            threads=self.threads, torch_version=self.torch_version or None)
        text = source or (f"fitted by 'astraea-cost calibrate' on {self.runs} profiled runs of the reference "
                          f"implementation (calibration.fit: robust relative NNLS per phase with a fixed "
                          f"per-event term kept apart in fit.fixed_s, bootstrap standard errors over runs)."
                          + (" " + " ".join(self.notes) if self.notes else ""))
        return Calibration(
            coefficients=dict(self.coefficients),
            stderr={name: (None if error is None or not math.isfinite(error) else float(error))
                    for name, error in self.stderr.items()},
            fitted_from=dict(self.fitted_from), machine=machine,
            fit={"r2": self.r2, "residual_spread": self.residual_spread, "runs": int(self.runs),
                 "fixed_s": {group: float(value) for group, value in self.fixed_s.items()},
                 "inprocess_latency_s": float(self.inprocess_latency_s)},
            validation=(), source=text, created=created or _dt.date.today().isoformat())


@dataclass(frozen=True, kw_only=True)
class LinkCoefficients:
    """Link coefficients with standard errors, as :class:`~calibration.communication.CommunicationFit`
    holds them (``fit_calibration`` takes either); read from a ``link-sweep`` result with
    :func:`load_link_coefficients`."""

    latency_s: float
    link_efficiency: float
    message_overhead_bytes: float
    latency_s_stderr: float = 0.0
    link_efficiency_stderr: float = 0.0
    message_overhead_bytes_stderr: float = 0.0


def load_link_coefficients(path: str | os.PathLike[str]) -> LinkCoefficients:
    """Read ``communication_fit.json`` as written by ``astraea-cost link-sweep --out DIR``.

    Raises
    ------
    InputError
        One line naming the file: unreadable, not JSON, or a coefficient missing or not a number.
    """
    origin = os.fspath(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"'communication' must be a readable file (got {origin!r}: {error.strerror}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"'communication' must be the JSON written by link-sweep (got {origin!r}).") from None
    block = data.get("coefficients") if isinstance(data, dict) else None
    values: dict[str, float] = {}
    for name in LINK_COEFFICIENTS:
        entry = block.get(name) if isinstance(block, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        error = entry.get("stderr", 0.0) if isinstance(entry, dict) else None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (value, error)):
            raise InputError(f"'communication' file {origin!r} must give coefficients.{name} a numeric value and "
                             f"stderr (got {entry!r}).")
        values[name], values[f"{name}_stderr"] = float(value), float(error)
    return LinkCoefficients(**values)
