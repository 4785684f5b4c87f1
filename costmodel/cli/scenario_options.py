"""The scenario options of the model commands, parsed: values with units, lists, ranges, grids, presets,
a model's inputs (``--model-inputs FILE``, ``predict --model``), the calibration and its ``--set`` overrides.

Shared by ``predict``, ``solve``, ``plot`` and ``report`` (declared in :mod:`costmodel.cli.commands`):
every value is parsed with its input's unit (:mod:`costmodel.units`) and checked against its rule
(:mod:`costmodel.model.quantities`), and every error names the option as the user typed it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from costmodel.cli.commands import MAX_SCENARIOS, OPTION_OF
from costmodel.cli.registry import MODEL_INPUTS_SERVICE
from costmodel.contracts.calibration_file import COEFFICIENT_UNITS, Calibration, check_coefficient, load_calibration
from costmodel.contracts.model_inputs import load_model_inputs, parse_input_shape
from costmodel.errors import InputError, must, relabel
from costmodel.model.quantities import INPUTS, check_input_array
from costmodel.model.scenario import Scenario, default_classes_per_client
from costmodel.analysis.predict import grid, scenario_frame
from costmodel.units import parse_input, parser_for_unit

__all__ = [
    "base_inputs",
    "bounded",
    "calibration_from_args",
    "framework_profile_from_args",
    "given_inputs",
    "grid_frame",
    "host_load_from_args",
    "label",
    "model_inputs_from_args",
    "parse_values",
    "relabel_inputs",
    "scenario_from_args",
]


def label(name: str) -> str:
    """The option of input ``name`` that messages name (``uplink`` for ``uplink_bits_per_s``)."""
    return OPTION_OF[name][0]


def relabel_inputs(error: InputError, name: str | None = None) -> InputError:
    """The same message, naming the command-line options instead of the model inputs (the one that
    starts it, or any input when ``name`` is None)."""
    names = [name] if name is not None else list(OPTION_OF)
    error = relabel(error, {n: label(n) for n in names})
    return InputError(str(error).replace("be <= clients_total (", "be <= clients ("))


def parse_values(name: str, text: str) -> list[float]:
    """Parse the text of input ``name``'s option into one or more values (SI).

    ``"10"`` -> [10]; ``"10,20,50"`` -> [10, 20, 50]; ``"10:50:20"`` -> [10, 30, 50];
    ``"1Mbit/s:100Mbit/s:x10"`` -> [1e6, 1e7, 1e8]. Each value is checked against the input's rule.

    Raises
    ------
    InputError
        Naming the option (``'uplink' must be ...``) for unreadable text, a bad range or a value
        that breaks the input's rule.
    """
    shown = label(name)
    text = text.strip()
    if not text:
        raise must(shown, "have a value", text)
    if ":" in text:
        values = _parse_range(name, shown, text)
    else:
        values = [parse_input(name, part.strip(), label=shown) for part in text.split(",")]
    try:
        check_input_array(name, values)   # a range's generated values
    except InputError as error:
        raise relabel_inputs(error, name) from None
    return values


def _parse_range(name: str, shown: str, text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise must(shown, "be a range start:stop:step or start:stop:xF", text)
    start = parse_input(name, parts[0].strip(), label=shown)
    stop = parse_input(name, parts[1].strip(), label=shown)
    step_text = parts[2].strip()
    if stop < start:
        raise must(shown, "be a range whose stop is not below its start", text)
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise must(shown, "be a range of finite values", text)
    if step_text[:1] in ("x", "*", "×"):
        try:
            factor = float(step_text[1:])
        except ValueError:
            raise must(shown, "have a geometric factor xF with F > 1", text) from None
        if not factor > 1 or not math.isfinite(factor):
            raise must(shown, "have a geometric factor xF with F > 1", text)
        if not start > 0:
            raise must(shown, "start a geometric range above 0", text)
        count = int(math.floor(math.log(stop / start) / math.log(factor) + 1e-9)) + 1
        if count > MAX_SCENARIOS:
            raise must(shown, f"be a range of at most {MAX_SCENARIOS:,} values", text)
        values = [start * factor ** i for i in range(count)]
    else:
        step = parser_for_unit(INPUTS[name].unit)(step_text, name=shown, signed=True)
        if not step > 0:
            raise must(shown, "have a range step > 0", text)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > MAX_SCENARIOS:
            raise must(shown, f"be a range of at most {MAX_SCENARIOS:,} values", text)
        values = [start + step * i for i in range(count)]

    if INPUTS[name].integer:
        values = [float(round(value)) for value in values]
    return values


def given_inputs(args: argparse.Namespace) -> dict[str, list[float]]:
    """The inputs given on the command line, parsed, in input order."""
    given = {}
    for name in tuple(OPTION_OF):
        text = getattr(args, f"input_{name}")
        if text is not None:
            given[name] = parse_values(name, text)
    return given


def model_inputs_from_args(args: argparse.Namespace) -> dict[str, float]:
    """The model's inputs: those of ``--model-inputs FILE``, or (``predict``) those measured on
    ``--model MODEL --input-shape CxHxW`` (with K from ``--classes``, else the preset's), or none.

    The measurement is a service of the reference implementation
    (:data:`~costmodel.cli.registry.MODEL_INPUTS_SERVICE`), imported only here: without ``--model``
    no torch is loaded.
    """
    path = getattr(args, "model_inputs", None)
    model = getattr(args, "model", None)
    shape_text = getattr(args, "input_shape", None)
    width_text = getattr(args, "model_width", None)
    if model is None:
        for option, text in (("input-shape", shape_text), ("model-width", width_text)):
            if text is not None:
                raise must(option, "be given with --model only", text)
        return load_model_inputs(path) if path is not None else {}
    if path is not None:
        raise must("model", "not be given with --model-inputs, which gives the same inputs", model)
    if shape_text is None:
        raise InputError(f"'input-shape' must be given with --model, one sample's shape such as 1x28x28 or "
                         f"3x32x32 (got --model {model!r} alone).")
    shape = parse_input_shape(shape_text)
    width = 1.0 if width_text is None else _positive_number("model-width", width_text)
    classes_text = getattr(args, "input_classes", None)
    if classes_text is not None:
        values = parse_values("classes", classes_text)
        if len(values) != 1:
            raise must(label("classes"), "be a single value with --model (the model's output width)", classes_text)
        classes = int(values[0])
    else:
        classes = int(_preset_inputs(args)["classes"])
    from costmodel.cli.dispatch import service   # the command registry: only on this path

    measure = service(MODEL_INPUTS_SERVICE)
    if measure is None:
        raise must("model", "be measured by the reference implementation, which is not installed "
                            "(pip install 'astraea-cost[reference]'; or give --model-inputs FILE)", model)
    return dict(measure(model, input_shape=shape, num_classes=classes, width=width))


def _positive_number(option: str, text: str) -> float:
    """A finite number > 0 given to ``option`` (``--model-width``)."""
    try:
        value = float(text)
    except ValueError:
        raise must(option, "be a number", text) from None
    if not (value > 0 and math.isfinite(value)):
        raise must(option, "be a finite number > 0", text)
    return value


def _preset_inputs(args: argparse.Namespace) -> dict[str, float]:
    if args.preset == "cinic10":
        return dict(Scenario.cinic10().as_dict())
    if args.preset == "emnist":
        return dict(Scenario.emnist().as_dict())
    return {name: quantity.default for name, quantity in INPUTS.items()}


def base_inputs(args: argparse.Namespace) -> dict[str, float]:
    """The preset's inputs (``--preset``, or every input's default), with the model's inputs over them
    (:func:`model_inputs_from_args`)."""
    return {**_preset_inputs(args), **model_inputs_from_args(args)}


def calibration_from_args(args: argparse.Namespace) -> Calibration:
    """The calibration of ``--calibration`` (or the embedded default) with the ``--set`` overrides.

    An override takes the units the report prints (``--set flops_per_s=99.5GFLOP/s``,
    ``--set latency_s=5ms``); a coefficient set twice is refused (one value would be dropped).
    """
    calibration = load_calibration(args.calibration)
    overrides: dict[str, float] = {}
    for item in args.overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise must("set", "be NAME=VALUE, e.g. latency_s=5ms", item)
        if name not in COEFFICIENT_UNITS:
            raise InputError(f"'set' must name a coefficient, one of {', '.join(COEFFICIENT_UNITS)} (got {name!r}).")
        if name in overrides:
            raise InputError(f"'set' must give each coefficient once (got {name} twice).")
        shown = f"set {name}"
        value = parser_for_unit(COEFFICIENT_UNITS[name])(text.strip(), name=shown, signed=True)
        try:
            overrides[name] = check_coefficient(name, value, label=shown)
        except InputError as error:
            raise InputError(str(error).replace(f"(got {value!r})", f"(got {text.strip()!r})")) from None
    calibration = calibration.with_overrides(**overrides)
    speed = getattr(args, "device_speed", None)
    if speed is None:
        return calibration
    try:
        factor = float(speed)
    except ValueError:
        raise must("device-speed", "be a number > 0", speed) from None
    if not (math.isfinite(factor) and factor > 0):
        raise must("device-speed", "be a finite number > 0", speed)
    return calibration.with_device_speed(factor, label="device-speed")


def framework_profile_from_args(args: argparse.Namespace):
    """The framework profile of ``--framework`` (``--framework-profile FILE`` or the embedded one), or
    ``None`` for ``--framework none``; the framework options given without a framework are refused."""
    framework = getattr(args, "framework", "none")
    if framework == "none":
        if getattr(args, "framework_profile", None) is not None:
            raise InputError(f"'framework-profile' must come with --framework (got {args.framework_profile!r}).")
        if getattr(args, "one_host", False):
            raise InputError("'one-host' must come with --framework (got --one-host alone).")
    if getattr(args, "host_load", None) is not None and not getattr(args, "one_host", False):
        raise InputError(f"'host-load' must come with --one-host (got {args.host_load!r}).")
    if framework == "none":
        return None
    from costmodel.contracts.framework_profile import load_framework_profile

    return load_framework_profile(args.framework_profile, framework=framework)


def host_load_from_args(args: argparse.Namespace) -> float:
    """``--host-load``: other sessions wanting the one host's cores, a number >= 0 (default 0)."""
    text = getattr(args, "host_load", None)
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise must("host-load", "be a number of sessions >= 0", text)
    return value


def grid_frame(base: Mapping[str, float], given: Mapping[str, list[float]]) -> pd.DataFrame:
    """The cartesian grid of the given values over the base inputs, checked (size, cross-input rules)."""
    size = 1
    for values in given.values():
        size *= len(values)
    if size > MAX_SCENARIOS:
        raise InputError(f"'grid' must have at most {MAX_SCENARIOS:,} scenarios (got {size:,}); "
                         f"use fewer values per option.")
    ranges: dict[str, Any] = {name: [value] for name, value in base.items()}
    ranges.update(given)
    frame = grid(**ranges)
    if "classes_per_client" not in given:        # a preset's K_c, at most the classes asked for
        frame["classes_per_client"] = default_classes_per_client(frame["classes"], frame["classes_per_client"])
    try:
        scenario_frame(frame)     # cross-input rules (c <= N), before any output exists
    except InputError as error:
        raise relabel_inputs(error) from None
    return frame


def scenario_from_args(args: argparse.Namespace, command: str = "solve") -> Scenario:
    """The one :class:`~costmodel.model.scenario.Scenario` of the scenario options (one value each)."""
    values = base_inputs(args)
    given = given_inputs(args)
    for name, parsed in given.items():
        if len(parsed) != 1:
            raise must(label(name), f"be a single value for {command}", getattr(args, f"input_{name}"))
        values[name] = parsed[0]
    if "classes_per_client" not in given:
        values["classes_per_client"] = float(default_classes_per_client(values["classes"], values["classes_per_client"]))
    try:
        return Scenario(**values)
    except InputError as error:
        raise relabel_inputs(error) from None


def bounded(option: str, value: float, maximum: float, text: str, *, unit: str = "") -> float:
    """``value`` (parsed from ``text``) if ``0 < value <= maximum``, else the rule it breaks, as typed."""
    if not value > 0:
        raise must(option, "be > 0", text)
    if value > maximum:
        raise must(option, f"be <= {maximum:g}{unit}", text)
    return value
