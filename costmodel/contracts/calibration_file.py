"""The calibration-file contract (schema version :data:`CALIBRATION_SCHEMA_VERSION`) and its embedded default.

The cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg turns what-if inputs
into seconds with a handful of *platform coefficients* (effective FLOP/s, seconds per optimizer step,
per augmented value, per rescheduling step, per aggregated parameter, per serialized byte, link latency and
efficiency, per-message byte overhead). They are fitted by ``calibration/`` from measured runs and never
typed by hand. This module is the one definition of the file that carries them from the fit to the
model; ``costmodel`` ships one such file (``costmodel/data/default_calibration.json``) so a fresh
install predicts without running anything.

File layout (JSON, UTF-8)::

    {
      "schema_version": 8,
      "created": "2025-01-31",                       # ISO date (or date-time)
      "source": "how it was made",
      "machine": {"cpu": str, "threads": int, "torch_version": str, "python": str, "platform": str,
                  "speed_probe_s": float},             # optional: the machine's speed when measured
      "coefficients": {
        "<name>": {"value": float, "unit": str, "stderr": float | null, "fitted_from": "phase name(s)"},
        ...                                           # exactly the names in COEFFICIENT_UNITS
      },
      "fit": {"r2": {group: float}, "residual_spread": {group: float}, "runs": int,
              "profile_wall_s": float},             # optional: how long the profile took there
      "validation": [                                 # optional; may be empty
        {"phase": str, "mape_percent": float, "max_ape_percent": float, "noise_percent": float, "n": int},
        ...
      ]
    }

Rules checked on load, each failure one :class:`~costmodel.errors.InputError` line naming the file and
the problem: valid JSON object; ``schema_version`` equal to :data:`CALIBRATION_SCHEMA_VERSION`; every coefficient of
:data:`COEFFICIENT_UNITS` present with a finite numeric ``value`` obeying :data:`COEFFICIENT_RULES`, and
no unknown one; units as declared; ``stderr`` null or a finite number >= 0.

Coefficient rules: every value is finite; most marginal costs are > 0 (their symbols are declared
positive, which is what lets sympy simplify and solve; a fit that finds one negligible reports a tiny
positive value with its standard error, not zero), those a fit may find absent (the coefficient table
marks them nonnegative) are >= 0; the fixed per-event costs and the link latency
(:data:`NONNEGATIVE_COEFFICIENTS`) are >= 0, since a fitted 0 is legitimate there (an emulated link
has no latency of its own); ``link_efficiency`` is in (0, 1]. ``costmodel.model.quantities.check_coefficients``
applies the same rules when a prediction starts.

Schema history: version 2 added the fixed per-event costs (``train_s_per_visit``,
``augment_s_per_client``, ``augment_plan_s``, ``reschedule_s_per_round``, ``aggregate_s_per_round``,
``message_s``, ``upload_message_s``), the per-sample training cost ``train_s_per_sample``, the
augmentation's copy of a client's data ``augment_s_per_data_value``, and the second serialization
regime beyond the cache (``serialize_s_per_uncached_byte`` above ``cache_bytes``), the jitter of
a visit's training time (``train_time_cv``), the dearer aggregation of large stacks
(``aggregate_s_per_large_param`` beyond ``aggregate_large_bytes``), and let the
fixed costs, those terms and ``latency_s`` be 0. A version-1 file lacks them: re-run ``astraea-cost calibrate``.
Version 3 follows the server's in-place average (one pass per model into the global model's
buffer, no stack): ``aggregate_s_per_model`` (per accumulate call) and
``aggregate_s_per_output_param`` (the average's own parameters) are new, and the regime of
``aggregate_s_per_large_param`` is now set by one model's size (the running average leaving a
core's cache beyond ``aggregate_large_bytes``), not by the stack's. A version-2 file prices
aggregation by the old stack: re-run ``astraea-cost calibrate``. Version 4 adds
``prox_s_per_param``, the per-parameter cost of a proximal term at every optimizer step (FedProx), fitted
on the sweep's FedProx runs; a version-3 file cannot price FedProx: re-run ``astraea-cost calibrate``.
Version 5 follows the greedy rescheduling as it is implemented: ``kl_s_per_evaluation`` (per candidate
scored, replacing ``kl_s_per_term``, which was per candidate and class) and
``reschedule_s_per_class_update`` (per class count of a candidate the greedy updates), and
``augment_s_per_pixel`` (an augmented sample's warp per pixel, shared by its channels, beside the
per-value interpolation); a version-4 file prices rescheduling and augmentation by the old
statements: re-run ``astraea-cost calibrate``. Version 6 prices a visit's training across architecture
families: ``train_s_per_elementwise_value`` (per value an element-wise operation writes, per sample),
``train_s_per_autograd_node`` and ``train_s_per_conv_call`` (per autograd node and per spatial or grouped
convolution call, per optimizer step) are new, ``train_s_per_sample`` is gone (the per-value and per-node
terms carry what it stood for) and ``step_overhead_s`` may be 0; a version-5 file prices every model as
the TPDS CNN family (a dense-only model up to about 2x too slow): re-run ``astraea-cost calibrate``.
Version 7 adds ``train_s_per_padded_flop``, per FLOP that a convolution's channel counts rounded up to
blocks of 16 add (the CPU layout's, per sample); a version-6 file prices a convolution of few channels
by its FLOPs alone (a ResNet with 4 to 10 channels in its first stage 10-20% too fast): re-run
``astraea-cost calibrate``.
Version 8 drops ``train_s_per_padded_flop``: a padding FLOP is priced at ``flops_per_s``, as a FLOP (a
version-7 file priced it at about half of that, and under-priced a ResNet whose channel counts are no
multiples of 16 by 10-18%): re-run ``astraea-cost calibrate``.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from costmodel.contracts.coefficients import COEFFICIENT_TABLE, DEVICE_RATE_COEFFICIENTS, DEVICE_SECONDS_COEFFICIENTS
from costmodel.errors import InputError, must
from costmodel.files import atomic_write_text, check_output_file

__all__ = [
    "CALIBRATION_SCHEMA_VERSION",
    "COEFFICIENT_RULES",
    "COEFFICIENT_UNITS",
    "Calibration",
    "DEFAULT_CALIBRATION_RESOURCE",
    "MACHINE_FIELDS",
    "MIN_TRUSTED_R2",
    "MIN_TRUSTED_RUNS",
    "NONNEGATIVE_COEFFICIENTS",
    "VALIDATION_FIELDS",
    "check_coefficient",
    "default_calibration",
    "load_calibration",
    "write_calibration",
]

CALIBRATION_SCHEMA_VERSION = 8

#: The fixed coefficient list (:data:`costmodel.contracts.coefficients.COEFFICIENT_TABLE`) and the SI unit of each.
COEFFICIENT_UNITS: Mapping[str, str] = MappingProxyType({spec.name: spec.unit for spec in COEFFICIENT_TABLE})

#: Coefficients that may be 0: the fixed per-event costs, terms a fit may find absent, the link latency.
NONNEGATIVE_COEFFICIENTS: tuple[str, ...] = tuple(spec.name for spec in COEFFICIENT_TABLE if spec.nonnegative)

_SPEC = {spec.name: spec for spec in COEFFICIENT_TABLE}
#: (rule text, test) per coefficient: both bounds (an error message states the one a value breaks).
COEFFICIENT_RULES: Mapping[str, tuple[str, Any]] = MappingProxyType({
    spec.name: (spec.rule, spec.allows) for spec in COEFFICIENT_TABLE
})

#: Fewer fitted runs than this make a calibration weak (the quick sweep has 20).
MIN_TRUSTED_RUNS = 10
#: A local-training fit below this R^2 makes a calibration weak.
MIN_TRUSTED_R2 = 0.95

MACHINE_FIELDS: tuple[str, ...] = ("cpu", "threads", "torch_version", "python", "platform")
VALIDATION_FIELDS: tuple[str, ...] = ("phase", "mape_percent", "max_ape_percent", "noise_percent", "n")

#: Where the embedded default lives inside the package.
DEFAULT_CALIBRATION_RESOURCE = ("costmodel", "data/default_calibration.json")


def check_coefficient(name: str, value: object, *, label: str | None = None) -> float:
    """Return ``value`` as a float if it is a valid value of coefficient ``name``, else raise.

    ``label`` is the name shown in the message (default ``name``): ``'latency_s' must be >= 0 (got -1.0).``
    """
    shown = label or name
    if name not in COEFFICIENT_UNITS:
        known = ", ".join(COEFFICIENT_UNITS)
        raise InputError(f"'{shown}' must be a coefficient name, one of {known} (got {name!r}).")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise must(shown, "be a number", value)
    number = float(value)
    if not math.isfinite(number):
        raise must(shown, "be finite", value)
    broken = _SPEC[name].broken_rule(number)
    if broken:
        raise must(shown, f"be {broken}", value)
    return number


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({key: _freeze(value) for key, value in mapping.items()})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _frozen(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Fitted platform coefficients and how they were obtained (immutable).

    Attributes
    ----------
    coefficients
        Read-only mapping name -> value in SI units; exactly the names of :data:`COEFFICIENT_UNITS`.
        This is what ``costmodel.analysis.predict`` takes.
    stderr
        name -> standard error of the fit (same unit), or None where the value was not fitted.
    fitted_from
        name -> the phase name(s) whose measurements fixed it, or ``"override"``/``"provisional"``.
    units
        name -> unit string; always equal to :data:`COEFFICIENT_UNITS`.
    machine
        ``cpu``, ``threads``, ``torch_version``, ``python``, ``platform`` of the machine measured on,
        and optionally ``speed_probe_s``: its usual speed-probe time while the runs were measured
        (``calibration.speed_probe``), which a validation holds its runs to.
    fit
        ``r2`` and ``residual_spread`` per coefficient group, and ``runs`` (number of runs fitted).
    validation
        Rows ``phase, mape_percent, max_ape_percent, noise_percent, n`` from held-out runs (may be empty).
    source, created
        How the file was made (one sentence) and its ISO date.
    """

    coefficients: Mapping[str, float]
    stderr: Mapping[str, float | None] = field(default_factory=dict)
    fitted_from: Mapping[str, str] = field(default_factory=dict)
    machine: Mapping[str, Any] = field(default_factory=dict)
    fit: Mapping[str, Any] = field(default_factory=dict)
    validation: tuple[Mapping[str, Any], ...] = ()
    source: str = ""
    created: str = ""
    units: Mapping[str, str] = field(default_factory=lambda: COEFFICIENT_UNITS)

    def __post_init__(self) -> None:
        names = set(self.coefficients)
        missing = [name for name in COEFFICIENT_UNITS if name not in names]
        if missing:
            raise InputError(f"'coefficients' must include every coefficient; missing: {', '.join(missing)}.")
        unknown = sorted(names - set(COEFFICIENT_UNITS))
        if unknown:
            raise InputError(f"'coefficients' must hold only known coefficients; unknown: {', '.join(unknown)}.")
        values = {name: check_coefficient(name, self.coefficients[name]) for name in COEFFICIENT_UNITS}
        stderr: dict[str, float | None] = {}
        for name in COEFFICIENT_UNITS:
            error = self.stderr.get(name)
            if error is not None:
                if isinstance(error, bool) or not isinstance(error, (int, float)) or not math.isfinite(error) \
                        or error < 0:
                    raise must(f"stderr of {name}", "be null or a finite number >= 0", error)
                error = float(error)
            stderr[name] = error
        fitted_from = {name: str(self.fitted_from.get(name, "")) for name in COEFFICIENT_UNITS}
        object.__setattr__(self, "coefficients", MappingProxyType(values))
        object.__setattr__(self, "stderr", MappingProxyType(stderr))
        object.__setattr__(self, "fitted_from", MappingProxyType(fitted_from))
        object.__setattr__(self, "units", COEFFICIENT_UNITS)
        object.__setattr__(self, "machine", _frozen(self.machine))
        object.__setattr__(self, "fit", _frozen(self.fit))
        object.__setattr__(self, "validation", tuple(_frozen(row) for row in self.validation))

    def trust_problem(self) -> str | None:
        """Why its predictions should not be trusted as they stand, in one sentence; ``None`` if none.

        *Unvalidated*: no held-out table. *Weak*: fitted on fewer than :data:`MIN_TRUSTED_RUNS` runs,
        a local-training fit with R^2 below :data:`MIN_TRUSTED_R2` (training dominates a round), or a
        held-out round-time (or bytes) row above its target. Commands print it as one line.
        """
        runs = self.fit.get("runs") if self.fit else None
        r2 = (self.fit.get("r2") or {}).get("local_training") if self.fit else None
        if isinstance(runs, (int, float)) and runs < MIN_TRUSTED_RUNS:
            return (f"is weak: it was fitted on {int(runs)} run(s), fewer than {MIN_TRUSTED_RUNS}; profile a "
                    f"sweep ('astraea-cost profile') and calibrate again.")
        if isinstance(r2, (int, float)) and not r2 >= MIN_TRUSTED_R2:
            return (f"is weak: its local-training fit has R^2 {r2:.3g} (below {MIN_TRUSTED_R2}); the machine was "
                    f"probably busy while profiling.")
        if not self.validation:
            return ("is unvalidated: it has no held-out table, so its predictions have unknown error "
                    "(run 'astraea-cost validate').")
        for row in self.validation:
            phase = str(row.get("phase", ""))
            target = row.get("target_percent")
            if phase in ("round", "round_bytes", "setup_bytes") and isinstance(target, (int, float)) \
                    and row["mape_percent"] > target:
                return (f"is weak: held out, its {phase.replace('_', ' ')} is off by {row['mape_percent']:.3g}% "
                        f"(target {target:g}%).")
        return None

    def machine_problem(self, cpu: str, torch_version: str | None = None) -> str | None:
        """One sentence when the calibration was measured on another CPU than ``cpu`` (this machine's,
        :func:`costmodel.host.cpu_name`) or with another torch than ``torch_version`` (``None``: not
        installed here, not compared); ``None`` when they match or the file does not say. It says how
        long the calibration's profile took where it was measured (``fit.profile_wall_s``, when stored)."""
        machine = self.machine or {}
        measured_cpu, measured_torch = machine.get("cpu"), machine.get("torch_version")
        differences = []
        if isinstance(measured_cpu, str) and measured_cpu != cpu:
            differences.append(f"on {measured_cpu} (this machine: {cpu})")
        if isinstance(measured_torch, str) and torch_version is not None and measured_torch != torch_version:
            differences.append(f"with torch {measured_torch} (here: {torch_version})")
        if not differences:
            return None
        minutes = self.profile_minutes
        took = f"; its profile took {minutes:.1f} min there" if minutes is not None else ""
        return (f"was measured {' '.join(differences)}: its compute coefficients describe that machine, not "
                f"this one (calibrate here: 'make calibration', or 'astraea-cost profile', then 'calibrate'{took}; "
                f"'astraea-cost calibrate --quick' rescales it from a short speed probe; docs/calibrate.md).")

    @property
    def profile_minutes(self) -> float | None:
        """How long the profile this calibration was fitted on took, in minutes (``fit.profile_wall_s``,
        stored by ``calibrate``); ``None`` when the file does not say (a quick calibration, an older file)."""
        wall_s = self.fit.get("profile_wall_s")
        if isinstance(wall_s, (int, float)) and not isinstance(wall_s, bool) and math.isfinite(wall_s):
            return float(wall_s) / 60.0
        return None

    def unsupported_coefficients(self) -> tuple[str, ...]:
        """The coefficients the data do not pin down: value at most twice its standard error (a fitted
        placeholder for a term indistinguishable from 0 carries an error at least its value)."""
        return tuple(name for name, value in self.coefficients.items()
                     if self.stderr.get(name) is not None and value <= 2 * float(self.stderr[name]))

    def with_overrides(self, **values: float) -> Calibration:
        """A new Calibration with some coefficients replaced (a what-if on the platform).

        Overridden coefficients lose their standard error and are marked ``fitted_from="override"``.
        An unknown name or a value breaking :data:`COEFFICIENT_RULES` raises :class:`InputError`.
        """
        if not values:
            return self
        checked = {name: check_coefficient(name, value) for name, value in values.items()}
        coefficients = dict(self.coefficients) | checked
        stderr = dict(self.stderr) | {name: None for name in checked}
        fitted_from = dict(self.fitted_from) | {name: "override" for name in checked}
        note = ", ".join(f"{name}={value:g}" for name, value in checked.items())
        source = f"{self.source} With overrides: {note}.".strip()
        return replace(self, coefficients=coefficients, stderr=stderr, fitted_from=fitted_from, source=source)

    def with_device_speed(self, factor: float, *, label: str = "device_speed") -> Calibration:
        """A new Calibration for client devices ``factor`` times as fast as the calibration machine.

        Every device-side compute coefficient scales at once
        (:data:`~costmodel.contracts.coefficients.DEVICE_RATE_COEFFICIENTS` times ``factor``,
        :data:`~costmodel.contracts.coefficients.DEVICE_SECONDS_COEFFICIENTS` divided by it), their
        standard errors with them; ``factor = 1`` returns this calibration unchanged (the same numbers).

        Raises
        ------
        InputError
            ``'device_speed' must be > 0 (got 0.0).``, or when a scaled coefficient leaves its rule.
        """
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
            raise must(label, "be a finite number > 0", factor)
        if not factor > 0:
            raise must(label, "be > 0", factor)
        if factor == 1:
            return self
        scale = {**{name: float(factor) for name in DEVICE_RATE_COEFFICIENTS},
                 **{name: 1.0 / factor for name in DEVICE_SECONDS_COEFFICIENTS}}
        coefficients = dict(self.coefficients)
        stderr = dict(self.stderr)
        for name, by in scale.items():
            value = coefficients[name] * by
            broken = _SPEC[name].broken_rule(value)
            if broken:
                raise must(label, f"keep every device coefficient in its rule ({name} would be {value:g}, "
                                  f"which must be {broken})", factor)
            coefficients[name] = value
            if stderr.get(name) is not None:
                stderr[name] = float(stderr[name]) * by
        source = f"{self.source} Client devices at {factor:g}x the calibration machine's speed.".strip()
        return replace(self, coefficients=coefficients, stderr=stderr, source=source)

    def to_json_dict(self) -> dict[str, Any]:
        """The file content as plain JSON-ready objects (the inverse of :meth:`from_json_dict`)."""
        return {
            "schema_version": CALIBRATION_SCHEMA_VERSION,
            "created": self.created,
            "source": self.source,
            "machine": _thaw(self.machine),
            "coefficients": {
                name: {
                    "value": self.coefficients[name],
                    "unit": COEFFICIENT_UNITS[name],
                    "stderr": self.stderr[name],
                    "fitted_from": self.fitted_from[name],
                }
                for name in COEFFICIENT_UNITS
            },
            "fit": _thaw(self.fit),
            "validation": _thaw(self.validation),
        }

    @classmethod
    def from_json_dict(cls, data: object, *, origin: str = "calibration") -> Calibration:
        """Build a Calibration from parsed JSON, or raise one :class:`InputError` line naming ``origin``."""
        return _parse(data, origin)

    def report(self) -> str:
        """A readable multi-line summary: coefficients with units and errors, fit statistics, machine."""
        lines = [f"Calibration of {self.created or 'unknown date'}: {self.source}"]
        machine = ", ".join(f"{key}={self.machine[key]}" for key in MACHINE_FIELDS if key in self.machine)
        if machine:
            lines.append(f"  machine: {machine}")
        width = max(len(name) for name in COEFFICIENT_UNITS)
        lines.append("  coefficients:")
        for name, unit in COEFFICIENT_UNITS.items():
            error = self.stderr[name]
            spread = f" +/- {error:.3g}" if error is not None else ""
            origin = f"  [{self.fitted_from[name]}]" if self.fitted_from[name] else ""
            shown_unit = "" if unit == "1" else f" {unit}"
            lines.append(f"    {name:<{width}}  {self.coefficients[name]:.4g}{spread}{shown_unit}{origin}")
        if self.fit:
            r2 = self.fit.get("r2", {})
            if r2:
                lines.append("  R^2: " + ", ".join(f"{group} {value:.4f}" for group, value in r2.items()))
            if "runs" in self.fit:
                lines.append(f"  runs fitted: {self.fit['runs']}")
        if self.validation:
            lines.append("  validation (held-out runs):")
            for row in self.validation:
                lines.append(f"    {row['phase']:<20} MAPE {row['mape_percent']:.3g}%  max {row['max_ape_percent']:.3g}%"
                             f"  noise {row['noise_percent']:.3g}%  n={row['n']}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Reading and writing.


class _FileProblem(Exception):
    """A problem inside a calibration file, before the file name is attached."""


def _need(condition: bool, problem: str) -> None:
    if not condition:
        raise _FileProblem(problem)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse(data: object, origin: str) -> Calibration:
    try:
        return _parse_unnamed(data)
    except _FileProblem as problem:
        raise InputError(f"calibration file '{origin}' {problem}.") from None
    except InputError as error:
        raise InputError(f"calibration file '{origin}': {str(error).rstrip('.')}.") from None


def _parse_unnamed(data: object) -> Calibration:
    if not isinstance(data, dict):
        raise _FileProblem("must hold a JSON object")
    version = data.get("schema_version")
    _need(version == CALIBRATION_SCHEMA_VERSION and not isinstance(version, bool),
          f"must have schema_version {CALIBRATION_SCHEMA_VERSION} (got {version!r})")
    for key in ("created", "source"):
        _need(isinstance(data.get(key), str), f"must have a text '{key}' (got {data.get(key)!r})")
    machine = data.get("machine")
    _need(isinstance(machine, dict), f"must have a 'machine' object (got {machine!r})")
    missing_machine = [key for key in MACHINE_FIELDS if key not in machine]
    _need(not missing_machine, f"must describe the machine; 'machine' lacks {', '.join(missing_machine)}")
    probe = machine.get("speed_probe_s")
    _need(probe is None or (isinstance(probe, (int, float)) and not isinstance(probe, bool) and math.isfinite(probe)
                            and probe > 0),
          f"must have a positive finite 'machine.speed_probe_s' or none (got {probe!r})")

    block = data.get("coefficients")
    _need(isinstance(block, dict), f"must have a 'coefficients' object (got {block!r})")
    missing = [name for name in COEFFICIENT_UNITS if name not in block]
    _need(not missing, f"lacks coefficient {', '.join(missing)}")
    unknown = sorted(set(block) - set(COEFFICIENT_UNITS))
    _need(not unknown, f"has unknown coefficient {', '.join(unknown)}")
    values: dict[str, float] = {}
    stderr: dict[str, float | None] = {}
    fitted_from: dict[str, str] = {}
    for name, unit in COEFFICIENT_UNITS.items():
        entry = block[name]
        _need(isinstance(entry, dict) and "value" in entry,
              f"must give coefficient {name} as {{\"value\": ..., \"unit\": ...}} (got {entry!r})")
        value = entry["value"]
        _need(_is_number(value), f"must give {name} a finite numeric value (got {value!r})")
        broken = _SPEC[name].broken_rule(float(value))
        _need(broken is None, f"must give {name} a value {broken} (got {value!r})")
        _need(entry.get("unit") == unit, f"must give {name} in unit {unit!r} (got {entry.get('unit')!r})")
        error = entry.get("stderr")
        _need(error is None or (_is_number(error) and error >= 0),
              f"must give {name} a stderr that is null or a finite number >= 0 (got {error!r})")
        values[name] = float(value)
        stderr[name] = None if error is None else float(error)
        fitted_from[name] = str(entry.get("fitted_from", ""))

    fit = data.get("fit", {})
    _need(isinstance(fit, dict), f"must have a 'fit' object (got {fit!r})")
    for group_key in ("r2", "residual_spread"):
        groups = fit.get(group_key, {})
        _need(isinstance(groups, dict) and all(_is_number(v) for v in groups.values()),
              f"must give fit.{group_key} as an object of numbers (got {groups!r})")
    runs = fit.get("runs", 0)
    _need(isinstance(runs, int) and not isinstance(runs, bool) and runs >= 0,
          f"must give fit.runs as an integer >= 0 (got {runs!r})")

    validation = data.get("validation", [])
    _need(isinstance(validation, list), f"must give 'validation' as a list of rows (got {validation!r})")
    for index, row in enumerate(validation):
        _need(isinstance(row, dict) and all(key in row for key in VALIDATION_FIELDS),
              f"must give validation row {index} the fields {', '.join(VALIDATION_FIELDS)} (got {row!r})")
        _need(isinstance(row["phase"], str) and all(_is_number(row[key]) for key in VALIDATION_FIELDS[1:]),
              f"must give validation row {index} a text phase and numeric errors (got {row!r})")

    return Calibration(
        coefficients=values, stderr=stderr, fitted_from=fitted_from, machine=machine, fit=fit,
        validation=tuple(validation), source=data["source"], created=data["created"],
    )


def load_calibration(path: str | os.PathLike[str] | None = None) -> Calibration:
    """Read and check a calibration file; ``None`` reads the embedded default.

    Raises
    ------
    InputError
        One line naming the file and the problem: unreadable, not JSON, wrong schema version,
        a missing or unknown coefficient, a negative or non-numeric value, ...
    """
    if path is None:
        return default_calibration()
    origin = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"calibration file '{origin}' must be readable ({error.strerror or error}).") from None
    except UnicodeDecodeError:
        raise InputError(f"calibration file '{origin}' must be UTF-8 text.") from None
    return _parse(_loads(text, origin), origin)


def _loads(text: str, origin: str) -> object:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputError(f"calibration file '{origin}' is not valid JSON: {error.msg} at line {error.lineno} "
                         f"column {error.colno}.") from None
    except ValueError as error:
        raise InputError(f"calibration file '{origin}' {error}.") from None


def _refuse_constant(constant: str) -> float:
    raise ValueError(f"must not contain {constant} (JSON has no such number)")


@functools.cache
def default_calibration() -> Calibration:
    """The calibration shipped inside the package (``costmodel/data/default_calibration.json``)."""
    package, name = DEFAULT_CALIBRATION_RESOURCE
    resource = resources.files(package).joinpath(name)
    origin = f"<embedded {name}>"
    return _parse(_loads(resource.read_text(encoding="utf-8"), origin), origin)


def write_calibration(path: str | os.PathLike[str], calibration: Calibration, *, name: str = "calibration") -> Path:
    """Write ``calibration`` to ``path`` atomically (temporary name, then rename); return the path.

    ``name`` is the option an error message names (the path is checked by
    :func:`costmodel.files.check_output_file`).
    """
    check_output_file(name, path)
    text = json.dumps(calibration.to_json_dict(), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text, name=name)
