"""``astraea-cost``: the one command line. It parses, calls a library function, formats a table.

The sub-commands are declared by the packages that do the work (:class:`~costmodel.cli.registry.Command`)
and found through the entry points of :data:`~costmodel.cli.registry.ENTRY_POINT_GROUP`; only the
chosen command's handler module is imported, so ``astraea-cost predict`` starts without PyTorch.

Every :class:`~costmodel.errors.InputError` (and argparse's own complaints) becomes one line on
stderr and exit status 2; Ctrl-C one line and status 130; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from costmodel.cli.registry import ENTRY_POINT_GROUP, Command
from costmodel.errors import InputError

__all__ = ["OneLineParser", "build_parser", "commands", "main", "service"]


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


@functools.cache
def commands() -> tuple[Command, ...]:
    """Every declared command, in ``--help`` order (see :mod:`costmodel.cli.registry`).

    Raises
    ------
    RuntimeError
        If none is declared (the package is not installed, so its entry points are unknown), or two
        packages declare the same name.
    """
    found: dict[str, Command] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        for command in point.load():
            if command.name in found:
                raise RuntimeError(f"two packages declare the astraea-cost command {command.name!r}.")
            found[command.name] = command
    if not found:
        raise RuntimeError(f"no astraea-cost command is declared (entry points {ENTRY_POINT_GROUP!r}): install the "
                           f"package, e.g. pip install -e .")
    return tuple(sorted(found.values(), key=lambda c: (c.rank, c.name)))


def service(name: str) -> Callable[..., Any] | None:
    """The function a declared command offers as service ``name`` (:class:`~costmodel.cli.registry.Command`
    ``services``), imported now; None when no installed package offers it."""
    for command in commands():
        for offered, reference in command.services:
            if offered == name:
                return _handler(reference)
    return None


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (declarations only: nothing heavy is imported)."""
    parser = OneLineParser(
        prog="astraea-cost", allow_abbrev=False,
        description="What Astraea (self-balancing federated learning) costs over FedAvg, and where "
                    "the cost comes from: measured, modelled and checked.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for command in commands():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.description,
                                     allow_abbrev=False)     # '--model' must not be taken for '--model-width'
        command.arguments(sub)
        sub.set_defaults(handler=command.handler)
    return parser


def _handler(reference: str):
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return int(_handler(args.handler)(args) or 0)
    except InputError as exc:
        print(f"astraea-cost {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `astraea-cost solve ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"astraea-cost {args.command}: interrupted; nothing half-written was left behind.", file=sys.stderr)
        return 130
