"""How a package declares its sub-commands of ``astraea-cost``: one light :class:`Command` each.

Every package that contributes commands (the cost model, the reference implementation, the
calibration) lists them in one tuple of :class:`Command` and names that tuple once, as a Python entry
point of the group :data:`ENTRY_POINT_GROUP` in ``pyproject.toml``; :mod:`costmodel.cli.dispatch`
discovers them there, so ``costmodel`` never names the packages built on it. A declaration imports
nothing but ``argparse``: its ``arguments`` function adds the options, and ``handler`` names the
function that runs the command (``"package.module:function"``), imported only when that command runs,
so ``astraea-cost predict`` never loads PyTorch.

A declaration may also offer *services*: library functions other commands call by a service name, so
that one package's command uses another's work without naming that package. ``astraea-cost predict
--model`` asks for the service ``model_inputs`` (:data:`MODEL_INPUTS_SERVICE`), which the reference
implementation offers with ``describe-model``; the function is imported only when it is called.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ENTRY_POINT_GROUP", "MODEL_INPUTS_SERVICE", "Command", "number_argument"]

#: The entry-point group the command declarations are registered under.
ENTRY_POINT_GROUP = "astraea_cost.commands"
#: The service that measures a model's architecture inputs:
#: ``function(name, *, input_shape, num_classes, width) -> {input name: value}``.
MODEL_INPUTS_SERVICE = "model_inputs"


@dataclass(frozen=True, kw_only=True)
class Command:
    """One sub-command of ``astraea-cost``.

    Attributes
    ----------
    name : str
        What the user types, e.g. ``"predict"``.
    help : str
        One line for ``astraea-cost --help``.
    description : str
        The paragraph of ``astraea-cost NAME --help``.
    arguments : callable
        Adds the command's options to its parser (argparse only: no heavy import).
    handler : str
        ``"module:function"``: the function that runs the command on the parsed arguments and returns
        the exit status.
    rank : int
        Its place in ``--help`` (smaller first).
    services : tuple of (str, str)
        ``(service name, "module:function")`` pairs this package offers other commands (module
        docstring); empty for most.
    """

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: str
    rank: int
    services: tuple[tuple[str, str], ...] = ()


def number_argument(name: str) -> Callable[[str], float]:
    """An argparse ``type`` for a real number: ``'name' must be a number (got 'x').`` otherwise."""
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' must be a number (got {text!r}).") from None
    return parse
