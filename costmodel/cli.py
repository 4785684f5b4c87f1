"""``astraea-cost``: the one command line. It parses, calls a library function, formats a table.

Each sub-command lives with the package that does the work and exposes ``register(subparsers)``.
Registration imports no heavy module (no torch, no matplotlib): the handler functions import what
they need when they run, so ``astraea-cost predict`` starts without PyTorch.

Every :class:`~costmodel.errors.InputError` (and argparse's own complaints) becomes one line on
stderr and exit status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from costmodel.errors import InputError

__all__ = ["COMMAND_MODULES", "COMMAND_MODULE_OF", "OneLineParser", "build_parser", "main"]

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "reference_impl.cli",
    "costmodel.commands",
    "costmodel.report_cli",
    "calibration.cli",
    "calibration.communication",
    "calibration.network_validation",
)

#: Which module registers each sub-command. Only the chosen command's module is imported, so
#: ``predict`` never loads the reference implementation or the calibration (a test checks it).
COMMAND_MODULE_OF: dict[str, str] = {
    "run": "reference_impl.cli",
    "compare": "reference_impl.cli",
    "predict": "costmodel.commands",
    "solve": "costmodel.commands",
    "plot": "costmodel.commands",
    "formula": "costmodel.commands",
    "report": "costmodel.report_cli",
    "profile": "calibration.cli",
    "calibrate": "calibration.cli",
    "validate": "calibration.cli",
    "link-sweep": "calibration.communication",
    "validate-network": "calibration.network_validation",
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` alone (importing only its module), or for every command."""
    parser = OneLineParser(
        prog="astraea-cost",
        description="What Astraea (self-balancing federated learning) costs over FedAvg, and where "
                    "the cost comes from: measured, modelled and checked.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    modules = (COMMAND_MODULE_OF[command],) if command in COMMAND_MODULE_OF else COMMAND_MODULES
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"astraea-cost {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `astraea-cost solve ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"astraea-cost {args.command}: interrupted; nothing half-written was left behind.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
