"""Measured convergence stored with the package: accuracy curves of the reference implementation and the
scenario of each measured setup, so the report's time to accuracy is printed from data.

Written by ``python -m calibration.convergence`` into ``costmodel/data/convergence/``: one manifest
(``digits.json``, this contract) and, per setup, two curves files in the format of
:mod:`costmodel.contracts.curves_file` with the measured columns: the development seeds (the curves the
report and its targets come from) and the held-out seeds (only for checking predicted against measured
time). The manifest holds:

``schema_version``, ``created``, ``command``
    this contract's version, the date, the command that wrote it;
``machine``, ``load_average``
    the machine the runs were measured on (CPU, threads, torch) and the host's 1-minute load
    average at the start and at the end of the runs;
``setups``
    one object per setup (:data:`SETUP_FIELDS`): ``key``, ``title``, ``description``, ``config``
    (the run configuration, seed aside), ``seeds`` and ``heldout_seeds``, ``curves`` and
    ``heldout_curves`` (file names beside the manifest), and ``scenarios``: for every seed, the cost
    model inputs of that run planned from its configuration alone (``calibration.scenario
    .scenario_from_workload``; an infinite bandwidth is the string ``"inf"``).

Reading checks every field, and each curves file with :func:`~costmodel.contracts.curves_file.load_curves`,
and fails in one line naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from costmodel.contracts.curves_file import Curves, load_curves
from costmodel.errors import InputError
from costmodel.files import atomic_write_text
from costmodel.model.scenario import Scenario

__all__ = [
    "CONVERGENCE_SCHEMA_VERSION",
    "ConvergenceEvidence",
    "ConvergenceSetup",
    "DEFAULT_CONVERGENCE_RESOURCE",
    "SETUP_FIELDS",
    "embedded_convergence_path",
    "load_convergence",
    "write_convergence",
]

CONVERGENCE_SCHEMA_VERSION = 1
DEFAULT_CONVERGENCE_RESOURCE = ("costmodel", "data/convergence/digits.json")
_TOP_FIELDS = ("schema_version", "created", "command", "machine", "load_average", "setups")
#: The fields of one setup.
SETUP_FIELDS: tuple[str, ...] = ("key", "title", "description", "config", "seeds", "heldout_seeds", "curves",
                                 "heldout_curves", "scenarios")


@dataclass(frozen=True, kw_only=True, eq=False)
class ConvergenceSetup:
    """One measured setup: its curves (development and held-out seeds) and each seed's scenario."""

    key: str
    title: str
    description: str
    config: Mapping[str, Any]
    seeds: tuple[int, ...]
    heldout_seeds: tuple[int, ...]
    curves: Curves = field(repr=False)
    heldout_curves: Curves = field(repr=False)
    scenarios: Mapping[int, Scenario] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))
        object.__setattr__(self, "scenarios", MappingProxyType(dict(self.scenarios)))

    @property
    def scenario(self) -> Scenario:
        """The setup's scenario for its development seeds: each input's mean over their scenarios. The
        seeds share the configuration, so the counts agree; the planned data figures (augmented
        fraction, load spreads) differ by a few percent from seed to seed. The held-out check prices
        every run in its own scenario instead."""
        own = [self.scenarios[seed].as_dict() for seed in self.seeds]
        return Scenario(**{name: (own[0][name] if all(o[name] == own[0][name] for o in own)
                                  else sum(o[name] for o in own) / len(own)) for name in own[0]})


@dataclass(frozen=True, kw_only=True, eq=False)
class ConvergenceEvidence:
    """The stored convergence measurements (module docstring)."""

    created: str
    command: str
    machine: Mapping[str, Any]
    load_average: tuple[float, float]
    setups: tuple[ConvergenceSetup, ...]

    def setup(self, key: str) -> ConvergenceSetup:
        """The setup named ``key``."""
        for item in self.setups:
            if item.key == key:
                return item
        raise InputError(f"'key' must be one of {', '.join(s.key for s in self.setups)} (got {key!r}).")


def _fail(origin: str, text: str) -> InputError:
    return InputError(f"convergence evidence '{origin}' must {text}.")


def _seeds(value: object, origin: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                            for s in value) or len(set(value)) != len(value):
        raise _fail(origin, f"have {where} as a non-empty list of distinct whole numbers >= 0 (got {value!r})")
    return tuple(value)


def _scenario(values: object, origin: str, where: str) -> Scenario:
    if not isinstance(values, dict):
        raise _fail(origin, f"have {where} as an object of cost-model inputs (got {type(values).__name__})")
    parsed = {name: (math.inf if value == "inf" else value) for name, value in values.items()}
    try:
        return Scenario(**parsed)
    except (InputError, TypeError) as error:
        raise _fail(origin, f"have {where} as valid cost-model inputs ({error})") from None


def _setup(data: object, folder: Path, origin: str) -> ConvergenceSetup:
    if not isinstance(data, dict) or set(data) != set(SETUP_FIELDS):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise _fail(origin, f"have setups with exactly the fields {', '.join(SETUP_FIELDS)} (got {got})")
    key = data["key"]
    for name in ("key", "title", "description", "curves", "heldout_curves"):
        if not isinstance(data[name], str) or not data[name]:
            raise _fail(origin, f"have '{name}' of every setup as a non-empty string (got {data[name]!r})")
    if not isinstance(data["config"], dict):
        raise _fail(origin, f"have 'config' of setup {key} as an object")
    seeds = _seeds(data["seeds"], origin, f"'seeds' of setup {key}")
    heldout = _seeds(data["heldout_seeds"], origin, f"'heldout_seeds' of setup {key}")
    if set(seeds) & set(heldout):
        raise _fail(origin, f"keep the held-out seeds of setup {key} apart from its seeds (both hold "
                            f"{sorted(set(seeds) & set(heldout))})")
    scenarios = data["scenarios"]
    if not isinstance(scenarios, dict) or set(scenarios) != {str(s) for s in (*seeds, *heldout)}:
        raise _fail(origin, f"have 'scenarios' of setup {key} for exactly its seeds and held-out seeds")
    curves = load_curves(folder / data["curves"])
    heldout_curves = load_curves(folder / data["heldout_curves"])
    for which, loaded, expected in (("curves", curves, seeds), ("heldout_curves", heldout_curves, heldout)):
        for algorithm in loaded.algorithms:
            if loaded.seeds(algorithm) != tuple(sorted(expected)):
                raise _fail(origin, f"have the seeds of setup {key} in its {which} file (got {algorithm} seeds "
                                    f"{list(loaded.seeds(algorithm))}, expected {sorted(expected)})")
    return ConvergenceSetup(key=key, title=data["title"], description=data["description"], config=data["config"],
                            seeds=seeds, heldout_seeds=heldout, curves=curves, heldout_curves=heldout_curves,
                            scenarios={int(s): _scenario(v, origin, f"'scenarios.{s}' of setup {key}")
                                       for s, v in scenarios.items()})


def embedded_convergence_path() -> Path:
    """Where the package's stored convergence manifest lives on disk."""
    package, name = DEFAULT_CONVERGENCE_RESOURCE
    return Path(str(resources.files(package).joinpath(name)))


def load_convergence(path: str | os.PathLike[str] | None = None) -> ConvergenceEvidence:
    """Read and check a convergence manifest and its curves files (``None``: the embedded one)."""
    target = embedded_convergence_path() if path is None else Path(path)
    origin = os.fspath(target)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(origin, f"be readable ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(origin, f"be JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema_version") != CONVERGENCE_SCHEMA_VERSION:
        got = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
        raise _fail(origin, f"have schema_version {CONVERGENCE_SCHEMA_VERSION} (got {got!r})")
    if set(data) != set(_TOP_FIELDS):
        raise _fail(origin, f"have exactly the fields {', '.join(_TOP_FIELDS)} (got {', '.join(sorted(data))})")
    load = data["load_average"]
    if not (isinstance(load, list) and len(load) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in load)):
        raise _fail(origin, f"have 'load_average' as two numbers >= 0 (got {load!r})")
    if not isinstance(data["setups"], list) or not data["setups"]:
        raise _fail(origin, "have 'setups' as a non-empty list")
    setups = tuple(_setup(item, target.parent, origin) for item in data["setups"])
    if len({s.key for s in setups}) != len(setups):
        raise _fail(origin, "have setups with distinct keys")
    if not isinstance(data["machine"], dict):
        raise _fail(origin, "have 'machine' as an object")
    return ConvergenceEvidence(created=str(data["created"]), command=str(data["command"]), machine=data["machine"],
                               load_average=(float(load[0]), float(load[1])), setups=setups)


def write_convergence(path: str | os.PathLike[str], manifest: Mapping[str, Any], *, name: str = "out") -> Path:
    """Write a manifest (the JSON object of the module docstring, ``schema_version`` added) atomically,
    after checking that it reads back (its curves files must already be beside it)."""
    data = {"schema_version": CONVERGENCE_SCHEMA_VERSION, **manifest}
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    target = Path(path)
    staged = target.with_name(f".{target.name}.check")
    atomic_write_text(staged, text, name=name)
    try:
        load_convergence(staged)
    finally:
        staged.unlink(missing_ok=True)
    return atomic_write_text(target, text, name=name)
