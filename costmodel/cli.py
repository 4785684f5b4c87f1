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

__all__ = ["COMMAND_MODULES", "OneLineParser", "main"]

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "reference_impl.cli",
    "costmodel.commands",
    "costmodel.report_cli",
    "calibration.cli",
    "calibration.communication",
)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="astraea-cost",
        description="What Astraea (self-balancing federated learning) costs over FedAvg, and where "
                    "the cost comes from: measured, modelled and checked.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
