"""The model-inputs file: a model's architecture inputs, written by ``describe-model``, read by the model
commands (``predict``, ``solve``, ``plot``, ``report``: ``--model-inputs FILE``).

A JSON object::

    {
      "schema": "astraea-cost model inputs",
      "version": 1,
      "inputs": {"params": 68873, "train_flops_per_sample": 1018188.0, "conv_input_values": 2962,
                 "sample_values": 784, "classes": 47, "elementwise_values": 7815, "autograd_nodes": 25,
                 "conv_calls": 6, "conv_padding_flops": 4140528.0},
      "model": {"name": "tpds", "input_shape": [1, 28, 28], ...}
    }

``inputs`` is what is read: every key must be an input of the cost model
(:data:`costmodel.model.quantities.INPUTS`) and every value obey that input's rule; any input may be
given (a file written by hand may hold only ``params`` and ``train_flops_per_sample``). ``model``
describes where the figures come from (the model, its input shape, the FLOP split by operator class)
and is not read; ``schema`` and ``version``, when present, must be these. ``train_flops_per_sample``
counts training FLOPs per sample: forward and backward, one multiply-add = 2 FLOPs (about 3x a
forward count, which is what papers usually quote).

The input-shape text ``3x32x32`` (C x H x W) is parsed here too (:func:`parse_input_shape`), so both
sides spell it alike. Everything here is torch-free.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from costmodel.errors import InputError, must
from costmodel.files import atomic_write_text, check_output_file

__all__ = [
    "DEFAULT_MODEL_INPUTS_FILE",
    "MODEL_INPUTS_SCHEMA",
    "MODEL_INPUTS_VERSION",
    "load_model_inputs",
    "model_inputs_document",
    "parse_input_shape",
    "write_model_inputs",
]

MODEL_INPUTS_SCHEMA = "astraea-cost model inputs"
MODEL_INPUTS_VERSION = 1
#: Where ``describe-model --json`` writes when no file is named.
DEFAULT_MODEL_INPUTS_FILE = "model-inputs.json"
_KEYS = ("schema", "version", "inputs", "model")


def parse_input_shape(text: object, *, name: str = "input-shape") -> tuple[int, int, int]:
    """``"3x32x32"`` (also ``3,32,32`` or ``3 x 32 x 32``) as ``(3, 32, 32)``: three positive integers C, H, W.

    Raises
    ------
    InputError
        ``'input-shape' must be CxHxW, three positive integers such as 3x32x32 (got '3x32').``
    """
    rule = "be CxHxW, three positive integers such as 3x32x32"
    if not isinstance(text, str):
        raise must(name, rule, text)
    parts = text.lower().replace(",", "x").replace("×", "x").split("x")
    try:
        values = tuple(int(part.strip()) for part in parts)
    except ValueError:
        raise must(name, rule, text) from None
    if len(values) != 3 or min(values) < 1:
        raise must(name, rule, text)
    return values  # type: ignore[return-value]


def model_inputs_document(inputs: Mapping[str, float], *, model: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document of a model-inputs file (module docstring), checked as :func:`load_model_inputs`
    would read it."""
    document = {"schema": MODEL_INPUTS_SCHEMA, "version": MODEL_INPUTS_VERSION, "inputs": dict(inputs),
                "model": dict(model)}
    _checked_inputs(document["inputs"], origin="<model inputs>", label="model-inputs")
    return document


def write_model_inputs(path: str | os.PathLike[str], inputs: Mapping[str, float], *, model: Mapping[str, Any],
                       name: str = "json") -> Path:
    """Write a model-inputs file atomically; ``name`` is the option an error names."""
    check_output_file(name, path)
    text = json.dumps(model_inputs_document(inputs, model=model), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text, name=name)


def _refuse_constant(constant: str) -> float:
    raise ValueError(f"must not contain {constant} (JSON has no such number)")


def load_model_inputs(path: str | os.PathLike[str], *, label: str = "model-inputs") -> dict[str, float]:
    """The inputs of a model-inputs file, each checked against its input's rule, in file order.

    Raises
    ------
    InputError
        One line naming ``label`` (the option), the file and the problem: unreadable, not JSON, no
        ``inputs`` object, a key that is not an input of the cost model, a value that breaks its rule
        (``'model-inputs params' must be >= 1 (got 0).``).
    """
    origin = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"'{label}' must be a readable file ({error.strerror or error}) (got {origin!r}).") from None
    except UnicodeDecodeError:
        raise InputError(f"'{label}' must be a UTF-8 JSON file (got {origin!r}).") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputError(f"'{label}' must be a JSON file ({error.msg} at line {error.lineno} column "
                         f"{error.colno}) (got {origin!r}).") from None
    except ValueError as error:
        raise InputError(f"'{label}' {error} (got {origin!r}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), dict):
        raise InputError(f"'{label}' must be a JSON object with an 'inputs' object (got {origin!r}).")
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        raise InputError(f"'{label}' must have only the keys {', '.join(_KEYS)} (got {unknown[0]!r} in {origin!r}).")
    if data.get("schema", MODEL_INPUTS_SCHEMA) != MODEL_INPUTS_SCHEMA or \
            data.get("version", MODEL_INPUTS_VERSION) != MODEL_INPUTS_VERSION:
        raise InputError(f"'{label}' must be a {MODEL_INPUTS_SCHEMA!r} file of version {MODEL_INPUTS_VERSION} "
                         f"(got schema {data.get('schema')!r}, version {data.get('version')!r} in {origin!r}).")
    return _checked_inputs(data["inputs"], origin=origin, label=label)


def _checked_inputs(inputs: Mapping[str, Any], *, origin: str, label: str) -> dict[str, float]:
    from costmodel.model.quantities import INPUTS, check_input_value   # sympy: only when a file is read

    checked: dict[str, float] = {}
    for key, value in inputs.items():
        if key not in INPUTS:
            raise InputError(f"'{label}' must hold only inputs of the cost model ({', '.join(INPUTS)}) "
                             f"(got {key!r} in {origin!r}).")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and math.isnan(value)):
            raise must(f"{label} {key}", "be a number", value)
        checked[key] = check_input_value(key, value, label=f"{label} {key}")
    return checked
