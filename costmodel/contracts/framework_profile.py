"""The framework-profile contract: what a federated-learning framework adds per message, fitted, in its own file.

The calibration (:mod:`costmodel.contracts.calibration_file`) prices the protocols of Astraea (Duan
et al., ICCD 2019; IEEE TPDS 32(1), 2021) and its baselines on the project's own engines. Run on a
framework, every message also pays what the framework does around it: for Flower 1.42 the
SuperNode polling for work, a fresh ClientApp process per message, the polling for the reply and the
object pulls, and the framing of its content-addressed objects. A *framework profile* carries those
costs as a handful of fitted coefficients (:data:`PROFILE_COEFFICIENTS`), apart from the
calibration, so either can be re-measured alone. ``costmodel`` ships the one for Flower
(``costmodel/data/flower_profile.json``); ``astraea-cost flower-profile`` fits it from Flower runs.
How the model uses it: :mod:`costmodel.model.framework`.

File layout (JSON, UTF-8)::

    {
      "schema_version": 1,
      "framework": "flower", "version": "1.42.0",      # the framework and its version
      "created": "2026-12-01",
      "source": "how it was made",
      "machine": {...},                                # where it was measured (cores, cpu, load average)
      "coefficients": {"<name>": {"value": float, "unit": str, "stderr": float | null}, ...},
      "fit": {...},                                    # runs, messages, residual spread, ...
      "breakdown": [{...}, ...],                       # per-hop components, as measured (documentation)
      "validation": [{...}, ...]                       # held-out runs against the model (may be empty)
    }

Reading checks the schema version, the framework name, and that every coefficient of
:data:`PROFILE_COEFFICIENTS` is present with its unit and a finite value obeying its rule, and no
other; each failure is one :class:`~costmodel.errors.InputError` line naming the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from costmodel.contracts.coefficients import CoefficientSpec
from costmodel.errors import InputError
from costmodel.files import atomic_write_text, check_output_file

__all__ = [
    "FRAMEWORKS",
    "FRAMEWORK_PROFILE_SCHEMA_VERSION",
    "PROFILE_COEFFICIENTS",
    "FrameworkProfile",
    "embedded_profile_path",
    "load_framework_profile",
    "write_framework_profile",
]

FRAMEWORK_PROFILE_SCHEMA_VERSION = 1
#: Frameworks with a profile, and the package resource of each one's embedded profile.
FRAMEWORKS: Mapping[str, tuple[str, str]] = {"flower": ("costmodel", "data/flower_profile.json")}

#: Every coefficient of a profile (name, symbol, unit, meaning, rule), in the file's order.
PROFILE_COEFFICIENTS: tuple[CoefficientSpec, ...] = (
    CoefficientSpec("dispatch_s", "t_fw_in", "s",
                    "seconds from the server sending an instruction to the client's work starting that are not CPU "
                    "work and not the transfer over its link (the polls for work and for the task)", nonnegative=True,
                    maximum=1e3),
    CoefficientSpec("dispatch_cpu_s", "t_fw_cpu", "s",
                    "CPU seconds between the instruction and the client's work: the fresh ClientApp process's start "
                    "and the app's setup; on one host of C cores running k of them while L other sessions want its "
                    "cores (Linux shares them between sessions), their wall time stretches by Max(1, k*(L + 1)/C)",
                    nonnegative=True, maximum=1e3),
    CoefficientSpec("host_cores", "C_host", "1", "cores of the host the profile was fitted on, every SuperNode on it "
                    "(the host of one-host predictions)", minimum=1.0, maximum=1e6),
    CoefficientSpec("hop_sd_s", "s_fw", "s",
                    "standard deviation of one message's dispatch and return seconds (the polls' random phase): "
                    "a round waits for the slowest of its concurrent branches", nonnegative=True, maximum=1e3),
    CoefficientSpec("return_s", "t_fw_out", "s",
                    "seconds from the end of the client's work to the server having the reply, beyond its upload and "
                    "the server's wait for the next object-pull retry", nonnegative=True, maximum=1e3),
    CoefficientSpec("pull_retry_s", "b_pull", "s",
                    "the server's first object-pull retry after a reply appears (then doubling): a reply still "
                    "uploading is seen at the first retry after its upload ends", maximum=1e3),
    CoefficientSpec("pull_retry_cap_s", "c_pull", "s", "the longest delay between two object-pull retries",
                    maximum=1e3),
    CoefficientSpec("download_framing_bytes", "f_in", "B",
                    "bytes of an instruction carrying the model beyond the model's wire message", nonnegative=True,
                    maximum=1e9),
    CoefficientSpec("upload_framing_bytes", "f_out", "B",
                    "bytes of a reply carrying the model beyond the model's wire message", nonnegative=True,
                    maximum=1e9),
    CoefficientSpec("report_framing_bytes", "f_rep", "B",
                    "bytes of a distribution report's reply beyond the histogram's wire message", nonnegative=True,
                    maximum=1e9),
)
_SPECS = {spec.name: spec for spec in PROFILE_COEFFICIENTS}


@dataclass(frozen=True)
class FrameworkProfile:
    """One framework's fitted costs (module docstring); ``coefficients`` maps name -> value (SI)."""

    framework: str
    version: str
    created: str
    coefficients: Mapping[str, float]
    source: str = ""
    stderr: Mapping[str, float | None] = field(default_factory=dict)
    machine: Mapping[str, Any] = field(default_factory=dict)
    fit: Mapping[str, Any] = field(default_factory=dict)
    breakdown: tuple[Mapping[str, Any], ...] = ()
    validation: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        _check(self.to_json_dict(), f"<{self.framework} profile>")

    def to_json_dict(self) -> dict[str, Any]:
        """The file's object; non-finite numbers (a noise of one value) become ``null``."""
        return _plain({
            "schema_version": FRAMEWORK_PROFILE_SCHEMA_VERSION, "framework": self.framework, "version": self.version,
            "created": self.created, "source": self.source, "machine": dict(self.machine),
            "coefficients": {name: {"value": float(self.coefficients[name]), "unit": _SPECS[name].unit,
                                    "stderr": self.stderr.get(name)} for name in _SPECS if name in self.coefficients},
            "fit": dict(self.fit), "breakdown": [dict(row) for row in self.breakdown],
            "validation": [dict(row) for row in self.validation],
        })


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN or infinities as ``None`` (JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check(data: object, origin: str) -> dict[str, Any]:
    def need(condition: bool, problem: str) -> None:
        if not condition:
            raise InputError(f"framework profile '{origin}' must {problem}.")

    if not isinstance(data, dict):
        raise InputError(f"framework profile '{origin}' must hold a JSON object (got {type(data).__name__}).")
    need(data.get("schema_version") == FRAMEWORK_PROFILE_SCHEMA_VERSION,
         f"have schema_version {FRAMEWORK_PROFILE_SCHEMA_VERSION} (got {data.get('schema_version')!r})")
    need(data.get("framework") in FRAMEWORKS,
         f"name a framework of {', '.join(FRAMEWORKS)} (got {data.get('framework')!r})")
    for key in ("version", "created"):
        need(isinstance(data.get(key), str) and bool(data.get(key)), f"have '{key}' as a non-empty string")
    coefficients = data.get("coefficients")
    need(isinstance(coefficients, dict), "have 'coefficients' as an object")
    missing = [name for name in _SPECS if name not in coefficients]
    unknown = sorted(set(coefficients) - set(_SPECS))
    need(not missing and not unknown, f"have exactly the coefficients {', '.join(_SPECS)} "
                                      f"(missing {', '.join(missing) or 'none'}; unknown {', '.join(unknown) or 'none'})")
    for name, spec in _SPECS.items():
        entry = coefficients[name]
        need(isinstance(entry, dict), f"have coefficients.{name} as an object with 'value' and 'unit'")
        value = entry.get("value")
        need(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
             f"have a finite number as coefficients.{name}.value (got {value!r})")
        need(entry.get("unit") == spec.unit, f"give coefficients.{name} in {spec.unit} (got {entry.get('unit')!r})")
        broken = spec.broken_rule(float(value))
        need(broken is None, f"have coefficients.{name} {broken} (got {value!r})")
    for key in ("breakdown", "validation"):
        need(isinstance(data.get(key, []), list), f"have '{key}' as a list")
    return data


def _parse(data: object, origin: str) -> FrameworkProfile:
    checked = _check(data, origin)
    coefficients = checked["coefficients"]
    return FrameworkProfile(
        framework=checked["framework"], version=checked["version"], created=checked["created"],
        source=str(checked.get("source", "")),
        coefficients={name: float(coefficients[name]["value"]) for name in _SPECS},
        stderr={name: coefficients[name].get("stderr") for name in _SPECS},
        machine=dict(checked.get("machine") or {}), fit=dict(checked.get("fit") or {}),
        breakdown=tuple(checked.get("breakdown") or ()), validation=tuple(checked.get("validation") or ()))


def embedded_profile_path(framework: str = "flower") -> Path:
    """Where the package's embedded profile of ``framework`` lives on disk."""
    if framework not in FRAMEWORKS:
        raise InputError(f"'framework' must be one of {', '.join(FRAMEWORKS)} (got {framework!r}).")
    package, name = FRAMEWORKS[framework]
    return Path(str(resources.files(package).joinpath(name)))


def load_framework_profile(path: str | os.PathLike[str] | None = None, *, framework: str = "flower"
                           ) -> FrameworkProfile:
    """Read and check a profile file; ``None`` reads the embedded profile of ``framework``."""
    target = embedded_profile_path(framework) if path is None else Path(path)
    origin = os.fspath(target) if path is not None else f"<embedded {framework} profile>"
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"framework profile '{origin}' must be readable ({error.strerror or error}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"framework profile '{origin}' must be JSON ({error}).") from None
    profile = _parse(data, origin)
    if profile.framework != framework:
        raise InputError(f"framework profile '{origin}' must be a profile of {framework} (got {profile.framework!r}).")
    return profile


def write_framework_profile(path: str | os.PathLike[str], profile: FrameworkProfile, *, name: str = "profile") -> Path:
    """Write ``profile`` atomically as JSON; ``name`` is the option an error names."""
    check_output_file(name, path)
    text = json.dumps(profile.to_json_dict(), indent=2, allow_nan=False) + "\n"
    _parse(json.loads(text), os.fspath(path))       # never write what cannot be read back
    return atomic_write_text(path, text, name=name)
