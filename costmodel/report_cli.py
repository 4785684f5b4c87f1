"""``astraea-cost report``: the overhead report of Astraea over FedAvg as Markdown with PNG figures.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) against FedAvg on the papers' two setups and,
when any scenario option is given, on the user's scenario too. The handler parses the options, calls
:func:`costmodel.report.build_report` and :func:`costmodel.report.write_report`, and prints where the
report went; nothing here computes anything.

Options: ``--out DIR`` (default ``./astraea-cost-report``), ``--budget DURATION`` (an extra round-time
budget for the clients-per-round question, repeatable), and the scenario options of
``astraea-cost solve`` (``--preset``, one value per input such as ``--clients-per-round 100`` or
``--uplink 5Mbit/s``, ``--calibration FILE``, ``--set NAME=VALUE``), shared with
:mod:`costmodel.commands` so the spellings agree.

Registration imports no heavy module; every bad input (an unwritable ``--out``, a malformed
calibration, a bad value) is checked before any work and becomes one line with exit status 2.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["DEFAULT_OUT", "register"]

#: Folder the report goes to when ``--out`` is not given.
DEFAULT_OUT = "astraea-cost-report"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``astraea-cost`` dispatcher."""
    from costmodel.commands import _add_scenario_options

    parser = subparsers.add_parser(
        "report", help="write the overhead report (Markdown + PNG figures) for the papers' setups and yours",
        description="Write a self-contained Markdown report of what Astraea costs over FedAvg: overhead per "
                    "round and per run in four categories, how it grows, the papers' claims against the model, "
                    "capacity answers and the calibration's validation, for the TPDS EMNIST and CINIC-10 setups "
                    "and, if any scenario option is given, your scenario.")
    parser.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                        help=f"folder for report.md and figures/ (default: ./{DEFAULT_OUT}; created if needed)")
    parser.add_argument("--budget", metavar="DURATION", action="append", default=[],
                        help="an extra round-time budget for the clients-per-round question, e.g. 30s (repeatable)")
    _add_scenario_options(parser, multi=False)
    parser.set_defaults(handler=_report)


def _custom_scenario(args: argparse.Namespace) -> tuple[Any, str] | None:
    """The user's scenario and a description of how it was given, or None if no scenario option was."""
    from costmodel.commands import OPTION_OF, parse_values
    from costmodel.errors import InputError, must
    from costmodel.symbols import Scenario

    given = {name: getattr(args, f"input_{name}") for name in OPTION_OF if getattr(args, f"input_{name}") is not None}
    if args.preset is None and not given:
        return None
    values: dict[str, float] = {}
    for name, text in given.items():
        parsed = parse_values(name, text)
        if len(parsed) != 1:
            raise must(OPTION_OF[name][0], "be a single value for report", text)
        values[name] = parsed[0]
    start = {"emnist": Scenario.emnist, "cinic10": Scenario.cinic10}.get(args.preset, Scenario)
    try:
        scenario = start(**values)
    except InputError as error:
        text = str(error)
        for name in OPTION_OF:
            if text.startswith(f"'{name}'"):
                raise InputError(f"'{OPTION_OF[name][0]}'{text[len(name) + 2:]}") from None
        raise
    origin = f"the {args.preset} preset" if args.preset else "the input defaults (the TPDS EMNIST setup)"
    options = ", ".join(f"--{OPTION_OF[name][0]} {text}" for name, text in given.items())
    return scenario, "from " + origin + (f" with {options}" if options else "") + "."


def _check_out(out: str) -> None:
    """Refuse an ``--out`` that cannot become a writable folder, before any work and without creating it.

    An existing path must be a writable folder; otherwise its nearest existing ancestor must be one
    (the report creates the missing folders only when it writes).
    """
    from costmodel.errors import InputError

    path = os.path.abspath(out)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError(f"'out' must be a folder (got {out!r}, which is a file).")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"'out' must be a writable folder (got {out!r}).")
        return
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"'out' must be a writable folder (got {out!r}: {parent!r} is not a writable folder).")


def _report(args: argparse.Namespace) -> int:
    from costmodel.commands import _coefficients
    from costmodel.errors import InputError
    from costmodel.units import parse_seconds

    out = os.fspath(args.out)
    _check_out(out)
    budgets = [parse_seconds(text, name="budget") for text in args.budget]
    for text, budget in zip(args.budget, budgets):
        if not budget > 0:
            raise InputError(f"'budget' must be > 0 (got {text!r}).")
    custom = _custom_scenario(args)
    calibration = _coefficients(args)

    from costmodel.report import FIGURE_KINDS, ReportScenario, build_report, write_report

    scenarios = []
    if custom is not None:
        scenarios.append(ReportScenario(key="custom", title="Your scenario", scenario=custom[0],
                                        description=custom[1]))
    origin = args.calibration or "embedded default"
    if args.overrides:
        origin += " with " + ", ".join(args.overrides)
    report = build_report(scenarios=scenarios, calibration=calibration, calibration_origin=origin,
                          budgets_s=budgets)
    path = write_report(report, out)
    figures = len(report.scenarios) * len(FIGURE_KINDS)
    print(f"wrote {path} and {figures} figures in {os.path.join(out, 'figures')}")
    return 0
