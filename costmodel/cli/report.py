"""``astraea-cost report``: the overhead report of Astraea over FedAvg as Markdown with PNG figures.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) against FedAvg on the papers' two setups and,
when any scenario option is given, on the user's scenario too. The handler parses the options, calls
:func:`costmodel.report.build.build_report` and :func:`costmodel.report.write.write_report`, and prints
where the report went; nothing here computes anything.

Options: ``--out DIR`` (default ``./astraea-cost-report``), ``--budget DURATION`` (an extra round-time
budget for the clients-per-round question, repeatable), and the scenario options of ``astraea-cost
solve`` (one value each), shared through :mod:`costmodel.cli.scenario_options` so the spellings
agree. The heterogeneity options of ``predict`` (``--speed-sigma``, ``--speed-classes``, ``--link-sigma``,
``--link-classes``, ``--clients-file``, ``--monte-carlo N``, ``--seed``;
:mod:`costmodel.cli.federation_options`) set the federation the heterogeneity section prices (default:
identical clients, the generic spread sweeps) and its Monte Carlo (default
:data:`~costmodel.report.heterogeneity.DEFAULT_MONTE_CARLO` rounds per point, seed 0). Every bad
input is checked before any work and becomes one line with exit status 2; a failed or interrupted
report leaves no folder it created.
"""

from __future__ import annotations

import argparse
import os

from costmodel.analysis.solve import MAX_BUDGET_S
from costmodel.cli import federation_options
from costmodel.cli import scenario_options as options
from costmodel.cli import tables
from costmodel.cli.commands import OPTION_OF
from costmodel.errors import InputError
from costmodel.files import check_output_folder, output_folder
from costmodel.model.scenario import Scenario
from costmodel.report.build import FIGURE_KINDS, ReportScenario, build_report
from costmodel.report.heterogeneity import DEFAULT_MONTE_CARLO
from costmodel.report.heterogeneity_markdown import SECTION_FIGURES
from costmodel.report.time_to_accuracy import SECTION_FIGURES as ACCURACY_FIGURES
from costmodel.report.write import write_report
from costmodel.units import parse_seconds

__all__ = ["run"]


def custom_scenario(args: argparse.Namespace) -> tuple[Scenario, str] | None:
    """The user's scenario and a description of how it was given, or None if no scenario option was."""
    given = {name: getattr(args, f"input_{name}") for name in OPTION_OF if getattr(args, f"input_{name}") is not None}
    if args.preset is None and not given and args.model_inputs is None:
        return None
    scenario = options.scenario_from_args(args, "report")
    origin = f"the {args.preset} preset" if args.preset else "the input defaults (the TPDS EMNIST setup)"
    texts = ([f"--model-inputs {args.model_inputs}"] if args.model_inputs is not None else []) + \
        [f"--{OPTION_OF[name][0]} {text}" for name, text in given.items()]
    given_text = ", ".join(texts)
    return scenario, "from " + origin + (f" with {given_text}" if given_text else "") + "."


def _budgets(texts: list[str]) -> list[float]:
    budgets = [options.bounded("budget", parse_seconds(text, name="budget", signed=True), MAX_BUDGET_S, text,
                               unit=" s") for text in texts]
    if len(set(budgets)) != len(budgets):
        raise InputError(f"'budget' must not repeat a budget (got {', '.join(texts)}).")
    return budgets


def _monte_carlo(args: argparse.Namespace) -> tuple[int, int]:
    """``(draws, seed)`` of the heterogeneity section: ``--monte-carlo`` as predict reads it, by default
    :data:`DEFAULT_MONTE_CARLO`; ``--seed`` alone is allowed (the section always simulates)."""
    draws = args.monte_carlo if args.monte_carlo is not None else str(DEFAULT_MONTE_CARLO)
    return federation_options.monte_carlo_from_args(argparse.Namespace(monte_carlo=draws, seed=args.seed))


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost report``."""
    out = os.fspath(args.out)
    check_output_folder("out", out)
    budgets = _budgets(args.budget)
    custom = custom_scenario(args)
    calibration = options.calibration_from_args(args)
    federation = federation_options.federation_from_args(args)
    draws, seed = _monte_carlo(args)
    scenarios = []
    if custom is not None:
        scenarios.append(ReportScenario(key="custom", title="Your scenario", scenario=custom[0],
                                        description=custom[1]))
    origin = args.calibration or "embedded default"
    changes = list(args.overrides) + ([f"--device-speed {args.device_speed}"] if args.device_speed is not None else [])
    if changes:
        origin += " with " + ", ".join(changes)
    try:
        report = build_report(scenarios=scenarios, calibration=calibration, calibration_origin=origin,
                              budgets_s=budgets, federation=federation, monte_carlo=draws, seed=seed)
    except InputError as error:
        raise options.relabel_inputs(error) from None
    with output_folder("out", out) as folder:
        path = write_report(report, folder)
    figures = (len(report.scenarios) * (len(FIGURE_KINDS) + len(SECTION_FIGURES))
               + (len(report.time_to_accuracy.setups) * len(ACCURACY_FIGURES) if report.time_to_accuracy else 0))
    print(f"wrote {path} and {figures} figures in {os.path.join(out, 'figures')}")
    tables.warn_about(calibration, args)
    return 0
