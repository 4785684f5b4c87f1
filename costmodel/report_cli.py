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
    from costmodel.commands import OPTION_OF, scenario_from_args

    given = {name: getattr(args, f"input_{name}") for name in OPTION_OF if getattr(args, f"input_{name}") is not None}
    if args.preset is None and not given:
        return None
    scenario = scenario_from_args(args, "report")
    origin = f"the {args.preset} preset" if args.preset else "the input defaults (the TPDS EMNIST setup)"
    options = ", ".join(f"--{OPTION_OF[name][0]} {text}" for name, text in given.items())
    return scenario, "from " + origin + (f" with {options}" if options else "") + "."


def _budgets(texts: list[str]) -> list[float]:
    from costmodel.commands import _bounded
    from costmodel.errors import InputError
    from costmodel.solve import MAX_BUDGET_S
    from costmodel.units import parse_seconds

    budgets = [_bounded("budget", parse_seconds(text, name="budget", signed=True), MAX_BUDGET_S, text, unit=" s")
               for text in texts]
    if len(set(budgets)) != len(budgets):
        raise InputError(f"'budget' must not repeat a budget (got {', '.join(texts)}).")
    return budgets


def _report(args: argparse.Namespace) -> int:
    from costmodel.commands import _coefficients, _warn_about
    from costmodel.files import check_output_folder, output_folder

    out = os.fspath(args.out)
    check_output_folder("out", out)
    budgets = _budgets(args.budget)
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
    with output_folder("out", out) as folder:
        path = write_report(report, folder)
    figures = len(report.scenarios) * len(FIGURE_KINDS)
    print(f"wrote {path} and {figures} figures in {os.path.join(out, 'figures')}")
    _warn_about(calibration, args)
    return 0
